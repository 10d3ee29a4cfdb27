package oidcop_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"sluice/internal/fakes/oidcop"
)

const redirect = "http://app.test/sso/callback"

var ada = oidcop.User{ID: "ada-1", Username: "ada", Password: "pw-ada", FirstName: "Ada", LastName: "Lovelace",
	Email: "ada@acme.example", EmailVerified: true, Groups: []string{"staff", "data-team"}}

// noFollow answers each redirect instead of following it, so every hop is seen.
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// signIn goes through the provider's login page as a browser would and returns the
// redirect back to the client (its query), or the login page when it stays there.
func signIn(t *testing.T, s *oidcop.Server, authURL, username, password string) (url.Values, string) {
	t.Helper()
	res, err := noFollow.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	login, err := url.Parse(res.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(login.Path, "/login/username") {
		t.Fatalf("authorize answered %s to %q, want the login page", res.Status, res.Header.Get("Location"))
	}
	res, err = noFollow.PostForm(s.URL+"/login/username", url.Values{
		"id": {login.Query().Get("authRequestID")}, "username": {username}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		return nil, string(page)
	}
	// The login page hands back to the provider, which then redirects to the client.
	next, err := res.Location()
	if err != nil {
		t.Fatal(err)
	}
	res, err = noFollow.Get(next.String())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	back, err := url.Parse(res.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(back.String(), redirect) {
		t.Fatalf("after the login the provider answered %s to %q, want %s", res.Status, res.Header.Get("Location"), redirect)
	}
	return back.Query(), ""
}

// A sign-in the way Sluice makes it (state, nonce, PKCE S256, client secret): the ID
// token carries the subject, the nonce and the groups; e-mail and name, asked for with
// scopes alongside an access token, come from the userinfo endpoint only.
func TestCodeFlowWithPKCE(t *testing.T) {
	s := oidcop.Start("sluice", "idp-secret", redirect, ada)
	defer s.Close()
	ctx := context.Background()
	p, err := oidc.NewProvider(ctx, s.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	cfg := &oauth2.Config{ClientID: "sluice", ClientSecret: "idp-secret", Endpoint: p.Endpoint(), RedirectURL: redirect,
		Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}
	verifier := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("st-1", oidc.Nonce("n-1"), oauth2.S256ChallengeOption(verifier))

	if _, page := signIn(t, s, authURL, "ada", "wrong"); !strings.Contains(page, "username or password wrong") {
		t.Errorf("a wrong password: login page %q, want it to say so", page)
	}
	back, _ := signIn(t, s, authURL, "ada", "pw-ada")
	if back.Get("state") != "st-1" || back.Get("code") == "" {
		t.Fatalf("redirect back %v, want state st-1 and a code", back)
	}
	if _, err := cfg.Exchange(ctx, back.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
		t.Error("exchange with another code_verifier succeeded")
	}
	back, _ = signIn(t, s, authURL, "ada", "pw-ada")
	tok, err := cfg.Exchange(ctx, back.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Exchange(ctx, back.Get("code"), oauth2.VerifierOption(verifier)); err == nil {
		t.Error("a code was exchanged twice")
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: "sluice"}).Verify(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Email  string   `json:"email"`
		Groups []string `json:"groups"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != "ada-1" || idt.Nonce != "n-1" || strings.Join(claims.Groups, ",") != "staff,data-team" || claims.Email != "" {
		t.Errorf("ID token sub %q nonce %q groups %v email %q, want ada-1, n-1, staff,data-team and no e-mail",
			idt.Subject, idt.Nonce, claims.Groups, claims.Email)
	}
	ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	var more struct {
		Name   string   `json:"name"`
		Groups []string `json:"groups"`
	}
	if err := ui.Claims(&more); err != nil {
		t.Fatal(err)
	}
	if ui.Subject != "ada-1" || ui.Email != "ada@acme.example" || !ui.EmailVerified || more.Name != "Ada Lovelace" || len(more.Groups) != 2 {
		t.Errorf("userinfo %+v %+v, want ada-1, ada@acme.example verified, Ada Lovelace, two groups", ui, more)
	}
}

// Only the registered redirect URI is accepted.
func TestOtherRedirectURIRefused(t *testing.T) {
	s := oidcop.Start("sluice", "idp-secret", redirect, ada)
	defer s.Close()
	p, err := oidc.NewProvider(context.Background(), s.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	cfg := &oauth2.Config{ClientID: "sluice", Endpoint: p.Endpoint(), RedirectURL: "http://evil.test/sso/callback", Scopes: []string{oidc.ScopeOpenID}}
	res, err := noFollow.Get(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc := res.Header.Get("Location"); res.StatusCode < 400 && (strings.Contains(loc, "/login/") || strings.HasPrefix(loc, "http://evil.test")) {
		t.Errorf("another redirect URI: %s to %q, want a refusal", res.Status, loc)
	}
}
