package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"sluice/models"
	"sluice/views/settings"
)

// UserHandler serves Settings → Users (admins only).
type UserHandler struct{ *Server }

type userForm struct {
	Email    string `form:"email"`
	Name     string `form:"name"`
	Role     string `form:"role"`
	Password string `form:"password"`
}

// Index lists the workspace's users and the form to add one.
func (h *UserHandler) Index(c echo.Context) error {
	return h.page(c, http.StatusOK, settings.UserFormProps{Role: models.RoleViewer})
}

func (h *UserHandler) page(c echo.Context, status int, form settings.UserFormProps) error {
	return h.pageWith(c, status, form, settings.InviteFormProps{Role: models.RoleViewer})
}

func (h *UserHandler) pageWith(c echo.Context, status int, form settings.UserFormProps, invite settings.InviteFormProps) error {
	users, err := h.store.ListUsers(c.Request().Context(), workspaceID(c))
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	sessions, err := h.sessionsProps(c, users)
	if err != nil {
		return err
	}
	invitations, err := h.store.ListInvitations(c.Request().Context(), workspaceID(c))
	if err != nil {
		return fmt.Errorf("list invitations: %w", err)
	}
	return h.render(c, status, settings.UsersPage(settings.UsersProps{Users: users, Form: form, Sessions: sessions,
		Invite: invite, Invitations: invitations, Now: h.store.Now()}), settings.UserForm(form))
}

// Create adds a user to the workspace.
func (h *UserHandler) Create(c echo.Context) error {
	var f userForm
	if err := c.Bind(&f); err != nil {
		return echo.ErrBadRequest
	}
	u, err := h.core.CreateUser(c.Request().Context(), actor(c), models.NewUser{Email: f.Email, Name: f.Name, Password: f.Password, Role: models.Role(f.Role)})
	if errs, ok := formErrors(err); ok {
		return h.page(c, http.StatusUnprocessableEntity, settings.UserFormProps{Email: f.Email, Name: f.Name, Role: models.Role(f.Role), Errors: errs})
	}
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	msg := fmt.Sprintf("%s can now sign in as %s.", u.Email, u.Role.Label())
	if u.WorkspaceID != workspaceID(c) { // an account of the organization, now a member here too
		msg = fmt.Sprintf("%s already had an account: they now also work in this workspace, as %s.", u.Email, u.Role.Label())
	}
	if err := flash(c, "success", msg); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("users.index"))
}

// Update changes a user's role and answers the user's row. A change ends the user's
// sessions, so the sessions card is told to reload.
func (h *UserHandler) Update(c echo.Context) error {
	role := models.Role(c.FormValue("role"))
	u, err := h.core.UpdateUserRole(c.Request().Context(), actor(c), c.Param("id"), role)
	var fe *models.FieldError
	if errors.As(err, &fe) {
		current, lerr := h.store.UserByID(c.Request().Context(), workspaceID(c), c.Param("id"))
		if lerr != nil {
			return lerr
		}
		return h.render(c, http.StatusUnprocessableEntity, settings.UserRow(*current, fe.Message), nil)
	}
	if err != nil {
		return err
	}
	if me := currentUser(c); u.ID == me.ID && u.Role != me.Role {
		// An admin who changed their own role (only possible by hand) is signed out.
		return (&SessionHandler{h.Server}).signedOut(c)
	}
	c.Response().Header().Set("HX-Trigger", sessionsChanged)
	return h.render(c, http.StatusOK, settings.UserRow(*u, ""), nil)
}

// Delete removes a user; the row disappears from the table.
func (h *UserHandler) Delete(c echo.Context) error {
	err := h.core.DeleteUser(c.Request().Context(), actor(c), c.Param("id"))
	var fe *models.FieldError
	if errors.As(err, &fe) {
		u, lerr := h.store.UserByID(c.Request().Context(), workspaceID(c), c.Param("id"))
		if lerr != nil {
			return lerr
		}
		return h.render(c, http.StatusUnprocessableEntity, settings.UserRow(*u, fe.Message), nil)
	}
	if err != nil {
		return err
	}
	if !isHTMX(c) {
		return redirect(c, c.Echo().Reverse("users.index"))
	}
	c.Response().Header().Set("HX-Trigger", sessionsChanged)
	return c.HTML(http.StatusOK, "")
}
