package handlers

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"sluice/connectors"
	"sluice/destinations/sandbox"
	"sluice/models"
	"sluice/views/platforms"
)

// PlatformHandler serves Settings → Platforms: everyone reads, admins connect and
// re-authorize.
type PlatformHandler struct{ *Server }

// Index lists the workspace's platforms.
func (h *PlatformHandler) Index(c echo.Context) error {
	list, err := h.store.ListPlatforms(c.Request().Context(), workspaceID(c))
	if err != nil {
		return fmt.Errorf("list platforms: %w", err)
	}
	labels := map[string]string{}
	for _, s := range h.core.Registry().DestinationSpecs() {
		labels[s.Kind] = s.Label
	}
	counts, err := h.store.ActivationCountsByPlatform(c.Request().Context(), workspaceID(c))
	if err != nil {
		return fmt.Errorf("count activations by platform: %w", err)
	}
	ending := map[string]bool{}
	for i := range list {
		ending[list[i].ID] = h.core.GrantEndsSoon(&list[i])
	}
	return h.render(c, http.StatusOK, platforms.IndexPage(platforms.IndexProps{Platforms: list, Labels: labels, Activations: counts, EndingSoon: ending}), nil)
}

// New shows the form; ?kind= switches the fields.
func (h *PlatformHandler) New(c echo.Context) error {
	p := platforms.FormProps{Specs: h.core.Registry().DestinationSpecs(), Kind: c.QueryParam("kind"), Name: c.QueryParam("name")}
	return h.render(c, http.StatusOK, platforms.NewPage(p), platforms.Form(p))
}

// Create connects a platform and checks it.
func (h *PlatformHandler) Create(c echo.Context) error {
	name, kind, cfg, err := connectorForm(c)
	if err != nil {
		return err
	}
	p, err := h.core.CreatePlatform(c.Request().Context(), actor(c), kind, models.PlatformInput{Name: name, Config: cfg})
	if errs, ok := formErrors(err); ok {
		form := platforms.FormProps{Specs: h.core.Registry().DestinationSpecs(), Kind: kind, Name: name, Values: cfg, Errors: errs}
		return h.render(c, http.StatusUnprocessableEntity, platforms.NewPage(form), nil)
	}
	if err != nil {
		return fmt.Errorf("create platform: %w", err)
	}
	return h.afterCheck(c, p, "connected")
}

func (h *PlatformHandler) afterCheck(c echo.Context, p *models.Platform, verb string) error {
	if err := h.afterCheckFlash(c, p, verb); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("platforms.show", p.ID))
}

// afterCheckFlash says how the check after saving went.
func (h *PlatformHandler) afterCheckFlash(c echo.Context, p *models.Platform, verb string) error {
	kind, msg := "success", fmt.Sprintf("%s %s: the check passed.", p.Name, verb)
	if p.Status == models.PlatformBroken {
		kind, msg = "error", fmt.Sprintf("%s is broken: %s", p.Name, p.StatusMessage)
	} else if p.StatusMessage != "" {
		kind, msg = "warning", fmt.Sprintf("%s saved, but the check could not finish: %s", p.Name, p.StatusMessage)
	}
	return flash(c, kind, msg)
}

// Show is one platform with the activations that send to it.
func (h *PlatformHandler) Show(c echo.Context) error {
	ctx := c.Request().Context()
	p, err := h.store.PlatformByID(ctx, workspaceID(c), c.Param("id"))
	if err != nil {
		return err
	}
	spec, err := h.core.DestinationSpec(p.Kind)
	if err != nil {
		return err
	}
	acts, err := h.store.ActivationsUsingPlatform(ctx, workspaceID(c), p.ID)
	if err != nil {
		return err
	}
	props := platforms.ShowProps{Platform: p, Spec: spec, Activations: acts, EndingSoon: h.core.GrantEndsSoon(p), HasInbox: sandbox.HasInbox(p.Kind),
		CanRevoke: p.Kind == sandbox.KindOAuth && p.HasGrant(),
		Settings:  &platforms.FormProps{Specs: []connectors.DestinationSpec{spec}, Kind: p.Kind, Name: p.Name, Values: p.PublicConfig(), Saved: p}}
	// After a re-authorization: the activations it resumed, still active, for a catch-up run.
	resumed := map[string]bool{}
	for _, id := range strings.Split(c.QueryParam("resumed"), ",") {
		resumed[id] = true
	}
	for _, a := range acts {
		if resumed[a.ID] && a.Status == models.ActivationActive {
			props.Resumed = append(props.Resumed, a)
		}
	}
	return h.render(c, http.StatusOK, platforms.ShowPage(props), nil)
}

// Reauthorize shows the settings form of a saved platform, secrets left empty.
func (h *PlatformHandler) Reauthorize(c echo.Context) error {
	p, err := h.store.PlatformByID(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return err
	}
	spec, err := h.core.DestinationSpec(p.Kind)
	if err != nil {
		return err
	}
	form := platforms.FormProps{Specs: []connectors.DestinationSpec{spec}, Kind: p.Kind, Name: p.Name, Values: p.PublicConfig(), Saved: p}
	return h.renderReauthorize(c, http.StatusOK, form)
}

// renderReauthorize shows the Re-authorize page: what the platform holds up, then the form.
func (h *PlatformHandler) renderReauthorize(c echo.Context, status int, form platforms.FormProps) error {
	ctx := c.Request().Context()
	paused, err := h.core.PausedByPlatform(ctx, workspaceID(c), form.Saved.ID)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(paused))
	for _, a := range paused {
		if a.LastRunID != "" {
			ids = append(ids, a.LastRunID)
		}
	}
	last, err := h.store.RunsByIDs(ctx, workspaceID(c), ids)
	if err != nil {
		return err
	}
	props := platforms.ReauthorizeProps{Form: form}
	for _, a := range paused {
		w := platforms.Waiting{Activation: a, Records: -1}
		if r, ok := last[a.LastRunID]; ok {
			w.Records = r.Unsent
		}
		props.Paused = append(props.Paused, w)
	}
	return h.render(c, status, platforms.ReauthorizePage(props), nil)
}

// Update saves new settings or credentials and checks again; when the check passes,
// the activations the platform had paused resume.
func (h *PlatformHandler) Update(c echo.Context) error {
	name, _, cfg, err := connectorForm(c)
	if err != nil {
		return err
	}
	p, err := h.core.UpdatePlatform(c.Request().Context(), actor(c), c.Param("id"), models.PlatformInput{Name: name, Config: cfg})
	if errs, ok := formErrors(err); ok {
		saved, lerr := h.store.PlatformByID(c.Request().Context(), workspaceID(c), c.Param("id"))
		if lerr != nil {
			return lerr
		}
		spec, serr := h.core.DestinationSpec(saved.Kind)
		if serr != nil {
			return serr
		}
		form := platforms.FormProps{Specs: []connectors.DestinationSpec{spec}, Kind: saved.Kind, Name: name, Values: cfg, Errors: errs, Saved: saved}
		return h.renderReauthorize(c, http.StatusUnprocessableEntity, form)
	}
	if err != nil {
		return fmt.Errorf("update platform: %w", err)
	}
	return h.afterCheck(c, p, "saved")
}

// Delete removes a platform no activation uses.
func (h *PlatformHandler) Delete(c echo.Context) error {
	p, err := h.store.PlatformByID(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return err
	}
	if err := h.core.DeletePlatform(c.Request().Context(), actor(c), p.ID); err != nil {
		return dependentsMessage(err, p.Name)
	}
	if err := flash(c, "success", p.Name+" was deleted."); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("platforms.index"))
}
