package oauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"sluice/internal/fakes/oauth"
)

// clock is a test clock the server reads.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// refresh asks for a new access token with rt, whatever the client's clock says.
func refresh(conf *oauth2.Config, rt string) (*oauth2.Token, error) {
	return conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt}).Token()
}

// postToken sends a raw form to the token endpoint, authenticating in the form.
func postToken(t *testing.T, srv *oauth.Server, form url.Values) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(srv.TokenURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp, body
}

func TestRotation(t *testing.T) {
	srv := start(t, oauth.Options{Rotate: true})
	conf := config(srv, oauth2.AuthStyleInHeader)
	first := srv.Issue("oauth")

	second, err := refresh(conf, first.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
		t.Fatalf("rotation gave refresh token %q, want a new one", second.RefreshToken)
	}
	if _, err := refresh(conf, first.RefreshToken); retrieveError(t, err).ErrorCode != "invalid_grant" {
		t.Fatalf("the rotated-out refresh token still works: %v", err)
	}
	// Without reuse detection the new token lives on.
	third, err := refresh(conf, second.RefreshToken)
	if err != nil {
		t.Fatalf("the new refresh token: %v", err)
	}
	if _, ok := srv.Valid(third.AccessToken); !ok || third.RefreshToken == second.RefreshToken {
		t.Errorf("the third refresh gave refresh token %q (valid access: %v), want a new one", third.RefreshToken, ok)
	}
	if n := srv.Refreshes(); n != 3 {
		t.Errorf("Refreshes() = %d, want 3 (the refused one counts)", n)
	}

	t.Run("reuse revokes the grant", func(t *testing.T) {
		srv := start(t, oauth.Options{Rotate: true, ReuseRevokes: true})
		conf := config(srv, oauth2.AuthStyleInHeader)
		first := srv.Issue("oauth")
		second, err := refresh(conf, first.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := refresh(conf, first.RefreshToken); err == nil {
			t.Fatal("a rotated-out refresh token works")
		}
		if _, ok := srv.Valid(second.AccessToken); ok {
			t.Error("reuse of a rotated-out token left the grant's access token valid")
		}
		if _, err := refresh(conf, second.RefreshToken); err == nil {
			t.Error("reuse of a rotated-out token left the new refresh token working")
		}
	})
}

func TestExpiryWithTestClock(t *testing.T) {
	clk := newClock()
	srv := start(t, oauth.Options{AutoApprove: true, Now: clk.Now, RefreshTTL: 7 * 24 * time.Hour})
	conf := config(srv, oauth2.AuthStyleInHeader)
	iss := srv.Issue("oauth")
	if !iss.Expiry.Equal(clk.Now().Add(oauth.DefaultAccessTTL)) {
		t.Errorf("Issue's expiry %v, want now + 30 min", iss.Expiry)
	}

	clk.Advance(oauth.DefaultAccessTTL - time.Second)
	if _, ok := srv.Valid(iss.AccessToken); !ok {
		t.Fatal("the access token died before its 30 minutes")
	}
	clk.Advance(time.Second)
	if _, ok := srv.Valid(iss.AccessToken); ok {
		t.Fatal("the access token outlives its 30 minutes")
	}
	fresh, err := refresh(conf, iss.RefreshToken)
	if err != nil {
		t.Fatalf("refresh after the access token expired: %v", err)
	}
	if _, ok := srv.Valid(fresh.AccessToken); !ok {
		t.Fatal("the refreshed token is not valid")
	}

	// The refresh token dies 7 days after its issue.
	clk.Advance(7*24*time.Hour - oauth.DefaultAccessTTL)
	if _, err := refresh(conf, iss.RefreshToken); retrieveError(t, err).ErrorCode != "invalid_grant" {
		t.Fatalf("an expired refresh token: %v, want invalid_grant", err)
	}

	// A code lives ten minutes.
	code := authorize(t, conf, "st")
	clk.Advance(oauth.CodeTTL)
	if _, err := conf.Exchange(context.Background(), code); retrieveError(t, err).ErrorCode != "invalid_grant" {
		t.Fatalf("a code after ten minutes: %v, want invalid_grant", err)
	}
	code = authorize(t, conf, "st")
	clk.Advance(oauth.CodeTTL - time.Second)
	if _, err := conf.Exchange(context.Background(), code); err != nil {
		t.Fatalf("a code before ten minutes: %v", err)
	}
}

func TestMetaExpiredTokenSubcode(t *testing.T) {
	clk := newClock()
	srv := start(t, oauth.Options{Style: oauth.StyleMeta, NoRefresh: true, Now: clk.Now})
	iss := srv.Issue("ads_management")
	if iss.RefreshToken != "" {
		t.Fatalf("NoRefresh issued refresh token %q", iss.RefreshToken)
	}
	if !iss.Expiry.Equal(clk.Now().Add(oauth.LongLivedTTL)) {
		t.Errorf("expiry %v, want 60 days", iss.Expiry)
	}
	exchange := func(tok string) (*http.Response, map[string]any) {
		return postToken(t, srv, url.Values{
			"grant_type": {"fb_exchange_token"}, "fb_exchange_token": {tok},
			"client_id": {clientID}, "client_secret": {clientSecret},
		})
	}
	resp, body := exchange(iss.AccessToken)
	if resp.StatusCode != http.StatusOK || body["access_token"] == "" || body["refresh_token"] != nil || body["expires_in"] != float64(oauth.LongLivedTTL/time.Second) {
		t.Fatalf("long-lived exchange: %d %v", resp.StatusCode, body)
	}
	// Meta's documented call is a GET with the parameters in the query.
	u := srv.TokenURL() + "?" + url.Values{
		"grant_type": {"fb_exchange_token"}, "fb_exchange_token": {iss.AccessToken},
		"client_id": {clientID}, "client_secret": {clientSecret},
	}.Encode()
	if resp, err := http.Get(u); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET exchange: %v %v", resp, err)
	}

	clk.Advance(oauth.LongLivedTTL)
	resp, body = exchange(iss.AccessToken)
	e, _ := body["error"].(map[string]any)
	if resp.StatusCode != http.StatusBadRequest || e["code"] != float64(190) || e["error_subcode"] != float64(463) {
		t.Fatalf("an expired token: %d %v, want 400 code 190 subcode 463", resp.StatusCode, body)
	}

	// Only Meta knows fb_exchange_token.
	other := start(t, oauth.Options{})
	resp, body = postToken(t, other, url.Values{"grant_type": {"fb_exchange_token"}, "fb_exchange_token": {"x"}, "client_id": {clientID}, "client_secret": {clientSecret}})
	if resp.StatusCode != http.StatusBadRequest || body["error"] != "unsupported_grant_type" {
		t.Errorf("fb_exchange_token elsewhere: %d %v", resp.StatusCode, body)
	}
}

func TestAuthorizationErrorsRedirectBack(t *testing.T) {
	srv := start(t, oauth.Options{AutoApprove: true, RequirePKCE: true})
	conf := config(srv, oauth2.AuthStyleInHeader)
	challenge := oauth2.S256ChallengeOption(oauth2.GenerateVerifier())
	for _, tc := range []struct {
		name  string
		edit  func(q url.Values)
		error string
	}{
		{"no challenge", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, "invalid_request"},
		{"plain challenge", func(q url.Values) { q.Set("code_challenge_method", "plain") }, "invalid_request"},
		{"no method", func(q url.Values) { q.Del("code_challenge_method") }, "invalid_request"},
		{"short challenge", func(q url.Values) { q.Set("code_challenge", "abc") }, "invalid_request"},
		{"unknown scope", func(q url.Values) { q.Set("scope", "oauth crm.schemas.write") }, "invalid_scope"},
		{"no scope", func(q url.Values) { q.Del("scope") }, "invalid_scope"},
		{"token response type", func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type"},
		{"no response type", func(q url.Values) { q.Del("response_type") }, "invalid_request"},
		{"no state", func(q url.Values) { q.Del("state") }, "invalid_request"},
		{"state twice", func(q url.Values) { q["state"] = []string{"st", "st2"} }, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, _ := url.Parse(conf.AuthCodeURL("st", challenge))
			q := u.Query()
			tc.edit(q)
			u.RawQuery = q.Encode()
			resp, _ := get(t, u.String())
			got := back(t, resp)
			if got.Get("error") != tc.error || got.Get("error_description") == "" || got.Get("code") != "" {
				t.Fatalf("redirect query %v, want error %s with a description and no code", got, tc.error)
			}
			if wantState := q.Get("state"); len(q["state"]) == 1 && got.Get("state") != wantState {
				t.Errorf("state %q, want %q", got.Get("state"), wantState)
			}
		})
	}
	if len(srv.Grants()) != 0 {
		t.Errorf("refused requests made grants: %+v", srv.Grants())
	}
}

func TestTokenEndpointRefusals(t *testing.T) {
	srv := start(t, oauth.Options{AutoApprove: true})
	conf := config(srv, oauth2.AuthStyleInParams)
	ctx := context.Background()
	client := url.Values{"client_id": {clientID}, "client_secret": {clientSecret}}
	with := func(kv ...string) url.Values {
		v := url.Values{}
		for k, vs := range client {
			v[k] = vs
		}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}

	t.Run("wrong secret in the form", func(t *testing.T) {
		resp, body := postToken(t, srv, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {clientID}, "client_secret": {"nope"}})
		if resp.StatusCode != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Fatalf("%d %v, want 401 invalid_client", resp.StatusCode, body)
		}
	})
	t.Run("wrong secret by Basic names the scheme", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, srv.TokenURL(), strings.NewReader("grant_type=refresh_token&refresh_token=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(clientID, "nope")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
			t.Fatalf("%d WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("two authentication methods", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, srv.TokenURL(), strings.NewReader(with("grant_type", "refresh_token", "refresh_token", "x").Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(clientID, clientSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", resp.StatusCode)
		}
	})
	t.Run("no client", func(t *testing.T) {
		resp, body := postToken(t, srv, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}})
		if resp.StatusCode != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Fatalf("%d %v", resp.StatusCode, body)
		}
	})
	t.Run("grant types", func(t *testing.T) {
		for gt, want := range map[string]string{"": "invalid_request", "password": "unsupported_grant_type", "client_credentials": "unsupported_grant_type"} {
			resp, body := postToken(t, srv, with("grant_type", gt))
			if resp.StatusCode != http.StatusBadRequest || body["error"] != want {
				t.Errorf("grant_type %q: %d %v, want 400 %s", gt, resp.StatusCode, body, want)
			}
		}
	})
	t.Run("JSON body", func(t *testing.T) {
		resp, err := http.Post(srv.TokenURL(), "application/json", strings.NewReader(`{"grant_type":"refresh_token"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", resp.StatusCode)
		}
	})
	t.Run("redirect_uri differs at the token endpoint", func(t *testing.T) {
		code := authorize(t, conf, "st")
		resp, body := postToken(t, srv, with("grant_type", "authorization_code", "code", code, "redirect_uri", "http://127.0.0.1:8080/other"))
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("%d %v", resp.StatusCode, body)
		}
	})
	t.Run("verifier without a challenge", func(t *testing.T) {
		code := authorize(t, conf, "st")
		if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); retrieveError(t, err).ErrorCode != "invalid_grant" {
			t.Fatalf("%v, want invalid_grant", err)
		}
	})
	t.Run("a failed exchange uses the code up", func(t *testing.T) {
		code := authorize(t, conf, "st")
		postToken(t, srv, with("grant_type", "authorization_code", "code", code, "redirect_uri", "http://127.0.0.1:8080/other"))
		if _, err := conf.Exchange(ctx, code); retrieveError(t, err).ErrorCode != "invalid_grant" {
			t.Fatalf("%v, want invalid_grant", err)
		}
	})
	t.Run("refresh narrows scope, never widens", func(t *testing.T) {
		iss := srv.Issue("oauth", "crm.lists.write")
		resp, body := postToken(t, srv, with("grant_type", "refresh_token", "refresh_token", iss.RefreshToken, "scope", "oauth"))
		if resp.StatusCode != http.StatusOK || body["scope"] != "oauth" {
			t.Fatalf("narrowed: %d %v", resp.StatusCode, body)
		}
		if scopes, ok := srv.Valid(body["access_token"].(string)); !ok || len(scopes) != 1 {
			t.Errorf("narrowed token scopes %v %v", scopes, ok)
		}
		resp, body = postToken(t, srv, with("grant_type", "refresh_token", "refresh_token", iss.RefreshToken, "scope", "oauth crm.objects.contacts.write"))
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_scope" {
			t.Fatalf("widened: %d %v", resp.StatusCode, body)
		}
	})
}

func TestHubSpotCodeAndClientErrors(t *testing.T) {
	srv := start(t, oauth.Options{Style: oauth.StyleHubSpot})
	resp, body := postToken(t, srv, url.Values{"grant_type": {"authorization_code"}, "code": {"never-issued"}, "client_id": {clientID}, "client_secret": {clientSecret}, "redirect_uri": {redirectURI}})
	if resp.StatusCode != http.StatusBadRequest || body["status"] != "BAD_AUTH_CODE" || body["correlationId"] == "" {
		t.Errorf("unknown code: %d %v", resp.StatusCode, body)
	}
	resp, body = postToken(t, srv, url.Values{"grant_type": {"refresh_token"}, "client_id": {clientID}, "client_secret": {clientSecret}})
	if resp.StatusCode != http.StatusBadRequest || body["status"] != "BAD_REFRESH_TOKEN" {
		t.Errorf("no refresh token: %d %v", resp.StatusCode, body)
	}
	resp, body = postToken(t, srv, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {"other"}, "client_secret": {clientSecret}})
	if resp.StatusCode != http.StatusUnauthorized || body["status"] != "BAD_CLIENT_ID" {
		t.Errorf("unknown client: %d %v", resp.StatusCode, body)
	}
}

func TestFailNextAndDelay(t *testing.T) {
	srv := start(t, oauth.Options{})
	conf := config(srv, oauth2.AuthStyleInHeader)
	iss := srv.Issue("oauth")

	srv.FailNext(http.StatusServiceUnavailable)
	srv.FailNext(http.StatusBadGateway)
	_, err := refresh(conf, iss.RefreshToken)
	re := retrieveError(t, err)
	if re.Response.StatusCode != http.StatusServiceUnavailable || re.Response.Header.Get("Retry-After") != "1" {
		t.Fatalf("first: status %d Retry-After %q", re.Response.StatusCode, re.Response.Header.Get("Retry-After"))
	}
	if _, err := refresh(conf, iss.RefreshToken); retrieveError(t, err).Response.StatusCode != http.StatusBadGateway {
		t.Fatalf("second: %v, want 502", err)
	}
	if _, err := refresh(conf, iss.RefreshToken); err != nil {
		t.Fatalf("after the failures: %v", err)
	}
	if n := srv.Refreshes(); n != 1 {
		t.Errorf("Refreshes() = %d, want 1: a request the endpoint was down for is no refresh", n)
	}

	srv.SetDelay(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: iss.RefreshToken}).Token(); err == nil {
		t.Fatal("a refresh slower than the caller's deadline succeeded")
	}
	start := time.Now()
	if _, err := refresh(conf, iss.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("the delayed refresh took %v, want at least 200ms", d)
	}
}

func TestPinnedRedirect(t *testing.T) {
	srv := start(t, oauth.Options{AutoApprove: true, RedirectURIs: []string{}})
	conf := config(srv, oauth2.AuthStyleInHeader)
	authorize(t, conf, "st") // pins redirectURI
	other := *conf
	other.RedirectURL = "http://127.0.0.1:9999/cb"
	resp, _ := get(t, other.AuthCodeURL("st"))
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Fatalf("a second redirect URI: %d %q, want a page", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Omitted, the pinned one is used.
	noRedirect := *conf
	noRedirect.RedirectURL = ""
	resp, _ = get(t, noRedirect.AuthCodeURL("st"))
	if q := back(t, resp); q.Get("code") == "" {
		t.Fatalf("no code with the pinned redirect: %v", q)
	}
}

func TestHandlerUnderBasePath(t *testing.T) {
	h := oauth.NewHandler(oauth.Options{ClientID: clientID, ClientSecret: clientSecret, RedirectURIs: []string{redirectURI}, BasePath: "/fake/hubspot"})
	mux := http.NewServeMux()
	mux.Handle("/fake/hubspot/", h)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	ts := httptest.NewServer(mux)
	defer ts.Close()
	conf := &oauth2.Config{
		ClientID: clientID, ClientSecret: clientSecret, RedirectURL: redirectURI, Scopes: []string{"oauth"},
		Endpoint: oauth2.Endpoint{AuthURL: ts.URL + "/fake/hubspot" + oauth.AuthorizePath, TokenURL: ts.URL + "/fake/hubspot" + oauth.TokenPath},
	}
	resp, body := get(t, conf.AuthCodeURL("st"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `action="/fake/hubspot/authorize"`) {
		t.Fatalf("consent page under the base path: %d\n%s", resp.StatusCode, body)
	}
	if resp, _ := get(t, ts.URL+"/fake/hubspot/other"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown path under the base: %d, want 404", resp.StatusCode)
	}
	iss := h.Issue("oauth")
	if _, err := conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: iss.RefreshToken}).Token(); err != nil {
		t.Fatalf("refresh under the base path: %v", err)
	}
}

func TestNewHandlerRefusesBadOptions(t *testing.T) {
	for name, o := range map[string]oauth.Options{
		"no client id":  {},
		"unknown style": {ClientID: "x", Style: "salesforce"},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("NewHandler accepted the options")
				}
			}()
			oauth.NewHandler(o)
		})
	}
}

// TestConcurrentRefreshesWithRotation: runs that refresh one rotating token each on
// their own lose all but one, which is what Sluice's one-refresh-at-a-time must avoid;
// Refreshes counts every attempt, so a test sees the stampede.
func TestConcurrentRefreshesWithRotation(t *testing.T) {
	srv := start(t, oauth.Options{Rotate: true})
	conf := config(srv, oauth2.AuthStyleInHeader)
	iss := srv.Issue("oauth")
	srv.SetDelay(20 * time.Millisecond)
	const runs = 8
	var wg sync.WaitGroup
	errs := make(chan error, runs)
	for range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := refresh(conf, iss.RefreshToken)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		if err == nil {
			ok++
		} else if re := retrieveError(t, err); re.ErrorCode != "invalid_grant" {
			t.Errorf("a losing refresh: %v, want invalid_grant", err)
		}
	}
	if ok != 1 || srv.Refreshes() != runs {
		t.Fatalf("%d refreshes succeeded of %d counted, want 1 of %d", ok, srv.Refreshes(), runs)
	}
}

func BenchmarkRefresh(b *testing.B) {
	srv := oauth.New(oauth.Options{ClientID: clientID, ClientSecret: clientSecret})
	defer srv.Close()
	conf := &oauth2.Config{ClientID: clientID, ClientSecret: clientSecret, Endpoint: oauth2.Endpoint{TokenURL: srv.TokenURL(), AuthStyle: oauth2.AuthStyleInHeader}}
	rt := srv.Issue("oauth").RefreshToken
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValid(b *testing.B) {
	h := oauth.NewHandler(oauth.Options{ClientID: clientID})
	at := h.Issue("oauth").AccessToken
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := h.Valid(at); !ok {
			b.Fatal("not valid")
		}
	}
}

// TestLongRunningServerKeepsWorking issues past the prune threshold with time moving,
// as the demo does over weeks: live tokens survive the pruning, expired ones stay dead.
func TestLongRunningServerKeepsWorking(t *testing.T) {
	clk := newClock()
	h := oauth.NewHandler(oauth.Options{ClientID: clientID, Now: clk.Now})
	old := h.Issue("oauth")
	clk.Advance(oauth.DefaultAccessTTL)
	var last oauth.Issued
	for range 2100 {
		last = h.Issue("oauth")
	}
	if _, ok := h.Valid(old.AccessToken); ok {
		t.Error("an expired token came back after pruning")
	}
	if _, ok := h.Valid(last.AccessToken); !ok {
		t.Error("a live token was pruned")
	}
}
