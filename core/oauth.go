package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"sluice/connectors"
	"sluice/destinations/httpdest"
	"sluice/destinations/sandbox"
	"sluice/models"
)

// OAuthClient is this installation's OAuth client at one provider (config.yaml's
// oauth.<provider>), and where its endpoints are when not the documented ones (a local
// authorization server).
type OAuthClient struct {
	ClientID, ClientSecret string
	AuthURL, TokenURL      string
}

// Timing of grants: an access token is refreshed this long before its expiry (unless the
// kind says otherwise); a grant that ends within GrantWarning is announced.
const (
	DefaultRefreshMargin = 5 * time.Minute
	GrantWarning         = 7 * 24 * time.Hour
	tokenEndpointTimeout = 30 * time.Second
)

// SetOAuth gives the OAuth clients by provider, and the address users reach Sluice at:
// providers send them back to <baseURL>/oauth/callback.
// The built-in Sandbox client is added unless the clients name another.
func (s *Service) SetOAuth(baseURL string, clients map[string]OAuthClient) {
	all := map[string]OAuthClient{}
	for k, v := range clients {
		all[k] = v
	}
	if all[sandbox.Provider].ClientID == "" {
		all[sandbox.Provider] = s.sandboxClient()
	}
	s.oauthBase, s.oauthClients = strings.TrimRight(baseURL, "/"), all
}

// OAuthRedirectURL is the address to register at each provider.
func (s *Service) OAuthRedirectURL() string { return s.oauthBase + "/oauth/callback" }

// oauthConfig is the x/oauth2 configuration of a kind, or the configuration error saying
// what an administrator must set.
func (s *Service) oauthConfig(spec connectors.DestinationSpec) (*oauth2.Config, error) {
	o := spec.OAuth
	if o == nil {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Message: spec.Label + " is not connected with OAuth."}
	}
	c := s.oauthClients[o.Provider]
	if c.ClientID == "" || c.ClientSecret == "" {
		env := "SLUICE_OAUTH_" + strings.ToUpper(o.Provider)
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: "kind",
			Message: fmt.Sprintf("Sluice has no OAuth client for %s yet: an administrator sets oauth.%s.client_id and client_secret in config.yaml (or %s_CLIENT_ID and %s_CLIENT_SECRET), registering %s as its redirect URL at %s.",
				spec.Label, o.Provider, env, env, s.OAuthRedirectURL(), spec.Label)}
	}
	ep := oauth2.Endpoint{AuthURL: o.AuthURL, TokenURL: o.TokenURL}
	if c.AuthURL != "" {
		ep.AuthURL = c.AuthURL
	}
	if c.TokenURL != "" {
		ep.TokenURL = c.TokenURL
	}
	return &oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, Endpoint: ep,
		RedirectURL: s.OAuthRedirectURL(), Scopes: o.Scopes}, nil
}

// OAuthRequest is a consent to ask for: connect a new platform of Kind called Name with
// Config, or re-authorize PlatformID (Kind, Name and Config then come from it).
type OAuthRequest struct {
	UserID     string
	Kind       string
	Name       string
	Config     connectors.Config
	PlatformID string
}

// StartOAuth checks the request, keeps it under a new state for ten minutes, and returns
// the provider's consent URL to send the user to.
func (s *Service) StartOAuth(ctx context.Context, a models.Actor, in OAuthRequest) (string, error) {
	if in.PlatformID != "" {
		p, err := s.store.PlatformByID(ctx, a.WorkspaceID, in.PlatformID)
		if err != nil {
			return "", err
		}
		in.Kind, in.Name = p.Kind, p.Name
	}
	spec, err := s.DestinationSpec(in.Kind)
	if err != nil {
		return "", err
	}
	if spec.Auth != connectors.AuthOAuth {
		return "", &models.FieldError{Field: "kind", Message: spec.Label + " is connected with its settings, not OAuth."}
	}
	if in.PlatformID == "" {
		if strings.TrimSpace(in.Name) == "" {
			return "", &models.FieldError{Field: "name", Message: "Give the platform a name."}
		}
		if in.Config == nil {
			in.Config = connectors.Config{}
		}
		if err := in.Config.Validate(spec.Config); err != nil {
			return "", asFieldError(err)
		}
	}
	conf, err := s.oauthConfig(spec)
	if err != nil {
		return "", asFieldError(err)
	}
	state := models.RandomToken()
	verifier := oauth2.GenerateVerifier()
	err = s.store.SaveOAuthStart(ctx, state, models.OAuthStart{WorkspaceID: a.WorkspaceID, UserID: in.UserID,
		PlatformID: in.PlatformID, Kind: in.Kind, Name: in.Name, Config: in.Config, Verifier: verifier})
	if err != nil {
		return "", err
	}
	opts := []oauth2.AuthCodeOption{}
	if spec.OAuth.PKCE {
		opts = append(opts, oauth2.S256ChallengeOption(verifier))
	}
	for k, v := range spec.OAuth.AuthParams {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	return conf.AuthCodeURL(state, opts...), nil
}

// OAuthResult is what a finished consent did.
type OAuthResult struct {
	Platform *models.Platform
	// Created says a new platform was connected; otherwise one was re-authorized.
	Created bool
	// Resumed are the activations the platform had paused that run again now.
	Resumed []models.Activation
}

// ErrOAuthStateUnknown is a return from the provider that matches no consent under way
// of this user: expired, used already, or never asked for here.
var ErrOAuthStateUnknown = errors.New("this authorization is unknown, expired or already used: start it again from Settings → Platforms")

// OAuthDeniedError is the provider's refusal, or the user's, to grant access.
type OAuthDeniedError struct {
	Label, Code, Description string
	PlatformID               string
}

func (e *OAuthDeniedError) Error() string {
	msg := fmt.Sprintf("%s did not grant access (%s)", e.Label, e.Code)
	if e.Description != "" {
		msg += ": " + e.Description
	}
	return msg + ". Nothing was changed."
}

// FinishOAuth takes the provider's answer to the consent under state: the code becomes
// tokens (with the PKCE verifier), the platform is connected or re-authorized and checked,
// and the activations it had paused resume.
func (s *Service) FinishOAuth(ctx context.Context, a models.Actor, userID, state, code, providerErr, providerErrDesc string) (*OAuthResult, error) {
	st, err := s.store.TakeOAuthStart(ctx, state)
	if models.IsNotFound(err) || (err == nil && (st.WorkspaceID != a.WorkspaceID || st.UserID != userID)) {
		return nil, ErrOAuthStateUnknown
	}
	if err != nil {
		return nil, err
	}
	spec, err := s.DestinationSpec(st.Kind)
	if err != nil {
		return nil, err
	}
	if providerErr != "" || code == "" {
		if providerErr == "" {
			providerErr = "no code"
		}
		return nil, &OAuthDeniedError{Label: spec.Label, Code: providerErr, Description: providerErrDesc, PlatformID: st.PlatformID}
	}
	conf, err := s.oauthConfig(spec)
	if err != nil {
		return nil, err
	}
	var opts []oauth2.AuthCodeOption
	if spec.OAuth.PKCE {
		opts = append(opts, oauth2.VerifierOption(st.Verifier))
	}
	tok, err := conf.Exchange(tokenContext(ctx), code, opts...)
	if err != nil {
		return nil, tokenError(spec, err, "accept the authorization", "Start again from Settings → Platforms.")
	}
	grant := grantOf(tok, nil, s.now())
	if len(grant.Scopes) == 0 {
		grant.Scopes = spec.OAuth.Scopes // an answer without scope granted those asked (RFC 6749 §5.1)
	}
	if spec.OAuth.LongLivedGrant != "" {
		long, err := longLived(ctx, conf, spec, tok.AccessToken)
		if err != nil {
			return nil, err
		}
		grant = grantOf(long, grant, s.now()) // the scopes consent granted stay
	}
	if st.PlatformID == "" {
		// The settings must open with the new token before anything is saved.
		d, err := s.registry.OpenDestination(ctx, st.Kind, withDefaults(spec, st.Config), connectors.StaticToken(grant.AccessToken))
		if err != nil {
			return nil, asFieldError(err)
		}
		d.Close()
		p, err := s.store.CreatePlatform(ctx, a, spec, models.PlatformInput{Name: st.Name, Config: st.Config, Grant: grant})
		if err != nil {
			return nil, err
		}
		p, err = s.CheckPlatform(ctx, a.WorkspaceID, p.ID)
		if err != nil {
			return nil, err
		}
		return &OAuthResult{Platform: p, Created: true}, nil
	}
	paused, err := s.PausedByPlatform(ctx, a.WorkspaceID, st.PlatformID)
	if err != nil {
		return nil, err
	}
	if _, err := s.store.UpdatePlatform(ctx, a, st.PlatformID, spec, models.PlatformInput{Grant: grant}); err != nil {
		return nil, err
	}
	p, err := s.CheckPlatform(ctx, a.WorkspaceID, st.PlatformID)
	if err != nil {
		return nil, err
	}
	s.grantChecked(ctx, p)
	out := &OAuthResult{Platform: p}
	for _, act := range paused {
		now, err := s.store.ActivationByID(ctx, a.WorkspaceID, act.ID)
		if err == nil && now.Status == models.ActivationActive {
			out.Resumed = append(out.Resumed, *now)
		}
	}
	return out, nil
}

// PausedByPlatform lists the activations paused automatically because the platform broke:
// what re-authorizing it resumes.
func (s *Service) PausedByPlatform(ctx context.Context, workspaceID, platformID string) ([]models.Activation, error) {
	acts, err := s.store.ActivationsUsingPlatform(ctx, workspaceID, platformID)
	if err != nil {
		return nil, err
	}
	var out []models.Activation
	for _, act := range acts {
		if act.Status == models.ActivationPaused && act.PauseAutomatic && act.PauseCause == models.PauseCausePlatform {
			out = append(out, act)
		}
	}
	return out, nil
}

// tokenContext bounds calls to a token endpoint.
func tokenContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Timeout: tokenEndpointTimeout})
}

// grantOf is the grant a token answer gives; old is the grant it renews (nil at consent),
// whose refresh token, grant expiry and scopes stay unless the answer gives new ones.
func grantOf(tok *oauth2.Token, old *models.Grant, now time.Time) *models.Grant {
	g := &models.Grant{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, TokenType: tok.TokenType, Expiry: tok.Expiry.UTC()}
	if secs := extraSeconds(tok, "expires_in"); secs > 0 {
		g.Expiry = now.Add(time.Duration(secs) * time.Second).UTC() // on Sluice's clock, as every expiry it compares
	}
	if old != nil {
		g.GrantExpiry, g.Scopes = old.GrantExpiry, old.Scopes
		if g.RefreshToken == "" {
			g.RefreshToken = old.RefreshToken
		}
	}
	if scope, _ := tok.Extra("scope").(string); scope != "" {
		g.Scopes = strings.Fields(strings.ReplaceAll(scope, ",", " "))
	}
	// Google announces when a refresh token ends (apps in testing: 7 days).
	if secs := extraSeconds(tok, "refresh_token_expires_in"); secs > 0 {
		g.GrantExpiry = now.Add(time.Duration(secs) * time.Second).UTC()
	}
	if g.RefreshToken == "" && !g.Expiry.IsZero() {
		g.GrantExpiry = g.Expiry // a long-lived token: its end is the grant's
	}
	return g
}

func extraSeconds(tok *oauth2.Token, name string) int64 {
	switch v := tok.Extra(name).(type) {
	case float64:
		return int64(v)
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return 0
}

// tokenError words a token endpoint's refusal: the installation's client refused is for
// an administrator to fix (configuration); any other refusal means the grant is dead
// (invalid_grant, HubSpot's BAD_REFRESH_TOKEN…): credentials, final, re-authorize; no
// answer or a 5xx is worth trying again.
func tokenError(spec connectors.DestinationSpec, err error, doing, fix string) *connectors.Error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil {
		return &connectors.Error{Category: connectors.CategoryConnection, Retryable: true, Err: err, Detail: connectors.MaskURLs(err.Error()),
			Message: fmt.Sprintf("%s's authorization server could not be reached to %s.", spec.Label, doing)}
	}
	code := re.ErrorCode
	if code == "" {
		code = providerCode(re.Body)
	}
	detail := fmt.Sprintf("HTTP %d: %s", re.Response.StatusCode, httpdest.Truncate(string(re.Body), httpdest.MaxDetail))
	switch {
	case re.Response.StatusCode >= 500:
		return &connectors.Error{Category: connectors.CategoryConnection, Retryable: true, Err: err, Detail: detail,
			Message: fmt.Sprintf("%s's authorization server failed on its side (%d) when Sluice tried to %s.", spec.Label, re.Response.StatusCode, doing)}
	case code == "invalid_client" || re.Response.StatusCode == http.StatusUnauthorized:
		return &connectors.Error{Category: connectors.CategoryConfiguration, Err: err, Detail: detail,
			Message: fmt.Sprintf("%s refused Sluice's OAuth client (%s): an administrator must check oauth.%s.client_id and client_secret.", spec.Label, orStatus(code, re), spec.OAuth.Provider)}
	}
	return &connectors.Error{Category: connectors.CategoryCredentials, Err: err, Detail: detail,
		Message: fmt.Sprintf("%s refused to %s (%s). %s", spec.Label, doing, orStatus(code, re), fix)}
}

func orStatus(code string, re *oauth2.RetrieveError) string {
	if code != "" {
		return code
	}
	return "HTTP " + strconv.Itoa(re.Response.StatusCode)
}

// providerCode finds the error code of answers that do not follow RFC 6749 §5.2, such
// as HubSpot's {"status": "BAD_REFRESH_TOKEN", …}.
func providerCode(body []byte) string {
	for _, key := range []string{`"status":"`, `"status": "`} {
		if i := strings.Index(string(body), key); i >= 0 {
			rest := string(body[i+len(key):])
			if j := strings.IndexByte(rest, '"'); j > 0 && j < 64 {
				return rest[:j]
			}
		}
	}
	return ""
}

// platformTokens is an OAuth platform's connectors.Tokens: the stored access token while
// fresh, refreshed ahead of its expiry through the store's RefreshGrant (one refresh at a
// time across runs and instances, the others reuse it).
type platformTokens struct {
	s               *Service
	spec            connectors.DestinationSpec
	workspaceID, id string
	name            string

	mu     sync.Mutex // a run's senders ask at once
	cached *models.Grant
}

func (t *platformTokens) margin() time.Duration {
	if m := t.spec.OAuth.RefreshMargin; m > 0 {
		return m
	}
	return DefaultRefreshMargin
}

// fresh says whether g may be used as it is: its access token is not about to expire, or
// it has no refresh token and has not expired yet (nothing else can be done).
func (t *platformTokens) fresh(g *models.Grant) bool {
	now := t.s.now()
	return g.Expiry.IsZero() || now.Add(t.margin()).Before(g.Expiry) || (g.RefreshToken == "" && now.Before(g.Expiry))
}

func (t *platformTokens) AccessToken(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if g := t.cached; g != nil && t.fresh(g) {
		return g.AccessToken, nil
	}
	g, err := t.s.store.RefreshGrant(ctx, t.workspaceID, t.id, t.fresh, func(old *models.Grant) (*models.Grant, error) {
		if old.RefreshToken == "" {
			return nil, &connectors.Error{Category: connectors.CategoryCredentials,
				Message: fmt.Sprintf("The authorization of %s at %s expired on %s: re-authorize the platform.", t.name, t.spec.Label, old.Expiry.Format("2 January 2006, 15:04 MST"))}
		}
		conf, err := t.s.oauthConfig(t.spec)
		if err != nil {
			return nil, err
		}
		tok, err := conf.TokenSource(tokenContext(ctx), &oauth2.Token{RefreshToken: old.RefreshToken}).Token()
		if err != nil {
			return nil, tokenError(t.spec, err, "renew Sluice's access", fmt.Sprintf("The authorization was revoked or has expired: re-authorize the platform %s.", t.name))
		}
		return grantOf(tok, old, t.s.now()), nil
	})
	if err != nil {
		if _, ok := connectors.AsError(err); ok {
			return "", err
		}
		return "", &connectors.Error{Category: connectors.CategoryConnection, Retryable: true, Err: err,
			Message: "Sluice could not read the platform's authorization.", Detail: err.Error()}
	}
	t.cached = g
	return g.AccessToken, nil
}

// tokensOf is a saved platform's Tokens: nil unless its kind uses OAuth.
func (s *Service) tokensOf(p *models.Platform, spec connectors.DestinationSpec) connectors.Tokens {
	if spec.Auth != connectors.AuthOAuth {
		return nil
	}
	return &platformTokens{s: s, spec: spec, workspaceID: p.WorkspaceID, id: p.ID, name: p.Name}
}

// staticGrant is the Tokens of a grant not saved yet (nil: none).
func staticGrant(g *models.Grant) connectors.Tokens {
	if g == nil {
		return nil
	}
	return connectors.StaticToken(g.AccessToken)
}

// GrantEndsSoon says a platform's authorization ends within GrantWarning: it must be
// re-authorized before then, or its activations will pause.
func (s *Service) GrantEndsSoon(p *models.Platform) bool {
	return p.GrantExpiresAt != nil && p.GrantExpiresAt.Before(s.now().Add(GrantWarning))
}

// CheckGrantEndings announces, days ahead, each authorization about to end: an open
// token_expiring incident (its alert once, then a daily reminder) with Re-authorize as the
// fix; an authorization renewed since resolves it. Run every minute by the scheduler: one
// small query over the platforms with an end.
func (s *Service) CheckGrantEndings(ctx context.Context) error {
	list, err := s.store.PlatformsWithGrantEnd(ctx)
	if err != nil {
		return err
	}
	for i := range list {
		s.grantChecked(ctx, &list[i])
	}
	return nil
}

// grantChecked opens or resolves the platform's token_expiring incident.
func (s *Service) grantChecked(ctx context.Context, p *models.Platform) {
	if !s.GrantEndsSoon(p) || p.Status == models.PlatformBroken {
		s.ResolveIncidents(ctx, p.WorkspaceID, models.IncidentPlatform, p.ID, models.EventTokenExpiring, nil)
		return
	}
	fix := models.FixPlace{Label: "Re-authorize the platform", Path: "/settings/platforms/:id/reauthorize"}
	s.OpenIncident(ctx, Incident{Fix: &fix, FixID: p.ID, Event: models.IncidentEvent{WorkspaceID: p.WorkspaceID,
		ObjectType: models.IncidentPlatform, ObjectID: p.ID, ObjectName: p.Name, Event: models.EventTokenExpiring,
		Category: string(connectors.CategoryCredentials),
		Message: fmt.Sprintf("The authorization of %s ends on %s. Re-authorize it before then, or its activations will pause.",
			p.Name, p.GrantExpiresAt.UTC().Format("2 January 2006, 15:04 MST"))}})
}

// longLived trades a short-lived token for a long-lived one (OAuthSpec.LongLivedGrant):
// GET TokenURL?grant_type=<grant>&client_id=…&client_secret=…&<grant>=<token>, answered
// like a token endpoint.
func longLived(ctx context.Context, conf *oauth2.Config, spec connectors.DestinationSpec, short string) (*oauth2.Token, error) {
	grant := spec.OAuth.LongLivedGrant
	q := url.Values{"grant_type": {grant}, "client_id": {conf.ClientID}, "client_secret": {conf.ClientSecret}, grant: {short}}
	ctx, cancel := context.WithTimeout(ctx, tokenEndpointTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, conf.Endpoint.TokenURL+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, tokenError(spec, err, "extend the authorization", "Try again from Settings → Platforms.")
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var ans struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &ans) != nil || ans.AccessToken == "" {
		re := &oauth2.RetrieveError{Response: resp, Body: body}
		return nil, tokenError(spec, re, "extend the authorization", "Start again from Settings → Platforms.")
	}
	tok := &oauth2.Token{AccessToken: ans.AccessToken, TokenType: ans.TokenType}
	return tok.WithExtra(map[string]any{"expires_in": float64(ans.ExpiresIn)}), nil
}
