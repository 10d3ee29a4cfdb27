package core

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"sluice/connectors"
	"sluice/destinations/sandbox"
	"sluice/models"
)

// The built-in authorization server's lifetimes: a code is exchanged within ten minutes
// (RFC 6749 §4.1.2), an access token lasts an hour, a refresh token until revoked.
const (
	sandboxCodeTTL   = 10 * time.Minute
	sandboxAccessTTL = time.Hour
)

// sandboxClient is the built-in authorization server's one client. Its secret is
// derived from the installation's key, so nothing needs configuring and it differs
// between installations.
func (s *Service) sandboxClient() OAuthClient {
	box := s.store.Secrets()
	if box == nil {
		return OAuthClient{}
	}
	return OAuthClient{ClientID: sandbox.ClientID, ClientSecret: hex.EncodeToString(box.DeriveKey("sandbox-oauth-client", 32))}
}

// SandboxAuthorize is an authorization request at the built-in server's consent page.
type SandboxAuthorize struct {
	ResponseType, ClientID, RedirectURI, State, Scope string
	Challenge, ChallengeMethod                        string
}

// ErrSandboxClient is an authorization request from an unknown client or to another
// redirect URI: shown on the consent page, never redirected (RFC 6749 §4.1.2.1).
var ErrSandboxClient = errors.New("this authorization request is not from Sluice's Sandbox client or does not return to Sluice: start again from Settings → Platforms")

// CheckSandboxAuthorize checks a consent request: ErrSandboxClient when its client or
// redirect URI is wrong, otherwise the redirect carrying the error (invalid_request for
// a missing PKCE challenge, unsupported_response_type…), or "" when it may be shown.
func (s *Service) CheckSandboxAuthorize(in SandboxAuthorize) (string, error) {
	if in.ClientID != sandbox.ClientID || in.RedirectURI != s.OAuthRedirectURL() {
		return "", ErrSandboxClient
	}
	switch {
	case in.ResponseType != "code":
		return sandboxRedirect(in, url.Values{"error": {"unsupported_response_type"}}), nil
	case in.Challenge == "" || in.ChallengeMethod != "S256":
		return sandboxRedirect(in, url.Values{"error": {"invalid_request"}, "error_description": {"PKCE with S256 is required."}}), nil
	}
	for _, sc := range strings.Fields(in.Scope) {
		if sc != sandbox.Scope {
			return sandboxRedirect(in, url.Values{"error": {"invalid_scope"}}), nil
		}
	}
	return "", nil
}

// AnswerSandboxConsent records the user's answer on the consent page and returns where
// the browser goes: back to Sluice's callback with a code, or with access_denied.
func (s *Service) AnswerSandboxConsent(ctx context.Context, a models.Actor, in SandboxAuthorize, allow bool) (string, error) {
	to, err := s.CheckSandboxAuthorize(in)
	if err != nil || to != "" {
		return to, err
	}
	if !allow {
		return sandboxRedirect(in, url.Values{"error": {"access_denied"}, "error_description": {"The user denied access."}}), nil
	}
	code := models.RandomToken()
	if err := s.store.NewSandboxGrant(ctx, a.WorkspaceID, a.ID, code, in.Challenge, in.RedirectURI, s.now().Add(sandboxCodeTTL)); err != nil {
		return "", err
	}
	return sandboxRedirect(in, url.Values{"code": {code}}), nil
}

func sandboxRedirect(in SandboxAuthorize, q url.Values) string {
	if in.State != "" {
		q.Set("state", in.State)
	}
	return in.RedirectURI + "?" + q.Encode()
}

// SandboxToken answers the built-in token endpoint (RFC 6749 §4.1.3 and §6): the
// authorization_code grant with its PKCE verifier, and refresh_token. The client
// authenticates with HTTP Basic or in the form. It returns the status and the JSON body.
func (s *Service) SandboxToken(ctx context.Context, form url.Values, basicUser, basicPassword string) (int, map[string]any) {
	id, secret := basicUser, basicPassword
	if id == "" {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	c := s.sandboxClient()
	if c.ClientID == "" || subtle.ConstantTimeCompare([]byte(id), []byte(c.ClientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(c.ClientSecret)) != 1 {
		return http.StatusUnauthorized, oauthError("invalid_client", "Unknown client or wrong secret.")
	}
	refresh := ""
	var g *models.SandboxGrant
	var err error
	switch form.Get("grant_type") {
	case "authorization_code":
		g, err = s.store.TakeSandboxCode(ctx, form.Get("code"))
		if err != nil {
			return http.StatusBadRequest, oauthError("invalid_grant", "The code is unknown, expired or already used.")
		}
		if form.Get("redirect_uri") != g.RedirectURI || !pkceMatches(form.Get("code_verifier"), g.CodeChallenge) {
			return http.StatusBadRequest, oauthError("invalid_grant", "The redirect_uri or code_verifier does not match the authorization request.")
		}
		refresh = models.RandomToken()
	case "refresh_token":
		g, err = s.store.SandboxGrantByRefresh(ctx, form.Get("refresh_token"))
		if err != nil {
			return http.StatusBadRequest, oauthError("invalid_grant", "The refresh token is invalid or was revoked.")
		}
	default:
		return http.StatusBadRequest, oauthError("unsupported_grant_type", "")
	}
	if refresh != "" {
		if err := s.store.IssueSandboxTokens(ctx, g.ID, refresh); err != nil {
			return http.StatusInternalServerError, oauthError("server_error", "")
		}
	}
	access := s.sandboxAccessToken(g.ID, s.now().Add(sandboxAccessTTL))
	out := map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": int(sandboxAccessTTL.Seconds()), "scope": sandbox.Scope}
	if refresh != "" {
		out["refresh_token"] = refresh
	}
	return http.StatusOK, out
}

// sandboxAccessToken is an access token of the grant until expiry: the grant's id, the
// expiry and their HMAC under a key derived from the installation's. Signed rather than
// stored, so that renewing one writes nothing: on SQLite the renewal runs while the
// platform's row is locked (models.Store.RefreshGrant), and a write would wait on it.
func (s *Service) sandboxAccessToken(grantID string, expiry time.Time) string {
	payload := grantID + "." + strconv.FormatInt(expiry.Unix(), 10)
	return payload + "." + s.sandboxMAC(payload)
}

func (s *Service) sandboxMAC(payload string) string {
	box := s.store.Secrets()
	if box == nil {
		return ""
	}
	mac := hmac.New(sha256.New, box.DeriveKey("sandbox-access-token", 32))
	mac.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// sandboxAccess says in which workspace a live access token was granted: signed here,
// not expired, and its grant not revoked.
func (s *Service) sandboxAccess(ctx context.Context, token string) (string, bool) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return "", false
	}
	payload, sig := token[:i], token[i+1:]
	want := s.sandboxMAC(payload)
	if want == "" || !hmac.Equal([]byte(sig), []byte(want)) {
		return "", false
	}
	grantID, exp, _ := strings.Cut(payload, ".")
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !s.now().Before(time.Unix(unix, 0)) {
		return "", false
	}
	g, err := s.store.LiveSandboxGrant(ctx, grantID)
	if err != nil {
		return "", false
	}
	return g.WorkspaceID, true
}

func oauthError(code, description string) map[string]any {
	out := map[string]any{"error": code}
	if description != "" {
		out["error_description"] = description
	}
	return out
}

// pkceMatches checks an S256 code_verifier against its challenge (RFC 7636 §4.6).
func pkceMatches(verifier, challenge string) bool {
	if verifier == "" || challenge == "" {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

// RevokeSandboxGrant revokes the built-in server's grant held by a Sandbox (OAuth)
// platform, as when a user removes an app's access: its next run fails with the
// credentials category and the platform waits for Re-authorize.
func (s *Service) RevokeSandboxGrant(ctx context.Context, workspaceID, platformID string) error {
	p, err := s.store.PlatformByID(ctx, workspaceID, platformID)
	if err != nil {
		return err
	}
	if p.Kind != sandbox.KindOAuth || !p.HasGrant() {
		return &models.FieldError{Field: "kind", Message: p.Name + " is not an authorized Sandbox (OAuth) platform."}
	}
	g, err := s.store.PlatformGrant(p)
	if err != nil {
		return err
	}
	return s.store.RevokeSandboxRefresh(ctx, workspaceID, g.RefreshToken)
}

// InboxAnswer is the Sandbox inbox's answer to one request: a status, its JSON body,
// and for a 429 the seconds to wait, for a 401 the WWW-Authenticate challenge.
type InboxAnswer struct {
	Status     int
	Body       any
	RetryAfter int
	Challenge  string
}

// SandboxInbox receives one webhook request at the Sandbox inbox: key is its
// X-Sandbox-Inbox header, authorization its Authorization (Sandbox (OAuth) needs a live
// access token of the platform's workspace), check says it is a connection check
// (X-Sluice-Check, nothing stored). Accepted records are kept, the invalid ones refused
// with a CRM's message, and beyond the platform's max_requests_per_minute it answers 429.
func (s *Service) SandboxInbox(ctx context.Context, key, authorization string, check bool, body []byte) (InboxAnswer, error) {
	unknown := InboxAnswer{Status: http.StatusUnauthorized, Body: oauthError("invalid_inbox_key", "No Sandbox platform has this inbox key.")}
	id, _, ok := strings.Cut(key, ".")
	if !ok {
		return unknown, nil
	}
	p, err := s.store.SandboxPlatform(ctx, id, sandbox.Kind, sandbox.KindOAuth)
	if models.IsNotFound(err) {
		return unknown, nil
	}
	if err != nil {
		return InboxAnswer{}, err
	}
	cfg, err := s.store.PlatformConfig(p)
	if err != nil {
		return InboxAnswer{}, err
	}
	if subtle.ConstantTimeCompare([]byte(cfg[sandbox.FieldInboxKey]), []byte(key)) != 1 {
		return unknown, nil
	}
	if p.Kind == sandbox.KindOAuth {
		token, _ := strings.CutPrefix(authorization, "Bearer ")
		if ws, ok := s.sandboxAccess(ctx, token); !ok || ws != p.WorkspaceID {
			return InboxAnswer{Status: http.StatusUnauthorized, Challenge: `Bearer error="invalid_token"`,
				Body: oauthError("invalid_token", "The access token is invalid, expired or revoked.")}, nil
		}
	}
	if max, _ := sandbox.MaxRequests(cfg); max > 0 {
		if wait := s.sandboxRate.take(p.ID, max, s.now()); wait > 0 {
			secs := int((wait + time.Second - 1) / time.Second)
			return InboxAnswer{Status: http.StatusTooManyRequests, RetryAfter: secs,
				Body: oauthError("rate_limited", "More than the platform's limit of requests per minute.")}, nil
		}
	}
	if check {
		return InboxAnswer{Status: http.StatusOK, Body: map[string]any{}}, nil
	}
	var in sandbox.Body
	if err := json.Unmarshal(body, &in); err != nil {
		return InboxAnswer{Status: http.StatusBadRequest, Body: oauthError("invalid_json", "The body is not the webhook's JSON.")}, nil
	}
	if len(in.Records) > sandbox.MaxBatchSize {
		return InboxAnswer{Status: http.StatusRequestEntityTooLarge, Body: oauthError("too_many_records", "At most 1,000 records per request.")}, nil
	}
	now, batch := s.now(), models.RandomToken()[:12]
	rows := make([]models.SandboxRecord, 0, len(in.Records))
	answer := sandbox.Rejected{Rejected: []sandbox.Rejection{}}
	for _, r := range in.Records {
		why := sandbox.Judge(r)
		if why != "" {
			answer.Rejected = append(answer.Rejected, sandbox.Rejection{Key: r.Key, Message: why})
		}
		fields := ""
		if r.Fields != nil {
			raw, _ := json.Marshal(r.Fields)
			fields = string(raw)
		}
		rows = append(rows, models.SandboxRecord{WorkspaceID: p.WorkspaceID, PlatformID: p.ID, BatchID: batch, RunID: in.RunID,
			ReceivedAt: now, Op: r.Op, RecordKey: r.Key, Fields: fields, Rejection: why})
	}
	if err := s.store.AddSandboxRecords(ctx, rows); err != nil {
		return InboxAnswer{}, err
	}
	return InboxAnswer{Status: http.StatusOK, Body: answer}, nil
}

// minuteWindows counts each platform's requests in fixed one-minute windows, on this
// instance: the Sandbox's rate limit, strict enough to show a rate-limited run.
type minuteWindows struct {
	mu sync.Mutex
	m  map[string]minuteWindow
}

type minuteWindow struct {
	start time.Time
	n     int
}

// take counts one request of key and returns how long to wait when it is over max (0:
// it may go).
func (w *minuteWindows) take(key string, max int, now time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string]minuteWindow{}
	}
	win := w.m[key]
	if now.Sub(win.start) >= time.Minute {
		win = minuteWindow{start: now}
	}
	win.n++
	w.m[key] = win
	if win.n > max {
		return win.start.Add(time.Minute).Sub(now)
	}
	return 0
}

// ConnectSandboxOAuth saves a Sandbox (OAuth) platform with a grant of the built-in
// server, as if actor had allowed it on the consent page: for seeding the demo, before
// Sluice listens, so nothing is sent and the platform is not checked.
func (s *Service) ConnectSandboxOAuth(ctx context.Context, a models.Actor, name string, cfg connectors.Config) (*models.Platform, error) {
	spec, err := s.DestinationSpec(sandbox.KindOAuth)
	if err != nil {
		return nil, err
	}
	code := models.RandomToken()
	if err := s.store.NewSandboxGrant(ctx, a.WorkspaceID, a.ID, code, "", s.OAuthRedirectURL(), s.now().Add(sandboxCodeTTL)); err != nil {
		return nil, err
	}
	g, err := s.store.TakeSandboxCode(ctx, code)
	if err != nil {
		return nil, err
	}
	refresh, expiry := models.RandomToken(), s.now().Add(sandboxAccessTTL)
	if err := s.store.IssueSandboxTokens(ctx, g.ID, refresh); err != nil {
		return nil, err
	}
	access := s.sandboxAccessToken(g.ID, expiry)
	grant := &models.Grant{AccessToken: access, RefreshToken: refresh, TokenType: "Bearer", Expiry: expiry, Scopes: []string{sandbox.Scope}}
	return s.store.CreatePlatform(ctx, a, spec, models.PlatformInput{Name: name, Config: cfg, Grant: grant})
}
