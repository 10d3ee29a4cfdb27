package handlers_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/prometheus/client_golang/prometheus"

	"sluice/config"
	"sluice/connectors"
	"sluice/core"
	"sluice/destinations/sandbox"
	"sluice/handlers"
	"sluice/internal/testutil"
	"sluice/jobs"
	"sluice/models"
	"sluice/secrets"
)

// sandboxApp is the app with both Sandbox kinds, whose base URL is its own test
// listener (the inbox and the authorization server live under it), and its core.
func sandboxApp(t *testing.T, dbURL string) (*app, *core.Service) {
	t.Helper()
	s := testutil.Store(t, dbURL)
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	box, err := secrets.New(bytes.Repeat([]byte{0x5a}, secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.BaseURL = srv.URL
	reg := connectors.NewRegistry()
	reg.RegisterDestination(sandbox.New(sandbox.Options{BaseURL: srv.URL}))
	reg.RegisterDestination(sandbox.NewOAuth(sandbox.Options{BaseURL: srv.URL}))
	logger := slog.New(slog.DiscardHandler)
	writes := core.New(s, reg)
	writes.SetOAuth(cfg.BaseURL, nil) // the built-in client needs no configuration
	runner := jobs.NewRunner(s, writes, logger, jobs.Options{})
	h = handlers.New(handlers.Deps{Config: cfg, Store: s, Secrets: box, Logger: logger,
		Registry: prometheus.NewRegistry(), Core: writes, Runs: runner})
	return &app{store: s, url: srv.URL, runner: runner}, writes
}

var sandboxAdmin = models.Actor{WorkspaceID: models.DefaultWorkspaceID, Type: models.ActorSystem, Name: "test", Role: models.RoleAdmin}

func upsert(key string, fields map[string]any) connectors.Record {
	return connectors.Record{Op: connectors.OpUpsert, Key: key, Fields: fields}
}

// The Sandbox destination against the real inbox: a batch is received and kept, the
// invalid e-mail and phone are rejected per record with the inbox's message, a wrong
// inbox key is a credentials error, and above max_requests_per_minute the inbox answers
// 429, a rate_limit error with the Retry-After.
func TestSandboxInbox(t *testing.T) {
	for _, d := range testutil.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			a, writes := sandboxApp(t, d.URL(t))
			ctx := t.Context()
			p, err := writes.CreatePlatform(ctx, sandboxAdmin, sandbox.Kind, models.PlatformInput{Name: "Sandbox",
				Config: connectors.Config{sandbox.FieldMaxRequests: "3", sandbox.FieldInboxKey: "chosen.by-the-user"}})
			if err != nil {
				t.Fatal(err)
			}
			if p.Status != models.PlatformConnected {
				t.Fatalf("a new Sandbox platform is %s: %s", p.Status, p.StatusMessage)
			}
			if strings.Contains(p.ConfigJSON, sandbox.FieldInboxKey) {
				t.Fatalf("the inbox key is kept in the open: %s", p.ConfigJSON)
			}
			dest, _, err := writes.OpenPlatform(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			defer dest.Close()
			res, err := dest.Write(ctx, connectors.Batch{RunID: "run-1", Action: "sync_records", Records: []connectors.Record{
				upsert("1", map[string]any{"email": "ada@example.com", "phone": "+33612345678"}),
				upsert("2", map[string]any{"email": "not-an-address"}),
				upsert("3", map[string]any{"mobile_phone": "06 12"}),
				{Op: connectors.OpRemove, Key: "4"},
			}})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, r := range res.Rejected {
				got[r.Key] = r.Message
			}
			if len(got) != 2 || !strings.Contains(got["2"], "invalid e-mail address") || !strings.Contains(got["3"], "E.164") {
				t.Fatalf("rejections: %+v", res.Rejected)
			}
			rows, total, err := a.store.SandboxRecords(ctx, p.WorkspaceID, p.ID, 0, 10)
			if err != nil || total != 4 || rows[0].RecordKey != "4" || rows[0].Op != "remove" || rows[3].Fields != `{"email":"ada@example.com","phone":"+33612345678"}` || rows[2].Rejection == "" || rows[3].RunID != "run-1" {
				t.Fatalf("the inbox kept %d: %+v (%v)", total, rows, err)
			}

			// The check at creation, then the write: the third request passes, the fourth is over.
			if _, err := dest.Write(ctx, connectors.Batch{Action: "sync_records", Records: []connectors.Record{upsert("5", nil)}}); err != nil {
				t.Fatalf("the third request of the minute: %v", err)
			}
			_, err = dest.Write(ctx, connectors.Batch{Action: "sync_records", Records: []connectors.Record{upsert("6", nil)}})
			ce, ok := connectors.AsError(err)
			if !ok || ce.Category != connectors.CategoryRateLimit || ce.RetryAfter <= 0 || ce.Exchange == nil || ce.Exchange.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("over the limit: %#v", err)
			}

			// A key that is not the platform's.
			bad, err := writes.Registry().OpenDestination(ctx, sandbox.Kind, connectors.Config{sandbox.FieldInboxKey: p.ID + ".guess"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer bad.Close()
			if ce, ok := connectors.AsError(bad.Check(ctx)); !ok || ce.Category != connectors.CategoryCredentials {
				t.Fatalf("a wrong inbox key: %#v", ce)
			}
			if _, total, _ := a.store.SandboxRecords(ctx, p.WorkspaceID, p.ID, 0, 1); total != 5 {
				t.Fatalf("the inbox keeps %d records, want 5 (checks and refused requests store nothing)", total)
			}
		})
	}
}

// consentSandbox follows "Continue to Sandbox (OAuth)" (or Re-authorize) through the
// built-in consent page, allowing, and returns the callback's answer.
func consentSandbox(t *testing.T, browser *client, start *response, answer string) *response {
	t.Helper()
	to := start.want(t, http.StatusSeeOther).Location()
	u, err := url.Parse(to)
	if err != nil || u.Path != sandbox.AuthorizePath || u.Query().Get("code_challenge") == "" {
		t.Fatalf("the browser was sent to %q, not the consent page with PKCE", to)
	}
	page := browser.get(u.Path+"?"+u.RawQuery).want(t, http.StatusOK)
	if page.Text(t, "[data-testid=consent-allow]") != "Allow" || page.Text(t, "[data-testid=consent-deny]") != "Deny" {
		t.Fatalf("the consent page has no Allow and Deny:\n%s", page.Body)
	}
	form := url.Values{"answer": {answer}}
	page.Doc(t).Find("form input[type=hidden]").Each(func(_ int, s *goquery.Selection) {
		form.Set(s.AttrOr("name", ""), s.AttrOr("value", ""))
	})
	back := browser.post(sandbox.AuthorizePath, form).want(t, http.StatusSeeOther).Location()
	cb, err := url.Parse(back)
	if err != nil || cb.Path != "/oauth/callback" {
		t.Fatalf("the consent sent the browser to %q", back)
	}
	return browser.get(cb.Path + "?" + cb.RawQuery)
}

// Sandbox (OAuth): connected through the built-in consent page (PKCE, code, tokens);
// the inbox takes its bearer token and answers 401 to another; once the grant is
// revoked the refresh token is refused and the platform breaks with the credentials
// category, until Re-authorize consents again.
func TestSandboxOAuth(t *testing.T) {
	for _, d := range testutil.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			a, writes := sandboxApp(t, d.URL(t))
			ctx := t.Context()
			_, browser := signedInAdmin(t, a)
			form := url.Values{"_csrf": {browser.csrf("/settings/platforms/new?kind=" + sandbox.KindOAuth)}, "kind": {sandbox.KindOAuth}, "name": {"Sandbox CRM"}}
			connected := consentSandbox(t, browser, browser.post("/settings/platforms/oauth", form), "allow")
			page := browser.get(connected.want(t, http.StatusSeeOther).Location()).want(t, http.StatusOK)
			if got := page.Text(t, "[data-testid=platform-status]"); got != "Connected" {
				t.Fatalf("after consent the platform is %q:\n%s", got, page.Body)
			}
			list, err := a.store.ListPlatforms(ctx, models.DefaultWorkspaceID)
			if err != nil || len(list) != 1 || !list[0].HasGrant() {
				t.Fatalf("platforms after consent: %+v (%v)", list, err)
			}
			p := &list[0]
			grant, err := a.store.PlatformGrant(p)
			if err != nil || grant.RefreshToken == "" || grant.AccessToken == "" {
				t.Fatalf("the grant: %+v (%v)", grant, err)
			}

			dest, _, err := writes.OpenPlatform(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := dest.Write(ctx, connectors.Batch{Action: "sync_records", Records: []connectors.Record{upsert("1", map[string]any{"email": "ada@example.com"})}}); err != nil {
				t.Fatalf("a write with the access token: %v", err)
			}
			dest.Close()

			// Another bearer token: 401, as an API answers.
			cfg, _ := a.store.PlatformConfig(p)
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.url+sandbox.InboxPath, strings.NewReader(`{"records":[]}`))
			req.Header.Set(sandbox.HeaderInbox, cfg[sandbox.FieldInboxKey])
			req.Header.Set("Authorization", "Bearer forged")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.Header.Get("WWW-Authenticate"), "invalid_token") {
				t.Fatalf("a forged token: %d %q", res.StatusCode, res.Header.Get("WWW-Authenticate"))
			}

			// Revoked: the refresh token is refused at the token endpoint, the access token
			// at the inbox, and the platform's check breaks it.
			if err := writes.RevokeSandboxGrant(ctx, p.WorkspaceID, p.ID); err != nil {
				t.Fatal(err)
			}
			tok := browser.post(sandbox.TokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {grant.RefreshToken},
				"client_id": {sandbox.ClientID}, "client_secret": {"wrong"}})
			if tok.Status != http.StatusUnauthorized || !strings.Contains(tok.Body, "invalid_client") {
				t.Fatalf("a wrong client secret: %d %s", tok.Status, tok.Body)
			}
			broken, err := writes.CheckPlatform(ctx, p.WorkspaceID, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if broken.Status != models.PlatformBroken {
				t.Fatalf("after revocation the platform is %s (%s)", broken.Status, broken.StatusMessage)
			}
			dest, _, _ = writes.OpenPlatform(ctx, broken)
			_, err = dest.Write(ctx, connectors.Batch{Action: "sync_records", Records: []connectors.Record{upsert("2", nil)}})
			dest.Close()
			if ce, ok := connectors.AsError(err); !ok || ce.Category != connectors.CategoryCredentials {
				t.Fatalf("a write after revocation: %#v", err)
			}

			// Re-authorize consents again and connects it.
			re := browser.get("/settings/platforms/"+p.ID+"/reauthorize").want(t, http.StatusOK)
			token := re.Doc(t).Find("[data-testid=oauth-reauthorize] input[name=_csrf]").AttrOr("value", "")
			back := consentSandbox(t, browser, browser.post("/settings/platforms/"+p.ID+"/oauth", url.Values{"_csrf": {token}}), "allow")
			if to := back.want(t, http.StatusSeeOther).Location(); to != "/settings/platforms/"+p.ID {
				t.Fatalf("re-authorizing ended on %q", to)
			}
			if again, _ := a.store.PlatformByID(ctx, p.WorkspaceID, p.ID); again.Status != models.PlatformConnected {
				t.Fatalf("after re-authorizing the platform is %s (%s)", again.Status, again.StatusMessage)
			}

			// Deny changes nothing and says so.
			denied := consentSandbox(t, browser, browser.post("/settings/platforms/"+p.ID+"/oauth", url.Values{"_csrf": {token}}), "deny")
			if to := denied.want(t, http.StatusSeeOther).Location(); to != "/settings/platforms/"+p.ID+"/reauthorize" {
				t.Fatalf("a denial ended on %q", to)
			}
		})
	}
}

// The inbox page: what was received, for any role of the workspace, with its "Open
// inbox" button on the platform's page; another workspace's inbox is not found, and a
// platform that is no Sandbox has none.
func TestSandboxInboxPage(t *testing.T) {
	eachAppSandbox(t, func(t *testing.T, a *app, writes *core.Service) {
		ctx := t.Context()
		p, err := writes.CreatePlatform(ctx, sandboxAdmin, sandbox.Kind, models.PlatformInput{Name: "Sandbox"})
		if err != nil {
			t.Fatal(err)
		}
		dest, _, err := writes.OpenPlatform(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dest.Write(ctx, connectors.Batch{Action: "sync_records", Records: []connectors.Record{
			upsert("k-1", map[string]any{"email": "ada@example.com"}), upsert("k-2", map[string]any{"email": "nope"})}}); err != nil {
			t.Fatal(err)
		}
		dest.Close()

		_, admin := testutil.Admin(t, a.store)
		if _, err := a.store.CreateUser(ctx, admin, models.NewUser{Email: "vera@example.com", Password: testutil.Password, Role: models.RoleViewer}); err != nil {
			t.Fatal(err)
		}
		browser := a.client(t)
		browser.signIn("vera@example.com", testutil.Password)
		show := browser.get("/settings/platforms/"+p.ID).want(t, http.StatusOK)
		if href, _ := show.Doc(t).Find("[data-testid=open-inbox]").Attr("href"); href != "/settings/platforms/"+p.ID+"/inbox" {
			t.Fatalf("the Open inbox button goes to %q", href)
		}
		page := browser.get("/settings/platforms/"+p.ID+"/inbox").want(t, http.StatusOK)
		if n := page.Count(t, "[data-testid=inbox-row]"); n != 2 {
			t.Fatalf("the inbox shows %d records, want 2", n)
		}
		if got := page.Text(t, "[data-testid=inbox-rejection]"); !strings.Contains(got, `invalid e-mail address: "nope"`) {
			t.Fatalf("the rejection shown: %q", got)
		}
		if strings.Contains(page.Body, p.ID+".") {
			t.Fatal("the inbox page shows the inbox key")
		}
		if show.Count(t, "[data-testid=revoke-grant]") != 0 {
			t.Fatal("a viewer is offered to revoke the grant")
		}
		browser.post("/settings/platforms/"+p.ID+"/sandbox/revoke", url.Values{"_csrf": {browser.csrf("/settings/platforms/" + p.ID)}}).want(t, http.StatusForbidden)

		w, err := a.store.CreateWorkspace(ctx, "Globex")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.store.CreateUser(ctx, models.Actor{WorkspaceID: w.ID, Type: models.ActorSystem, Role: models.RoleAdmin}, models.NewUser{Email: "gus@globex.example", Password: testutil.Password, Role: models.RoleAdmin}); err != nil {
			t.Fatal(err)
		}
		stranger := a.client(t)
		stranger.signIn("gus@globex.example", testutil.Password)
		stranger.get("/settings/platforms/"+p.ID+"/inbox").want(t, http.StatusNotFound)
	})
}

func eachAppSandbox(t *testing.T, fn func(t *testing.T, a *app, writes *core.Service)) {
	t.Helper()
	for _, d := range testutil.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			a, writes := sandboxApp(t, d.URL(t))
			fn(t, a, writes)
		})
	}
}
