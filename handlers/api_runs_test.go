package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"sluice/models"
)

type fixBody struct {
	Label string `json:"label"`
	URL   string `json:"url"`
}

type runErrorBody struct {
	Category      string  `json:"category"`
	CategoryLabel string  `json:"category_label"`
	Message       string  `json:"message"`
	Fix           fixBody `json:"fix"`
}

type runBody struct {
	ID              string           `json:"id"`
	ActivationID    string           `json:"activation_id"`
	Status          string           `json:"status"`
	Trigger         string           `json:"trigger"`
	ScheduledFor    *time.Time       `json:"scheduled_for"`
	FullResync      bool             `json:"full_resync"`
	Stage           *string          `json:"stage"`
	CancelRequested bool             `json:"cancel_requested"`
	Counts          models.RunCounts `json:"counts"`
	Error           *runErrorBody    `json:"error"`
	CreatedAt       time.Time        `json:"created_at"`
	StartedAt       *time.Time       `json:"started_at"`
	FinishedAt      *time.Time       `json:"finished_at"`
}

func TestAPIRuns(t *testing.T) {
	t.Parallel()
	s := newDLSetup(t)
	act := s.activation(t, "Newsletter")
	op := s.admin.as(s.operator)

	wantErr(t, s.admin.as(s.viewer).post("/activations/"+act.ID+"/runs", nil), http.StatusForbidden, "forbidden", "")
	r := op.post("/activations/"+act.ID+"/runs", nil).want(t, http.StatusAccepted)
	run := into[runBody](t, r)
	if run.ID == "" || run.ActivationID != act.ID || run.Status != models.RunQueued || run.Trigger != models.TriggerAPI ||
		run.FullResync || run.Error != nil || run.StartedAt != nil || run.FinishedAt != nil || run.ScheduledFor != nil ||
		run.Stage != nil || run.Counts != (models.RunCounts{}) || run.CreatedAt.IsZero() {
		t.Fatalf("queued run %+v", run)
	}
	for _, part := range []string{`"error":null`, `"counts":{"queried":0,"added":0,"changed":0,"removed":0,"unchanged":0,"sent":0,"rejected":0,"unsent":0,"source_issues":0}`,
		`"started_at":null`, `"finished_at":null`, `"scheduled_for":null`} {
		if !strings.Contains(r.Body, part) {
			t.Errorf("run lacks %s: %s", part, r.Body)
		}
	}
	// One queued run is enough: a second is refused, naming the first.
	e := wantErr(t, op.post("/activations/"+act.ID+"/runs", map[string]any{"full_resync": true}), http.StatusConflict, "conflict", "")
	if !strings.Contains(e.Error.Message, run.ID) {
		t.Errorf("409 message %q lacks the queued run", e.Error.Message)
	}
	if got := into[runBody](t, s.admin.as(s.viewer).get("/runs/"+run.ID).want(t, http.StatusOK)); got.ID != run.ID || got.Status != models.RunQueued || got.Error != nil {
		t.Errorf("GET run %+v", got)
	}
	for _, p := range []string{"/runs/" + run.ID + "/issues", "/runs/" + run.ID + "/issues?stage=source", "/runs/" + run.ID + "/issues?stage=destination", "/runs/" + run.ID + "/logs", "/runs/" + run.ID + "/samples"} {
		if got := strings.TrimSpace(s.admin.as(s.viewer).get(p).want(t, http.StatusOK).Body); got != `{"items":[],"next_cursor":""}` {
			t.Errorf("GET %s: %s", p, got)
		}
	}
	wantErr(t, s.admin.get("/runs/"+run.ID+"/issues?stage=warehouse"), 422, "invalid", "stage")
	l := into[list[runBody]](t, s.admin.as(s.viewer).get("/activations/"+act.ID+"/runs").want(t, http.StatusOK))
	if len(l.Items) != 1 || l.Items[0].ID != run.ID || l.NextCursor != "" {
		t.Errorf("runs %+v", l)
	}

	// Cancel: operators may; a queued run is cancelled at once; a finished one is 409.
	wantErr(t, s.admin.as(s.viewer).post("/runs/"+run.ID+"/cancel", nil), http.StatusForbidden, "forbidden", "")
	cancelled := into[runBody](t, op.post("/runs/"+run.ID+"/cancel", nil).want(t, http.StatusOK))
	if cancelled.Status != models.RunCancelled || cancelled.FinishedAt == nil || cancelled.Error != nil {
		t.Errorf("cancelled %+v", cancelled)
	}
	wantErr(t, op.post("/runs/"+run.ID+"/cancel", nil), http.StatusConflict, "conflict", "")

	// With the first one over, a full resync may be queued.
	full := into[runBody](t, op.post("/activations/"+act.ID+"/runs", map[string]any{"full_resync": true}).want(t, http.StatusAccepted))
	if !full.FullResync || full.Status != models.RunQueued {
		t.Errorf("full resync %+v", full)
	}
	wantErr(t, op.post("/activations/"+act.ID+"/runs", `{"full_resync": "yes"}`), 422, "invalid", "full_resync")
	op.post("/runs/"+full.ID+"/cancel", nil).want(t, http.StatusOK)

	// A paused activation does not run.
	op.post("/activations/"+act.ID+"/pause", nil).want(t, http.StatusOK)
	e = wantErr(t, op.post("/activations/"+act.ID+"/runs", nil), http.StatusConflict, "conflict", "")
	if !strings.Contains(e.Error.Message, "paused") {
		t.Errorf("paused message %q", e.Error.Message)
	}
	op.post("/activations/"+act.ID+"/resume", nil).want(t, http.StatusOK)

	// Runs list newest first, a page at a time.
	ids := []string{full.ID, run.ID}
	for range 3 {
		rr := into[runBody](t, op.post("/activations/"+act.ID+"/runs", nil).want(t, http.StatusAccepted))
		op.post("/runs/"+rr.ID+"/cancel", nil).want(t, http.StatusOK)
		ids = append([]string{rr.ID}, ids...)
	}
	var seen []string
	cursor := ""
	for page := 0; page < 5; page++ {
		l := into[list[runBody]](t, s.admin.get("/activations/"+act.ID+"/runs?limit=2&cursor="+url.QueryEscape(cursor)).want(t, http.StatusOK))
		for _, it := range l.Items {
			seen = append(seen, it.ID)
		}
		if cursor = l.NextCursor; cursor == "" {
			break
		}
	}
	if !slices.Equal(seen, ids) {
		t.Errorf("runs pages %v, want newest first %v", seen, ids)
	}
	wantErr(t, s.admin.get("/activations/"+act.ID+"/runs?cursor=%21"), http.StatusBadRequest, "bad_request", "")
	wantErr(t, s.admin.get("/activations/"+act.ID+"/runs?limit=0"), 422, "invalid", "limit")
	wantErr(t, s.admin.get("/activations/nope/runs"), 404, "not_found", "")
	wantErr(t, op.post("/activations/nope/runs", nil), 404, "not_found", "")
	wantErr(t, s.admin.get("/runs/nope"), 404, "not_found", "")
	wantErr(t, op.post("/runs/nope/cancel", nil), 404, "not_found", "")
}

// finishRun plays the worker's part, without the engine: it claims the queued run and
// ends it with the outcome given.
func finishRun(t *testing.T, s *dlSetup, activationID string, o models.RunOutcome) runBody {
	t.Helper()
	queued := into[runBody](t, s.admin.as(s.operator).post("/activations/"+activationID+"/runs", nil).want(t, http.StatusAccepted))
	ctx := t.Context()
	claimed, err := s.app.store.ClaimRun(ctx, "test-worker", time.Minute)
	if err != nil || claimed.ID != queued.ID {
		t.Fatalf("claim %v, %v", claimed, err)
	}
	if err := s.app.store.FinishRun(ctx, claimed.ID, "test-worker", o); err != nil {
		t.Fatal(err)
	}
	return queued
}

func TestAPIRunErrorsLinkToTheirFix(t *testing.T) {
	t.Parallel()
	s := newDLSetup(t)
	act := s.activation(t, "Newsletter")
	const base = "http://localhost:8080" // config.Default's base URL
	settings := base + "/settings/platforms/" + s.platform.ID + "#platform-settings"
	tests := []struct {
		side, category, label, fixLabel, fixURL string
	}{
		// Each end and category has its own page, where the fix can be made.
		{"destination", "credentials", "Bad Credentials/Insufficient permissions", "Re-authorize", base + "/settings/platforms/" + s.platform.ID + "/reauthorize"},
		{"destination", "rate_limit", "Rate Limit", "Adjust the platform's rate", settings},
		{"destination", "not_found", "Resource Not Found", "Check the platform settings", settings},
		{"destination", "connection", "Connection Error", "Check the platform settings", settings},
		{"destination", "timeout", "Timeouts", "Check the platform settings", settings},
		{"destination", "configuration", "Configuration Errors", "Edit mapping", base + "/activations/" + act.ID + "/edit?step=mappings"},
		{"source", "credentials", "Bad Credentials/Insufficient permissions", "Fix the source's permissions", base + "/sources/" + s.source.ID},
		{"source", "connection", "Connection Error", "Open source settings", base + "/sources/" + s.source.ID},
		{"source", "not_found", "Resource Not Found", "Open source settings", base + "/sources/" + s.source.ID},
		{"source", "configuration", "Configuration Errors", "Check the model", base + "/models/" + s.model.ID},
		{"activation", "configuration", "Configuration Errors", "Edit the activation", base + "/activations/" + act.ID + "/edit?step=settings"},
		{"activation", "not_found", "Resource Not Found", "Choose the activation's settings", base + "/activations/" + act.ID + "?tab=settings#action-settings"},
		// Runs stored before the side was kept.
		{"", "credentials", "Bad Credentials/Insufficient permissions", "Re-authorize", base + "/settings/platforms/" + s.platform.ID + "/reauthorize"},
		{"", "connection", "Connection Error", "Open source settings", base + "/sources/" + s.source.ID},
		{"", "configuration", "Configuration Errors", "Edit the activation", base + "/activations/" + act.ID + "/edit?step=settings"},
		{"", "not_found", "Resource Not Found", "Check the platform settings", settings},
	}
	for _, tc := range tests {
		queued := finishRun(t, s, act.ID, models.RunOutcome{Status: models.RunFailed, ErrorCategory: tc.category, ErrorSide: tc.side, ErrorMessage: "It broke: " + tc.category,
			ErrorDetail: "raw detail", Counts: models.RunCounts{Queried: 3, Added: 3, Sent: 1, Unsent: 2}})
		got := into[runBody](t, s.admin.get("/runs/"+queued.ID).want(t, http.StatusOK))
		want := runErrorBody{Category: tc.category, CategoryLabel: tc.label, Message: "It broke: " + tc.category, Fix: fixBody{tc.fixLabel, tc.fixURL}}
		if got.Status != models.RunFailed || got.Error == nil || *got.Error != want || got.StartedAt == nil || got.FinishedAt == nil ||
			got.Counts != (models.RunCounts{Queried: 3, Added: 3, Sent: 1, Unsent: 2}) || got.Stage == nil {
			t.Errorf("%s/%s: run %+v error %+v, want %+v", tc.side, tc.category, got, got.Error, want)
		}
		// The list of activations links its last run's error to the same fix (it reads the
		// segment's model in its one statement).
		if err := s.app.store.SetActivationHealth(t.Context(), models.DefaultWorkspaceID, act.ID, queued.ID, models.HealthFailed); err != nil {
			t.Fatal(err)
		}
		l := into[list[activationBody]](t, s.admin.get("/activations").want(t, http.StatusOK))
		if len(l.Items) != 1 || l.Items[0].LastRun == nil || l.Items[0].LastRun.Error == nil || *l.Items[0].LastRun.Error != want {
			t.Errorf("%s/%s: the list's last run %+v, want the error %+v", tc.side, tc.category, l.Items, want)
		}
	}

	// A successful run has no error; the activation's health and last run follow the run
	// the worker reports.
	ok := finishRun(t, s, act.ID, models.RunOutcome{Status: models.RunWarnings, Counts: models.RunCounts{Queried: 2, Added: 1, SourceIssues: 1, Sent: 1}})
	if err := s.app.store.SetActivationHealth(t.Context(), models.DefaultWorkspaceID, act.ID, ok.ID, models.HealthWarning); err != nil {
		t.Fatal(err)
	}
	a := into[activationBody](t, s.admin.get("/activations/"+act.ID).want(t, http.StatusOK))
	if a.Health != models.HealthWarning || a.LastRun == nil || a.LastRun.ID != ok.ID || a.LastRun.Status != models.RunWarnings || a.LastRun.Error != nil {
		t.Errorf("activation after a run %+v last %+v", a, a.LastRun)
	}
	if l := into[list[activationBody]](t, s.admin.get("/activations?status=warning").want(t, http.StatusOK)); len(l.Items) != 1 {
		t.Errorf("%d activations with warnings", len(l.Items))
	}

	// Issues and logs: their shapes, the stage filter and pagination.
	issues := []models.RunIssue{
		{RunID: ok.ID, PrimaryKey: "7", Stage: "source", Code: "invalid_email", Field: "email", Message: "not an e-mail"},
		{RunID: ok.ID, PrimaryKey: "8", Stage: "destination", Code: "rejected", Message: "the endpoint refused it"},
		{RunID: ok.ID, PrimaryKey: "9", Stage: "source", Code: "missing_required_field", Field: "email", Message: "empty"},
	}
	if err := s.app.store.AddRunIssues(t.Context(), issues); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	if err := s.app.store.AddRunLogs(t.Context(), []models.RunLog{
		{RunID: ok.ID, At: at, Level: "info", Message: "Extracting"}, {RunID: ok.ID, At: at.Add(time.Second), Level: "warn", Message: "1 source issue"},
	}); err != nil {
		t.Fatal(err)
	}
	type issueBody struct {
		PrimaryKey string `json:"primary_key"`
		Stage      string `json:"stage"`
		Code       string `json:"code"`
		Field      string `json:"field"`
		Message    string `json:"message"`
	}
	src := into[list[issueBody]](t, s.admin.get("/runs/"+ok.ID+"/issues?stage=source&limit=1").want(t, http.StatusOK))
	if len(src.Items) != 1 || src.Items[0] != (issueBody{"7", "source", "invalid_email", "email", "not an e-mail"}) || src.NextCursor == "" {
		t.Fatalf("source issues page 1 %+v", src)
	}
	src = into[list[issueBody]](t, s.admin.get("/runs/"+ok.ID+"/issues?stage=source&limit=1&cursor="+url.QueryEscape(src.NextCursor)).want(t, http.StatusOK))
	if len(src.Items) != 1 || src.Items[0].PrimaryKey != "9" || src.NextCursor != "" {
		t.Errorf("source issues page 2 %+v", src)
	}
	if dst := into[list[issueBody]](t, s.admin.get("/runs/"+ok.ID+"/issues?stage=destination").want(t, http.StatusOK)); len(dst.Items) != 1 || dst.Items[0].Code != "rejected" || dst.Items[0].Field != "" {
		t.Errorf("destination issues %+v", dst)
	}
	if all := into[list[issueBody]](t, s.admin.get("/runs/"+ok.ID+"/issues").want(t, http.StatusOK)); len(all.Items) != 3 {
		t.Errorf("%d issues", len(all.Items))
	}
	logs := s.admin.get("/runs/"+ok.ID+"/logs?limit=1").want(t, http.StatusOK)
	if !strings.Contains(logs.Body, `{"at":"2026-11-03T09:00:00Z","level":"info","message":"Extracting"}`) {
		t.Errorf("logs %s", logs.Body)
	}
	next := into[list[json.RawMessage]](t, logs).NextCursor
	if l := into[list[struct{ Message string }]](t, s.admin.get("/runs/"+ok.ID+"/logs?cursor="+url.QueryEscape(next)).want(t, http.StatusOK)); len(l.Items) != 1 || l.Items[0].Message != "1 source issue" {
		t.Errorf("logs page 2 %+v", l)
	}

	// A run skipped because the activation was paused links to the activation.
	s.admin.as(s.operator).post("/activations/"+act.ID+"/pause", nil).want(t, http.StatusOK)
	run, err := s.app.store.EnqueueRun(t.Context(), models.DefaultWorkspaceID, act.ID, models.TriggerSchedule, &at, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.app.store.SkipRun(t.Context(), run.ID, "configuration", "The activation is paused."); err != nil {
		t.Fatal(err)
	}
	skipped := into[runBody](t, s.admin.get("/runs/"+run.ID).want(t, http.StatusOK))
	if skipped.Status != models.RunSkipped || skipped.Trigger != models.TriggerSchedule || skipped.ScheduledFor == nil || !skipped.ScheduledFor.Equal(at) ||
		skipped.Error == nil || skipped.Error.Fix != (fixBody{"Open the activation", base + "/activations/" + act.ID}) {
		t.Errorf("skipped %+v %+v", skipped, skipped.Error)
	}
}
