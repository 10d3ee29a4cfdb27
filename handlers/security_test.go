package handlers_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/config"
	"sluice/handlers"
	"sluice/internal/testutil"
	"sluice/models"
)

// TestLoginRedirectStaysOnSite replays the open redirect: /login?next=/%09/evil.example
// answered Location "/\t/evil.example", which a browser follows to //evil.example. Every
// hostile next, through GET /login and POST /login, now ends on /activations.
func TestLoginRedirectStaysOnSite(t *testing.T) {
	t.Parallel()
	a := sqliteApp(t)
	testutil.Admin(t, a.store)
	signedIn := a.client(t)
	signedIn.signIn("admin@example.com", testutil.Password)

	// Each is the raw query value, as an attacker would put it in a link.
	hostile := []string{
		"/%09/evil.example",
		"/%0A/evil.example",
		"/%0D%0A/evil.example",
		"%09//evil.example",
		"/%5Cevil.example",
		"%5C%5Cevil.example",
		"/%5C%09%5Cevil.example",
		"//evil.example",
		"%2F%2Fevil.example",
		"%20%20//evil.example",
		"https://evil.example",
		"https:evil.example",
		"javascript:alert(1)",
		"java%09script:alert(1)",
		"/.//evil.example",
		"/%252e//evil.example",
		"/%2e//evil.example",
		"/..//evil.example",
	}
	for _, raw := range hostile {
		t.Run(raw, func(t *testing.T) {
			// Signed in: GET /login goes straight on, to Sluice.
			if loc := signedIn.get("/login?next="+raw).want(t, http.StatusSeeOther).Location(); loc != "/activations" {
				t.Errorf("signed-in GET /login: Location %q, want /activations", loc)
			}
			// Signed out: the form does not carry the hostile next on ...
			c := a.client(t)
			page := c.get("/login?next="+raw).want(t, http.StatusOK)
			if next, _ := page.Doc(t).Find("input[name=next]").Attr("value"); next != "" && next[0] != '/' {
				t.Errorf("login form carries next = %q", next)
			}
			token, _ := page.Doc(t).Find("input[name=_csrf]").Attr("value")
			// ... and a POST with it, forged or not, lands on Sluice.
			next, err := url.QueryUnescape(raw)
			if err != nil {
				t.Fatal(err)
			}
			r := c.post("/login", url.Values{"_csrf": {token}, "email": {"admin@example.com"}, "password": {testutil.Password}, "next": {next}})
			if loc := r.want(t, http.StatusSeeOther).Location(); loc != "/activations" {
				t.Errorf("POST /login: Location %q, want /activations", loc)
			}
		})
	}

	// Paths of Sluice still bring the visitor back, even ones that look odd.
	kept := []struct{ raw, want string }{
		{"%2Fsettings%2Fusers%3Fx%3D1", "/settings/users?x=1"},
		{"/%252F%252Fevil.example", "/%2F%2Fevil.example"},
	}
	for _, tc := range kept {
		t.Run("kept "+tc.raw, func(t *testing.T) {
			if loc := signedIn.get("/login?next="+tc.raw).want(t, http.StatusSeeOther).Location(); loc != tc.want {
				t.Errorf("Location %q, want %q", loc, tc.want)
			}
		})
	}
}

// eachAppWith runs fn on an app with cfg over each dialect.
func eachAppWith(t *testing.T, cfg config.Config, fn func(t *testing.T, a *app)) {
	t.Helper()
	for _, d := range testutil.Dialects {
		t.Run(d.Name, func(t *testing.T) { fn(t, serveWith(t, testutil.Store(t, d.URL(t)), cfg)) })
	}
}

// behindProxies is the default config with these trusted proxies.
func behindProxies(proxies ...string) config.Config {
	cfg := config.Default()
	cfg.TrustedProxies = proxies
	return cfg
}

// signInVia posts the sign-in form; xff, when not "", is sent as X-Forwarded-For.
func (c *client) signInVia(xff, email, password string) *response {
	c.t.Helper()
	token := c.csrf("/login")
	var header []string
	if xff != "" {
		header = []string{"X-Forwarded-For", xff}
	}
	return c.post("/login", url.Values{"_csrf": {token}, "email": {email}, "password": {password}}, header...)
}

// wantThrottled checks a 429 that says to wait, in Retry-After and in the same words,
// at most upTo seconds (a little less when the test took a while to get there).
func wantThrottled(t *testing.T, r *response, upTo int) {
	t.Helper()
	r.want(t, http.StatusTooManyRequests)
	secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > upTo || secs < upTo-20 {
		t.Fatalf("Retry-After %q, want about %d", r.Header.Get("Retry-After"), upTo)
	}
	words := strconv.Itoa(secs) + " seconds"
	if secs == 60 {
		words = "1 minute"
	}
	if !strings.Contains(r.Body, words) {
		t.Errorf("the answer does not say %q:\n%.600s", words, r.Body)
	}
}

// TestSignInLockoutRefused replays the lockout through the sign-in form: five wrong
// passwords for admin@ from an attacker's address used to keep the admin out from
// everywhere for 15 minutes. Behind a trusted proxy, each address is its own.
func TestSignInLockoutRefused(t *testing.T) {
	t.Parallel()
	eachAppWith(t, behindProxies("127.0.0.1"), func(t *testing.T, a *app) {
		testutil.Admin(t, a.store)
		const attacker, victim = "203.0.113.66", "198.51.100.7"
		bad := a.client(t)
		for range 5 {
			bad.signInVia(attacker, "admin@example.com", "wrong password").want(t, http.StatusUnprocessableEntity)
		}
		// The admin, at another address, signs in at once.
		owner := a.client(t)
		owner.signInVia(victim, "admin@example.com", testutil.Password).want(t, http.StatusSeeOther)
		if !owner.signedIn() {
			t.Error("the owner is not signed in")
		}
		// The attacker's address waits, the right password or not, and is told how long.
		r := bad.signInVia(attacker, "admin@example.com", testutil.Password)
		wantThrottled(t, r, 60)
		if r.Count(t, "[data-testid=login-error]") != 1 {
			t.Errorf("no error on the form:\n%.600s", r.Body)
		}
		if bad.signedIn() {
			t.Error("the throttled try signed in")
		}
	})
}

// TestForwardedForTrustedOnlyFromProxies: X-Forwarded-For names the client only when
// the connection comes from a configured proxy. A client that sends it itself, to look
// like a new address at each try, is counted at its own address.
func TestForwardedForTrustedOnlyFromProxies(t *testing.T) {
	t.Parallel()
	spoofing := map[string]config.Config{
		"no proxy configured":      config.Default(),
		"another proxy configured": behindProxies("10.9.9.9", "192.168.0.0/16"),
	}
	for name, cfg := range spoofing {
		t.Run(name, func(t *testing.T) {
			eachAppWith(t, cfg, func(t *testing.T, a *app) {
				testutil.Admin(t, a.store)
				c := a.client(t)
				for i := range 5 {
					c.signInVia("203.0.113."+strconv.Itoa(i+1), "admin@example.com", "wrong password").want(t, http.StatusUnprocessableEntity)
				}
				wantThrottled(t, c.signInVia("198.51.100.7", "admin@example.com", testutil.Password), 60)
			})
		})
	}
	t.Run("entries a client adds before the proxy's", func(t *testing.T) {
		eachAppWith(t, behindProxies("127.0.0.0/8"), func(t *testing.T, a *app) {
			testutil.Admin(t, a.store)
			c := a.client(t)
			// The proxy appends the address it saw; what the client sent stays on the left.
			for i := range 5 {
				c.signInVia("192.0.2."+strconv.Itoa(i+1)+", 203.0.113.66", "admin@example.com", "wrong password").want(t, http.StatusUnprocessableEntity)
			}
			wantThrottled(t, c.signInVia("198.51.100.9, 203.0.113.66", "admin@example.com", testutil.Password), 60)
			a.client(t).signInVia("203.0.113.67", "admin@example.com", testutil.Password).want(t, http.StatusSeeOther)
		})
	})
}

// TestBadAPITokensThrottled: after 20 bad bearer tokens from one address, its bad
// tokens get 429 with Retry-After (no answer says whether a guess was right while it
// waits); a valid token, which no one guesses, is served from it and from another
// address.
func TestBadAPITokensThrottled(t *testing.T) {
	t.Parallel()
	eachAppWith(t, behindProxies("127.0.0.1"), func(t *testing.T, a *app) {
		_, admin := testutil.Admin(t, a.store)
		_, good, err := a.store.CreateAPIToken(t.Context(), admin, "ci", models.RoleViewer)
		if err != nil {
			t.Fatal(err)
		}
		const attacker, other = "203.0.113.66", "198.51.100.7"
		c := a.client(t)
		for i := range 20 {
			c.get("/api/v1/activations", "Authorization", "Bearer slu_guess"+strconv.Itoa(i), "X-Forwarded-For", attacker).want(t, http.StatusUnauthorized)
		}
		for _, tok := range []string{"slu_guess20", "slu_guess21"} {
			r := c.get("/api/v1/activations", "Authorization", "Bearer "+tok, "X-Forwarded-For", attacker)
			wantThrottled(t, r, 60)
			if e := apiErrorOf(t, r); e.Code != "rate_limited" {
				t.Errorf("code %q, want rate_limited", e.Code)
			}
		}
		for _, ip := range []string{attacker, other} {
			c.get("/api/v1/activations", "Authorization", "Bearer "+good, "X-Forwarded-For", ip).want(t, http.StatusOK)
		}
	})
}

// TestMetricsNeedAToken: /metrics on the main address answers only to an API token (any
// role); MetricsHandler, for metrics_listen, serves /metrics alone without one.
func TestMetricsNeedAToken(t *testing.T) {
	t.Parallel()
	a := sqliteApp(t)
	_, admin := testutil.Admin(t, a.store)
	_, viewer, err := a.store.CreateAPIToken(t.Context(), admin, "prometheus", models.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	c := a.client(t)
	c.get("/metrics").want(t, http.StatusUnauthorized)
	c.get("/metrics", "Authorization", "Bearer slu_wrong").want(t, http.StatusUnauthorized)
	if r := c.get("/metrics", "Authorization", "Bearer "+viewer).want(t, http.StatusOK); !strings.Contains(r.Body, "sluice_http_requests_total") {
		t.Errorf("metrics body:\n%.400s", r.Body)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_probe_total", Help: "probe"}))
	srv := httptest.NewServer(handlers.MetricsHandler(reg))
	t.Cleanup(srv.Close)
	m := &client{t: t, base: srv.URL, hc: http.DefaultClient}
	if r := m.get("/metrics").want(t, http.StatusOK); !strings.Contains(r.Body, "sluice_probe_total") {
		t.Errorf("metrics listener body:\n%.400s", r.Body)
	}
	for _, path := range []string{"/", "/api/v1/activations", "/login", "/metrics/x"} {
		m.get(path).want(t, http.StatusNotFound)
	}
	m.post("/metrics", url.Values{}).want(t, http.StatusMethodNotAllowed)
}

// TestHSTSWhenServedOverHTTPS: with an https:// base URL every answer carries
// Strict-Transport-Security; with http:// none does (browsers ignore it there anyway).
func TestHSTSWhenServedOverHTTPS(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.BaseURL = "https://sluice.example"
	secure := serveWith(t, testutil.Store(t, testutil.SQLiteURL(t)), cfg)
	plain := sqliteApp(t)
	for _, path := range []string{"/healthz", "/login", "/nope", "/api/v1/activations"} {
		if got := secure.client(t).get(path).Header.Get("Strict-Transport-Security"); got != "max-age=31536000; includeSubDomains" {
			t.Errorf("https base URL, %s: Strict-Transport-Security %q", path, got)
		}
		if got := plain.client(t).get(path).Header.Get("Strict-Transport-Security"); got != "" {
			t.Errorf("http base URL, %s: Strict-Transport-Security %q", path, got)
		}
	}
}

// sendBody POSTs body, chunked when chunked (no Content-Length), with name, value headers.
func (c *client) sendBody(path, contentType string, body string, chunked bool, header ...string) *response {
	c.t.Helper()
	var r io.Reader = strings.NewReader(body)
	if chunked {
		r = io.MultiReader(r) // no length known: the client sends it chunked
	}
	return c.send(http.MethodPost, path, r, contentType, header...)
}

// TestBodyOverLimitIs413: a body over 2 MB answers 413, with its length announced or
// sent chunked, to a form, an htmx form and the JSON API. Chunked, it used to get 403
// (the CSRF check read no form) on pages and 400 (bind) on the API.
func TestBodyOverLimitIs413(t *testing.T) {
	t.Parallel()
	a := sqliteApp(t)
	_, admin := testutil.Admin(t, a.store)
	_, tok, err := a.store.CreateAPIToken(t.Context(), admin, "ci", models.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	c := a.client(t)
	csrf := c.csrf("/login")
	huge := strings.Repeat("a", 3<<20)
	form := url.Values{"_csrf": {csrf}, "email": {"admin@example.com"}, "password": {huge}}.Encode()
	doc, _ := json.Marshal(map[string]any{"name": huge, "kind": "sqlite", "config": map[string]any{"path": "x.db"}})
	for _, chunked := range []bool{false, true} {
		name := map[bool]string{false: "with length", true: "chunked"}[chunked]
		t.Run(name, func(t *testing.T) {
			for _, r := range []*response{
				c.sendBody("/login", "application/x-www-form-urlencoded", form, chunked),
				c.sendBody("/login", "application/x-www-form-urlencoded", form, chunked, "HX-Request", "true", "X-CSRF-Token", csrf),
				c.sendBody("/api/v1/sources", "application/json", string(doc), chunked, "Authorization", "Bearer "+tok),
			} {
				r.want(t, http.StatusRequestEntityTooLarge)
				if !strings.Contains(r.Body, "larger than 2 MB") {
					t.Errorf("the answer does not say why:\n%.400s", r.Body)
				}
			}
		})
	}
	// Just under the limit, the request is read and answered on its merits.
	under := url.Values{"_csrf": {csrf}, "email": {"admin@example.com"}, "password": {strings.Repeat("a", 2<<20-200)}}.Encode()
	c.sendBody("/login", "application/x-www-form-urlencoded", under, true).want(t, http.StatusUnprocessableEntity)
}
