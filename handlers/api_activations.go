package handlers

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"sluice/models"
)

// This file is the JSON API of activations (API.md, "Resources"). Choices where API.md is
// silent:
//
//   - An activation is {id, name, status, health, pause, last_run, segment_id,
//     platform_id, action, action_settings, mappings, schedule, settings, created_at,
//     updated_at}. action_settings are the values of the action's settings (the list,
//     audience or conversion action at the platform), by name, {} when none. pause is
//     {automatic, cause, reason, since} or null; cause is "" for a manual pause, else
//     platform, source, schema or source_issues. last_run is the run that set the health
//     (the last one to finish; cancelled runs do not count), or null. settings always
//     carries its three keys.
//   - PATCH /activations/{id}: each field given replaces the stored one (mappings,
//     schedule and action_settings whole), the others are kept; settings merge key by
//     key. A new action without action_settings starts with none (the old action's do
//     not apply to it). The result is checked again as a whole against the segment's
//     model and the platform; a setting missing, unknown or not one of its options is a
//     422 on "action_settings.<name>".
//   - POST /activations/{id}/pause takes an optional {"reason": "…"}; without one the
//     reason says who paused it. A manual pause replaces an automatic one (so it is no
//     longer lifted automatically). Pausing a paused or resuming an active activation
//     changes nothing and answers 200.
//   - POST /activations/{id}/runs answers 409 while the activation is paused (resume it
//     first) or already has a run queued or running (one queued run picks up every
//     change anyway; cancel it to start another). The check comes before queuing, so
//     two requests at the same instant may both queue; the workers still run one run
//     of an activation at a time. The trigger is "api".
//   - A run is API.md's, plus full_resync, stage (null until it starts), processed,

// ActivationAPI serves /api/v1/activations.
type ActivationAPI struct{ *Server }

// apiActivationJSON is API.md's activation.
type apiActivationJSON struct {
	ID         string        `json:"id"`
	Name       string        `json:"name"`
	Status     string        `json:"status"`
	Health     string        `json:"health"`
	Pause      *apiPauseJSON `json:"pause"`
	LastRun    *apiRunJSON   `json:"last_run"`
	SegmentID  string        `json:"segment_id"`
	PlatformID string        `json:"platform_id"`
	Action     string        `json:"action"`
	// ActionSettings are the action's settings, by name; always an object.
	ActionSettings map[string]string     `json:"action_settings"`
	Mappings       []models.Mapping      `json:"mappings"`
	Schedule       models.Schedule       `json:"schedule"`
	NextRunAt      *apiTimestamp         `json:"next_run_at"`
	Settings       apiActivationSettings `json:"settings"`
	CreatedAt      apiTimestamp          `json:"created_at"`
	UpdatedAt      apiTimestamp          `json:"updated_at"`
}

// apiPauseJSON says why and since when an activation is paused.
type apiPauseJSON struct {
	Automatic bool          `json:"automatic"`
	Cause     string        `json:"cause"`
	Reason    string        `json:"reason"`
	Since     *apiTimestamp `json:"since"`
}

// apiActivationSettings are an activation's run options, every key always present.
type apiActivationSettings struct {
	DefaultPhoneRegion   string  `json:"default_phone_region"`
	SourceIssueThreshold float64 `json:"source_issue_threshold"`
	SendRemovals         bool    `json:"send_removals"`
}

// apiActivationInput is the body of POST and PATCH /activations.
type apiActivationInput struct {
	Name       *string `json:"name"`
	SegmentID  *string `json:"segment_id"`
	PlatformID *string `json:"platform_id"`
	Action     *string `json:"action"`
	// ActionSettings replace the stored ones whole when given.
	ActionSettings *map[string]string       `json:"action_settings"`
	Mappings       *[]models.Mapping        `json:"mappings"`
	Schedule       *models.Schedule         `json:"schedule"`
	Settings       *apiActivationSettingsIn `json:"settings"`
}

// apiActivationSettingsIn is settings on input: keys left out keep their value.
type apiActivationSettingsIn struct {
	DefaultPhoneRegion   *string  `json:"default_phone_region"`
	SourceIssueThreshold *float64 `json:"source_issue_threshold"`
	SendRemovals         *bool    `json:"send_removals"`
}

// apply lays the body over req: what the body gives replaces, the rest is kept.
func (in apiActivationInput) apply(req *models.ActivationInput) {
	setString(&req.Name, in.Name)
	setString(&req.SegmentID, in.SegmentID)
	setString(&req.PlatformID, in.PlatformID)
	if in.Action != nil && *in.Action != req.Action {
		req.Settings.Action = nil // another action's settings do not apply
	}
	setString(&req.Action, in.Action)
	if in.ActionSettings != nil {
		req.Settings.Action = *in.ActionSettings
	}
	if in.Mappings != nil {
		req.Mappings = *in.Mappings
	}
	if in.Schedule != nil {
		req.Schedule = *in.Schedule
	}
	if req.Schedule.Kind == "" {
		req.Schedule.Kind = "manual"
	}
	if st := in.Settings; st != nil {
		setString(&req.Settings.DefaultPhoneRegion, st.DefaultPhoneRegion)
		if st.SourceIssueThreshold != nil {
			req.Settings.SourceIssueThreshold = *st.SourceIssueThreshold
		}
		if st.SendRemovals != nil {
			req.Settings.SendRemovals = *st.SendRemovals
		}
	}
}

// apiActivation shows one activation with its last run.
func (s *Server) apiActivation(ctx context.Context, rv *runView, a *models.Activation) (apiActivationJSON, error) {
	st := a.Settings()
	sc, next := a.ScheduleAndNext(time.Now())
	j := apiActivationJSON{
		ID: a.ID, Name: a.Name, Status: a.Status, Health: a.Health,
		SegmentID: a.SegmentID, PlatformID: a.PlatformID, Action: a.Action,
		Mappings: a.Mappings(), Schedule: sc, NextRunAt: apiTimeOrNull(next),
		Settings:  apiActivationSettings{DefaultPhoneRegion: st.DefaultPhoneRegion, SourceIssueThreshold: st.SourceIssueThreshold, SendRemovals: st.SendRemovals},
		CreatedAt: apiTime(a.CreatedAt), UpdatedAt: apiTime(a.UpdatedAt),
	}
	if j.Mappings == nil {
		j.Mappings = []models.Mapping{}
	}
	j.ActionSettings = st.Action
	if j.ActionSettings == nil {
		j.ActionSettings = map[string]string{}
	}
	if a.Status == models.ActivationPaused {
		j.Pause = &apiPauseJSON{Automatic: a.PauseAutomatic, Cause: a.PauseCause, Reason: a.PauseReason, Since: apiTimeOrNull(a.PausedAt)}
	}
	if a.LastRunID != "" {
		r, err := rv.lastRun(ctx, a)
		switch {
		case err == nil:
			rv.known(a)
			run := rv.run(ctx, r)
			j.LastRun = &run
		case !models.IsNotFound(err):
			return apiActivationJSON{}, fmt.Errorf("last run: %w", err)
		}
	}
	return j, nil
}

func (h *ActivationAPI) answer(c echo.Context, status int, a *models.Activation) error {
	ctx := c.Request().Context()
	body, err := h.apiActivation(ctx, h.runView(workspaceID(c)), a)
	if err != nil {
		return err
	}
	return c.JSON(status, body)
}

// Index lists the workspace's activations; ?status= narrows to a health or to paused,
// ?q= to names containing it.
func (h *ActivationAPI) Index(c echo.Context) error {
	status := c.QueryParam("status")
	switch status {
	case "", models.HealthHealthy, models.HealthWarning, models.HealthFailed, models.ActivationPaused, models.HealthNeverRun:
	default:
		return &models.FieldError{Field: "status", Message: "status must be one of healthy, warning, failed, paused, never_run"}
	}
	ctx, ws := c.Request().Context(), workspaceID(c)
	limit, err := apiLimit(c)
	if err != nil {
		return err
	}
	// A keyset page by name: the cursor is the last activation's id and name (names are
	// unique), and the page goes on with the next name even when that one is gone.
	f := models.ActivationFilter{Status: status, Search: strings.TrimSpace(c.QueryParam("q")), Limit: limit + 1}
	if cur := c.QueryParam("cursor"); cur != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cur)
		lastID, lastName, ok := strings.Cut(string(raw), "\n")
		if err != nil || !ok || lastID == "" {
			return apiBadCursor()
		}
		f.After = lastName
	}
	page, lastRuns, segModels, err := h.store.ListActivationsWithLastRuns(ctx, ws, f)
	if err != nil {
		return fmt.Errorf("list activations: %w", err)
	}
	next := ""
	if len(page) > limit {
		page = page[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(page[limit-1].ID + "\n" + page[limit-1].Name))
	}
	rv := h.runView(ws)
	rv.runs, rv.segModels = lastRuns, segModels
	items, err := apiMapList(page, func(a *models.Activation) (apiActivationJSON, error) { return h.apiActivation(ctx, rv, a) })
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listAnswer[apiActivationJSON]{Items: items, NextCursor: next})
}

// Show answers one activation.
func (h *ActivationAPI) Show(c echo.Context) error {
	a, err := h.store.ActivationByID(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return fmt.Errorf("show activation: %w", err)
	}
	return h.answer(c, http.StatusOK, a)
}

// Create checks an activation against its segment's model and its platform's action,
// and saves it, active and never run.
func (h *ActivationAPI) Create(c echo.Context) error {
	var in apiActivationInput
	if err := apiDecode(c, &in); err != nil {
		return err
	}
	var req models.ActivationInput
	in.apply(&req)
	a, err := h.core.CreateActivation(c.Request().Context(), actor(c), req)
	if err != nil {
		return fmt.Errorf("create activation: %w", err)
	}
	return h.answer(c, http.StatusCreated, a)
}

// Update changes any of an activation's fields; the others keep their values, and the
// whole is checked again.
func (h *ActivationAPI) Update(c echo.Context) error {
	var in apiActivationInput
	if err := apiDecode(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	a, err := h.store.ActivationByID(ctx, workspaceID(c), c.Param("id"))
	if err != nil {
		return fmt.Errorf("update activation: %w", err)
	}
	req := models.ActivationInput{Name: a.Name, SegmentID: a.SegmentID, PlatformID: a.PlatformID, Action: a.Action,
		Mappings: a.Mappings(), Schedule: a.Schedule(), Settings: a.Settings()}
	in.apply(&req)
	if a, err = h.core.UpdateActivation(ctx, actor(c), a.ID, req); err != nil {
		return fmt.Errorf("update activation: %w", err)
	}
	return h.answer(c, http.StatusOK, a)
}

// Delete removes an activation with its runs and its sync state.
func (h *ActivationAPI) Delete(c echo.Context) error {
	if err := h.core.DeleteActivation(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return fmt.Errorf("delete activation: %w", err)
	}
	return c.NoContent(http.StatusNoContent)
}

// apiPauseInput is the optional body of POST /activations/{id}/pause.
type apiPauseInput struct {
	Reason string `json:"reason"`
}

// Pause stops an activation by hand: only a person resumes it.
func (h *ActivationAPI) Pause(c echo.Context) error {
	var in apiPauseInput
	if err := apiDecodeOptional(c, &in); err != nil {
		return err
	}
	a := actor(c)
	reason := strings.TrimSpace(in.Reason)
	if reason == "" {
		reason = "Paused by " + a.Name + "."
	}
	act, err := h.core.Pause(c.Request().Context(), a, c.Param("id"), reason)
	if err != nil {
		return fmt.Errorf("pause activation: %w", err)
	}
	return h.answer(c, http.StatusOK, act)
}

// Resume restarts a paused activation, whatever paused it.
func (h *ActivationAPI) Resume(c echo.Context) error {
	act, err := h.core.Resume(c.Request().Context(), actor(c), c.Param("id"))
	if err != nil {
		return fmt.Errorf("resume activation: %w", err)
	}
	return h.answer(c, http.StatusOK, act)
}

// apiRunNowInput is the optional body of POST /activations/{id}/runs.
type apiRunNowInput struct {
	FullResync bool `json:"full_resync"`
}

// RunNow queues a run of the activation; a worker picks it up.
func (h *ActivationAPI) RunNow(c echo.Context) error {
	var in apiRunNowInput
	if err := apiDecodeOptional(c, &in); err != nil {
		return err
	}
	ctx, ws := c.Request().Context(), workspaceID(c)
	act, err := h.store.ActivationByID(ctx, ws, c.Param("id"))
	if err != nil {
		return fmt.Errorf("run activation: %w", err)
	}
	r, err := h.runs.RunNow(ctx, ws, act.ID, models.TriggerAPI, in.FullResync)
	if err != nil {
		return fmt.Errorf("run activation: %w", err)
	}
	rv := h.runView(ws)
	rv.known(act)
	return c.JSON(http.StatusAccepted, rv.run(ctx, r))
}

// Runs lists the activation's runs, newest first.
func (h *ActivationAPI) Runs(c echo.Context) error {
	ctx, ws := c.Request().Context(), workspaceID(c)
	act, err := h.store.ActivationByID(ctx, ws, c.Param("id"))
	if err != nil {
		return fmt.Errorf("list runs: %w", err)
	}
	limit, err := apiLimit(c)
	if err != nil {
		return err
	}
	// Newest first, by keyset: the page goes on with what sorts before the cursor's run,
	// read from the index however long the history is.
	var cursor *models.RunCursor
	if v := c.QueryParam("cursor"); v != "" {
		if cursor = apiRunCursor(v); cursor == nil {
			return apiBadCursor()
		}
	}
	page, err := h.store.ListRunsBefore(ctx, ws, act.ID, cursor, limit+1)
	if err != nil {
		return fmt.Errorf("list runs: %w", err)
	}
	next := ""
	if len(page) > limit {
		page = page[:limit]
		last := page[limit-1]
		next = base64.RawURLEncoding.EncodeToString([]byte(apiSortKey(last.CreatedAt, last.ID)))
	}
	rv := h.runView(ws)
	rv.known(act)
	items := make([]apiRunJSON, len(page))
	for i := range page {
		items[i] = rv.run(ctx, &page[i])
	}
	return c.JSON(http.StatusOK, listAnswer[apiRunJSON]{Items: items, NextCursor: next})
}

// apiRunCursor reads a cursor of apiSortKey (time|id); nil when it is not one.
func apiRunCursor(v string) *models.RunCursor {
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil
	}
	at, id, ok := strings.Cut(string(raw), "|")
	t, err := time.Parse(time.RFC3339Nano, at)
	if !ok || err != nil || id == "" {
		return nil
	}
	return &models.RunCursor{CreatedAt: t, ID: id}
}
