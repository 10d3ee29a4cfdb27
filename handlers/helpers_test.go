package handlers_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/prometheus/client_golang/prometheus"

	"sluice/config"
	"sluice/connectors"
	"sluice/core"
	"sluice/destinations/httpdest"
	"sluice/destinations/webhook"
	"sluice/handlers"
	"sluice/internal/testutil"
	"sluice/jobs"
	"sluice/models"
	"sluice/secrets"
	"sluice/sources/postgres"
	"sluice/sources/sqlite"
)

// app is the real Sluice HTTP stack on a migrated store, served over a test listener.
type app struct {
	store *models.Store
	url   string
	// runner is the app's run queue, not started: a test runs a queued run with
	// runner.RunOne.
	runner *jobs.Runner
}

// newApp builds the app on the database at dbURL, migrated.
func newApp(t *testing.T, dbURL string) *app {
	t.Helper()
	return serve(t, testutil.Store(t, dbURL))
}

// serve builds the app on s as is (migrated or not), with the webhook destination and
// any extra destination kinds.
func serve(t *testing.T, s *models.Store, extra ...connectors.DestinationConnector) *app {
	t.Helper()
	return serveWith(t, s, config.Default(), extra...) // http:// base URL: cookies without Secure, as httptest serves
}

// serveWith is serve with cfg.
func serveWith(t *testing.T, s *models.Store, cfg config.Config, extra ...connectors.DestinationConnector) *app {
	t.Helper()
	box, err := secrets.New(bytes.Repeat([]byte{0x5a}, secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	reg := connectors.NewRegistry()
	reg.RegisterSource(sqlite.New(os.TempDir())) // every test writes its warehouse under t.TempDir()
	reg.RegisterSource(postgres.New())
	reg.RegisterDestination(webhook.New(true)) // tests' webhooks listen on loopback
	for _, d := range extra {
		reg.RegisterDestination(d)
	}
	e, runner := handlersFor(s, box, cfg, reg)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &app{store: s, url: srv.URL, runner: runner}
}

// handlersFor wires the HTTP layer as main does, with a run queue that is not started:
// runs stay queued, so handler tests never depend on the engine unless they call
// runner.RunOne.
func handlersFor(s *models.Store, box *secrets.Box, cfg config.Config, reg *connectors.Registry) (http.Handler, *jobs.Runner) {
	logger := slog.New(slog.DiscardHandler)
	writes := core.New(s, reg)
	clients := map[string]core.OAuthClient{} // cfg's OAuth clients, as main gives them
	for provider, c := range cfg.OAuth {
		clients[provider] = core.OAuthClient{ClientID: c.ClientID, ClientSecret: c.ClientSecret, AuthURL: c.AuthURL, TokenURL: c.TokenURL}
	}
	writes.SetOAuth(cfg.BaseURL, clients)
	writes.SetSSOClient(httpdest.NewClient(httpdest.Options{Name: "The identity provider", AllowPrivate: cfg.AllowPrivateNetworks}).HTTPClient())
	runner := jobs.NewRunner(s, writes, logger, jobs.Options{})
	e := handlers.New(handlers.Deps{Config: cfg, Store: s, Secrets: box, Logger: logger,
		Registry: prometheus.NewRegistry(), Core: writes, Runs: runner})
	return e, runner
}

// sqliteApp is the app on a fresh SQLite database.
func sqliteApp(t *testing.T) *app {
	t.Helper()
	return newApp(t, testutil.SQLiteURL(t))
}

// eachApp runs fn on an app over each dialect.
func eachApp(t *testing.T, fn func(t *testing.T, a *app)) {
	t.Helper()
	eachDB(t, func(t *testing.T, dbURL string) { fn(t, newApp(t, dbURL)) })
}

// eachDB runs fn on a fresh database of each dialect, for setups that build their own app.
func eachDB(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Helper()
	for _, d := range testutil.Dialects {
		t.Run(d.Name, func(t *testing.T) { fn(t, d.URL(t)) })
	}
}

// client is one browser: its own cookie jar, and redirects returned, not followed.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func (a *app) client(t *testing.T) *client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, base: a.url, hc: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is an answer with its body read.
type response struct {
	Status int
	Header http.Header
	Body   string
}

// Location is the redirect target.
func (r *response) Location() string { return r.Header.Get("Location") }

// Doc parses the body as HTML.
func (r *response) Doc(t *testing.T) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// Rows parses the body as table rows, the context htmx swaps them into: an HTML
// parser drops a bare <tr> found outside a table.
func (r *response) Rows(t *testing.T) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader("<table><tbody>" + r.Body + "</tbody></table>"))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// Text is the trimmed text of the elements sel matches.
func (r *response) Text(t *testing.T, sel string) string {
	t.Helper()
	return strings.TrimSpace(r.Doc(t).Find(sel).Text())
}

// Count is how many elements sel matches.
func (r *response) Count(t *testing.T, sel string) int {
	t.Helper()
	return r.Doc(t).Find(sel).Length()
}

// want fails the test unless the answer has this status.
func (r *response) want(t *testing.T, status int) *response {
	t.Helper()
	if r.Status != status {
		body := r.Body
		if len(body) > 600 {
			body = body[:600] + "…"
		}
		t.Fatalf("status %d, want %d (Location %q)\n%s", r.Status, status, r.Location(), body)
	}
	return r
}

// do sends a request; form (may be nil) goes url-encoded in the body; header holds
// name, value pairs.
func (c *client) do(method, path string, form url.Values, header ...string) *response {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return &response{Status: res.StatusCode, Header: res.Header, Body: string(b)}
}

func (c *client) get(path string, header ...string) *response {
	c.t.Helper()
	return c.do(http.MethodGet, path, nil, header...)
}

func (c *client) post(path string, form url.Values, header ...string) *response {
	c.t.Helper()
	return c.do(http.MethodPost, path, form, header...)
}

// csrf GETs a page and returns the CSRF token of its forms.
func (c *client) csrf(path string) string {
	c.t.Helper()
	r := c.get(path).want(c.t, http.StatusOK)
	token, ok := r.Doc(c.t).Find("input[name=_csrf]").First().Attr("value")
	if !ok || token == "" {
		c.t.Fatalf("no CSRF token on %s", path)
	}
	return token
}

// signIn signs in through the login form and expects the redirect.
func (c *client) signIn(email, password string) {
	c.t.Helper()
	token := c.csrf("/login")
	c.post("/login", url.Values{"_csrf": {token}, "email": {email}, "password": {password}}).want(c.t, http.StatusSeeOther)
}

// signedIn reports whether this browser is signed in, by asking for a page that needs it.
func (c *client) signedIn() bool {
	c.t.Helper()
	switch r := c.get("/activations"); r.Status {
	case http.StatusOK:
		return true
	case http.StatusSeeOther:
		return false
	default:
		c.t.Fatalf("GET /activations: status %d", r.Status)
		return false
	}
}

// api calls the JSON API with a bearer token ("" for none).
func (c *client) api(path, token string) *response {
	c.t.Helper()
	if token == "" {
		return c.get(path)
	}
	return c.get(path, "Authorization", "Bearer "+token)
}

// signedInAdmin sets up the first admin and a browser signed in as them.
func signedInAdmin(t *testing.T, a *app) (*models.User, *client) {
	t.Helper()
	u, _ := testutil.Admin(t, a.store)
	c := a.client(t)
	c.signIn(u.Email, testutil.Password)
	return u, c
}
