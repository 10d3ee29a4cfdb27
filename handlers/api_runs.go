package handlers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"sluice/connectors"
	"sluice/models"
)

// This file is the JSON API of runs (API.md, "Resources"). Choices where API.md is
// silent:
//
//     cancel_requested (a cancelled running run stops at its next heartbeat) and
//     created_at (when it was queued). scheduled_for is null unless the trigger is
//     "schedule". error adds category_label (the seed's words for the category) and is
//     null unless the run failed or was skipped; fix.url is absolute, under base_url.
//     wait is what a running run waits for (a request to the platform unanswered for 2 s
//     or more, a retry's pause, the warehouse's first rows), null otherwise.
//   - Lists of runs are newest first, logs oldest first, issues in the order they were
//     found; their cursors are opaque. POST /runs/{id}/cancel on a run that is over is 409.
//   - GET /runs/{id}/samples lists the requests and answers kept for the debugger
//     (connectors.Exchange, secrets redacted by the connector).

// RunAPI serves /api/v1/runs.
type RunAPI struct{ *Server }

// apiRunJSON is API.md's run.
type apiRunJSON struct {
	ID              string           `json:"id"`
	ActivationID    string           `json:"activation_id"`
	Status          string           `json:"status"`
	Trigger         string           `json:"trigger"`
	ScheduledFor    *apiTimestamp    `json:"scheduled_for"`
	FullResync      bool             `json:"full_resync"`
	Stage           *string          `json:"stage"`
	Processed       int64            `json:"processed"`
	CancelRequested bool             `json:"cancel_requested"`
	Counts          models.RunCounts `json:"counts"`
	Error           *apiRunError     `json:"error"`
	CreatedAt       apiTimestamp     `json:"created_at"`
	StartedAt       *apiTimestamp    `json:"started_at"`
	FinishedAt      *apiTimestamp    `json:"finished_at"`
	// Wait is what the run in flight waits for (null when it waits for nothing).
	Wait *apiRunWait `json:"wait"`
}

// apiRunWait is what a running run waits for: a request to the platform not answered
// for a while, the pause before a request is tried again, or the warehouse's first rows.
type apiRunWait struct {
	Kind           string        `json:"kind"`
	Object         string        `json:"object"`
	Since          apiTimestamp  `json:"since"`
	Until          *apiTimestamp `json:"until"`
	TimeoutSeconds *float64      `json:"timeout_seconds"`
	Attempt        *int          `json:"attempt"`
	MaxAttempts    *int          `json:"max_attempts"`
	LastAnswer     *string       `json:"last_answer"`
	Message        string        `json:"message"`
}

// apiWait is r's wait as the API answers it, nil when it waits for nothing.
func apiWait(r *models.Run, now time.Time) *apiRunWait {
	w := r.Wait()
	if w == nil {
		return nil
	}
	j := &apiRunWait{Kind: w.Kind, Object: w.Object, Since: apiTime(w.Since), Message: w.Sentence(now)}
	if !w.Until.IsZero() {
		j.Until = apiTimeOrNull(&w.Until)
	}
	if w.Timeout > 0 {
		secs := w.Timeout.Seconds()
		j.TimeoutSeconds = &secs
	}
	if w.Attempt > 0 && w.MaxAttempts > 0 {
		j.Attempt, j.MaxAttempts = &w.Attempt, &w.MaxAttempts
	}
	if w.LastAnswer != "" {
		j.LastAnswer = &w.LastAnswer
	}
	return j
}

// apiRunError is why a run failed or was skipped, and where to fix it (DESIGN.md).
type apiRunError struct {
	Category      string `json:"category"`
	CategoryLabel string `json:"category_label"`
	Message       string `json:"message"`
	Fix           apiFix `json:"fix"`
}

// apiFix is a link to the exact place to fix an error.
type apiFix struct {
	Label string `json:"label"`
	URL   string `json:"url"`
}

// apiIssueJSON is one record of a run that was not delivered.
type apiIssueJSON struct {
	PrimaryKey string `json:"primary_key"`
	Stage      string `json:"stage"`
	Code       string `json:"code"`
	Field      string `json:"field"`
	Message    string `json:"message"`
}

// apiLogJSON is one line of a run's log.
type apiLogJSON struct {
	At      apiTimestamp `json:"at"`
	Level   string       `json:"level"`
	Message string       `json:"message"`
}

// runView shows runs with the links of their fixes; it remembers the activations it
// looked up, so a list costs one lookup per activation.
type runView struct {
	s  *Server
	ws string
	// acts are the activations known or looked up, by id (nil: not found).
	acts map[string]*models.ActivationRef
	// segModels are the models of the segments the fixes looked up.
	segModels segmentModels
	// runs holds the last runs of a list's activations, read in one query
	// (models.Store.ListActivationsWithLastRuns), so a list does not cost a query per row.
	runs map[string]*models.Run
}

func (s *Server) runView(workspaceID string) *runView {
	return &runView{s: s, ws: workspaceID, acts: map[string]*models.ActivationRef{}, segModels: segmentModels{}}
}

// lastRun is a's last run: preloaded when the list read it, else read now.
func (rv *runView) lastRun(ctx context.Context, a *models.Activation) (*models.Run, error) {
	if rv.runs != nil {
		if r, ok := rv.runs[a.LastRunID]; ok {
			return r, nil
		}
		return nil, models.ErrNotFound
	}
	return rv.s.store.RunByID(ctx, a.WorkspaceID, a.LastRunID)
}

// known tells the view an activation it already has.
func (rv *runView) known(a *models.Activation) {
	ref := a.Ref()
	rv.acts[a.ID] = &ref
}

// run shows one run.
func (rv *runView) run(ctx context.Context, r *models.Run) apiRunJSON {
	j := apiRunJSON{
		ID: r.ID, ActivationID: r.ActivationID, Status: r.Status, Trigger: r.Trigger,
		FullResync: r.FullResync, Processed: r.Processed, CancelRequested: r.CancelRequested, Counts: r.RunCounts,
		CreatedAt: apiTime(r.CreatedAt), StartedAt: apiTimeOrNull(r.StartedAt), FinishedAt: apiTimeOrNull(r.FinishedAt),
		Wait: apiWait(r, time.Now()),
	}
	if r.Trigger == models.TriggerSchedule {
		j.ScheduledFor = apiTimeOrNull(r.ScheduledFor)
	}
	if r.Stage != "" {
		j.Stage = &r.Stage
	}
	if r.Status == models.RunFailed || r.Status == models.RunSkipped {
		cat := connectors.Category(r.ErrorCategory)
		msg := r.ErrorMessage
		if msg == "" {
			msg = "The run " + r.Status + " without saying why; its log may tell more."
		}
		j.Error = &apiRunError{Category: string(cat), CategoryLabel: cat.Label(), Message: msg, Fix: rv.fix(ctx, r)}
	}
	return j
}

// fix is where a run's error is fixed (DESIGN.md: every error carries a link to the
// exact place): the pages' runFix, as an absolute URL under the configured base URL.
// A skipped run links to its activation, whose page says why it is paused and resumes
// it; an error without a known place links to the run.
func (rv *runView) fix(ctx context.Context, r *models.Run) apiFix {
	base := strings.TrimRight(rv.s.cfg.BaseURL, "/")
	if r.Status == models.RunSkipped {
		return apiFix{"Open the activation", base + rv.s.paths.Reverse("activations.show", r.ActivationID)}
	}
	if a := rv.activation(ctx, r.ActivationID); a != nil {
		if f := runFix(ctx, rv.s.store, r, *a, rv.segModels); f != nil {
			return apiFix{f.Label, base + rv.s.paths.Reverse(f.Route, f.Param) + f.Query}
		}
	}
	return apiFix{"Open the run", base + rv.s.paths.Reverse("runs.show", r.ID)}
}

// activation is the run's activation, nil if it cannot be read (the link falls back).
func (rv *runView) activation(ctx context.Context, id string) *models.ActivationRef {
	if a, ok := rv.acts[id]; ok {
		return a
	}
	var ref *models.ActivationRef
	if a, err := rv.s.store.ActivationByID(ctx, rv.ws, id); err == nil {
		r := a.Ref()
		ref = &r
	}
	rv.acts[id] = ref
	return ref
}

// Show answers one run, read with its activation's ref (for the fix) in one query.
func (h *RunAPI) Show(c echo.Context) error {
	ctx, ws := c.Request().Context(), workspaceID(c)
	r, a, err := h.store.RunWithActivation(ctx, ws, c.Param("id"))
	if err != nil {
		return fmt.Errorf("show run: %w", err)
	}
	rv := h.runView(ws)
	rv.acts[r.ActivationID] = nil
	if a.ID != "" {
		rv.acts[r.ActivationID] = &a
	}
	return c.JSON(http.StatusOK, rv.run(ctx, r))
}

// Issues lists the records of a run that were not delivered; ?stage=source|destination
// narrows to source issues or destination rejections, and ?code=&field=&message= to one
// reason of the run page's summary.
func (h *RunAPI) Issues(c echo.Context) error {
	// The run first: another workspace's answers not found, whatever the query says.
	r, err := h.store.RunByID(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return fmt.Errorf("run issues: %w", err)
	}
	stage := c.QueryParam("stage")
	switch stage {
	case "", "source", "destination":
	default:
		return &models.FieldError{Field: "stage", Message: "stage must be source or destination."}
	}
	reason := issueReason(c)
	if reason != nil && stage == "" {
		return &models.FieldError{Field: "stage", Message: "A reason (code) is of one stage: give stage=source or stage=destination."}
	}
	limit, err := apiLimit(c)
	if err != nil {
		return err
	}
	cursor := ""
	if v := c.QueryParam("cursor"); v != "" {
		raw, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || len(raw) == 0 {
			return apiBadCursor()
		}
		cursor = string(raw)
	}
	list, next, err := h.store.RunIssues(c.Request().Context(), r, models.IssueFilter{Stage: stage, Reason: reason, Cursor: cursor, Limit: limit})
	if err != nil {
		return fmt.Errorf("list run issues: %w", err)
	}
	items := make([]apiIssueJSON, len(list))
	for i, is := range list {
		items[i] = apiIssueJSON{PrimaryKey: is.PrimaryKey, Stage: is.Stage, Code: is.Code, Field: is.Field, Message: is.Message}
	}
	if next != "" {
		next = base64.RawURLEncoding.EncodeToString([]byte(next))
	}
	return c.JSON(http.StatusOK, listAnswer[apiIssueJSON]{Items: items, NextCursor: next})
}

// apiMaxLogLines is how many lines of one run's log the API reads.
const apiMaxLogLines = 10000

// Logs lists a run's log, oldest first.
func (h *RunAPI) Logs(c echo.Context) error {
	logs, err := h.store.ListRunLogs(c.Request().Context(), workspaceID(c), c.Param("id"), apiMaxLogLines)
	if err != nil {
		return fmt.Errorf("list run logs: %w", err)
	}
	page, next, err := apiSeekPage(c, logs, func(l models.RunLog) string { return apiSortKey(l.At, l.ID) },
		func(key, cursor string) bool { return key > cursor })
	if err != nil {
		return err
	}
	items := make([]apiLogJSON, len(page))
	for i, l := range page {
		items[i] = apiLogJSON{At: apiTime(l.At), Level: l.Level, Message: l.Message}
	}
	return c.JSON(http.StatusOK, listAnswer[apiLogJSON]{Items: items, NextCursor: next})
}

// Samples lists the requests and answers a run kept for the debugger, oldest first.
func (h *RunAPI) Samples(c echo.Context) error {
	samples, err := h.store.ListRunSamples(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return fmt.Errorf("list run samples: %w", err)
	}
	page, next, err := apiSeekPage(c, samples, func(s models.RunSample) string { return apiSortKey(s.CreatedAt, s.ID) },
		func(key, cursor string) bool { return key > cursor })
	if err != nil {
		return err
	}
	items := make([]json.RawMessage, 0, len(page))
	for _, s := range page {
		if json.Valid([]byte(s.ExchangeJSON)) {
			items = append(items, json.RawMessage(s.ExchangeJSON))
		}
	}
	return c.JSON(http.StatusOK, listAnswer[json.RawMessage]{Items: items, NextCursor: next})
}

// Cancel stops a run: a queued one at once, a running one at its next heartbeat.
func (h *RunAPI) Cancel(c echo.Context) error {
	ctx, ws := c.Request().Context(), workspaceID(c)
	r, err := h.store.RunByID(ctx, ws, c.Param("id"))
	if err != nil {
		return fmt.Errorf("cancel run: %w", err)
	}
	if r.Finished() {
		return echo.NewHTTPError(http.StatusConflict, "This run is over already ("+r.Status+"): there is nothing to cancel.")
	}
	if r, err = h.core.CancelRun(ctx, ws, r.ID); err != nil {
		var fe *models.FieldError
		if errors.As(err, &fe) && fe.Field == "run" { // it ended meanwhile
			return echo.NewHTTPError(http.StatusConflict, "This run is over already: there is nothing to cancel.")
		}
		return fmt.Errorf("cancel run: %w", err)
	}
	return c.JSON(http.StatusOK, h.runView(ws).run(ctx, r))
}
