// Package oidc is a local OpenID Connect provider (OpenID Connect Core 1.0, Discovery
// 1.0, RFC 7636 PKCE) as strict as a real identity provider: discovery at
// /.well-known/openid-configuration, a JWKS of one RSA key, ID tokens signed RS256 with
// iss, sub, aud, exp, iat and the nonce of the authorization request, single-use codes
// valid ten minutes, the exact registered redirect URI, the client secret and the
// code_verifier checked against the S256 challenge at the token endpoint, and a userinfo
// endpoint for the access token (where ClaimsAtUserInfo moves the e-mail, name and groups).
//
// The person who signs in is the provider's current User (SetUser); tests switch what
// the ID token says wrongly (Tamper) to prove the relying party refuses it.
package oidc

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// CodeTTL is how long an authorization code may be exchanged.
const CodeTTL = 10 * time.Minute

// User is who signs in at the provider.
type User struct {
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	Groups        []string
}

// Tamper makes the next ID tokens wrong in one way.
type Tamper struct {
	// Audience replaces the client id in aud.
	Audience string
	// Nonce replaces the authorization request's nonce.
	Nonce string
	// Expired issues tokens that expired an hour ago.
	Expired bool
	// UserInfoSubject replaces the subject the userinfo endpoint answers with.
	UserInfoSubject string
}

// Provider is the identity provider; Server serves it over HTTP.
type Provider struct {
	ClientID, ClientSecret, RedirectURI string
	// GroupsClaim is the claim the groups go under ("groups" when empty).
	GroupsClaim string
	// Interactive shows a sign-in page with a button at /authorize instead of
	// redirecting back at once.
	Interactive bool
	// ClaimsAtUserInfo keeps the e-mail, name and groups out of the ID token and gives
	// them at the userinfo endpoint only, as a provider may when it also issues an
	// access token (OpenID Connect Core 5.4).
	ClaimsAtUserInfo bool

	issuer string
	key    *rsa.PrivateKey
	signer jose.Signer

	mu     sync.Mutex
	user   User
	tamper Tamper
	codes  map[string]*code
	tokens map[string]User // access tokens, for the userinfo endpoint
	// Issued counts the ID tokens handed out.
	issued int
}

type code struct {
	user      User
	nonce     string
	challenge string
	expires   time.Time
	used      bool
}

// Server is a provider listening on a local port.
type Server struct {
	*Provider
	*httptest.Server
}

// New starts a provider for one registered client.
func New(clientID, clientSecret, redirectURI string, u User) *Server {
	p := &Provider{ClientID: clientID, ClientSecret: clientSecret, RedirectURI: redirectURI, user: u, codes: map[string]*code{}, tokens: map[string]User{}}
	srv := httptest.NewServer(p)
	p.issuer = srv.URL
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	p.key = key
	p.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1", Algorithm: "RS256"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		panic(err)
	}
	return &Server{Provider: p, Server: srv}
}

// Issuer is the provider's issuer URL.
func (p *Provider) Issuer() string { return p.issuer }

// SetUser changes who signs in next.
func (p *Provider) SetUser(u User) { p.mu.Lock(); p.user = u; p.mu.Unlock() }

// SetTamper makes the next ID tokens wrong as t says (Tamper{} for right ones).
func (p *Provider) SetTamper(t Tamper) { p.mu.Lock(); p.tamper = t; p.mu.Unlock() }

// Issued is how many ID tokens the provider handed out.
func (p *Provider) Issued() int { p.mu.Lock(); defer p.mu.Unlock(); return p.issued }

func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer": p.issuer, "authorization_endpoint": p.issuer + "/authorize", "token_endpoint": p.issuer + "/token",
			"jwks_uri": p.issuer + "/keys", "userinfo_endpoint": p.issuer + "/userinfo", "response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"}, "scopes_supported": []string{"openid", "email", "profile"},
			"code_challenge_methods_supported": []string{"S256"}, "token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		})
	case "/keys":
		writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	case "/authorize":
		p.authorize(w, r)
	case "/token":
		p.token(w, r)
	case "/userinfo":
		p.userinfo(w, r)
	default:
		http.NotFound(w, r)
	}
}

var page = template.Must(template.New("").Parse(`<!doctype html><title>Example identity provider</title>
<h1>Example identity provider</h1><p>Sign in to the application as {{.Email}}?</p>
<form method="post"><input type="hidden" name="q" value="{{.Q}}"><button id="continue">Continue as {{.Email}}</button></form>`))

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		var err error
		if q, err = url.ParseQuery(r.PostFormValue("q")); err != nil {
			http.Error(w, "invalid_request", http.StatusBadRequest)
			return
		}
	}
	// Errors before the redirect URI is known good are shown, never redirected (RFC 6749 §4.1.2.1).
	if q.Get("client_id") != p.ClientID {
		http.Error(w, "invalid_request: unknown client_id", http.StatusBadRequest)
		return
	}
	if q.Get("redirect_uri") != p.RedirectURI {
		http.Error(w, "invalid_request: redirect_uri is not registered", http.StatusBadRequest)
		return
	}
	back := func(v url.Values) {
		v.Set("state", q.Get("state"))
		http.Redirect(w, r, p.RedirectURI+"?"+v.Encode(), http.StatusFound)
	}
	switch {
	case q.Get("response_type") != "code":
		back(url.Values{"error": {"unsupported_response_type"}})
		return
	case !hasScope(q.Get("scope"), "openid"):
		back(url.Values{"error": {"invalid_scope"}, "error_description": {"openid scope missing"}})
		return
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		back(url.Values{"error": {"invalid_request"}, "error_description": {"code_challenge with S256 required"}})
		return
	}
	p.mu.Lock()
	u := p.user
	p.mu.Unlock()
	if p.Interactive && r.Method != http.MethodPost {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = page.Execute(w, map[string]string{"Email": u.Email, "Q": q.Encode()})
		return
	}
	c := randomString()
	p.mu.Lock()
	p.codes[c] = &code{user: u, nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), expires: time.Now().Add(CodeTTL)}
	p.mu.Unlock()
	back(url.Values{"code": {c}})
}

func hasScope(scopes, want string) bool {
	for _, s := range splitSpaces(scopes) {
		if s == want {
			return true
		}
	}
	return false
}

func splitSpaces(s string) []string {
	var out []string
	start := -1
	for i, r := range s + " " {
		if r == ' ' {
			if start >= 0 {
				out = append(out, s[start:i])
			}
			start = -1
		} else if start < 0 {
			start = i
		}
	}
	return out
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "unreadable form")
		return
	}
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != p.ClientID || secret != p.ClientSecret {
		tokenError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	if r.PostForm.Get("grant_type") != "authorization_code" {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "")
		return
	}
	if r.PostForm.Get("redirect_uri") != p.RedirectURI {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match")
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.codes[r.PostForm.Get("code")]
	if c == nil || c.used || time.Now().After(c.expires) {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "the code is unknown, used or expired")
		return
	}
	c.used = true
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
		return
	}
	now := time.Now()
	claims := map[string]any{
		"iss": p.issuer, "sub": c.user.Subject, "aud": p.ClientID, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"nonce": c.nonce,
	}
	if !p.ClaimsAtUserInfo {
		p.addUserClaims(claims, c.user)
	}
	if p.tamper.Audience != "" {
		claims["aud"] = p.tamper.Audience
	}
	if p.tamper.Nonce != "" {
		claims["nonce"] = p.tamper.Nonce
	}
	if p.tamper.Expired {
		claims["iat"], claims["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
	}
	payload, _ := json.Marshal(claims)
	jws, err := p.signer.Sign(payload)
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	idToken, err := jws.CompactSerialize()
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	p.issued++
	access := randomString()
	p.tokens[access] = c.user
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": 300, "id_token": idToken})
}

// addUserClaims adds the person's e-mail, name and groups to an ID token's or a
// userinfo answer's claims.
func (p *Provider) addUserClaims(claims map[string]any, u User) {
	claims["email"], claims["email_verified"], claims["name"] = u.Email, u.EmailVerified, u.Name
	groups := p.GroupsClaim
	if groups == "" {
		groups = "groups"
	}
	if u.Groups != nil {
		claims[groups] = u.Groups
	}
}

// userinfo answers who holds the bearer access token (OpenID Connect Core 5.3), or
// 401 with invalid_token (RFC 6750 §3).
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	p.mu.Lock()
	defer p.mu.Unlock()
	u, known := p.tokens[token]
	if !ok || !known {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		tokenError(w, http.StatusUnauthorized, "invalid_token", "the access token is unknown")
		return
	}
	claims := map[string]any{"sub": u.Subject}
	if p.tamper.UserInfoSubject != "" {
		claims["sub"] = p.tamper.UserInfoSubject
	}
	p.addUserClaims(claims, u)
	writeJSON(w, http.StatusOK, claims)
}

func tokenError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomString() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
