package handlers

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"sluice/core"
	"sluice/models"
	"sluice/views/activationsview"
	"sluice/views/components"
	"sluice/views/runsview"
)

// ActivationHandler serves the activation and run pages.
type ActivationHandler struct{ *Server }

// activationsPerPage is how many activations one page of the list shows.
const activationsPerPage = 50

// Index lists activations, filtered by health or paused, a keyset page at a time
// (?after= the last name of the previous page); the page's rows, with their segment's
// and platform's names and last run, are read in one query, so the page costs the same
// whatever the workspace's size.
func (h *ActivationHandler) Index(c echo.Context) error {
	ctx := c.Request().Context()
	ws := workspaceID(c)
	filter := c.QueryParam("status")
	after := c.QueryParam("after")
	rows, err := h.store.ActivationRows(ctx, ws, models.ActivationFilter{Status: filter, Search: c.QueryParam("q"),
		After: after, Limit: activationsPerPage + 1})
	if err != nil {
		return fmt.Errorf("list activations: %w", err)
	}
	p := activationsview.IndexProps{Filter: filter, Search: c.QueryParam("q"),
		Schedules: map[string]string{}, NextRuns: map[string]time.Time{}, Paged: after != ""}
	// An activation has a segment and a platform: only an empty page needs to ask, and
	// ticks off the steps already taken.
	if p.CanCreate = len(rows) > 0; !p.CanCreate {
		if p.Steps, err = h.store.FirstSteps(ctx, ws); err != nil {
			return fmt.Errorf("list activations: %w", err)
		}
		p.CanCreate = p.Steps.CanCreateActivation()
	}
	if len(rows) > activationsPerPage {
		rows = rows[:activationsPerPage]
		p.NextAfter = rows[len(rows)-1].Activation.Name
	}
	p.Rows = rows
	now := time.Now()
	for i := range rows {
		a := &rows[i].Activation
		sc, next := a.ScheduleAndNext(now)
		p.Schedules[a.ID] = sc.Describe()
		if next != nil {
			p.NextRuns[a.ID] = *next
		}
	}
	return h.render(c, http.StatusOK, activationsview.IndexPage(p), nil)
}

// Show is the activation overview with its run history.
func (h *ActivationHandler) Show(c echo.Context) error {
	a, parts, err := h.store.ActivationWithParts(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return err
	}
	props, err := h.showProps(c, a, parts, tabOr(c.QueryParam("tab")), nil, nil)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, activationsview.ShowPage(props), nil)
}

// UpdateSettings saves the action's settings from the Settings tab (the list, audience
// or conversion action at the platform), the rest of the activation unchanged; a
// refusal answers 422 with the tab again, the error beside the setting.
func (h *ActivationHandler) UpdateSettings(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return echo.ErrBadRequest
	}
	ctx := c.Request().Context()
	a, parts, err := h.store.ActivationWithParts(ctx, workspaceID(c), c.Param("id"))
	if err != nil {
		return err
	}
	posted := map[string]string{}
	for key, vals := range form {
		if name, ok := strings.CutPrefix(key, "as."); ok && name != "" && len(vals) > 0 {
			posted[name] = strings.TrimSpace(vals[0])
		}
	}
	in := models.ActivationInput{Name: a.Name, SegmentID: a.SegmentID, PlatformID: a.PlatformID, Action: a.Action,
		Mappings: a.Mappings(), Schedule: a.Schedule(), Settings: a.Settings()}
	in.Settings.Action = map[string]string{}
	for name, v := range posted {
		if v != "" {
			in.Settings.Action[name] = v
		}
	}
	saved, err := h.core.UpdateActivation(ctx, actor(c), a.ID, in)
	var fe *models.FieldError
	if asFieldErr(err, &fe) {
		props, err := h.showProps(c, a, parts, "settings", posted, components.FormErrors{fe.Field: fe.Message})
		if err != nil {
			return err
		}
		return h.render(c, http.StatusUnprocessableEntity, activationsview.ShowPage(props), nil)
	}
	if err != nil {
		return fmt.Errorf("save activation %s settings: %w", a.ID, err)
	}
	if err := flash(c, "success", saved.Name+" saved. The next run uses the new settings."); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("activations.show", a.ID)+"?tab=settings")
}

// showProps loads the activation page's tab. On the Settings tab the action's settings
// show the platform's choices; values and errors, when given, are a refused form's.
// The run history and chart read the newest 50 runs, only the columns they show.
func (h *ActivationHandler) showProps(c echo.Context, a *models.Activation, parts models.ActivationParts, tab string, values map[string]string, errs components.FormErrors) (activationsview.ShowProps, error) {
	ctx := c.Request().Context()
	ws := workspaceID(c)
	runs, err := h.store.ListRunSummaries(ctx, ws, a.ID, 50)
	if err != nil {
		return activationsview.ShowProps{}, err
	}
	sc, next := a.ScheduleAndNext(time.Now())
	props := activationsview.ShowProps{Activation: a, Segment: parts.SegmentName, Platform: parts.PlatformName, Runs: runs,
		Tab: tab, Schedule: sc.Describe(), NextRun: next, Errors: errs}
	if tab == "runs" && parts.HasEvents { // the pauses and resumes are listed beside the run history only
		if props.Events, err = h.store.ActivationEvents(ctx, ws, a.ID, 50); err != nil {
			return props, err
		}
	}
	if values == nil {
		values = a.Settings().Action
	}
	known := segmentModels{a.SegmentID: parts.Model}
	if err := h.settingFields(c, &props, parts.PlatformKind, values); err != nil {
		return props, err
	}
	if parts.OpenIssues {
		if props.Warnings, err = h.dependencyWarnings(c, parts.Model, a.SegmentID, a.ID); err != nil {
			return props, fmt.Errorf("activation %s: warnings: %w", a.ID, err)
		}
	}
	if len(runs) > 0 && !runs[0].Finished() { // its progress updates itself (runsview.RunProgress)
		live, err := h.store.RunByID(ctx, ws, runs[0].ID)
		if err != nil {
			return props, fmt.Errorf("activation %s: run in flight: %w", a.ID, err)
		}
		props.Live = &runsview.ProgressProps{Run: live, Estimate: progressEstimate(runs, live.ID)}
	}
	for i := range runs {
		if runs[i].Finished() {
			if runs[i].ErrorMessage != "" && (runs[i].Status == models.RunFailed || runs[i].Status == models.RunInterrupted) {
				props.LastError = &runs[i]
				props.Fix = fixButton(c, runFix(ctx, h.store, &runs[i], a.Ref(), known))
			}
			if props.LastRunWarnings, err = h.syncWarnings(ctx, c, &runs[i]); err != nil {
				return props, fmt.Errorf("activation %s: run warnings: %w", a.ID, err)
			}
			break
		}
	}
	props.PauseFix = fixButton(c, pauseFix(ctx, h.store, a, known))
	if parts.OpenIncident {
		if props.Incident, err = h.store.OpenIncidentOn(ctx, ws, models.IncidentActivation, a.ID); err != nil {
			return props, fmt.Errorf("activation %s: open incident: %w", a.ID, err)
		}
	}
	return props, nil
}

// settingFields are the action's settings with their values; on the Settings tab, with
// the choices the platform offers (core opens it), listed only there so the other tabs
// never wait on the platform.
func (h *ActivationHandler) settingFields(c echo.Context, props *activationsview.ShowProps, kind string, values map[string]string) error {
	spec, err := h.core.DestinationSpec(kind)
	if err != nil {
		return nil // a kind this build lacks: the page says so elsewhere
	}
	for _, action := range spec.Actions {
		if action.Name != props.Activation.Action || len(action.Settings) == 0 {
			continue
		}
		props.ActionLabel = action.Label
		var choices core.ActionSettingChoices
		if props.Tab == "settings" {
			if choices, err = h.core.ActionSettingChoices(c.Request().Context(), workspaceID(c), props.Activation.PlatformID, action); err != nil {
				return fmt.Errorf("list the choices of %s: %w", action.Name, err)
			}
		}
		for _, f := range action.Settings {
			props.ActionSettings = append(props.ActionSettings, activationsview.SettingField{Spec: f, Value: values[f.Name],
				Options: choices.Options[f.Name], ListErr: choices.Errors[f.Name]})
		}
	}
	return nil
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
