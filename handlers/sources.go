package handlers

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"sluice/connectors"
	"sluice/models"
	"sluice/sources/sshtunnel"
	"sluice/views/components"
	"sluice/views/sources"
)

// SourceHandler serves the sources pages. Reading is open to every role; connecting,
// changing and deleting sources is for admins.
type SourceHandler struct{ *Server }

// connectorForm reads a source or platform form: name, kind, and the kind's fields as config.<name>.
func connectorForm(c echo.Context) (name, kind string, cfg connectors.Config, err error) {
	params, err := c.FormParams()
	if err != nil {
		return "", "", nil, echo.ErrBadRequest
	}
	cfg = connectors.Config{}
	for k, v := range params {
		if f, ok := strings.CutPrefix(k, "config."); ok && len(v) > 0 {
			cfg[f] = strings.TrimSpace(v[0])
		}
	}
	return params.Get("name"), params.Get("kind"), cfg, nil
}

// Index lists the workspace's sources.
func (h *SourceHandler) Index(c echo.Context) error {
	list, err := h.store.ListSources(c.Request().Context(), workspaceID(c))
	if err != nil {
		return fmt.Errorf("list sources: %w", err)
	}
	ids := make([]string, len(list))
	for i, s := range list {
		ids[i] = s.ID
	}
	issues, err := h.store.OpenIssuesByObject(c.Request().Context(), workspaceID(c), ids)
	if err != nil {
		return fmt.Errorf("list sources: open issues: %w", err)
	}
	return h.render(c, http.StatusOK, sources.IndexPage(sources.IndexProps{Sources: list, Issues: issues, Specs: h.sourceSpecs()}), nil)
}

// defaultSourceKind is the kind the source form opens on: the most common warehouse.
const defaultSourceKind = "postgres"

// sourceSpecs are the kinds this build connects to, in the order the form offers them:
// the default first, then by label.
func (h *SourceHandler) sourceSpecs() []connectors.SourceSpec {
	specs := h.core.Registry().SourceSpecs() // by label
	for i, s := range specs {
		if s.Kind == defaultSourceKind {
			return append(append([]connectors.SourceSpec{s}, specs[:i]...), specs[i+1:]...)
		}
	}
	return specs
}

// New shows the form; ?kind= switches the fields (the kind picker reloads the form).
func (h *SourceHandler) New(c echo.Context) error {
	p := sources.FormProps{Specs: h.sourceSpecs(), Kind: c.QueryParam("kind"), Name: c.QueryParam("name")}
	return h.render(c, http.StatusOK, sources.NewPage(p), sources.Form(p))
}

// Create saves a source and validates it at once.
func (h *SourceHandler) Create(c echo.Context) error {
	name, kind, cfg, err := connectorForm(c)
	if err != nil {
		return err
	}
	p := sources.FormProps{Specs: h.sourceSpecs(), Kind: kind, Name: name, Values: cfg}
	spec, err := h.core.SourceSpec(kind)
	if err == nil {
		var src *models.Source
		if src, err = h.core.CreateSource(c.Request().Context(), actor(c), spec, models.SourceInput{Name: name, Config: cfg}); err == nil {
			if src, err = h.core.ValidateSource(c.Request().Context(), workspaceID(c), src.ID); err == nil {
				return h.afterSave(c, src, "added")
			}
		}
	}
	if errs, ok := formErrors(err); ok {
		p.Errors = errs
		return h.render(c, http.StatusUnprocessableEntity, sources.NewPage(p), sources.Form(p))
	}
	return fmt.Errorf("create source: %w", err)
}

func (h *SourceHandler) afterSave(c echo.Context, src *models.Source, verb string) error {
	kind, msg := "success", fmt.Sprintf("%s %s; all five checks passed.", src.Name, verb)
	if f := src.FailedCheck(); f != nil {
		kind, msg = "warning", fmt.Sprintf("%s %s, but it is broken: %s failed. %s", src.Name, verb, components.StageLabel(f.Stage), f.Message)
	}
	if err := flash(c, kind, msg); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("sources.show", src.ID))
}

// Test runs the five checks on the unsaved form and answers the checks list.
func (h *SourceHandler) Test(c echo.Context) error {
	_, kind, cfg, err := connectorForm(c)
	if err != nil {
		return err
	}
	checks, err := h.core.TestConnection(c.Request().Context(), kind, cfg)
	return h.renderChecks(c, checks, err)
}

// Retest runs the checks on a saved source's form, stored secrets filling empty ones.
func (h *SourceHandler) Retest(c echo.Context) error {
	_, _, cfg, err := connectorForm(c)
	if err != nil {
		return err
	}
	checks, err := h.core.TestSavedConnection(c.Request().Context(), workspaceID(c), c.Param("id"), cfg)
	return h.renderChecks(c, checks, err)
}

func (h *SourceHandler) renderChecks(c echo.Context, checks []connectors.Check, err error) error {
	var fe *models.FieldError
	if asFieldErr(err, &fe) {
		return h.render(c, http.StatusOK, components.ErrorToast(fe.Message), nil)
	}
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, components.Checks(checks), nil)
}

// Show is one source: checks, models, settings.
func (h *SourceHandler) Show(c echo.Context) error {
	return h.show(c, http.StatusOK, nil)
}

func (h *SourceHandler) show(c echo.Context, status int, form *sources.FormProps) error {
	ctx := c.Request().Context()
	src, err := h.store.SourceByID(ctx, workspaceID(c), c.Param("id"))
	if err != nil {
		return err
	}
	spec, err := h.core.SourceSpec(src.Kind)
	if err != nil {
		return err
	}
	dms, err := h.store.ListModels(ctx, workspaceID(c), src.ID)
	if err != nil {
		return err
	}
	if form == nil {
		form = &sources.FormProps{Name: src.Name, Values: src.PublicConfig()}
	}
	form.Specs, form.Kind, form.Saved, form.Tunnel = []connectors.SourceSpec{spec}, src.Kind, src, tunnelProps(src)
	page := sources.ShowPage(sources.ShowProps{Source: src, Spec: spec, Models: dms, Form: *form})
	return h.render(c, status, page, sources.Form(*form))
}

// Update saves new settings (empty secrets keep the stored ones) and validates again.
func (h *SourceHandler) Update(c echo.Context) error {
	name, _, cfg, err := connectorForm(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	src, err := h.store.SourceByID(ctx, workspaceID(c), c.Param("id"))
	if err != nil {
		return err
	}
	spec, err := h.core.SourceSpec(src.Kind)
	if err != nil {
		return err
	}
	if src, err = h.core.UpdateSource(ctx, actor(c), src.ID, spec, models.SourceInput{Name: name, Config: cfg}); err == nil {
		if src, err = h.core.ValidateSource(ctx, workspaceID(c), src.ID); err == nil {
			return h.afterSave(c, src, "saved")
		}
	}
	if errs, ok := formErrors(err); ok {
		return h.show(c, http.StatusUnprocessableEntity, &sources.FormProps{Name: name, Values: cfg, Errors: errs})
	}
	return fmt.Errorf("update source: %w", err)
}

// Validate runs the five checks now and shows the result.
func (h *SourceHandler) Validate(c echo.Context) error {
	src, err := h.core.ValidateSource(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return err
	}
	h.recheckSourceThresholds(c, c.Param("id"))
	if wantsPartial(c) {
		return h.render(c, http.StatusOK, sources.Validation(src, tunnelProps(src)), nil)
	}
	return h.show(c, http.StatusOK, nil)
}

// Delete removes a source no model uses; otherwise it says which models do.
func (h *SourceHandler) Delete(c echo.Context) error {
	src, err := h.store.SourceByID(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return err
	}
	if err := h.core.DeleteSource(c.Request().Context(), actor(c), src.ID); err != nil {
		return dependentsMessage(err, src.Name)
	}
	if err := flash(c, "success", src.Name+" was deleted."); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("sources.index"))
}

// tunnelProps is what the page shows of a source's SSH tunnel: the public key, never the
// private one, and the fingerprints of the bastion's pinned and offered host keys.
func tunnelProps(src *models.Source) sources.TunnelProps {
	cfg := src.PublicConfig()
	return sources.TunnelProps{
		PublicKey:          cfg[sshtunnel.FieldPublicKey],
		User:               cfg[sshtunnel.FieldUser],
		HostKeyFingerprint: sshtunnel.Fingerprint(cfg[sshtunnel.FieldHostKey]),
		OfferedFingerprint: sshtunnel.Fingerprint(cfg[sshtunnel.FieldOfferedHostKey]),
	}
}

// GenerateTunnelKey replaces the source's SSH key pair and validates it again.
func (h *SourceHandler) GenerateTunnelKey(c echo.Context) error {
	src, err := h.core.RegenerateTunnelKey(c.Request().Context(), actor(c), c.Param("id"))
	if err != nil {
		return h.tunnelError(c, err, "generate SSH key")
	}
	if err := flash(c, "success", "A new SSH key was generated for "+src.Name+": replace the old public key in authorized_keys on the bastion with the one shown, then validate the source."); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("sources.show", src.ID))
}

// AcceptHostKey pins the bastion's new host key, the one whose fingerprint the admin
// was shown, and validates the source again.
func (h *SourceHandler) AcceptHostKey(c echo.Context) error {
	var form struct {
		Fingerprint string `form:"fingerprint"`
	}
	if err := c.Bind(&form); err != nil {
		return echo.ErrBadRequest
	}
	src, err := h.core.AcceptTunnelHostKey(c.Request().Context(), actor(c), c.Param("id"), strings.TrimSpace(form.Fingerprint))
	if err != nil {
		return h.tunnelError(c, err, "accept host key")
	}
	return h.afterSave(c, src, "now trusts the bastion's host key "+form.Fingerprint)
}

// tunnelError shows a refused tunnel action as a warning on the source's page.
func (h *SourceHandler) tunnelError(c echo.Context, err error, what string) error {
	var fe *models.FieldError
	if !asFieldErr(err, &fe) {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := flash(c, "error", fe.Message); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("sources.show", c.Param("id")))
}
