package handlers

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"sluice/models"
	"sluice/views/settings"
)

// SessionHandler serves the signed-in sessions card of Settings → Users (admins only):
// who is signed in where, and ending those sessions.
type SessionHandler struct{ *Server }

// sessionsChanged is the htmx event that makes the sessions card reload itself, sent by
// answers that end sessions as a side effect (a role change, a removal).
const sessionsChanged = "sessions-changed"

// sessionsProps gathers the card for the workspace's users.
func (s *Server) sessionsProps(c echo.Context, users []models.User) (settings.SessionsProps, error) {
	sessions, err := s.store.ListSessions(c.Request().Context(), workspaceID(c))
	if err != nil {
		return settings.SessionsProps{}, fmt.Errorf("list sessions: %w", err)
	}
	return settings.SessionsProps{Users: users, Sessions: sessions, Current: currentSessionID(c)}, nil
}

// Index answers the card for htmx; a browser asking for it goes to the users page.
func (h *SessionHandler) Index(c echo.Context) error { return h.card(c) }

// card answers the sessions card to htmx, and the users page to anything else.
func (h *SessionHandler) card(c echo.Context) error {
	if !wantsPartial(c) {
		return redirect(c, c.Echo().Reverse("users.index"))
	}
	users, err := h.store.ListUsers(c.Request().Context(), workspaceID(c))
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	p, err := h.sessionsProps(c, users)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, settings.SessionsCard(p), nil)
}

// Delete ends one session. Ending the admin's own signs them out here.
func (h *SessionHandler) Delete(c echo.Context) error {
	ended, err := h.core.EndSession(c.Request().Context(), actor(c), c.Param("id"))
	if err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	if ended.ID == currentSessionID(c) {
		return h.signedOut(c)
	}
	return h.card(c)
}

// DeleteForUser signs a user out everywhere. For the admin themselves, that includes
// this browser.
func (h *SessionHandler) DeleteForUser(c echo.Context) error {
	if _, err := h.core.EndUserSessions(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return fmt.Errorf("end user sessions: %w", err)
	}
	if u := currentUser(c); u != nil && u.ID == c.Param("id") {
		return h.signedOut(c)
	}
	return h.card(c)
}

// signedOut forgets this browser's ended session and sends it to sign in.
func (h *SessionHandler) signedOut(c echo.Context) error {
	session(c).Values = map[any]any{sessCSRF: models.RandomToken()}
	if err := flash(c, "info", "Your session has ended. Sign in again to continue."); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("auth.login"))
}
