package handlers_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"sluice/destinations/webhook"
	"sluice/internal/testutil"
	"sluice/models"
)

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
