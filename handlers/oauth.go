package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"sluice/connectors"
	"sluice/core"
	"sluice/jobs"
	"sluice/models"
	"sluice/views/platforms"
)

// ConnectOAuth starts connecting a platform of an OAuth kind: its settings are checked and
// kept, and the browser goes to the provider's consent page.
func (h *PlatformHandler) ConnectOAuth(c echo.Context) error {
	name, kind, cfg, err := connectorForm(c)
	if err != nil {
		return err
	}
	a := actor(c)
	to, err := h.core.StartOAuth(c.Request().Context(), a, core.OAuthRequest{UserID: a.ID, Kind: kind, Name: name, Config: cfg})
	if errs, ok := formErrors(err); ok {
		form := platforms.FormProps{Specs: h.core.Registry().DestinationSpecs(), Kind: kind, Name: name, Values: cfg, Errors: errs}
		return h.render(c, http.StatusUnprocessableEntity, platforms.NewPage(form), nil)
	}
	if err != nil {
		return fmt.Errorf("start OAuth: %w", err)
	}
	return redirect(c, to) // the provider's consent page
}

// ReauthorizeOAuth sends the browser to the provider's consent page for a saved platform.
func (h *PlatformHandler) ReauthorizeOAuth(c echo.Context) error {
	a := actor(c)
	to, err := h.core.StartOAuth(c.Request().Context(), a, core.OAuthRequest{UserID: a.ID, PlatformID: c.Param("id")})
	if errs, ok := formErrors(err); ok {
		if err := flash(c, "error", firstError(errs)); err != nil {
			return err
		}
		return redirect(c, c.Echo().Reverse("platforms.reauthorize", c.Param("id")))
	}
	if err != nil {
		return fmt.Errorf("start OAuth: %w", err)
	}
	return redirect(c, to) // the provider's consent page
}

// OAuthCallback is where providers send the user back: the platform is connected or
// re-authorized and checked, and its page offers a catch-up run of what resumed.
func (h *PlatformHandler) OAuthCallback(c echo.Context) error {
	q := c.QueryParams()
	a := actor(c)
	res, err := h.core.FinishOAuth(c.Request().Context(), a, a.ID, q.Get("state"), q.Get("code"), q.Get("error"), q.Get("error_description"))
	var denied *core.OAuthDeniedError
	switch {
	case errors.Is(err, core.ErrOAuthStateUnknown):
		if err := flash(c, "error", "Sluice could not finish the authorization: "+err.Error()+"."); err != nil {
			return err
		}
		return redirect(c, c.Echo().Reverse("platforms.index"))
	case errors.As(err, &denied):
		if err := flash(c, "error", denied.Error()); err != nil {
			return err
		}
		if denied.PlatformID != "" {
			return redirect(c, c.Echo().Reverse("platforms.reauthorize", denied.PlatformID))
		}
		return redirect(c, c.Echo().Reverse("platforms.new"))
	case err != nil:
		if _, ok := connectors.AsError(err); ok {
			if err := flash(c, "error", "The authorization did not complete: "+connectors.UserMessage(err, "")); err != nil {
				return err
			}
			return redirect(c, c.Echo().Reverse("platforms.index"))
		}
		if errs, ok := formErrors(err); ok {
			if err := flash(c, "error", "The platform could not be saved: "+firstError(errs)); err != nil {
				return err
			}
			return redirect(c, c.Echo().Reverse("platforms.new"))
		}
		return fmt.Errorf("finish OAuth: %w", err)
	}
	p := res.Platform
	verb := "re-authorized"
	if res.Created {
		verb = "connected"
	}
	to := c.Echo().Reverse("platforms.show", p.ID)
	if len(res.Resumed) > 0 && p.Status == models.PlatformConnected {
		ids := make([]string, len(res.Resumed))
		for i, act := range res.Resumed {
			ids[i] = act.ID
		}
		to += "?" + url.Values{"resumed": {strings.Join(ids, ",")}}.Encode()
		verb += fmt.Sprintf(", and %s paused by it resumed", plural(len(res.Resumed), "activation"))
	}
	if err := h.afterCheckFlash(c, p, verb); err != nil {
		return err
	}
	return redirect(c, to)
}

// CatchUp runs now the activations a re-authorization resumed, so that what waited while
// the platform was broken is sent without waiting for their schedules.
func (h *PlatformHandler) CatchUp(c echo.Context) error {
	ctx := c.Request().Context()
	p, err := h.store.PlatformByID(ctx, workspaceID(c), c.Param("id"))
	if err != nil {
		return err
	}
	params, err := c.FormParams()
	if err != nil {
		return echo.ErrBadRequest
	}
	using, err := h.store.ActivationsUsingPlatform(ctx, p.WorkspaceID, p.ID)
	if err != nil {
		return err
	}
	wanted := map[string]bool{}
	for _, id := range params["activation"] {
		wanted[id] = true
	}
	queued := 0
	for _, act := range using {
		if !wanted[act.ID] || act.Status != models.ActivationActive {
			continue
		}
		if _, err := h.runs.RunNow(ctx, p.WorkspaceID, act.ID, models.TriggerManual, false); err != nil {
			var busy *jobs.BusyError
			if errors.As(err, &busy) {
				continue // a run is already going: it catches up
			}
			return err
		}
		queued++
	}
	msg := fmt.Sprintf("Catch-up runs queued for %s of %s.", plural(queued, "activation"), p.Name)
	if err := flash(c, "success", msg); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("platforms.show", p.ID))
}

// firstError is the message of a one-field form error.
func firstError(errs map[string]string) string {
	for _, msg := range errs {
		return msg
	}
	return ""
}
