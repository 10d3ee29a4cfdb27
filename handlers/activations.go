package handlers

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"sluice/models"
	"sluice/views/activationsview"
	"sluice/views/runsview"
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
	p := activationsview.IndexProps{Activations: acts, Filter: filter, Search: c.QueryParam("q"), Segments: map[string]string{}, Platforms: map[string]string{},
		LastRuns: map[string]models.Run{}, Schedules: map[string]string{}, NextRuns: map[string]time.Time{}, CanCreate: len(segs) > 0 && len(plats) > 0}
	for _, g := range segs {
		p.Segments[g.ID] = g.Name
	}
	for _, pl := range plats {
		p.Platforms[pl.ID] = pl.Name
	}
	now := time.Now()
	for _, a := range acts {
		p.Schedules[a.ID] = a.Schedule().Describe()
		if next := a.NextRun(now); next != nil {
			p.NextRuns[a.ID] = *next
		}
		if a.LastRunID == "" {
			continue
		}
		if r, err := h.store.RunByID(ctx, ws, a.LastRunID); err == nil {
			p.LastRuns[a.ID] = *r
		}
	}
	return h.render(c, http.StatusOK, activationsview.IndexPage(p), nil)
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
	events, err := h.store.ActivationEvents(ctx, ws, a.ID, 50)
	if err != nil {
		return err
	}
	props := activationsview.ShowProps{Activation: a, Segment: seg.Name, Platform: p, Runs: runs, Events: events,
		Tab: tabOr(c.QueryParam("tab")), Schedule: a.Schedule().Describe(), NextRun: a.NextRun(time.Now())}
	if props.Warnings, err = h.dependencyWarnings(c, seg.ModelID, seg.ID, a.ID); err != nil {
		return fmt.Errorf("activation %s: warnings: %w", a.ID, err)
	}
	for i := range runs {
		if runs[i].Finished() {
			if runs[i].ErrorMessage != "" && (runs[i].Status == models.RunFailed || runs[i].Status == models.RunInterrupted) {
				props.LastError = &runs[i]
				props.Fix = h.fixFor(c, &runs[i], a)
			}
			if props.LastRunWarnings, err = h.syncWarnings(ctx, c, ws, runs[i].ID); err != nil {
				return fmt.Errorf("activation %s: run warnings: %w", a.ID, err)
			}
			break
		}
	}
	if spec, err := h.core.DestinationSpec(p.Kind); err == nil {
		for _, act := range spec.Actions {
			if act.Name != a.Action {
				continue
			}
			for _, f := range act.Settings {
				props.ActionSettings = append(props.ActionSettings, activationsview.SettingField{Spec: f, Value: a.Settings().Action[f.Name]})
			}
		}
	}
	props.PauseFix = fixButton(c, pauseFix(ctx, h.store, a))
	if props.Incident, err = h.store.OpenIncidentOn(ctx, ws, models.IncidentActivation, a.ID); err != nil {
		return fmt.Errorf("activation %s: open incident: %w", a.ID, err)
	}
	return h.render(c, http.StatusOK, activationsview.ShowPage(props), nil)
}

// fixFor is the place where a run's error is fixed, as a button.
func (h *ActivationHandler) fixFor(c echo.Context, r *models.Run, a *models.Activation) *runsview.Fix {
	return fixButton(c, runFix(c.Request().Context(), h.store, r, a))
}

// fixButton reverses a fix's route into the button that opens it; nil stays nil.
func fixButton(c echo.Context, f *fix) *runsview.Fix {
	if f == nil {
		return nil
	}
	return &runsview.Fix{Label: f.Label, URL: c.Echo().Reverse(f.Route, f.Param) + f.Query}
}

// Duplicate copies an activation (paused, so the copy does not send until reviewed) and
// opens the copy.
func (h *ActivationHandler) Duplicate(c echo.Context) error {
	a, err := h.core.Duplicate(c.Request().Context(), actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	if err := flash(c, "success", a.Name+" created, paused: review it, then resume it."); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("activations.show", a.ID)+"?tab=settings")
}

// RunNow queues a run (or a full resync) and opens the activation.
func (h *ActivationHandler) RunNow(c echo.Context) error {
	full := c.FormValue("full_resync") == "true"
	if _, err := h.runs.RunNow(c.Request().Context(), workspaceID(c), c.Param("id"), models.TriggerManual, full); err != nil {
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
	a, err := h.core.Pause(c.Request().Context(), actor(c), c.Param("id"), "Paused by "+actor(c).Name+".")
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
	a, err := h.core.Resume(c.Request().Context(), actor(c), c.Param("id"))
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
	if err := h.core.DeleteActivation(c.Request().Context(), actor(c), a.ID); err != nil {
		return err
	}
	if err := flash(c, "success", a.Name+" was deleted."); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("activations.index"))
}

// tabOr is the activation page's tab, overview unless another one is asked for.
func tabOr(tab string) string {
	switch tab {
	case "runs", "settings":
		return tab
	}
	return "overview"
}
