package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"sluice/internal/testutil"
	"sluice/models"
)

// The credentials a webhook URL carries (DESIGN.md, "Security"). Distinctive values, so
// that a page's own words ("password") or an id's hex digits never match by chance.
const (
	credUser  = "hookuser-Jq7"
	credPass  = "hookpass-Wz4"
	credToken = "tok-Rk92v"
)

// credHook is a webhook endpoint that remembers the user, password and query string
// each request came with.
type credHook struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []credRequest
}

type credRequest struct {
	user, pass, query, path string
}

func newCredHook(t *testing.T) *credHook {
	t.Helper()
	h := &credHook{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		h.mu.Lock()
		h.got = append(h.got, credRequest{user: user, pass: pass, query: r.URL.RawQuery, path: r.URL.Path})
		h.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// url is the endpoint's URL with credentials in its user info and its query string.
func (h *credHook) url(user, pass, token string) string {
	return strings.Replace(h.srv.URL, "http://", "http://"+user+":"+pass+"@", 1) + "/in?token=" + token + "&x=1"
}

// last is the latest request, failing the test when there is none.
func (h *credHook) last(t *testing.T) credRequest {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.got) == 0 {
		t.Fatal("the webhook got no request")
	}
	return h.got[len(h.got)-1]
}

func (h *credHook) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.got)
}

// wantCreds fails unless the request carried these credentials and the URL whole.
func (r credRequest) wantCreds(t *testing.T, user, pass, token string) {
	t.Helper()
	if r.user != user || r.pass != pass || r.query != "token="+token+"&x=1" || r.path != "/in" {
		t.Errorf("the webhook got user %q password %q at %s?%s, want %q %q and token %q", r.user, r.pass, r.path, r.query, user, pass, token)
	}
}

// noCreds fails when text shows any part of the URL's credentials.
func noCreds(t *testing.T, where, text string, secrets ...string) {
	t.Helper()
	for _, s := range append([]string{credUser, credPass, credToken, credUser + ":"}, secrets...) {
		if strings.Contains(text, s) {
			i := strings.Index(text, s)
			t.Errorf("%s shows %q: …%s…", where, s, text[max(0, i-120):min(len(text), i+120)])
		}
	}
}

// A webhook platform created with https://user:pass@host/path?token=…: the credentials
// reach the endpoint on every request, and no viewer sees them — not in the API, the
// platform pages, the run page, its samples and logs, nor the audit log — and the
// database holds them only sealed. Sending the masked URL back keeps them; a new URL
// replaces them.
func TestWebhookURLCredentialsAreNeverShown(t *testing.T) {
	t.Parallel()
	for _, d := range testutil.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ws := newWHSetup(t, d.URL(t))
			hook := newCredHook(t)
			s := &dlSetup{whSetup: ws, operator: whToken(t, ws.app.store, models.DefaultWorkspaceID, models.RoleOperator)}
			full := hook.url(credUser, credPass, credToken)
			masked := strings.Replace(hook.srv.URL, "http://", "http://***:***@", 1) + "/in?token=***&x=***"

			created := s.admin.post("/platforms", map[string]any{"name": "Hook", "kind": "webhook", "config": map[string]any{"url": full}}).want(t, http.StatusCreated)
			noCreds(t, "the create answer", created.Body)
			s.platform = into[platformBody](t, created)
			if s.platform.Status != models.PlatformConnected || s.platform.Config["url"] != masked {
				t.Fatalf("created %+v, want url %q", s.platform, masked)
			}
			hook.last(t).wantCreds(t, credUser, credPass, credToken) // the check

			s.model = s.whSetup.model(t, map[string]any{"name": "Customers", "table": "customers", "primary_key": "id"})
			s.segment = into[segmentBody](t, s.admin.as(s.editor).post("/segments", map[string]any{
				"model_id": s.model.ID, "name": "Everyone", "conditions": map[string]any{"all": []any{}},
			}).want(t, http.StatusCreated))
			act := s.activation(t, "Newsletter")

			// A real run delivers to the full URL.
			before := hook.count()
			run := into[runBody](t, s.admin.as(s.operator).post("/activations/"+act.ID+"/runs", nil).want(t, http.StatusAccepted))
			if !ws.app.runner.RunOne(t.Context()) {
				t.Fatal("no run to execute")
			}
			r, err := ws.app.store.RunByID(t.Context(), models.DefaultWorkspaceID, run.ID)
			if err != nil || r.Sent == 0 || hook.count() == before {
				t.Fatalf("run %+v, %v; %d requests", r, err, hook.count()-before)
			}
			hook.last(t).wantCreds(t, credUser, credPass, credToken)

			// What a viewer reads through the API.
			viewer := s.admin.as(s.viewer)
			samples := into[list[struct {
				URL string `json:"url"`
			}]](t, viewer.get("/runs/"+run.ID+"/samples").want(t, http.StatusOK))
			if len(samples.Items) == 0 || samples.Items[0].URL != masked {
				t.Errorf("samples %+v, want the URL %s", samples.Items, masked)
			}
			for _, p := range []string{"/platforms", "/platforms/" + s.platform.ID, "/runs/" + run.ID, "/runs/" + run.ID + "/samples",
				"/runs/" + run.ID + "/logs", "/activations/" + act.ID} {
				noCreds(t, "GET /api/v1"+p, viewer.get(p).want(t, http.StatusOK).Body)
			}
			// What a viewer reads in the browser; the audit log and the Re-authorize form
			// are an admin's, and show no more.
			browser := userIn(t, ws.app, models.DefaultWorkspaceID, models.RoleViewer)
			for _, p := range []string{"/settings/platforms", "/settings/platforms/" + s.platform.ID, "/runs/" + run.ID, "/activations/" + act.ID} {
				noCreds(t, "GET "+p, browser.get(p).want(t, http.StatusOK).Body)
			}
			admin := userIn(t, ws.app, models.DefaultWorkspaceID, models.RoleAdmin)
			audit := admin.get("/settings/audit").want(t, http.StatusOK).Body
			noCreds(t, "the audit log", audit)
			if !strings.Contains(audit, "***:***@127.0.0.1") {
				t.Errorf("the audit log does not show the masked URL")
			}
			form := admin.get("/settings/platforms/"+s.platform.ID+"/reauthorize").want(t, http.StatusOK)
			noCreds(t, "the Re-authorize form", form.Body)
			if v, _ := form.Doc(t).Find(`input[name="config.url"]`).Attr("value"); v != masked {
				t.Errorf("the form's URL is %q, want %q", v, masked)
			}

			// The database holds them sealed only.
			for _, q := range []string{`SELECT config_json, secrets_sealed, status_message FROM platforms`, `SELECT before_json, after_json FROM audit_entries`,
				`SELECT exchange_json FROM run_samples`, `SELECT message FROM run_logs`, `SELECT error_message, error_detail FROM runs`} {
				rows, err := ws.app.store.DB().Raw(q).Rows()
				if err != nil {
					t.Fatal(err)
				}
				cols, _ := rows.Columns()
				for rows.Next() {
					vals := make([]*string, len(cols))
					ptrs := make([]any, len(cols))
					for i := range vals {
						ptrs[i] = &vals[i]
					}
					if err := rows.Scan(ptrs...); err != nil {
						t.Fatal(err)
					}
					for _, v := range vals {
						if v != nil {
							noCreds(t, q, *v)
						}
					}
				}
				rows.Close()
			}

			// The form sent back as shown keeps the credentials.
			token, _ := form.Doc(t).Find("input[name=_csrf]").Attr("value")
			admin.post("/settings/platforms/"+s.platform.ID, url.Values{"_csrf": {token}, "name": {"Hook"}, "kind": {"webhook"},
				"config.url": {masked}, "config.batch_size": {"500"}, "config.requests_per_second": {"10"}, "config.send_removals": {"false"}}).want(t, http.StatusSeeOther)
			hook.last(t).wantCreds(t, credUser, credPass, credToken)
			// So does a GET round-tripped into a PATCH.
			got := into[platformBody](t, s.admin.get("/platforms/"+s.platform.ID).want(t, http.StatusOK))
			again := into[platformBody](t, s.admin.patch("/platforms/"+s.platform.ID, map[string]any{"config": got.Config}).want(t, http.StatusOK))
			if again.Status != models.PlatformConnected || again.StatusMessage != "" || again.Config["url"] != masked {
				t.Errorf("after the round trip %+v", again)
			}
			hook.last(t).wantCreds(t, credUser, credPass, credToken)
			// Masks around another address are refused: the stored credentials never go
			// to a URL the admin did not write in full.
			elsewhere := strings.Replace(masked, "/in?", "/elsewhere?", 1)
			wantErr(t, s.admin.patch("/platforms/"+s.platform.ID, map[string]any{"config": map[string]any{"url": elsewhere}}), 422, "invalid", "config.url")
			// A new URL replaces them.
			const newPass, newToken = "newpass-Hb5", "newtok-Lc8"
			renewed := s.admin.patch("/platforms/"+s.platform.ID, map[string]any{"config": map[string]any{"url": hook.url(credUser, newPass, newToken)}}).want(t, http.StatusOK)
			noCreds(t, "the PATCH answer", renewed.Body, newPass, newToken)
			hook.last(t).wantCreds(t, credUser, newPass, newToken)
			stored, err := ws.app.store.PlatformByID(t.Context(), models.DefaultWorkspaceID, s.platform.ID)
			if err != nil {
				t.Fatal(err)
			}
			noCreds(t, "the stored settings", stored.ConfigJSON, newPass, newToken)
			for _, b := range *s.admin.bodies {
				noCreds(t, "an API answer", b, newPass, newToken)
			}
		})
	}
}
