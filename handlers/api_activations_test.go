package handlers_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"sluice/models"
)

type pauseBody struct {
	Automatic bool       `json:"automatic"`
	Cause     string     `json:"cause"`
	Reason    string     `json:"reason"`
	Since     *time.Time `json:"since"`
}

type activationBody struct {
	ID         string           `json:"id"`
	Name       string           `json:"name"`
	Status     string           `json:"status"`
	Health     string           `json:"health"`
	Pause      *pauseBody       `json:"pause"`
	LastRun    *runBody         `json:"last_run"`
	SegmentID  string           `json:"segment_id"`
	PlatformID string           `json:"platform_id"`
	Action     string           `json:"action"`
	Mappings   []models.Mapping `json:"mappings"`
	Schedule   models.Schedule  `json:"schedule"`
	Settings   struct {
		DefaultPhoneRegion   string  `json:"default_phone_region"`
		SourceIssueThreshold float64 `json:"source_issue_threshold"`
		SendRemovals         bool    `json:"send_removals"`
	} `json:"settings"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func TestAPIActivations(t *testing.T) {
	t.Parallel()
	s := newDLSetup(t)
	editor := s.admin.as(s.editor)

	body := func(change func(m map[string]any)) map[string]any {
		m := s.activationInput("Bad")
		change(m)
		return m
	}
	invalid := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"unknown column", body(func(m map[string]any) {
			m["mappings"] = []map[string]any{{"from": "no_such_column", "to": "email"}}
		}), "mappings[0].from"},
		{"unknown action", body(func(m map[string]any) { m["action"] = "launch_rockets" }), "action"},
		{"missing segment", body(func(m map[string]any) { delete(m, "segment_id") }), "segment_id"},
		{"unknown segment", body(func(m map[string]any) { m["segment_id"] = "nope" }), "segment_id"},
		{"unknown platform", body(func(m map[string]any) { m["platform_id"] = "nope" }), "platform_id"},
		{"no mappings", body(func(m map[string]any) { m["mappings"] = []any{} }), "mappings"},
		{"field mapped twice", body(func(m map[string]any) {
			m["mappings"] = []map[string]any{{"from": "email", "to": "email"}, {"from": "country", "to": "email"}}
		}), "mappings[1].to"},
		{"bad type", body(func(m map[string]any) {
			m["mappings"] = []map[string]any{{"from": "email", "to": "email", "type": "colour"}}
		}), "mappings[0].type"},
		{"bad schedule", body(func(m map[string]any) { m["schedule"] = map[string]any{"kind": "sometimes"} }), "schedule.kind"},
		{"no name", body(func(m map[string]any) { m["name"] = "" }), "name"},
		{"mappings not a list", body(func(m map[string]any) { m["mappings"] = "email" }), "mappings"},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, editor.post("/activations", tc.body), http.StatusUnprocessableEntity, "invalid", tc.field)
		})
	}

	created := s.activation(t, "Newsletter")
	if created.ID == "" || created.Name != "Newsletter" || created.Status != models.ActivationActive || created.Health != models.HealthNeverRun ||
		created.Pause != nil || created.LastRun != nil || created.SegmentID != s.segment.ID || created.PlatformID != s.platform.ID ||
		created.Action != "sync_records" || created.Schedule.Kind != "interval" || created.Schedule.Every != "30m" ||
		created.Settings.DefaultPhoneRegion != "FR" || created.Settings.SourceIssueThreshold != 10 || created.Settings.SendRemovals {
		t.Fatalf("created %+v", created)
	}
	wantMappings := []models.Mapping{{From: "email", To: "email", Type: "email"}, {From: "country", To: "country", Type: "string"}}
	if !slices.Equal(created.Mappings, wantMappings) {
		t.Errorf("mappings %+v, want %+v", created.Mappings, wantMappings)
	}
	raw := s.admin.get("/activations/"+created.ID).want(t, http.StatusOK).Body
	for _, part := range []string{`"pause":null`, `"last_run":null`, `"settings":{"default_phone_region":"FR","source_issue_threshold":10,"send_removals":false}`, `"created_at":"` + created.CreatedAt.Format(time.RFC3339Nano) + `"`} {
		if !strings.Contains(raw, part) {
			t.Errorf("GET lacks %s: %s", part, raw)
		}
	}
	if created.CreatedAt.Location() != time.UTC {
		t.Error("created_at is not UTC")
	}

	// PATCH replaces what it gives, keeps the rest; settings merge key by key.
	patched := into[activationBody](t, editor.patch("/activations/"+created.ID, map[string]any{
		"name": "Weekly newsletter", "settings": map[string]any{"send_removals": true}, "schedule": map[string]any{"kind": "manual"},
	}).want(t, http.StatusOK))
	if patched.Name != "Weekly newsletter" || !patched.Settings.SendRemovals || patched.Settings.DefaultPhoneRegion != "FR" ||
		patched.Settings.SourceIssueThreshold != 10 || patched.Schedule.Kind != "manual" || !slices.Equal(patched.Mappings, wantMappings) ||
		patched.SegmentID != s.segment.ID {
		t.Errorf("patched %+v", patched)
	}
	wantErr(t, editor.patch("/activations/"+created.ID, map[string]any{"mappings": []map[string]any{{"from": "nope", "to": "email"}}}), 422, "invalid", "mappings[0].from")
	wantErr(t, editor.patch("/activations/"+created.ID, map[string]any{"action": "nope"}), 422, "invalid", "action")
	wantErr(t, editor.patch("/activations/nope", map[string]any{"name": "x"}), 404, "not_found", "")
	if got := into[activationBody](t, s.admin.get("/activations/"+created.ID).want(t, http.StatusOK)); got.Name != "Weekly newsletter" || len(got.Mappings) != 2 {
		t.Errorf("a refused PATCH changed %+v", got)
	}

	// Pause and resume: operators may, viewers may not.
	other := s.activation(t, "Other")
	wantErr(t, s.admin.as(s.viewer).post("/activations/"+created.ID+"/pause", nil), http.StatusForbidden, "forbidden", "")
	wantErr(t, s.admin.as(s.viewer).post("/activations/"+created.ID+"/resume", nil), http.StatusForbidden, "forbidden", "")
	paused := into[activationBody](t, s.admin.as(s.operator).post("/activations/"+created.ID+"/pause", nil).want(t, http.StatusOK))
	if paused.Status != models.ActivationPaused || paused.Pause == nil || paused.Pause.Automatic || paused.Pause.Cause != "" ||
		!strings.Contains(paused.Pause.Reason, "token") || paused.Pause.Since == nil || paused.Health != models.HealthNeverRun {
		t.Errorf("paused %+v %+v", paused, paused.Pause)
	}
	// Pausing again changes nothing.
	if again := into[activationBody](t, s.admin.as(s.operator).post("/activations/"+created.ID+"/pause", map[string]any{"reason": "other"}).want(t, http.StatusOK)); again.Pause == nil || again.Pause.Reason != paused.Pause.Reason {
		t.Errorf("paused twice %+v", again.Pause)
	}
	wantErr(t, s.admin.as(s.operator).post("/activations/"+created.ID+"/pause", `{"reason":`), http.StatusBadRequest, "bad_request", "")

	names := func(query string) []string {
		t.Helper()
		var out []string
		for _, a := range into[list[activationBody]](t, s.admin.as(s.viewer).get("/activations"+query).want(t, http.StatusOK)).Items {
			out = append(out, a.Name)
		}
		return out
	}
	for query, want := range map[string][]string{
		"":                  {"Other", "Weekly newsletter"},
		"?status=paused":    {"Weekly newsletter"},
		"?status=never_run": {"Other", "Weekly newsletter"}, // health filters look at the last run, paused or not
		"?status=healthy":   nil,
		"?status=failed":    nil,
		"?q=week":           {"Weekly newsletter"},
	} {
		if got := names(query); !slices.Equal(got, want) {
			t.Errorf("GET /activations%s: %v, want %v", query, got, want)
		}
	}
	wantErr(t, s.admin.get("/activations?status=broken"), 422, "invalid", "status")
	if l := into[list[activationBody]](t, s.admin.get("/activations?limit=1").want(t, http.StatusOK)); len(l.Items) != 1 || l.NextCursor == "" {
		t.Errorf("limit 1: %+v", l)
	}

	resumed := into[activationBody](t, s.admin.as(s.operator).post("/activations/"+created.ID+"/resume", nil).want(t, http.StatusOK))
	if resumed.Status != models.ActivationActive || resumed.Pause != nil {
		t.Errorf("resumed %+v", resumed)
	}
	if got := names("?status=paused"); len(got) != 0 {
		t.Errorf("paused after resume: %v", got)
	}

	// Editors delete; the activation and its runs are gone.
	wantErr(t, s.admin.as(s.operator).del("/activations/"+other.ID), http.StatusForbidden, "forbidden", "")
	editor.del("/activations/"+other.ID).want(t, http.StatusNoContent)
	wantErr(t, s.admin.get("/activations/"+other.ID), http.StatusNotFound, "not_found", "")
	wantErr(t, editor.del("/activations/"+other.ID), http.StatusNotFound, "not_found", "")
}
