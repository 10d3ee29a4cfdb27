package oidc_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	fake "sluice/internal/fakes/oidc"
)

const redirect = "http://app.test/callback"

// authorize asks the authorization endpoint and returns the redirect back's query.
func authorize(t *testing.T, s *fake.Server, q url.Values) url.Values {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Get(s.Issuer() + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		return url.Values{"status": {res.Status}}
	}
	u, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

func TestProviderIsStrict(t *testing.T) {
	s := fake.New("client", "secret", redirect, fake.User{Subject: "s1", Email: "a@example.com", EmailVerified: true, Groups: []string{"g"}})
	defer s.Close()
	ctx := context.Background()
	p, err := oidc.NewProvider(ctx, s.Issuer())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	cfg := oauth2.Config{ClientID: "client", ClientSecret: "secret", Endpoint: p.Endpoint(), RedirectURL: redirect, Scopes: []string{"openid", "email"}}
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInHeader // one try per exchange, so each answer is the first
	verifier := oauth2.GenerateVerifier()
	authURL, _ := url.Parse(cfg.AuthCodeURL("st", oidc.Nonce("n1"), oauth2.S256ChallengeOption(verifier)))
	q := authURL.Query()

	// Unregistered redirect URI and missing PKCE are refused.
	bad := url.Values{}
	for k, v := range q {
		bad[k] = v
	}
	bad.Set("redirect_uri", "http://evil.test/cb")
	if got := authorize(t, s, bad); got.Get("status") != "400 Bad Request" {
		t.Fatalf("unregistered redirect_uri: %v", got)
	}
	bad.Set("redirect_uri", redirect)
	bad.Del("code_challenge")
	if got := authorize(t, s, bad); got.Get("error") != "invalid_request" {
		t.Fatalf("no PKCE: %v", got)
	}

	// A wrong code_verifier kills the code.
	back := authorize(t, s, q)
	if back.Get("state") != "st" || back.Get("code") == "" {
		t.Fatalf("redirect back: %v", back)
	}
	if _, err := cfg.Exchange(ctx, back.Get("code"), oauth2.VerifierOption("wrong-verifier-wrong-verifier-wrong-verifier")); err == nil || !strings.Contains(err.Error(), "code_verifier") {
		t.Fatalf("wrong verifier: %v", err)
	}
	if _, err := cfg.Exchange(ctx, back.Get("code"), oauth2.VerifierOption(verifier)); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("code used twice: %v", err)
	}

	// A wrong client secret is invalid_client.
	back = authorize(t, s, q)
	wrong := cfg
	wrong.ClientSecret = "nope"
	if _, err := wrong.Exchange(ctx, back.Get("code"), oauth2.VerifierOption(verifier)); err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("wrong secret: %v", err)
	}

	// The right exchange gives an ID token go-oidc verifies, with the nonce and claims.
	back = authorize(t, s, q)
	tok, err := cfg.Exchange(ctx, back.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: "client"}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	var claims struct {
		Email  string   `json:"email"`
		Groups []string `json:"groups"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Nonce != "n1" || idt.Subject != "s1" || claims.Email != "a@example.com" || len(claims.Groups) != 1 {
		t.Fatalf("token: nonce %q subject %q claims %+v", idt.Nonce, idt.Subject, claims)
	}

	// Tampered tokens fail go-oidc's checks.
	s.SetTamper(fake.Tamper{Expired: true})
	back = authorize(t, s, q)
	tok, err = cfg.Exchange(ctx, back.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	var expired *oidc.TokenExpiredError
	if _, err := p.Verifier(&oidc.Config{ClientID: "client"}).Verify(ctx, tok.Extra("id_token").(string)); err == nil || !asExpired(err, &expired) {
		t.Fatalf("expired token verified: %v", err)
	}
}

func asExpired(err error, target **oidc.TokenExpiredError) bool {
	e, ok := err.(*oidc.TokenExpiredError)
	if ok {
		*target = e
	}
	return ok
}

// With ClaimsAtUserInfo the ID token names only the subject; the userinfo endpoint
// gives the rest to the holder of the access token, and nobody else.
func TestClaimsAtUserInfo(t *testing.T) {
	s := fake.New("client", "secret", redirect, fake.User{Subject: "s1", Email: "a@example.com", EmailVerified: true, Name: "A", Groups: []string{"g"}})
	defer s.Close()
	s.ClaimsAtUserInfo = true
	ctx := context.Background()
	p, err := oidc.NewProvider(ctx, s.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	cfg := oauth2.Config{ClientID: "client", ClientSecret: "secret", Endpoint: p.Endpoint(), RedirectURL: redirect, Scopes: []string{"openid", "email"}}
	verifier := oauth2.GenerateVerifier()
	authURL, _ := url.Parse(cfg.AuthCodeURL("st", oidc.Nonce("n1"), oauth2.S256ChallengeOption(verifier)))
	tok, err := cfg.Exchange(ctx, authorize(t, s, authURL.Query()).Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: "client"}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]any{}
	_ = idt.Claims(&in)
	if _, ok := in["email"]; ok || in["sub"] != "s1" {
		t.Fatalf("ID token claims %v, want the subject and no e-mail", in)
	}
	ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	var more struct {
		Name   string   `json:"name"`
		Groups []string `json:"groups"`
	}
	_ = ui.Claims(&more)
	if ui.Subject != "s1" || ui.Email != "a@example.com" || !ui.EmailVerified || more.Name != "A" || len(more.Groups) != 1 {
		t.Fatalf("userinfo %+v %+v", ui, more)
	}
	if _, err := p.UserInfo(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "made-up"})); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("userinfo with an unknown token: %v", err)
	}
	s.SetTamper(fake.Tamper{UserInfoSubject: "s2"})
	if ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil || ui.Subject != "s2" {
		t.Fatalf("tampered userinfo: %+v %v", ui, err)
	}
}
