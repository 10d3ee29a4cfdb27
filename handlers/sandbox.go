package handlers

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"sluice/core"
	"sluice/destinations/sandbox"
	"sluice/models"
	"sluice/views/sandboxview"
)

// SandboxHandler serves the Sandbox platforms: the inbox that receives their batches, its
// page, and the built-in authorization server of Sandbox (OAuth).
type SandboxHandler struct{ *Server }

// inboxPageSize is how many received records a page of the inbox shows.
const inboxPageSize = 50

// Receive is the inbox endpoint (POST /sandbox/inbox): no session, no CSRF token; the
// platform's inbox key (and for Sandbox (OAuth), a bearer access token) authorize it.
func (h *SandboxHandler) Receive(c echo.Context) error {
	req := c.Request()
	body, err := io.ReadAll(req.Body) // bounded by the server's body limit
	if err != nil {
		return errTooLarge
	}
	ans, err := h.core.SandboxInbox(req.Context(), req.Header.Get(sandbox.HeaderInbox), req.Header.Get("Authorization"),
		req.Header.Get("X-Sluice-Check") != "", body)
	if err != nil {
		return err
	}
	if ans.RetryAfter > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(ans.RetryAfter))
	}
	if ans.Challenge != "" {
		c.Response().Header().Set("WWW-Authenticate", ans.Challenge)
	}
	return c.JSON(ans.Status, ans.Body)
}

// Inbox shows a page of what a Sandbox platform of the workspace received.
func (h *SandboxHandler) Inbox(c echo.Context) error {
	ctx := c.Request().Context()
	p, err := h.store.PlatformByID(ctx, workspaceID(c), c.Param("id"))
	if err != nil {
		return err
	}
	if !sandbox.HasInbox(p.Kind) {
		return echo.ErrNotFound
	}
	page, _ := strconv.Atoi(c.QueryParam("page"))
	page = max(1, min(page, models.SandboxKeep/inboxPageSize))
	rows, total, err := h.store.SandboxRecords(ctx, p.WorkspaceID, p.ID, (page-1)*inboxPageSize, inboxPageSize)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, sandboxview.InboxPage(sandboxview.InboxProps{Platform: p, Records: rows, Total: total,
		Keep: models.SandboxKeep, Page: page, PageSize: inboxPageSize}), nil)
}

// authorizeRequest reads an authorization request from the query (GET) or the consent
// form (POST).
func authorizeRequest(c echo.Context) core.SandboxAuthorize {
	return core.SandboxAuthorize{ResponseType: c.FormValue("response_type"), ClientID: c.FormValue("client_id"),
		RedirectURI: c.FormValue("redirect_uri"), State: c.FormValue("state"), Scope: c.FormValue("scope"),
		Challenge: c.FormValue("code_challenge"), ChallengeMethod: c.FormValue("code_challenge_method")}
}

// Consent is the built-in authorization server's consent page.
func (h *SandboxHandler) Consent(c echo.Context) error {
	in := authorizeRequest(c)
	to, err := h.core.CheckSandboxAuthorize(in)
	if errors.Is(err, core.ErrSandboxClient) {
		return echo.NewHTTPError(http.StatusBadRequest, "Sluice could not show the consent page: "+err.Error()+".")
	}
	if to != "" {
		return c.Redirect(http.StatusFound, to)
	}
	u, ws := currentUser(c), currentWorkspace(c)
	params := map[string]string{"response_type": in.ResponseType, "client_id": in.ClientID, "redirect_uri": in.RedirectURI,
		"state": in.State, "scope": in.Scope, "code_challenge": in.Challenge, "code_challenge_method": in.ChallengeMethod}
	return h.render(c, http.StatusOK, sandboxview.ConsentPage(sandboxview.ConsentProps{Workspace: ws.Name, User: u.Email, Params: params}), nil)
}

// Answer takes the consent page's Allow or Deny and sends the browser back to Sluice's
// OAuth callback.
func (h *SandboxHandler) Answer(c echo.Context) error {
	to, err := h.core.AnswerSandboxConsent(c.Request().Context(), actor(c), authorizeRequest(c), c.FormValue("answer") == "allow")
	if errors.Is(err, core.ErrSandboxClient) {
		return echo.NewHTTPError(http.StatusBadRequest, "Sluice could not record the answer: "+err.Error()+".")
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// Token is the built-in token endpoint: no session, no CSRF token; the client
// authenticates itself.
func (h *SandboxHandler) Token(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return c.JSON(http.StatusBadRequest, map[string]string{"error": "invalid_request"})
	}
	user, pass, _ := c.Request().BasicAuth()
	status, body := h.core.SandboxToken(c.Request().Context(), form, user, pass)
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(status, body)
}

// Revoke revokes a Sandbox (OAuth) platform's grant at the built-in authorization
// server, as a user removing an app's access at a provider would: its next run fails
// with the credentials category and it waits for Re-authorize.
func (h *SandboxHandler) Revoke(c echo.Context) error {
	id := c.Param("id")
	err := h.core.RevokeSandboxGrant(c.Request().Context(), workspaceID(c), id)
	if errs, ok := formErrors(err); ok {
		if err := flash(c, "error", firstError(errs)); err != nil {
			return err
		}
		return redirect(c, c.Echo().Reverse("platforms.show", id))
	}
	if err != nil {
		return err
	}
	if err := flash(c, "success", "The grant was revoked at the Sandbox's authorization server: the next run or check fails with bad credentials, and the platform waits for Re-authorize."); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("platforms.show", id))
}
