package oauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/oauth2"

	"sluice/internal/fakes/oauth"
)

const (
	clientID     = "sluice-client"
	clientSecret = "s3cret/+&="
	redirectURI  = "http://127.0.0.1:8080/oauth/callback"
)

// start runs a server with the registered test client; o's zero fields take those.
func start(t *testing.T, o oauth.Options) *oauth.Server {
	t.Helper()
	if o.ClientID == "" {
		o.ClientID, o.ClientSecret = clientID, clientSecret
	}
	if o.RedirectURIs == nil {
		o.RedirectURIs = []string{redirectURI}
	}
	if o.Scopes == nil {
		o.Scopes = []string{"crm.objects.contacts.write", "crm.lists.write", "oauth"}
	}
	srv := oauth.New(o)
	t.Cleanup(srv.Close)
	return srv
}

func config(srv *oauth.Server, style oauth2.AuthStyle) *oauth2.Config {
	return &oauth2.Config{
		ClientID: clientID, ClientSecret: clientSecret, RedirectURL: redirectURI,
		Endpoint: oauth2.Endpoint{AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL(), AuthStyle: style},
		Scopes:   []string{"crm.objects.contacts.write", "oauth"},
	}
}

// noRedirects is a browser that stops at the first redirect, so tests read Location.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// get fetches u without following redirects.
func get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	resp, err := noRedirects.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// back reads the query of the redirect back to the app, failing unless it is one.
func back(t *testing.T, resp *http.Response) url.Values {
	t.Helper()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d, want 302 back to the app", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirectURI {
		t.Fatalf("redirected to %s, want %s", got, redirectURI)
	}
	return loc.Query()
}

// authorize runs the consent (AutoApprove) and returns the code.
func authorize(t *testing.T, conf *oauth2.Config, state string, opts ...oauth2.AuthCodeOption) string {
	t.Helper()
	resp, _ := get(t, conf.AuthCodeURL(state, opts...))
	q := back(t, resp)
	if q.Get("state") != state || q.Get("code") == "" || q.Get("error") != "" {
		t.Fatalf("redirect query %v, want a code and state %q", q, state)
	}
	return q.Get("code")
}

func retrieveError(t *testing.T, err error) *oauth2.RetrieveError {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("error %v is not an *oauth2.RetrieveError", err)
	}
	return re
}

func TestCodeFlowWithPKCEAndRefresh(t *testing.T) {
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		t.Run(map[oauth2.AuthStyle]string{oauth2.AuthStyleInHeader: "basic", oauth2.AuthStyleInParams: "form"}[style], func(t *testing.T) {
			srv := start(t, oauth.Options{AutoApprove: true, RequirePKCE: true})
			conf := config(srv, style)
			ctx := context.Background()
			verifier := oauth2.GenerateVerifier()
			code := authorize(t, conf, "st-1", oauth2.S256ChallengeOption(verifier))

			tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if tok.TokenType != "bearer" || tok.RefreshToken == "" || tok.ExpiresIn != 1800 {
				t.Fatalf("token type %q, refresh %q, expires_in %d; want bearer, a refresh token, 1800", tok.TokenType, tok.RefreshToken, tok.ExpiresIn)
			}
			if got := tok.Extra("scope"); got != "crm.objects.contacts.write oauth" {
				t.Errorf("scope %v, want the two asked for", got)
			}
			scopes, ok := srv.Valid(tok.AccessToken)
			if !ok || !slices.Equal(scopes, []string{"crm.objects.contacts.write", "oauth"}) {
				t.Fatalf("Valid(access) = %v, %v; want the granted scopes", scopes, ok)
			}
			if _, ok := srv.Valid(tok.RefreshToken); ok {
				t.Error("a refresh token is accepted as a bearer token")
			}

			// Expired by the client's clock: the token source refreshes.
			ts := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)})
			fresh, err := ts.Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken != tok.RefreshToken {
				t.Errorf("refresh gave access %q refresh %q; want a new access token and the same refresh token", fresh.AccessToken, fresh.RefreshToken)
			}
			if _, ok := srv.Valid(fresh.AccessToken); !ok {
				t.Error("the refreshed access token is not valid")
			}
			if n := srv.Refreshes(); n != 1 {
				t.Errorf("Refreshes() = %d, want 1", n)
			}
			grants := srv.Grants()
			if len(grants) != 1 || !grants[0].PKCE || grants[0].Refreshes != 1 || grants[0].RedirectURI != redirectURI {
				t.Errorf("grants %+v, want one PKCE grant refreshed once", grants)
			}
		})
	}
}

func TestWrongVerifierRefused(t *testing.T) {
	srv := start(t, oauth.Options{AutoApprove: true, RequirePKCE: true})
	conf := config(srv, oauth2.AuthStyleInParams)
	code := authorize(t, conf, "st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	_, err := conf.Exchange(context.Background(), code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	re := retrieveError(t, err)
	if re.Response.StatusCode != http.StatusBadRequest || re.ErrorCode != "invalid_grant" {
		t.Fatalf("status %d error %q, want 400 invalid_grant", re.Response.StatusCode, re.ErrorCode)
	}
	if len(srv.Grants()) != 1 {
		t.Fatal("no grant recorded")
	}

	// No verifier at all for a code that had a challenge.
	code = authorize(t, conf, "st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	_, err = conf.Exchange(context.Background(), code)
	if re := retrieveError(t, err); re.ErrorCode != "invalid_grant" {
		t.Fatalf("error %q without a verifier, want invalid_grant", re.ErrorCode)
	}
}

func TestCodeUsedTwiceRevokesItsTokens(t *testing.T) {
	srv := start(t, oauth.Options{AutoApprove: true})
	conf := config(srv, oauth2.AuthStyleInHeader)
	ctx := context.Background()
	verifier := oauth2.GenerateVerifier()
	code := authorize(t, conf, "st", oauth2.S256ChallengeOption(verifier))
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	_, err = conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if re := retrieveError(t, err); re.ErrorCode != "invalid_grant" {
		t.Fatalf("second use: %q, want invalid_grant", re.ErrorCode)
	}
	if _, ok := srv.Valid(tok.AccessToken); ok {
		t.Error("the access token of a code used twice is still valid")
	}
	_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if re := retrieveError(t, err); re.ErrorCode != "invalid_grant" {
		t.Errorf("refresh with the revoked grant: %q, want invalid_grant", re.ErrorCode)
	}
}

func TestWrongClientOrRedirectIsShownNotRedirected(t *testing.T) {
	srv := start(t, oauth.Options{AutoApprove: true})
	conf := config(srv, oauth2.AuthStyleInHeader)
	for name, edit := range map[string]func(q url.Values){
		"unregistered redirect":                func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") },
		"redirect differs in a trailing slash": func(q url.Values) { q.Set("redirect_uri", redirectURI+"/") },
		"unknown client":                       func(q url.Values) { q.Set("client_id", "someone-else") },
		"no client":                            func(q url.Values) { q.Del("client_id") },
		"fragment":                             func(q url.Values) { q.Set("redirect_uri", redirectURI+"#x") },
		"relative redirect":                    func(q url.Values) { q.Set("redirect_uri", "/oauth/callback") },
	} {
		t.Run(name, func(t *testing.T) {
			u, _ := url.Parse(conf.AuthCodeURL("st"))
			q := u.Query()
			edit(q)
			u.RawQuery = q.Encode()
			resp, body := get(t, u.String())
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Fatalf("status %d location %q, want a 400 page and no redirect", resp.StatusCode, resp.Header.Get("Location"))
			}
			doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if msg := doc.Find(`[data-testid="message"]`).Text(); msg == "" {
				t.Errorf("the page says nothing: %s", body)
			}
		})
	}
}

func TestConsentPage(t *testing.T) {
	srv := start(t, oauth.Options{Provider: "HubSpot", Account: "ana@shop.example"})
	conf := config(srv, oauth2.AuthStyleInHeader)
	verifier := oauth2.GenerateVerifier()

	open := func(t *testing.T) (*goquery.Document, string) {
		resp, body := get(t, conf.AuthCodeURL("st-42", oauth2.S256ChallengeOption(verifier)))
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("status %d %s, want the consent page", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Error("the consent page may be framed")
		}
		doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		id, _ := doc.Find(`form input[type="hidden"][name="consent"]`).Attr("value")
		if id == "" {
			t.Fatalf("no consent field in %s", body)
		}
		return doc, id
	}
	answer := func(t *testing.T, id, decision string) *http.Response {
		resp, err := noRedirects.PostForm(srv.AuthURL(), url.Values{"consent": {id}, "decision": {decision}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	t.Run("page", func(t *testing.T) {
		doc, _ := open(t)
		if h := doc.Find("h1").Text(); h != "Sluice wants to:" {
			t.Errorf("heading %q", h)
		}
		var scopes []string
		doc.Find(`[data-testid="scopes"] li`).Each(func(_ int, s *goquery.Selection) { scopes = append(scopes, s.Text()) })
		if !slices.Equal(scopes, conf.Scopes) {
			t.Errorf("scopes shown %v, want %v", scopes, conf.Scopes)
		}
		if a := doc.Find(`[data-testid="account"]`).Text(); a != "ana@shop.example" {
			t.Errorf("account %q", a)
		}
		form := doc.Find("form")
		if m, _ := form.Attr("method"); m != "post" {
			t.Errorf("form method %q", m)
		}
		if a, _ := form.Attr("action"); a != "/authorize" {
			t.Errorf("form action %q", a)
		}
		for _, b := range []struct{ testid, value string }{{"allow", "allow"}, {"deny", "deny"}} {
			btn := form.Find(`button[data-testid="` + b.testid + `"]`)
			if v, _ := btn.Attr("value"); btn.Length() != 1 || v != b.value {
				t.Errorf("button %s: %d found, value %q", b.testid, btn.Length(), v)
			}
		}
	})

	t.Run("allow", func(t *testing.T) {
		_, id := open(t)
		q := back(t, answer(t, id, "allow"))
		if q.Get("state") != "st-42" || q.Get("code") == "" {
			t.Fatalf("allow gave %v", q)
		}
		if _, err := conf.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
			t.Fatalf("exchange after consent: %v", err)
		}
		// The consent field is single-use: a replayed form is refused on a page.
		if resp := answer(t, id, "allow"); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("replayed consent: status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("deny", func(t *testing.T) {
		_, id := open(t)
		q := back(t, answer(t, id, "deny"))
		if q.Get("error") != "access_denied" || q.Get("state") != "st-42" || q.Get("code") != "" {
			t.Fatalf("deny gave %v", q)
		}
	})

	t.Run("forged", func(t *testing.T) {
		if resp := answer(t, "cs_guessed", "allow"); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("a consent id never shown: status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
}

// TestDeadRefreshTokenByStyle: after Revoke, each provider answers a refresh its own way,
// and x/oauth2's RetrieveError carries the answer.
func TestDeadRefreshTokenByStyle(t *testing.T) {
	for _, tc := range []struct {
		style  oauth.Style
		status int
		code   string // RetrieveError.ErrorCode
		check  func(t *testing.T, body []byte)
	}{
		{oauth.StyleRFC6749, 400, "invalid_grant", func(t *testing.T, body []byte) {
			var b struct{ Error, ErrorDescription string }
			if err := json.Unmarshal(body, &b); err != nil || b.Error != "invalid_grant" {
				t.Errorf("body %s", body)
			}
		}},
		{oauth.StyleHubSpot, 400, "", func(t *testing.T, body []byte) {
			var b struct{ Status, Message, CorrelationID string }
			if err := json.Unmarshal(body, &b); err != nil || b.Status != "BAD_REFRESH_TOKEN" || b.Message != "missing or invalid refresh token" || len(b.CorrelationID) != 36 {
				t.Errorf("body %s", body)
			}
		}},
		{oauth.StyleMeta, 400, "", func(t *testing.T, body []byte) {
			var b struct {
				Error struct {
					Message, Type string
					Code          int
					FBTraceID     string `json:"fbtrace_id"`
				}
			}
			if err := json.Unmarshal(body, &b); err != nil || b.Error.Code != 190 || b.Error.Type != "OAuthException" || b.Error.Message == "" || b.Error.FBTraceID == "" {
				t.Errorf("body %s", body)
			}
		}},
	} {
		t.Run(string(tc.style), func(t *testing.T) {
			srv := start(t, oauth.Options{AutoApprove: true, Style: tc.style})
			conf := config(srv, oauth2.AuthStyleInParams)
			ctx := context.Background()
			tok, err := conf.Exchange(ctx, authorize(t, conf, "st"))
			if err != nil {
				t.Fatal(err)
			}
			srv.Revoke()
			if _, ok := srv.Valid(tok.AccessToken); ok {
				t.Error("an access token outlives Revoke")
			}
			_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			re := retrieveError(t, err)
			if re.Response.StatusCode != tc.status || re.ErrorCode != tc.code {
				t.Errorf("status %d error %q, want %d %q", re.Response.StatusCode, re.ErrorCode, tc.status, tc.code)
			}
			if ct := re.Response.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") || re.Response.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Content-Type %q Cache-Control %q", ct, re.Response.Header.Get("Cache-Control"))
			}
			tc.check(t, re.Body)
		})
	}
}

func TestRevokeTokenAndEndpoint(t *testing.T) {
	srv := start(t, oauth.Options{})
	a, b := srv.Issue("oauth"), srv.Issue("oauth")
	if !srv.RevokeToken(a.AccessToken) {
		t.Fatal("RevokeToken does not know an issued token")
	}
	if _, ok := srv.Valid(a.AccessToken); ok {
		t.Error("a revoked access token is valid")
	}
	if _, ok := srv.Valid(b.AccessToken); !ok {
		t.Error("revoking one grant's token killed another grant's")
	}

	// RFC 7009: revoking a refresh token takes its grant's access tokens with it.
	revoke := func(form url.Values, basic bool) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, srv.RevokeURL(), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic {
			req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(clientSecret))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := revoke(url.Values{"token": {b.RefreshToken}, "token_type_hint": {"refresh_token"}}, true); resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: status %d", resp.StatusCode)
	}
	if _, ok := srv.Valid(b.AccessToken); ok {
		t.Error("revoking the refresh token left its access token valid")
	}
	if resp := revoke(url.Values{"token": {"never-issued"}, "client_id": {clientID}, "client_secret": {clientSecret}}, false); resp.StatusCode != http.StatusOK {
		t.Errorf("revoking an unknown token: status %d, want 200 (RFC 7009 §2.2)", resp.StatusCode)
	}
	if resp := revoke(url.Values{"token": {"x"}, "client_id": {clientID}, "client_secret": {"wrong"}}, false); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("revoking with a wrong secret: status %d, want 401", resp.StatusCode)
	}
}
