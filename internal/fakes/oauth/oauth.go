// Package oauth is a local OAuth 2.0 authorization server (RFC 6749 authorization code
// grant, RFC 7636 PKCE, RFC 7009 revocation) as strict as the providers Sluice
// authorizes with: exact redirect URIs, single-use codes valid ten minutes, code_verifier
// checked against the S256 challenge, refresh tokens that rotate where the provider
// rotates, and each provider's own error body for a dead grant (RFC 6749 invalid_grant,
// HubSpot BAD_REFRESH_TOKEN, Meta's Graph API error 190).
//
// Connector tests point golang.org/x/oauth2 at New's server and switch it (Revoke,
// FailNext, SetDelay, a test clock); platform fakes ask Valid whether a bearer token is
// still good. NewHandler serves the same endpoints under a base path, so the demo can
// mount a pretend provider with its consent page inside Sluice's own server.
package oauth

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"
)

// Style is whose error bodies the token endpoint answers with.
type Style string

// Styles of error body.
const (
	// StyleRFC6749 answers {"error":"invalid_grant","error_description":"…"} (RFC 6749
	// §5.2), as Google, Klaviyo and most providers do.
	StyleRFC6749 Style = "rfc6749"
	// StyleHubSpot answers HubSpot's body for its token endpoint:
	// {"status":"BAD_REFRESH_TOKEN","message":"missing or invalid refresh token",
	// "correlationId":"…"} for a dead refresh token, and the same shape for the others.
	StyleHubSpot Style = "hubspot"
	// StyleMeta answers a Graph API error object, {"error":{"message","type":
	// "OAuthException","code":190,"error_subcode","fbtrace_id"}}, always with status 400.
	StyleMeta Style = "meta"
)

// Lifetimes the providers document.
const (
	// CodeTTL is how long an authorization code may be exchanged (RFC 6749 §4.1.2
	// recommends at most ten minutes).
	CodeTTL = 10 * time.Minute
	// DefaultAccessTTL is an access token's lifetime when Options.AccessTTL is 0
	// (HubSpot's 30 minutes).
	DefaultAccessTTL = 30 * time.Minute
	// LongLivedTTL is the access token's lifetime with NoRefresh when AccessTTL is 0:
	// Meta's long-lived user tokens last about 60 days.
	LongLivedTTL = 60 * 24 * time.Hour
	// consentTTL is how long a consent page may be answered.
	consentTTL = 10 * time.Minute
)

// Paths of the endpoints, under Options.BasePath.
const (
	AuthorizePath = "/authorize"
	TokenPath     = "/token"
	RevokePath    = "/revoke"
)

// Options configure the authorization server. ClientID is required; every other field
// has a working default.
type Options struct {
	// ClientID and ClientSecret are the one registered client's credentials. An empty
	// secret makes it a public client that authenticates with client_id alone.
	ClientID, ClientSecret string
	// RedirectURIs are the registered redirect URIs, compared exactly (RFC 9700 §2.1).
	// Empty: the first redirect_uri used at /authorize is registered and pinned.
	RedirectURIs []string
	// Scopes are those the provider knows; asking for another is invalid_scope. Empty:
	// any scope is known.
	Scopes []string
	// AccessTTL is an access token's lifetime (DefaultAccessTTL when 0, LongLivedTTL
	// with NoRefresh).
	AccessTTL time.Duration
	// RefreshTTL is a refresh token's lifetime from its issue (0: it never expires, as
	// HubSpot's; Google's testing apps' die after 7 days).
	RefreshTTL time.Duration
	// NoRefresh issues no refresh token, only a long-lived access token (Meta).
	NoRefresh bool
	// Rotate issues a new refresh token with every refresh and kills the one used.
	Rotate bool
	// ReuseRevokes revokes the whole grant when a rotated-out refresh token is used
	// again (RFC 9700 §4.14.2's reuse detection): two runs refreshing at once with the
	// same token lose the platform.
	ReuseRevokes bool
	// RequirePKCE refuses an authorization request without an S256 code_challenge.
	RequirePKCE bool
	// Style is whose error bodies the token endpoint answers with (StyleRFC6749 when
	// empty).
	Style Style
	// AutoApprove skips the consent page: /authorize redirects back with a code at once,
	// for tests without a browser.
	AutoApprove bool
	// Now is the server's clock (time.Now when nil): tests expire tokens by moving it.
	Now func() time.Time
	// BasePath prefixes every endpoint ("/fake/hubspot" serves /fake/hubspot/authorize…),
	// for mounting NewHandler inside another server. No trailing slash.
	BasePath string
	// Provider, App and Account are shown on the consent page: "<App> wants to access
	// your <Provider> account <Account>" (defaults "Example", "Sluice",
	// "demo@example.com").
	Provider, App, Account string
}

// Grant is one consent as the server keeps it, for tests that look at what was granted.
type Grant struct {
	ID          string
	Scopes      []string
	RedirectURI string
	Account     string
	Created     time.Time
	// PKCE says the authorization request carried an S256 code_challenge.
	PKCE bool
	// Revoked says every token of the grant is dead.
	Revoked bool
	// Refreshes counts the refresh grants asked with the grant's refresh tokens.
	Refreshes int
}

// Issued are tokens handed out without the consent flow (Issue).
type Issued struct {
	AccessToken, RefreshToken string
	Expiry                    time.Time
}

// Handler is the authorization server as an http.Handler, with the switches tests use.
type Handler struct {
	o Options

	mu        sync.Mutex
	grants    []*grant
	codes     map[string]*code
	tokens    map[string]*token
	consents  map[string]*consent
	pinned    []string
	refreshes int
	delay     time.Duration
	fail      []int
	// issued counts tokens minted, to prune the dead ones now and then.
	issued int
}

type grant struct {
	id          string
	scopes      []string
	redirectURI string
	account     string
	created     time.Time
	pkce        bool
	revoked     bool
	refreshes   int
}

type code struct {
	grant *grant
	// redirectURI is the one the authorization request carried ("" if it had none).
	redirectURI string
	challenge   string
	expires     time.Time
	used        bool
}

type token struct {
	grant   *grant
	refresh bool
	scopes  []string
	expires time.Time // zero: never
	revoked bool
	// rotated says a refresh replaced this refresh token.
	rotated bool
}

// consent is an authorization request waiting on the consent page's answer.
type consent struct {
	redirectURI  string
	redirectSent bool
	scopes       []string
	state        string
	challenge    string
	expires      time.Time
}

// NewHandler returns the authorization server's handler, serving AuthorizePath,
// TokenPath and RevokePath under o.BasePath. It panics without a ClientID or with an
// unknown Style: both are mistakes in the test or demo that builds it.
func NewHandler(o Options) *Handler {
	if o.ClientID == "" {
		panic("oauth: Options.ClientID is empty")
	}
	switch o.Style {
	case "":
		o.Style = StyleRFC6749
	case StyleRFC6749, StyleHubSpot, StyleMeta:
	default:
		panic(fmt.Sprintf("oauth: unknown Options.Style %q", o.Style))
	}
	if o.AccessTTL == 0 {
		o.AccessTTL = DefaultAccessTTL
		if o.NoRefresh {
			o.AccessTTL = LongLivedTTL
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.BasePath = strings.TrimSuffix(o.BasePath, "/")
	if o.Provider == "" {
		o.Provider = "Example"
	}
	if o.App == "" {
		o.App = "Sluice"
	}
	if o.Account == "" {
		o.Account = "demo@example.com"
	}
	o.RedirectURIs = slices.Clone(o.RedirectURIs)
	o.Scopes = slices.Clone(o.Scopes)
	return &Handler{
		o:        o,
		codes:    map[string]*code{},
		tokens:   map[string]*token{},
		consents: map[string]*consent{},
	}
}

// ServeHTTP routes the three endpoints; anything else is 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, h.o.BasePath)
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch path {
	case AuthorizePath:
		h.authorize(w, r)
	case TokenPath:
		h.token(w, r)
	case RevokePath:
		h.revoke(w, r)
	default:
		http.NotFound(w, r)
	}
}

// Server is the authorization server on a local httptest.Server.
type Server struct {
	*Handler
	// URL is the server's origin, without BasePath ("http://127.0.0.1:port").
	URL string
	srv *httptest.Server
}

// New starts the authorization server on a loopback port; Close stops it.
func New(o Options) *Server {
	h := NewHandler(o)
	srv := httptest.NewServer(h)
	return &Server{Handler: h, URL: srv.URL, srv: srv}
}

// AuthURL is the consent endpoint, for oauth2.Endpoint.AuthURL.
func (s *Server) AuthURL() string { return s.URL + s.o.BasePath + AuthorizePath }

// TokenURL is the token endpoint, for oauth2.Endpoint.TokenURL.
func (s *Server) TokenURL() string { return s.URL + s.o.BasePath + TokenPath }

// RevokeURL is the RFC 7009 revocation endpoint.
func (s *Server) RevokeURL() string { return s.URL + s.o.BasePath + RevokePath }

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// Valid reports whether accessToken is a live access token, and its scopes: what a
// platform fake calls to accept a bearer token. It is false for an unknown, expired or
// revoked token, and for a refresh token.
func (h *Handler) Valid(accessToken string) (scopes []string, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.tokens[accessToken]
	if t == nil || t.refresh || !h.alive(t) {
		return nil, false
	}
	return slices.Clone(t.scopes), true
}

// Revoke kills every grant now: each access and refresh token and each code not yet
// exchanged, as when a user uninstalls the app. Later consents give new grants.
func (h *Handler) Revoke() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, g := range h.grants {
		g.revoked = true
	}
}

// RevokeToken kills one token, as RFC 7009 does: a refresh token takes its whole grant
// with it, an access token only itself. It reports whether the token was known.
func (h *Handler) RevokeToken(tok string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.revokeLocked(tok)
}

func (h *Handler) revokeLocked(tok string) bool {
	t := h.tokens[tok]
	if t == nil {
		return false
	}
	t.revoked = true
	if t.refresh {
		t.grant.revoked = true
	}
	return true
}

// Refreshes counts the refresh_token grants the token endpoint answered, refused ones
// included: two runs that each refresh show as two, even when the second is refused.
func (h *Handler) Refreshes() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.refreshes
}

// SetDelay makes the token endpoint wait d before answering (0: no wait), to show
// several runs waiting on one refresh.
func (h *Handler) SetDelay(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.delay = d
}

// FailNext makes the next token request answer status with an HTML error page, as a
// provider's load balancer does when the endpoint is down; each call queues one more
// failure. 429 and 503 carry Retry-After: 1.
func (h *Handler) FailNext(status int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fail = append(h.fail, status)
}

// Grants lists every grant made so far, oldest first.
func (h *Handler) Grants() []Grant {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Grant, 0, len(h.grants))
	for _, g := range h.grants {
		out = append(out, Grant{
			ID: g.id, Scopes: slices.Clone(g.scopes), RedirectURI: g.redirectURI,
			Account: g.account, Created: g.created, PKCE: g.pkce, Revoked: g.revoked,
			Refreshes: g.refreshes,
		})
	}
	return out
}

// Issue makes a grant of scopes without the consent flow and returns its tokens (no
// refresh token with NoRefresh): for platform tests that start from a stored grant.
func (h *Handler) Issue(scopes ...string) Issued {
	h.mu.Lock()
	defer h.mu.Unlock()
	g := h.newGrant(slices.Clone(scopes), "", false)
	ans := h.answer(g, g.scopes, "")
	return Issued{AccessToken: ans.AccessToken, RefreshToken: ans.RefreshToken, Expiry: h.o.Now().Add(h.o.AccessTTL)}
}

// alive reports whether t is neither revoked nor expired. h.mu is held.
func (h *Handler) alive(t *token) bool {
	if t.revoked || t.grant.revoked {
		return false
	}
	return t.expires.IsZero() || h.o.Now().Before(t.expires)
}

// newGrant records a consent. h.mu is held.
func (h *Handler) newGrant(scopes []string, redirectURI string, pkce bool) *grant {
	g := &grant{
		id: randomString("g_", 9), scopes: scopes, redirectURI: redirectURI,
		account: h.o.Account, created: h.o.Now(), pkce: pkce,
	}
	h.grants = append(h.grants, g)
	return g
}

// newRefreshLocked mints a refresh token of g's scopes. h.mu is held.
func (h *Handler) newRefreshLocked(g *grant) string {
	refresh := randomString("rt_", 24)
	t := &token{grant: g, refresh: true, scopes: g.scopes}
	if h.o.RefreshTTL > 0 {
		t.expires = h.o.Now().Add(h.o.RefreshTTL)
	}
	h.tokens[refresh] = t
	return refresh
}

// pruneLocked forgets expired access tokens, codes and consent requests, so a demo
// that runs for weeks does not grow without bound. Refresh tokens stay: a rotated-out
// one must still be recognized for ReuseRevokes. h.mu is held.
func (h *Handler) pruneLocked() {
	now := h.o.Now()
	for k, t := range h.tokens {
		if !t.refresh && !now.Before(t.expires) {
			delete(h.tokens, k)
		}
	}
	for k, c := range h.codes {
		if !now.Before(c.expires) {
			delete(h.codes, k)
		}
	}
	for k, c := range h.consents {
		if !now.Before(c.expires) {
			delete(h.consents, k)
		}
	}
}

// randomString is prefix and n random bytes, base64url: unguessable, and the prefix
// tells a code from a token in a failing test's output.
func randomString(prefix string, n int) string {
	return prefix + base64.RawURLEncoding.EncodeToString(randomBytes(n))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return b
}
