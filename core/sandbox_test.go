package core_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/core"
	"sluice/destinations/sandbox"
	"sluice/internal/testutil"
	"sluice/models"
)

// A Sandbox (OAuth) platform seeded with a grant of the built-in server renews its
// access token at the token endpoint; once the grant is revoked the refresh is refused
// (invalid_grant), a credentials error, not retryable, that asks to re-authorize.
func TestSandboxRevokedRefreshIsFinal(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, store *models.Store) {
		var svc *core.Service
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var status int
			var body any
			switch r.URL.Path {
			case sandbox.TokenPath:
				_ = r.ParseForm()
				user, pass, _ := r.BasicAuth()
				status, body = svc.SandboxToken(r.Context(), r.PostForm, user, pass)
			case sandbox.InboxPath:
				raw, _ := io.ReadAll(r.Body)
				ans, err := svc.SandboxInbox(r.Context(), r.Header.Get(sandbox.HeaderInbox), r.Header.Get("Authorization"), r.Header.Get("X-Sluice-Check") != "", raw)
				if err != nil {
					t.Error(err)
				}
				status, body = ans.Status, ans.Body
			default:
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(body)
		}))
		defer srv.Close()
		reg := connectors.NewRegistry()
		reg.RegisterDestination(sandbox.NewOAuth(sandbox.Options{BaseURL: srv.URL}))
		svc = core.New(store, reg)
		svc.SetOAuth(srv.URL, nil)
		now := time.Now().UTC()
		core.SetClock(svc, func() time.Time { return now })
		_, actor := testutil.Admin(t, store)

		p, err := svc.ConnectSandboxOAuth(t.Context(), actor, "Sandbox CRM", nil)
		if err != nil {
			t.Fatal(err)
		}
		first := sandboxCheck(t, svc, store, p)
		if first.err != nil {
			t.Fatal(first.err)
		}
		now = now.Add(2 * time.Hour) // the access token expired: it is renewed
		second := sandboxCheck(t, svc, store, p)
		if second.err != nil || second.access == first.access {
			t.Fatalf("after expiry the check gave %v; token renewed: %v", second.err, second.access != first.access)
		}

		if err := svc.RevokeSandboxGrant(t.Context(), actor.WorkspaceID, p.ID); err != nil {
			t.Fatal(err)
		}
		now = now.Add(2 * time.Hour)
		err = sandboxCheck(t, svc, store, p).err
		ce, ok := connectors.AsError(err)
		if !ok || ce.Category != connectors.CategoryCredentials || ce.Retryable ||
			!strings.Contains(ce.Message, "invalid_grant") || !strings.Contains(ce.Message, "re-authorize the platform Sandbox CRM.") {
			t.Fatalf("a revoked grant gave %v", err)
		}
	})
}

type checked struct {
	err    error
	access string // the stored access token after the check
}

// sandboxCheck checks the platform (a request to the inbox with its access token) and
// reads its grant afterwards.
func sandboxCheck(t *testing.T, svc *core.Service, store *models.Store, p *models.Platform) checked {
	t.Helper()
	d, _, err := svc.OpenPlatform(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	out := checked{err: d.Check(t.Context())}
	p, err = store.PlatformByID(t.Context(), p.WorkspaceID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	g, err := store.PlatformGrant(p)
	if err != nil {
		t.Fatal(err)
	}
	out.access = g.AccessToken
	return out
}
