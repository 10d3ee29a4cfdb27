package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"sluice/models"
	"sluice/views/activationsview"
	"sluice/views/components"
)

// ActivationHandler serves the activation and run pages.
type ActivationHandler struct{ *Server }

// Index lists activations, filtered by health or paused.
func (h *ActivationHandler) Index(c echo.Context) error {
	ctx := c.Request().Context()
	ws := workspaceID(c)
	filter := c.QueryParam("status")
	acts, err := h.store.ListActivations(ctx, ws, models.ActivationFilter{Status: filter, Search: c.QueryParam("q")})
	if err != nil {
		return fmt.Errorf("list activations: %w", err)
	}
	segs, err := h.store.ListSegments(ctx, ws, "")
	if err != nil {
		return err
	}
	plats, err := h.store.ListPlatforms(ctx, ws)
	if err != nil {
		return err
	}
	p := activationsview.IndexProps{Activations: acts, Filter: filter, Segments: map[string]string{}, Platforms: map[string]string{},
		LastRuns: map[string]models.Run{}, CanCreate: len(segs) > 0 && len(plats) > 0}
	for _, g := range segs {
		p.Segments[g.ID] = g.Name
	}
	for _, pl := range plats {
		p.Platforms[pl.ID] = pl.Name
	}
	for _, a := range acts {
		if a.LastRunID == "" {
			continue
		}
		if r, err := h.store.RunByID(ctx, ws, a.LastRunID); err == nil {
			p.LastRuns[a.ID] = *r
		}
	}
	return h.render(c, http.StatusOK, activationsview.IndexPage(p), nil)
}

func (h *ActivationHandler) newProps(c echo.Context) (activationsview.NewProps, error) {
	ctx := c.Request().Context()
	segs, err := h.store.ListSegments(ctx, workspaceID(c), "")
	if err != nil {
		return activationsview.NewProps{}, err
	}
	plats, err := h.store.ListPlatforms(ctx, workspaceID(c))
	if err != nil {
		return activationsview.NewProps{}, err
	}
	return activationsview.NewProps{Segments: segs, Platforms: plats}, nil
}

// New shows the activation form.
func (h *ActivationHandler) New(c echo.Context) error {
	p, err := h.newProps(c)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, activationsview.NewPage(p), nil)
}

// Create saves an activation from the form.
func (h *ActivationHandler) Create(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return echo.ErrBadRequest
	}
	p, err := h.newProps(c)
	if err != nil {
		return err
	}
	in := models.ActivationInput{Name: form.Get("name"), SegmentID: form.Get("segment_id"), PlatformID: form.Get("platform_id"),
		Action: form.Get("action"), Schedule: models.Schedule{Kind: "manual"}}
	froms, tos, types := form["map_from"], form["map_to"], form["map_type"]
	for i := range froms {
		if strings.TrimSpace(froms[i]) == "" || i >= len(tos) {
			continue
		}
		m := models.Mapping{From: strings.TrimSpace(froms[i]), To: tos[i]}
		if i < len(types) {
			m.Type = types[i]
		}
		in.Mappings = append(in.Mappings, m)
	}
	in.Settings.DefaultPhoneRegion = strings.ToUpper(strings.TrimSpace(form.Get("default_phone_region")))
	in.Settings.SendRemovals = form.Get("send_removals") == "true"
	if v := form.Get("source_issue_threshold"); v != "" {
		t, perr := strconv.ParseFloat(v, 64)
		if perr != nil || t < 0 || t > 100 {
			err = &models.FieldError{Field: "source_issue_threshold", Message: "Give a percentage from 0 to 100."}
		}
		in.Settings.SourceIssueThreshold = t
	}
	var a *models.Activation
	if err == nil {
		a, err = h.dl.CreateActivation(c.Request().Context(), actor(c), in)
	}
	var fe *models.FieldError
	if errors.As(err, &fe) {
		p.Name, p.SegmentID, p.PlatformID, p.Action, p.Mappings = in.Name, in.SegmentID, in.PlatformID, in.Action, in.Mappings
		p.Region, p.Threshold, p.Removals = in.Settings.DefaultPhoneRegion, form.Get("source_issue_threshold"), in.Settings.SendRemovals
		p.Errors = components.FormErrors{fe.Field: fe.Message}
		if _, shown := map[string]bool{"name": true, "action": true, "source_issue_threshold": true, "default_phone_region": true}[fe.Field]; !shown {
			p.Errors["_"] = fe.Message
		}
		return h.render(c, http.StatusUnprocessableEntity, activationsview.NewPage(p), nil)
	}
	if err != nil {
		return fmt.Errorf("create activation: %w", err)
	}
	if err := flash(c, "success", a.Name+" created. Run it now or give it a schedule."); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("activations.show", a.ID))
}

// Show is the activation overview with its run history.
func (h *ActivationHandler) Show(c echo.Context) error {
	ctx := c.Request().Context()
	ws := workspaceID(c)
	a, err := h.store.ActivationByID(ctx, ws, c.Param("id"))
	if err != nil {
		return err
	}
	seg, err := h.store.SegmentByID(ctx, ws, a.SegmentID)
	if err != nil {
		return err
	}
	p, err := h.store.PlatformByID(ctx, ws, a.PlatformID)
	if err != nil {
		return err
	}
	runs, err := h.store.ListRuns(ctx, ws, a.ID, 50)
	if err != nil {
		return err
	}
	props := activationsview.ShowProps{Activation: a, Segment: seg.Name, Platform: p, Runs: runs}
	for i := range runs {
		if runs[i].Finished() {
			if runs[i].ErrorMessage != "" && (runs[i].Status == models.RunFailed || runs[i].Status == models.RunInterrupted) {
				props.LastError = &runs[i]
				props.Fix = h.fixFor(c, &runs[i], a)
			}
			break
		}
	}
	return h.render(c, http.StatusOK, activationsview.ShowPage(props), nil)
}

// fixFor is the place where a run's error is fixed, as a button.
func (h *ActivationHandler) fixFor(c echo.Context, r *models.Run, a *models.Activation) *activationsview.Fix {
	fix := runFix(c.Request().Context(), h.store, r, a)
	if fix == nil {
		return nil
	}
	return &activationsview.Fix{Label: fix.Label, URL: c.Echo().Reverse(fix.Route, fix.Param) + fix.Query}
}

// RunNow queues a run (or a full resync) and opens the activation.
func (h *ActivationHandler) RunNow(c echo.Context) error {
	full := c.FormValue("full_resync") == "true"
	if _, err := h.dl.RunNow(c.Request().Context(), workspaceID(c), c.Param("id"), models.TriggerManual, full); err != nil {
		return err
	}
	msg := "Run queued."
	if full {
		msg = "Full resync queued: every record will be sent again."
	}
	if err := flash(c, "success", msg); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("activations.show", c.Param("id")))
}

// Pause stops an activation by hand.
func (h *ActivationHandler) Pause(c echo.Context) error {
	a, err := h.store.Pause(c.Request().Context(), actor(c), c.Param("id"), "", "Paused by "+actor(c).Name+".")
	if err != nil {
		return err
	}
	if err := flash(c, "info", a.Name+" is paused: scheduled runs are skipped until you resume it."); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("activations.show", a.ID))
}

// Resume restarts an activation.
func (h *ActivationHandler) Resume(c echo.Context) error {
	a, err := h.store.Resume(c.Request().Context(), actor(c), c.Param("id"), "")
	if err != nil {
		return err
	}
	if err := flash(c, "success", a.Name+" resumed."); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("activations.show", a.ID))
}

// Delete removes an activation and its history.
func (h *ActivationHandler) Delete(c echo.Context) error {
	a, err := h.store.ActivationByID(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return err
	}
	if err := h.store.DeleteActivation(c.Request().Context(), actor(c), a.ID); err != nil {
		return err
	}
	if err := flash(c, "success", a.Name+" was deleted."); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("activations.index"))
}

// Run is one run's page: counts, the error and its fix, issues, log, samples.
func (h *ActivationHandler) Run(c echo.Context) error {
	ctx := c.Request().Context()
	ws := workspaceID(c)
	r, err := h.store.RunByID(ctx, ws, c.Param("id"))
	if err != nil {
		return err
	}
	a, err := h.store.ActivationByID(ctx, ws, r.ActivationID)
	if err != nil {
		return err
	}
	p := activationsview.RunProps{Run: r, Activation: a, Fix: h.fixFor(c, r, a)}
	if p.Logs, err = h.store.ListRunLogs(ctx, ws, r.ID, 500); err != nil {
		return err
	}
	if p.SourceIssues, _, err = h.store.ListRunIssues(ctx, ws, r.ID, models.IssueFilter{Stage: "source", Limit: 100}); err != nil {
		return err
	}
	if p.Rejections, _, err = h.store.ListRunIssues(ctx, ws, r.ID, models.IssueFilter{Stage: "destination", Limit: 100}); err != nil {
		return err
	}
	if p.Samples, err = h.store.ListRunSamples(ctx, ws, r.ID); err != nil {
		return err
	}
	return h.render(c, http.StatusOK, activationsview.RunPage(p), nil)
}
