package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"sluice/models"
	"sluice/views/settings"
)

// WorkspaceHandler serves the workspace switcher and Settings → Organization, where the
// organization's owners rename it, add, rename and delete workspaces, name other owners
// or step down, and read the organization's audit trail.
type WorkspaceHandler struct{ *Server }

var errNotOwner = echo.NewHTTPError(http.StatusForbidden, "Only the owner of your organization manages its workspaces.")

// requireOwner answers 403 to anyone but the organization's owners; the store checks
// again on every change.
func requireOwner(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if u := currentUser(c); u == nil || !u.Owner {
			return errNotOwner
		}
		return next(c)
	}
}

// Switch moves this browser to another of the user's workspaces; later sign-ins open it
// too. A workspace the user is not a member of does not exist for them: 404.
func (h *WorkspaceHandler) Switch(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.FormValue("workspace")
	m, err := h.core.SwitchWorkspace(ctx, currentSessionID(c), currentUser(c).ID, id)
	if models.IsNotFound(err) {
		return echo.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("switch workspace: %w", err)
	}
	w, err := h.store.WorkspaceByID(ctx, m.WorkspaceID)
	if err != nil {
		return fmt.Errorf("switch workspace: %w", err)
	}
	if err := flash(c, "info", fmt.Sprintf("You are working in %s, as %s.", w.Name, m.Role.Label())); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("activations.index"))
}

// Index shows the organization's page; ?cursor= pages its audit trail.
func (h *WorkspaceHandler) Index(c echo.Context) error {
	return h.page(c, http.StatusOK, settings.WorkspacesProps{})
}

func (h *WorkspaceHandler) page(c echo.Context, status int, p settings.WorkspacesProps) error {
	ctx, a := c.Request().Context(), actor(c)
	var err error
	if p.Organization, err = h.store.OrganizationOf(ctx, a); errors.Is(err, models.ErrForbidden) {
		return errNotOwner
	}
	if err != nil {
		return fmt.Errorf("organization page: %w", err)
	}
	if p.Workspaces, err = h.store.OrganizationWorkspaces(ctx, a); err != nil {
		return fmt.Errorf("list workspaces: %w", err)
	}
	if p.Members, err = h.store.OrganizationMembers(ctx, a); err != nil {
		return fmt.Errorf("list the organization's members: %w", err)
	}
	var next string
	p.Audit, next, err = h.store.ListOrganizationAudit(ctx, a, c.QueryParam("cursor"), 50)
	if errors.Is(err, models.ErrBadCursor) {
		return echo.NewHTTPError(http.StatusBadRequest, "This page link is not valid any more. Start again from the first page.")
	}
	if err != nil {
		return fmt.Errorf("the organization's audit trail: %w", err)
	}
	if next != "" {
		p.AuditNextURL = c.Echo().Reverse("workspaces.index") + "?" + url.Values{"cursor": {next}}.Encode() + "#organization-audit"
	}
	return h.render(c, status, settings.WorkspacesPage(p), nil)
}

// done answers a change: a refusal re-renders the page with its reason, else the page
// again with a flash.
func (h *WorkspaceHandler) done(c echo.Context, err error, refused settings.WorkspacesProps, message string) error {
	if errors.Is(err, models.ErrForbidden) {
		return errNotOwner
	}
	if errs, ok := formErrors(err); ok {
		if errs["org-name"] != "" || errs["owner"] != "" {
			refused.OrgErrors = errs
		} else if refused.Failed == "" {
			refused.AddErrors = errs
		} else {
			refused.RowErrors = errs
		}
		return h.page(c, http.StatusUnprocessableEntity, refused)
	}
	if err != nil {
		return err
	}
	if err := flash(c, "success", message); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("workspaces.index"))
}

// Create adds a workspace; the owner is its admin.
func (h *WorkspaceHandler) Create(c echo.Context) error {
	name := c.FormValue("name")
	w, err := h.core.AddWorkspace(c.Request().Context(), actor(c), name)
	msg := ""
	if err == nil {
		msg = fmt.Sprintf("%s is ready. Switch to it to connect a source and add people.", w.Name)
	}
	return h.done(c, err, settings.WorkspacesProps{Add: name}, msg)
}

// Update renames a workspace.
func (h *WorkspaceHandler) Update(c echo.Context) error {
	name := c.FormValue("name")
	w, err := h.core.RenameWorkspace(c.Request().Context(), actor(c), c.Param("id"), name)
	if models.IsNotFound(err) {
		return echo.ErrNotFound
	}
	msg := ""
	if err == nil {
		msg = fmt.Sprintf("Renamed to %s.", w.Name)
	}
	return h.done(c, err, settings.WorkspacesProps{Failed: c.Param("id"), RenameValue: name}, msg)
}

// RenameOrganization renames the organization.
func (h *WorkspaceHandler) RenameOrganization(c echo.Context) error {
	name := c.FormValue("org-name")
	o, err := h.core.RenameOrganization(c.Request().Context(), actor(c), name)
	msg := ""
	if err == nil {
		msg = fmt.Sprintf("Your organization is %s.", o.Name)
	}
	return h.done(c, err, settings.WorkspacesProps{OrgName: name}, msg)
}

// MakeOwner makes another member of the organization an owner.
func (h *WorkspaceHandler) MakeOwner(c echo.Context) error {
	u, err := h.core.MakeOwner(c.Request().Context(), actor(c), c.Param("id"))
	if models.IsNotFound(err) {
		return echo.ErrNotFound
	}
	msg := ""
	if err == nil {
		msg = fmt.Sprintf("%s owns the organization with you now.", u.Email)
	}
	return h.done(c, err, settings.WorkspacesProps{}, msg)
}

// StepDown ends the signed-in owner's ownership; another owner must remain. The page is
// theirs no more: they land on the activations.
func (h *WorkspaceHandler) StepDown(c echo.Context) error {
	err := h.core.StepDown(c.Request().Context(), actor(c))
	if err != nil {
		return h.done(c, err, settings.WorkspacesProps{}, "")
	}
	if err := flash(c, "success", "You no longer own the organization. Your roles in its workspaces stay as they were."); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("activations.index"))
}

// Delete deletes a workspace and everything in it, once its name is typed.
func (h *WorkspaceHandler) Delete(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	w, err := h.store.WorkspaceByID(ctx, id)
	if models.IsNotFound(err) {
		return echo.ErrNotFound
	}
	if err != nil {
		return err
	}
	err = h.core.DeleteWorkspace(ctx, actor(c), id, c.FormValue("confirm"))
	if models.IsNotFound(err) {
		return echo.ErrNotFound
	}
	return h.done(c, err, settings.WorkspacesProps{Failed: id}, fmt.Sprintf("%s and everything in it were deleted.", w.Name))
}

// followLink opens a link to a run or an activation (table) of another of the user's
// workspaces, as alert e-mails hold, in that workspace: the browser switches there and
// asks again. An object of a workspace the user is not a member of stays not found (the
// handler answers 404), and only page reads switch, never a change.
func (s *Server) followLink(table string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.Request().Method != http.MethodGet || memberOf(c) < 2 || isHTMX(c) {
				return next(c)
			}
			ctx := c.Request().Context()
			ws, err := s.store.ObjectWorkspace(ctx, table, c.Param("id"))
			if models.IsNotFound(err) || (err == nil && ws == workspaceID(c)) {
				return next(c)
			}
			if err != nil {
				return fmt.Errorf("follow link: %w", err)
			}
			m, err := s.core.SwitchWorkspace(ctx, currentSessionID(c), currentUser(c).ID, ws)
			if models.IsNotFound(err) {
				return next(c)
			}
			if err != nil {
				return fmt.Errorf("follow link: %w", err)
			}
			w, err := s.store.WorkspaceByID(ctx, m.WorkspaceID)
			if err != nil {
				return fmt.Errorf("follow link: %w", err)
			}
			if err := flash(c, "info", fmt.Sprintf("This link is in %s: you are working there now, as %s.", w.Name, m.Role.Label())); err != nil {
				return err
			}
			return redirect(c, c.Request().URL.RequestURI())
		}
	}
}
