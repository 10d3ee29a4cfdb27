package handlers_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sluice/destinations/webhook"
	"sluice/internal/testutil"
	"sluice/models"
)

// hook is a webhook endpoint under the test's control: it answers with status and
// remembers every request.
type hook struct {
	srv    *httptest.Server
	status atomic.Int32
	mu     sync.Mutex
	reqs   []hookRequest
}

type hookRequest struct {
	header http.Header
	body   []byte
}

func newHook(t *testing.T, status int) *hook {
	t.Helper()
	h := &hook{}
	h.status.Store(int32(status))
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.reqs = append(h.reqs, hookRequest{header: r.Header.Clone(), body: body})
		h.mu.Unlock()
		w.WriteHeader(int(h.status.Load()))
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) url() string { return h.srv.URL + "/sluice" }

func (h *hook) requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.reqs)
}

type platformBody struct {
	ID            string            `json:"id"`
	Name          string            `json:"name"`
	Kind          string            `json:"kind"`
	Status        string            `json:"status"`
	StatusMessage string            `json:"status_message"`
	Config        map[string]string `json:"config"`
	CheckedAt     *time.Time        `json:"checked_at"`
	CreatedAt     time.Time         `json:"created_at"`
	UpdatedAt     time.Time         `json:"updated_at"`
}

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

// dlSetup is a warehouse setup plus a working webhook platform, a model and a segment.
type dlSetup struct {
	*whSetup
	hook     *hook
	platform platformBody
	model    modelBody
	segment  segmentBody
	operator string
}

func newDLSetup(t *testing.T) *dlSetup {
	t.Helper()
	ws := newWHSetup(t, testutil.SQLiteURL(t))
	s := &dlSetup{whSetup: ws, hook: newHook(t, http.StatusOK),
		operator: whToken(t, ws.app.store, models.DefaultWorkspaceID, models.RoleOperator)}
	s.platform = into[platformBody](t, s.admin.post("/platforms", map[string]any{
		"name": "Hook", "kind": "webhook", "config": map[string]any{"url": s.hook.url()},
	}).want(t, http.StatusCreated))
	s.model = s.whSetup.model(t, map[string]any{"name": "Customers", "table": "customers", "primary_key": "id"})
	s.segment = into[segmentBody](t, s.admin.as(s.editor).post("/segments", map[string]any{
		"model_id": s.model.ID, "name": "Everyone", "conditions": map[string]any{"all": []any{}},
	}).want(t, http.StatusCreated))
	return s
}

// activationInput is a valid body for POST /activations.
func (s *dlSetup) activationInput(name string) map[string]any {
	return map[string]any{
		"name": name, "segment_id": s.segment.ID, "platform_id": s.platform.ID, "action": "sync_records",
		"mappings": []map[string]any{{"from": "email", "to": "email", "type": "email"}, {"from": "country", "to": "country"}},
		"schedule": map[string]any{"kind": "interval", "every": "30m"},
		"settings": map[string]any{"default_phone_region": "FR", "source_issue_threshold": 10},
	}
}

func (s *dlSetup) activation(t *testing.T, name string) activationBody {
	t.Helper()
	return into[activationBody](t, s.admin.as(s.editor).post("/activations", s.activationInput(name)).want(t, http.StatusCreated))
}

func TestAPIPlatformsNeverEchoCredentials(t *testing.T) {
	t.Parallel()
	s := newWHSetup(t, testutil.SQLiteURL(t))
	good := newHook(t, http.StatusOK)
	const secret = "whsec-Never-Echo-41d7"
	const headerValue = "Bearer hdr-Never-Echo-93aa"

	created := into[platformBody](t, s.admin.post("/platforms", map[string]any{
		"name": "Webhook", "kind": "webhook",
		"config":      map[string]any{"url": good.url(), "batch_size": 100, "send_removals": true, "headers": map[string]string{"Authorization": headerValue}},
		"credentials": map[string]any{"signing_secret": secret},
	}).want(t, http.StatusCreated))
	if created.ID == "" || created.Kind != "webhook" || created.Status != models.PlatformConnected || created.StatusMessage != "" || created.CheckedAt == nil {
		t.Fatalf("created %+v", created)
	}
	want := map[string]string{"url": good.url(), "batch_size": "100", "send_removals": "true", "headers": "********", "signing_secret": "********"}
	// (Settings the connector adds with their defaults may show too.)
	for k, v := range want {
		if created.Config[k] != v {
			t.Errorf("config[%s] = %q, want %q", k, created.Config[k], v)
		}
	}
	// The check reached the endpoint signed with the secret and with the header.
	reqs := good.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests to the webhook, want 1 check", len(reqs))
	}
	if got, want := reqs[0].header.Get(webhook.HeaderSignature), webhook.Sign([]byte(secret), reqs[0].body); got != want {
		t.Errorf("signature %q, want %q", got, want)
	}
	if reqs[0].header.Get("Authorization") != headerValue || reqs[0].header.Get(webhook.HeaderCheck) != "1" {
		t.Errorf("check headers %v", reqs[0].header)
	}

	path := "/platforms/" + created.ID
	got := into[platformBody](t, s.admin.as(s.viewer).get(path).want(t, http.StatusOK))
	if got.ID != created.ID || got.Config["signing_secret"] != "********" || got.Status != models.PlatformConnected {
		t.Errorf("GET %+v", got)
	}
	l := into[list[platformBody]](t, s.admin.get("/platforms").want(t, http.StatusOK))
	if len(l.Items) != 1 || l.Items[0].ID != created.ID || l.NextCursor != "" {
		t.Errorf("list %+v", l)
	}
	// A GET round-tripped into a PATCH sends the masks back: the secrets are kept.
	again := into[platformBody](t, s.admin.patch(path, map[string]any{"name": "Webhook (prod)", "config": got.Config}).want(t, http.StatusOK))
	if again.Name != "Webhook (prod)" || again.Status != models.PlatformConnected {
		t.Errorf("round trip %+v", again)
	}
	reqs = good.requests()
	if last := reqs[len(reqs)-1]; last.header.Get(webhook.HeaderSignature) != webhook.Sign([]byte(secret), last.body) || last.header.Get("Authorization") != headerValue {
		t.Errorf("after the round trip the check was not signed with the kept secret: %v", last.header)
	}

	// The secrets are stored sealed, and appear in no answer and no audit entry.
	stored, err := s.app.store.PlatformByID(t.Context(), models.DefaultWorkspaceID, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if full, err := s.app.store.PlatformConfig(stored); err != nil || full["signing_secret"] != secret || !strings.Contains(full["headers"], headerValue) {
		t.Errorf("stored config %v, %v", full, err)
	}
	entries, _, err := s.app.store.ListAuditEntries(t.Context(), models.DefaultWorkspaceID, models.AuditFilter{ResourceType: "platform", Limit: 500})
	if err != nil || len(entries) < 2 {
		t.Fatalf("%d audit entries, %v", len(entries), err)
	}
	for _, e := range entries {
		for _, snap := range []*string{e.BeforeJSON, e.AfterJSON} {
			if snap != nil && (strings.Contains(*snap, secret) || strings.Contains(*snap, "hdr-Never-Echo")) {
				t.Errorf("audit entry %s holds a secret: %s", e.Action, *snap)
			}
		}
	}
	for _, where := range []string{stored.ConfigJSON, stored.StatusMessage} {
		if strings.Contains(where, secret) || strings.Contains(where, "hdr-Never-Echo") {
			t.Errorf("a secret is stored in plain text: %s", where)
		}
	}
	for _, b := range *s.admin.bodies {
		if strings.Contains(b, secret) || strings.Contains(b, "hdr-Never-Echo") {
			t.Fatalf("an answer echoed a secret: %s", b)
		}
	}
}

func TestAPIPlatformBrokenThenFixed(t *testing.T) {
	t.Parallel()
	s := newDLSetup(t)
	refusing := newHook(t, http.StatusUnauthorized)

	broken := into[platformBody](t, s.admin.post("/platforms", map[string]any{
		"name": "Refusing", "kind": "webhook", "config": map[string]any{"url": refusing.url()},
	}).want(t, http.StatusCreated))
	if broken.Status != models.PlatformBroken || !strings.Contains(broken.StatusMessage, "401") {
		t.Fatalf("created %+v", broken)
	}
	// A new URL that works: tested again, connected again.
	fixed := into[platformBody](t, s.admin.patch("/platforms/"+broken.ID, map[string]any{"config": map[string]any{"url": s.hook.url()}}).want(t, http.StatusOK))
	if fixed.Status != models.PlatformConnected || fixed.StatusMessage != "" || fixed.Config["url"] != s.hook.url() || fixed.Name != "Refusing" {
		t.Errorf("fixed %+v", fixed)
	}

	// A platform that breaks pauses its activations automatically; fixed, it resumes
	// them, but never one a person paused.
	auto := s.activation(t, "Auto")
	manual := s.activation(t, "Manual")
	s.admin.as(s.operator).post("/activations/"+manual.ID+"/pause", map[string]any{"reason": "Holiday freeze"}).want(t, http.StatusOK)
	s.hook.status.Store(http.StatusForbidden)
	p := into[platformBody](t, s.admin.patch("/platforms/"+s.platform.ID, map[string]any{"credentials": map[string]any{"signing_secret": "rotated"}}).want(t, http.StatusOK))
	if p.Status != models.PlatformBroken {
		t.Fatalf("platform answering 403: %+v", p)
	}
	a := into[activationBody](t, s.admin.get("/activations/"+auto.ID).want(t, http.StatusOK))
	if a.Status != models.ActivationPaused || a.Pause == nil || !a.Pause.Automatic || a.Pause.Cause != models.PauseCausePlatform ||
		!strings.Contains(a.Pause.Reason, "Hook") || a.Pause.Since == nil {
		t.Errorf("auto after breakage %+v %+v", a, a.Pause)
	}
	if l := into[list[activationBody]](t, s.admin.get("/activations?status=paused").want(t, http.StatusOK)); len(l.Items) != 2 {
		t.Errorf("%d paused, want 2", len(l.Items))
	}
	s.hook.status.Store(http.StatusOK)
	p = into[platformBody](t, s.admin.patch("/platforms/"+s.platform.ID, map[string]any{"config": map[string]any{"url": s.hook.url() + "?v=2"}}).want(t, http.StatusOK))
	if p.Status != models.PlatformConnected {
		t.Fatalf("re-authorized platform %+v", p)
	}
	if a := into[activationBody](t, s.admin.get("/activations/"+auto.ID).want(t, http.StatusOK)); a.Status != models.ActivationActive || a.Pause != nil {
		t.Errorf("auto after the fix %+v", a)
	}
	m := into[activationBody](t, s.admin.get("/activations/"+manual.ID).want(t, http.StatusOK))
	if m.Status != models.ActivationPaused || m.Pause == nil || m.Pause.Automatic || m.Pause.Reason != "Holiday freeze" {
		t.Errorf("manual after the fix %+v %+v", m, m.Pause)
	}

	// Deleting a platform in use lists its activations.
	e := wantErr(t, s.admin.del("/platforms/"+s.platform.ID), http.StatusConflict, "conflict", "")
	wantDeps := []models.Dependent{{Type: "activation", ID: auto.ID, Name: "Auto"}, {Type: "activation", ID: manual.ID, Name: "Manual"}}
	if !slices.Equal(e.Error.Dependents, wantDeps) {
		t.Errorf("dependents %+v", e.Error.Dependents)
	}
	s.admin.del("/platforms/"+broken.ID).want(t, http.StatusNoContent)
	wantErr(t, s.admin.get("/platforms/"+broken.ID), http.StatusNotFound, "not_found", "")
}

func TestAPIPlatformValidation(t *testing.T) {
	t.Parallel()
	s := newDLSetup(t)
	u := s.hook.url()
	tests := []struct {
		name        string
		method      string
		path        string
		body        any
		status      int
		code, field string
	}{
		{"no kind", "POST", "/platforms", map[string]any{"name": "x", "config": map[string]any{"url": u}}, 422, "invalid", "kind"},
		{"unknown kind", "POST", "/platforms", map[string]any{"name": "x", "kind": "myspace"}, 422, "invalid", "kind"},
		{"no url", "POST", "/platforms", map[string]any{"name": "x", "kind": "webhook", "config": map[string]any{}}, 422, "invalid", "config.url"},
		{"no config", "POST", "/platforms", map[string]any{"name": "x", "kind": "webhook"}, 422, "invalid", "config.url"},
		{"bad url", "POST", "/platforms", map[string]any{"name": "x", "kind": "webhook", "config": map[string]any{"url": "ftp://example.com"}}, 422, "invalid", "config.url"},
		{"bad batch size", "POST", "/platforms", map[string]any{"name": "x", "kind": "webhook", "config": map[string]any{"url": u, "batch_size": 0}}, 422, "invalid", "config.batch_size"},
		{"unknown setting", "POST", "/platforms", map[string]any{"name": "x", "kind": "webhook", "config": map[string]any{"url": u, "ulr": "typo"}}, 422, "invalid", "config.ulr"},
		{"setting as credential", "POST", "/platforms", map[string]any{"name": "x", "kind": "webhook", "credentials": map[string]any{"url": u}}, 422, "invalid", "credentials.url"},
		{"unknown credential", "POST", "/platforms", map[string]any{"name": "x", "kind": "webhook", "config": map[string]any{"url": u}, "credentials": map[string]any{"api_key": "k"}}, 422, "invalid", "credentials.api_key"},
		{"credential of wrong type", "POST", "/platforms", map[string]any{"name": "x", "kind": "webhook", "config": map[string]any{"url": u}, "credentials": map[string]any{"signing_secret": []int{1}}}, 422, "invalid", "credentials.signing_secret"},
		{"bad headers", "POST", "/platforms", map[string]any{"name": "x", "kind": "webhook", "config": map[string]any{"url": u, "headers": map[string]any{"X-N": 1}}}, 422, "invalid", "config.headers"},
		{"header over two lines", "POST", "/platforms", map[string]any{"name": "x", "kind": "webhook", "config": map[string]any{"url": u, "headers": map[string]any{"X-A": "1\nX-B: 2"}}}, 422, "invalid", "config.headers"},
		{"forbidden header", "POST", "/platforms", map[string]any{"name": "x", "kind": "webhook", "config": map[string]any{"url": u, "headers": map[string]any{"Host": "a"}}}, 422, "invalid", "config.headers"},
		{"no name", "POST", "/platforms", map[string]any{"kind": "webhook", "config": map[string]any{"url": u}}, 422, "invalid", "name"},
		{"same name", "POST", "/platforms", map[string]any{"name": "Hook", "kind": "webhook", "config": map[string]any{"url": u}}, 422, "invalid", "name"},
		{"malformed", "POST", "/platforms", `{"name":`, 400, "bad_request", ""},
		{"change kind", "PATCH", "/platforms/" + s.platform.ID, map[string]any{"kind": "other"}, 422, "invalid", "kind"},
		{"empty name", "PATCH", "/platforms/" + s.platform.ID, map[string]any{"name": " "}, 422, "invalid", "name"},
		{"unknown id", "GET", "/platforms/nope", nil, 404, "not_found", ""},
		{"unknown id patch", "PATCH", "/platforms/nope", map[string]any{"name": "y"}, 404, "not_found", ""},
		{"unknown id delete", "DELETE", "/platforms/nope", nil, 404, "not_found", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, s.admin.call(tc.method, tc.path, tc.body), tc.status, tc.code, tc.field)
		})
	}
	if l := into[list[platformBody]](t, s.admin.get("/platforms").want(t, http.StatusOK)); len(l.Items) != 1 {
		t.Errorf("%d platforms after refused creations", len(l.Items))
	}
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
	tests := []struct {
		category, label, fixLabel, fixURL string
	}{
		{"credentials", "Bad Credentials/Insufficient permissions", "Re-authorize", base + "/settings/platforms/" + s.platform.ID + "/reauthorize"},
		{"connection", "Connection Error", "Open source settings", base + "/sources/" + s.source.ID},
		{"configuration", "Configuration Errors", "Edit mapping", base + "/activations/" + act.ID + "/edit?step=mappings"},
		{"not_found", "Resource Not Found", "Check the platform", base + "/settings/platforms/" + s.platform.ID},
		{"rate_limit", "Rate Limit", "View run history", base + "/activations/" + act.ID + "?tab=runs"},
		{"timeout", "Timeouts", "View run history", base + "/activations/" + act.ID + "?tab=runs"},
	}
	for _, tc := range tests {
		queued := finishRun(t, s, act.ID, models.RunOutcome{Status: models.RunFailed, ErrorCategory: tc.category, ErrorMessage: "It broke: " + tc.category,
			ErrorDetail: "raw detail", Counts: models.RunCounts{Queried: 3, Added: 3, Sent: 1, Unsent: 2}})
		got := into[runBody](t, s.admin.get("/runs/"+queued.ID).want(t, http.StatusOK))
		want := runErrorBody{Category: tc.category, CategoryLabel: tc.label, Message: "It broke: " + tc.category, Fix: fixBody{tc.fixLabel, tc.fixURL}}
		if got.Status != models.RunFailed || got.Error == nil || *got.Error != want || got.StartedAt == nil || got.FinishedAt == nil ||
			got.Counts != (models.RunCounts{Queried: 3, Added: 3, Sent: 1, Unsent: 2}) || got.Stage == nil {
			t.Errorf("%s: run %+v error %+v, want %+v", tc.category, got, got.Error, want)
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

func TestAPIDeliveryRolesAndWorkspaces(t *testing.T) {
	t.Parallel()
	s := newDLSetup(t)
	act := s.activation(t, "Newsletter")
	run := into[runBody](t, s.admin.as(s.operator).post("/activations/"+act.ID+"/runs", nil).want(t, http.StatusAccepted))

	newPlatform := map[string]any{"name": "Other", "kind": "webhook", "config": map[string]any{"url": s.hook.url()}}
	writes := []struct {
		method, path string
		body         any
		minRole      models.Role
	}{
		{"POST", "/platforms", newPlatform, models.RoleAdmin},
		{"PATCH", "/platforms/" + s.platform.ID, map[string]any{"name": "Renamed"}, models.RoleAdmin},
		{"DELETE", "/platforms/" + s.platform.ID, nil, models.RoleAdmin},
		{"POST", "/activations", s.activationInput("Other"), models.RoleEditor},
		{"PATCH", "/activations/" + act.ID, map[string]any{"name": "Renamed"}, models.RoleEditor},
		{"DELETE", "/activations/" + act.ID, nil, models.RoleEditor},
		{"POST", "/activations/" + act.ID + "/pause", nil, models.RoleOperator},
		{"POST", "/activations/" + act.ID + "/resume", nil, models.RoleOperator},
		{"POST", "/activations/" + act.ID + "/runs", nil, models.RoleOperator},
		{"POST", "/runs/" + run.ID + "/cancel", nil, models.RoleOperator},
	}
	below := map[models.Role][]struct {
		name  string
		token string
	}{
		models.RoleAdmin:    {{"viewer", s.viewer}, {"operator", s.operator}, {"editor", s.editor}},
		models.RoleEditor:   {{"viewer", s.viewer}, {"operator", s.operator}},
		models.RoleOperator: {{"viewer", s.viewer}},
	}
	for _, w := range writes {
		for _, who := range below[w.minRole] {
			t.Run(who.name+" "+w.method+" "+w.path, func(t *testing.T) {
				wantErr(t, s.admin.as(who.token).call(w.method, w.path, w.body), http.StatusForbidden, "forbidden", "")
			})
		}
	}
	// Nothing changed, and reads are open to any token.
	if got := into[platformBody](t, s.admin.as(s.viewer).get("/platforms/"+s.platform.ID).want(t, http.StatusOK)); got.Name != "Hook" {
		t.Errorf("platform renamed to %q", got.Name)
	}
	if got := into[runBody](t, s.admin.as(s.viewer).get("/runs/"+run.ID).want(t, http.StatusOK)); got.Status != models.RunQueued {
		t.Errorf("run %s", got.Status)
	}
	for _, p := range []string{"/platforms", "/activations", "/activations/" + act.ID, "/activations/" + act.ID + "/runs", "/runs/" + run.ID + "/issues", "/runs/" + run.ID + "/logs"} {
		s.admin.as(s.viewer).get(p).want(t, http.StatusOK)
	}

	// Another workspace sees none of it.
	ws, err := s.app.store.CreateWorkspace(t.Context(), "Other Co")
	if err != nil {
		t.Fatal(err)
	}
	other := s.admin.as(whToken(t, s.app.store, ws.ID, models.RoleAdmin))
	for _, r := range []struct{ method, path string }{
		{"GET", "/platforms/" + s.platform.ID}, {"PATCH", "/platforms/" + s.platform.ID}, {"DELETE", "/platforms/" + s.platform.ID},
		{"GET", "/activations/" + act.ID}, {"PATCH", "/activations/" + act.ID}, {"DELETE", "/activations/" + act.ID},
		{"POST", "/activations/" + act.ID + "/pause"}, {"POST", "/activations/" + act.ID + "/resume"},
		{"POST", "/activations/" + act.ID + "/runs"}, {"GET", "/activations/" + act.ID + "/runs"},
		{"GET", "/runs/" + run.ID}, {"GET", "/runs/" + run.ID + "/issues"}, {"GET", "/runs/" + run.ID + "/logs"},
		{"GET", "/runs/" + run.ID + "/samples"}, {"POST", "/runs/" + run.ID + "/cancel"},
	} {
		var body any
		if r.method == "PATCH" {
			body = map[string]any{"name": "Mine now"}
		}
		wantErr(t, other.call(r.method, r.path, body), http.StatusNotFound, "not_found", "")
	}
	for _, p := range []string{"/platforms", "/activations"} {
		if l := into[list[json.RawMessage]](t, other.get(p).want(t, http.StatusOK)); len(l.Items) != 0 {
			t.Errorf("other workspace lists %d on %s", len(l.Items), p)
		}
	}
	// Naming our segment or platform from there is a field error, not a way in.
	theirs := into[platformBody](t, other.post("/platforms", newPlatform).want(t, http.StatusCreated))
	in := s.activationInput("Stolen")
	in["platform_id"] = theirs.ID
	wantErr(t, other.post("/activations", in), 422, "invalid", "segment_id")
	in = s.activationInput("Stolen")
	wantErr(t, other.post("/activations", in), 422, "invalid", "segment_id")
	if got := into[activationBody](t, s.admin.get("/activations/"+act.ID).want(t, http.StatusOK)); got.Name != "Newsletter" || got.Status != models.ActivationActive {
		t.Errorf("activation changed to %+v", got)
	}
	if got := into[runBody](t, s.admin.get("/runs/"+run.ID).want(t, http.StatusOK)); got.Status != models.RunQueued {
		t.Errorf("run changed to %s", got.Status)
	}
}
