package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"sluice/models"
	"sluice/views/auth"
	"sluice/views/components"
	"sluice/views/settings"
)

// InvitationHandler serves invitations: admins invite, resend and revoke on Settings →
// Users; the invitee opens the e-mailed link and accepts.
type InvitationHandler struct{ *Server }

// Create invites an e-mail to the workspace with a role and e-mails the link.
func (h *InvitationHandler) Create(c echo.Context) error {
	email, role := c.FormValue("invite-email"), models.Role(c.FormValue("invite-role"))
	inv, link, err := h.core.InviteUser(c.Request().Context(), actor(c), email, role)
	if errs, ok := formErrors(err); ok {
		return (&UserHandler{h.Server}).pageWith(c, http.StatusUnprocessableEntity, settings.UserFormProps{Role: models.RoleViewer},
			settings.InviteFormProps{Email: email, Role: role, Errors: errs})
	}
	if err != nil {
		return fmt.Errorf("invite: %w", err)
	}
	if err := h.flashInvitation(c, link, fmt.Sprintf("An invitation to join as %s is on its way to %s. Its link works once, for 7 days.", inv.Role.Label(), inv.Email)); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("users.index"))
}

// Resend e-mails a new link; the previous one stops working.
func (h *InvitationHandler) Resend(c echo.Context) error {
	inv, link, err := h.core.ResendInvitation(c.Request().Context(), actor(c), c.Param("id"))
	if err != nil {
		return err // not found in this workspace: 404
	}
	if err := h.flashInvitation(c, link, fmt.Sprintf("A new invitation link is on its way to %s; the previous one no longer works.", inv.Email)); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("users.index"))
}

// flashInvitation says the invitation was sent, or, when no mail server is configured
// and the e-mail cannot leave, gives the admin its link to pass on themselves.
func (h *InvitationHandler) flashInvitation(c echo.Context, link, sent string) error {
	if h.cfg.SMTPURL != "" {
		return flash(c, "success", sent)
	}
	return flash(c, "warning", "Sluice has no mail server configured (SLUICE_SMTP_URL), so no e-mail leaves: send this link to the invitee yourself. It works once, for 7 days: "+link)
}

// Revoke ends an invitation; its link opens nothing.
func (h *InvitationHandler) Revoke(c echo.Context) error {
	inv, err := h.core.RevokeInvitation(c.Request().Context(), actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	if err := flash(c, "success", fmt.Sprintf("The invitation of %s is revoked: its link no longer works.", inv.Email)); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("users.index"))
}

// Show is the page the e-mailed link opens.
func (h *InvitationHandler) Show(c echo.Context) error {
	return h.show(c, http.StatusOK, c.QueryParam("token"), "", nil)
}

func (h *InvitationHandler) show(c echo.Context, status int, token, name string, errs components.FormErrors) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	inv, w, hasAccount, err := h.store.InvitationByToken(c.Request().Context(), token)
	switch {
	case errors.Is(err, models.ErrInvitationExpired):
		return h.render(c, http.StatusGone, auth.InvitationGonePage(true), nil)
	case models.IsNotFound(err):
		return h.render(c, http.StatusNotFound, auth.InvitationGonePage(false), nil)
	case err != nil:
		return fmt.Errorf("invitation: %w", err)
	}
	p := auth.InvitationProps{Token: token, Email: inv.Email, Role: inv.Role, Workspace: w.Name, InvitedBy: inv.InvitedBy,
		HasAccount: hasAccount, Name: name, Errors: errs}
	if u := currentUser(c); u != nil {
		p.SignedInAs = u.Email
	}
	return h.render(c, status, auth.InvitationPage(p), nil)
}

// Accept takes the invitation: a signed-in invitee gets a membership and works in the
// workspace at once; a new one gets an account and is signed in.
func (h *InvitationHandler) Accept(c echo.Context) error {
	ctx := c.Request().Context()
	token := c.FormValue("token")
	gone := func(err error) error {
		if errors.Is(err, models.ErrInvitationExpired) {
			return h.render(c, http.StatusGone, auth.InvitationGonePage(true), nil)
		}
		return h.render(c, http.StatusNotFound, auth.InvitationGonePage(false), nil)
	}
	if u := currentUser(c); u != nil {
		m, err := h.core.AcceptInvitationAs(ctx, token, u)
		if errs, ok := formErrors(err); ok {
			return h.show(c, http.StatusUnprocessableEntity, token, "", errs)
		}
		if models.IsNotFound(err) || errors.Is(err, models.ErrInvitationExpired) {
			return gone(err)
		}
		if err != nil {
			return fmt.Errorf("accept invitation: %w", err)
		}
		if _, err := h.core.SwitchWorkspace(ctx, currentSessionID(c), u.ID, m.WorkspaceID); err != nil {
			return fmt.Errorf("accept invitation: %w", err)
		}
		if err := flash(c, "success", fmt.Sprintf("Welcome: you now work in this workspace too, as %s.", m.Role.Label())); err != nil {
			return err
		}
		return redirect(c, c.Echo().Reverse("activations.index"))
	}
	name := c.FormValue("name")
	u, err := h.core.AcceptInvitation(ctx, token, name, c.FormValue("password"))
	if errs, ok := formErrors(err); ok {
		return h.show(c, http.StatusUnprocessableEntity, token, name, errs)
	}
	if models.IsNotFound(err) || errors.Is(err, models.ErrInvitationExpired) {
		return gone(err)
	}
	if err != nil {
		return fmt.Errorf("accept invitation: %w", err)
	}
	if err := h.signIn(c, u); err != nil {
		return err
	}
	if err := flash(c, "success", fmt.Sprintf("Welcome to Sluice. You work here as %s.", u.Role.Label())); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("activations.index"))
}
