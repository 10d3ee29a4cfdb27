package core

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"sluice/models"
)

// SSOCallbackPath is where identity providers send people back: register
// <base_url>/sso/callback as the client's redirect URI.
const SSOCallbackPath = "/sso/callback"

// ssoTimeout bounds each request to an identity provider.
const ssoTimeout = 10 * time.Second

// SetSSOClient sets the HTTP client of requests to identity providers: main gives one
// that refuses private networks unless SLUICE_ALLOW_PRIVATE_NETWORKS is set, as for
// webhooks. Unset: a plain client.
func (s *Service) SetSSOClient(c *http.Client) { s.ssoHTTP = c }

func (s *Service) ssoContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, ssoTimeout)
	c := s.ssoHTTP
	if c == nil {
		c = &http.Client{Timeout: ssoTimeout}
	}
	return oidc.ClientContext(ctx, c), cancel
}

// discover reads the issuer's discovery document, in words naming what failed.
func (s *Service) discover(ctx context.Context, issuer string) (*oidc.Provider, error) {
	ctx, cancel := s.ssoContext(ctx)
	defer cancel()
	p, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		doc := issuer + "/.well-known/openid-configuration"
		msg := strings.TrimPrefix(err.Error(), "oidc: ")
		if i := strings.Index(msg, "httpdest: "); i >= 0 {
			return nil, fmt.Errorf("may not read the discovery document at %s: %s; it reaches loopback and private addresses only with SLUICE_ALLOW_PRIVATE_NETWORKS=true", doc, msg[i+len("httpdest: "):])
		}
		switch {
		case strings.Contains(msg, "did not match the issuer URL returned by provider"):
			return nil, fmt.Errorf("the discovery document at %s names another issuer (%s); enter the issuer URL exactly as the provider gives it", doc, msg)
		case strings.Contains(msg, "failed to decode provider discovery object"):
			return nil, fmt.Errorf("%s is not an OpenID Connect discovery document (%s)", doc, msg)
		}
		return nil, fmt.Errorf("could not read the discovery document at %s: %s", doc, msg)
	}
	return p, nil
}

// SaveSSOConfig checks the settings, reads the issuer's discovery document (a provider
// that cannot be reached is refused, naming what failed) and stores them.
func (s *Service) SaveSSOConfig(ctx context.Context, a models.Actor, in models.SSOInput) (*models.SSOConfig, error) {
	if err := in.Normalize(); err != nil {
		return nil, err
	}
	if _, err := s.discover(ctx, in.Issuer); err != nil {
		return nil, &models.FieldError{Field: "issuer", Message: ssoDiscoveryWords(err)}
	}
	return s.store.SaveSSOConfig(ctx, a, in)
}

// SetRequireSSO turns "require SSO" on or off for the actor's organization.
func (s *Service) SetRequireSSO(ctx context.Context, a models.Actor, on bool) (*models.SSOPolicy, error) {
	return s.store.SetRequireSSO(ctx, a, on)
}

// RemoveSSOConfig removes the actor's organization's OpenID Connect provider.
func (s *Service) RemoveSSOConfig(ctx context.Context, a models.Actor) error {
	return s.store.RemoveSSOConfig(ctx, a)
}

// RemoveSAMLConfig removes the actor's organization's SAML provider.
func (s *Service) RemoveSAMLConfig(ctx context.Context, a models.Actor) error {
	return s.store.RemoveSAMLConfig(ctx, a)
}

func oauthConfig(c *models.SSOConfig, p *oidc.Provider, secret, redirectURL string) *oauth2.Config {
	return &oauth2.Config{ClientID: c.ClientID, ClientSecret: secret, Endpoint: p.Endpoint(), RedirectURL: redirectURL,
		Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}
}

// StartSSO begins a sign-in with the organization's provider: the state, nonce and PKCE
// verifier are kept server-side, and the provider's sign-in page is returned with the
// state, which the caller also ties to the browser.
func (s *Service) StartSSO(ctx context.Context, orgID, next, redirectURL string) (to, state string, err error) {
	c, err := s.store.SSOConfigOf(ctx, orgID)
	if err != nil {
		return "", "", err
	}
	p, err := s.discover(ctx, c.Issuer)
	if err != nil {
		return "", "", &models.SSORefusal{Reason: c.ProviderName + " cannot be used now. " + ssoDiscoveryWords(err)}
	}
	state, nonce, verifier := models.RandomToken(), models.RandomToken(), oauth2.GenerateVerifier()
	if err := s.store.SaveSSOStart(ctx, state, models.SSOStart{OrganizationID: orgID, Nonce: nonce, Verifier: verifier, Next: next}); err != nil {
		return "", "", err
	}
	cfg := oauthConfig(c, p, "", redirectURL)
	return cfg.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), state, nil
}

// SSOResult is a finished sign-in with a provider.
type SSOResult struct {
	User    *models.User
	Created bool
	Next    string
}

// FinishSSO ends a sign-in when the provider sends the person back: the state must be
// one StartSSO kept (and the browser's, checked by the caller), the code is exchanged
// with the PKCE verifier, and the ID token must be signed by the provider, name it as
// issuer and Sluice's client as audience, be unexpired and carry the nonce. Every
// refusal is a *models.SSORefusal in words for the person.
func (s *Service) FinishSSO(ctx context.Context, state, code, providerError, description, redirectURL string) (*SSOResult, error) {
	st, err := s.store.TakeSSOStart(ctx, state)
	if models.IsNotFound(err) {
		return nil, &models.SSORefusal{Reason: "This sign-in link is unknown, used or older than ten minutes. Start again from the sign-in page."}
	}
	if err != nil {
		return nil, err
	}
	c, err := s.store.SSOConfigOf(ctx, st.OrganizationID)
	if err != nil {
		return nil, err
	}
	if providerError != "" {
		msg := c.ProviderName + " did not sign you in (" + providerError
		if description != "" {
			msg += ": " + description
		}
		return nil, &models.SSORefusal{Reason: msg + ")."}
	}
	p, err := s.discover(ctx, c.Issuer)
	if err != nil {
		return nil, &models.SSORefusal{Reason: c.ProviderName + " cannot be used now. " + ssoDiscoveryWords(err)}
	}
	secret, err := s.store.SSOClientSecret(c)
	if err != nil {
		return nil, err
	}
	hctx, cancel := s.ssoContext(ctx)
	defer cancel()
	tok, err := oauthConfig(c, p, secret, redirectURL).Exchange(hctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return nil, &models.SSORefusal{Reason: c.ProviderName + " refused to complete the sign-in: " + tokenErrorWords(err) + ". If the client secret changed there, an owner updates it in Settings → Single sign-on."}
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, &models.SSORefusal{Reason: c.ProviderName + " answered without an ID token: is the client set up for OpenID Connect?"}
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: c.ClientID}).Verify(hctx, raw)
	if err != nil {
		return nil, &models.SSORefusal{Reason: "The ID token from " + c.ProviderName + " was refused: " + verifyWords(err, c) + "."}
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		return nil, &models.SSORefusal{Reason: "The ID token from " + c.ProviderName + " was refused: it was issued for another sign-in (its nonce does not match). Start again from the sign-in page."}
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, &models.SSORefusal{Reason: "The ID token from " + c.ProviderName + " could not be read: " + err.Error() + "."}
	}
	if err := addUserInfo(hctx, c, p, tok, idt.Subject, claims); err != nil {
		return nil, err
	}
	cl := models.SSOClaims{Subject: idt.Subject}
	cl.Email, _ = claims["email"].(string)
	cl.Name, _ = claims["name"].(string)
	switch v := claims["email_verified"].(type) {
	case bool:
		cl.EmailVerified = v
	case string: // some providers send "true"
		cl.EmailVerified = v == "true"
	}
	if c.GroupsClaim != "" {
		switch v := claims[c.GroupsClaim].(type) {
		case []any:
			for _, g := range v {
				if g, ok := g.(string); ok {
					cl.Groups = append(cl.Groups, g)
				}
			}
		case string:
			cl.Groups = strings.Fields(v)
		}
	}
	u, created, err := s.store.SSOSignIn(ctx, c, cl)
	if err != nil {
		return nil, err
	}
	return &SSOResult{User: u, Created: created, Next: st.Next}, nil
}

// addUserInfo adds to an ID token's claims what it left out of the e-mail, its
// verification and the groups, from the provider's userinfo endpoint when it has one: a
// provider that also issues an access token may keep the claims asked for with the
// "email" and "profile" scopes out of the ID token (OpenID Connect Core 5.4), as
// zitadel's does. The answer counts only for the ID token's subject (Core 5.3.4), and
// the ID token's own claims win.
func addUserInfo(ctx context.Context, c *models.SSOConfig, p *oidc.Provider, tok *oauth2.Token, subject string, claims map[string]any) error {
	wanted := []string{"email", "email_verified"}
	if c.GroupsClaim != "" {
		wanted = append(wanted, c.GroupsClaim)
	}
	missing := false
	for _, k := range wanted {
		if _, ok := claims[k]; !ok {
			missing = true
		}
	}
	if !missing || p.UserInfoEndpoint() == "" {
		return nil
	}
	ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return &models.SSORefusal{Reason: c.ProviderName + "'s ID token has no e-mail or groups, and its userinfo endpoint (" +
			p.UserInfoEndpoint() + ") did not give them: " + strings.TrimPrefix(err.Error(), "oidc: ") + ". Start again from the sign-in page; if it fails again, ask your administrator to check the client at " + c.ProviderName + "."}
	}
	if ui.Subject != subject {
		return &models.SSORefusal{Reason: c.ProviderName + "'s userinfo endpoint answered for another person than its ID token names, so Sluice cannot tell who you are. Ask your administrator to check the provider."}
	}
	more := map[string]any{}
	if err := ui.Claims(&more); err != nil {
		return &models.SSORefusal{Reason: c.ProviderName + "'s userinfo answer could not be read: " + err.Error() + "."}
	}
	for k, v := range more {
		if _, ok := claims[k]; !ok {
			claims[k] = v
		}
	}
	return nil
}

func tokenErrorWords(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode != "" {
			w := re.ErrorCode
			if re.ErrorDescription != "" {
				w += ": " + re.ErrorDescription
			}
			return w
		}
		return re.Response.Status
	}
	return err.Error()
}

func verifyWords(err error, c *models.SSOConfig) string {
	var expired *oidc.TokenExpiredError
	if errors.As(err, &expired) {
		return "it expired at " + expired.Expiry.UTC().Format("15:04:05 UTC") + " (is the clock of Sluice's server or the provider's wrong?)"
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "expected audience"):
		return "it was issued for another application, not for the client id " + c.ClientID
	case strings.Contains(msg, "id token issued by a different provider"):
		return "it was issued by another provider than " + c.Issuer
	case strings.Contains(msg, "signature"):
		return "its signature does not match the provider's keys"
	}
	return strings.TrimPrefix(msg, "oidc: ")
}

// ssoDiscoveryWords is a discovery failure as a sentence: the two that say what Sluice
// could (not) do start with its name.
func ssoDiscoveryWords(err error) string {
	msg := err.Error()
	if strings.HasPrefix(msg, "could not") || strings.HasPrefix(msg, "may not") {
		return "Sluice " + msg + "."
	}
	return upperFirst(msg) + "."
}
