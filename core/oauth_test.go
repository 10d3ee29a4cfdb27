package core_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/core"
	oauthfake "sluice/internal/fakes/oauth"
	"sluice/internal/testutil"
	"sluice/models"
)

// crmKind is a platform kind connected with OAuth whose every call asks its Tokens for
// the access token and shows it to the authorization server, as a real API would.
type crmKind struct {
	as *oauthfake.Server
	// longLived is the spec's LongLivedGrant (Meta's way).
	longLived string
}

func (k crmKind) Spec() connectors.DestinationSpec {
	return connectors.DestinationSpec{Kind: "crm", Label: "CRM", Auth: connectors.AuthOAuth,
		OAuth: &connectors.OAuthSpec{Provider: "crm", AuthURL: "https://crm.example/authorize", TokenURL: "https://crm.example/token", Scopes: []string{"contacts"}, PKCE: true, LongLivedGrant: k.longLived},
		Actions: []connectors.Action{{Name: "sync", Label: "Sync", BatchSize: 10,
			Fields: []connectors.ActionField{{Name: "email", Label: "E-mail", Kind: connectors.KindEmail, Identifier: true}}}}}
}

func (k crmKind) Open(_ context.Context, _ connectors.Config, tokens connectors.Tokens) (connectors.Destination, error) {
	return &crmPlatform{as: k.as, tokens: tokens}, nil
}

type crmPlatform struct {
	as     *oauthfake.Server
	tokens connectors.Tokens
}

func (p *crmPlatform) Check(ctx context.Context) error {
	tok, err := p.tokens.AccessToken(ctx)
	if err != nil {
		return err
	}
	if _, ok := p.as.Valid(tok); !ok {
		return &connectors.Error{Category: connectors.CategoryCredentials, Message: "The CRM answered 401 Unauthorized."}
	}
	return nil
}

func (p *crmPlatform) Write(ctx context.Context, _ connectors.Batch) (*connectors.WriteResult, error) {
	return &connectors.WriteResult{}, p.Check(ctx)
}

func (p *crmPlatform) Close() error { return nil }

// clock is a test clock shared by Sluice and the authorization server.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type oauthWorld struct {
	as        *oauthfake.Server
	longLived string
	clock     *clock
	store     *models.Store
	svc       *core.Service
	user      *models.User
	actor     models.Actor
}

func newOAuthWorld(t *testing.T, store *models.Store, o oauthfake.Options) *oauthWorld {
	t.Helper()
	w := &oauthWorld{clock: &clock{t: time.Now().UTC()}, store: store}
	o.ClientID, o.ClientSecret, o.AutoApprove, o.RequirePKCE, o.Now = "sluice-client", "sluice-secret", true, true, w.clock.Now
	w.as = oauthfake.New(o)
	t.Cleanup(w.as.Close)
	w.user, w.actor = testutil.Admin(t, store)
	w.svc = w.service(store)
	return w
}

// service is one instance of Sluice on store.
func (w *oauthWorld) service(store *models.Store) *core.Service {
	reg := connectors.NewRegistry()
	reg.RegisterDestination(crmKind{as: w.as, longLived: w.longLived})
	svc := core.New(store, reg)
	core.SetClock(svc, w.clock.Now)
	svc.SetOAuth("http://sluice.test", map[string]core.OAuthClient{"crm": {ClientID: "sluice-client", ClientSecret: "sluice-secret", AuthURL: w.as.AuthURL(), TokenURL: w.as.TokenURL()}})
	return svc
}

// consent asks for consent and follows the provider's answer to the callback's query.
func (w *oauthWorld) consent(t *testing.T, in core.OAuthRequest) url.Values {
	t.Helper()
	in.UserID = w.user.ID
	to, err := w.svc.StartOAuth(t.Context(), w.actor, in)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(to)
	if q := u.Query(); q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("redirect_uri") != "http://sluice.test/oauth/callback" || q.Get("state") == "" {
		t.Fatalf("the consent URL %s lacks PKCE, state or the redirect URI", to)
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(to)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(back.String(), "http://sluice.test/oauth/callback?") {
		t.Fatalf("the provider sent the user to %q (status %d)", resp.Header.Get("Location"), resp.StatusCode)
	}
	return back.Query()
}

func (w *oauthWorld) connect(t *testing.T) *models.Platform {
	t.Helper()
	q := w.consent(t, core.OAuthRequest{Kind: "crm", Name: "CRM"})
	res, err := w.svc.FinishOAuth(t.Context(), w.actor, w.user.ID, q.Get("state"), q.Get("code"), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.Platform.Status != models.PlatformConnected {
		t.Fatalf("consent gave %+v", res.Platform)
	}
	return res.Platform
}

func accessToken(t *testing.T, svc *core.Service, store *models.Store, p *models.Platform) (string, error) {
	t.Helper()
	p, err := store.PlatformByID(t.Context(), p.WorkspaceID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := svc.OpenPlatform(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	return d.(*crmPlatform).tokens.AccessToken(t.Context())
}

func TestOAuthConsentConnectsAPlatform(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, store *models.Store) {
		w := newOAuthWorld(t, store, oauthfake.Options{Scopes: []string{"contacts"}, Style: oauthfake.StyleHubSpot})
		q := w.consent(t, core.OAuthRequest{Kind: "crm", Name: "CRM"})
		// The state belongs to the user who asked, once.
		other := w.actor
		other.ID = "someone-else"
		if _, err := w.svc.FinishOAuth(t.Context(), other, "someone-else", q.Get("state"), q.Get("code"), "", ""); !errors.Is(err, core.ErrOAuthStateUnknown) {
			t.Fatalf("another user finished the consent: %v", err)
		}
		q = w.consent(t, core.OAuthRequest{Kind: "crm", Name: "CRM"})
		res, err := w.svc.FinishOAuth(t.Context(), w.actor, w.user.ID, q.Get("state"), q.Get("code"), "", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.FinishOAuth(t.Context(), w.actor, w.user.ID, q.Get("state"), q.Get("code"), "", ""); !errors.Is(err, core.ErrOAuthStateUnknown) {
			t.Fatalf("a state was used twice: %v", err)
		}
		p := res.Platform
		if p.ConnectedBy != w.actor.Name || p.Scopes != "contacts" || p.TokenExpiresAt == nil || p.GrantExpiresAt != nil || !p.HasGrant() {
			t.Fatalf("connected platform: by %q, scopes %q, token expiry %v, grant expiry %v", p.ConnectedBy, p.Scopes, p.TokenExpiresAt, p.GrantExpiresAt)
		}
		if strings.Contains(p.OAuthSealed, "access") || strings.Contains(p.ConfigJSON, "token") {
			t.Fatal("the grant is stored in clear")
		}
		tok, err := accessToken(t, w.svc, store, p)
		if _, ok := w.as.Valid(tok); err != nil || !ok {
			t.Fatalf("the stored access token does not work: %v", err)
		}
		if w.as.Refreshes() != 0 {
			t.Fatalf("a fresh token was refreshed %d times", w.as.Refreshes())
		}
		// A denial changes nothing and says so.
		q = w.consent(t, core.OAuthRequest{PlatformID: p.ID})
		_, err = w.svc.FinishOAuth(t.Context(), w.actor, w.user.ID, q.Get("state"), "", "access_denied", "The user said no")
		var denied *core.OAuthDeniedError
		if !errors.As(err, &denied) || denied.PlatformID != p.ID || !strings.Contains(err.Error(), "CRM did not grant access (access_denied)") {
			t.Fatalf("a denial gave %v", err)
		}
	})
}

// Access tokens are refreshed ahead of their expiry, once however many runs and instances
// need one at the same moment: the others wait and reuse it.
func TestOAuthRefreshesAheadOfExpiryOnce(t *testing.T) {
	for _, d := range testutil.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			dbURL := d.URL(t)
			first := testutil.Store(t, dbURL)
			w := newOAuthWorld(t, first, oauthfake.Options{AccessTTL: 30 * time.Minute, Style: oauthfake.StyleHubSpot})
			p := w.connect(t)
			old, err := accessToken(t, w.svc, first, p)
			if err != nil {
				t.Fatal(err)
			}
			w.as.SetDelay(150 * time.Millisecond) // a slow token endpoint widens the race
			w.clock.Add(26 * time.Minute)         // within the five minutes before expiry
			// Two instances on one database; in-process locks alone would not stop the second.
			instances := []struct {
				store *models.Store
				svc   *core.Service
			}{{first, w.svc}}
			if d.Name == "postgres" {
				second := testutil.Store(t, dbURL)
				instances = append(instances, struct {
					store *models.Store
					svc   *core.Service
				}{second, w.service(second)})
			}
			var wg sync.WaitGroup
			tokens := make(chan string, 16)
			for i := range 8 {
				in := instances[i%len(instances)]
				wg.Add(1)
				go func() {
					defer wg.Done()
					tok, err := accessToken(t, in.svc, in.store, p)
					if err != nil {
						t.Error(err)
					}
					tokens <- tok
				}()
			}
			wg.Wait()
			close(tokens)
			var fresh string
			for tok := range tokens {
				if fresh == "" {
					fresh = tok
				}
				if tok != fresh || tok == old {
					t.Fatalf("runs got different or stale tokens: %q, %q (old %q)", fresh, tok, old)
				}
			}
			if n := w.as.Refreshes(); n != 1 {
				t.Fatalf("%d refreshes for 8 runs at once, want 1", n)
			}
			if _, ok := w.as.Valid(fresh); !ok {
				t.Fatal("the refreshed token does not work")
			}
			stored, _ := first.PlatformByID(t.Context(), p.WorkspaceID, p.ID)
			if stored.TokenExpiresAt == nil || !stored.TokenExpiresAt.After(w.clock.Now().Add(25*time.Minute)) {
				t.Fatalf("the new expiry was not stored: %v", stored.TokenExpiresAt)
			}
		})
	}
}

// A dead refresh token is final: a credentials error that is not retried, worded for the
// user; re-authorizing gives the platform a working grant again.
func TestOAuthDeadRefreshTokenIsFinal(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, store *models.Store) {
		w := newOAuthWorld(t, store, oauthfake.Options{AccessTTL: 30 * time.Minute, Style: oauthfake.StyleHubSpot})
		p := w.connect(t)
		w.as.Revoke()
		w.clock.Add(26 * time.Minute)
		_, err := accessToken(t, w.svc, store, p)
		ce, ok := connectors.AsError(err)
		if !ok || ce.Category != connectors.CategoryCredentials || ce.Retryable ||
			!strings.Contains(ce.Message, "BAD_REFRESH_TOKEN") || !strings.Contains(ce.Message, "re-authorize the platform CRM.") {
			t.Fatalf("a revoked refresh token gave %v", err)
		}
		if _, err := w.svc.PlatformBroken(t.Context(), p, ce.Message); err != nil {
			t.Fatal(err)
		}
		q := w.consent(t, core.OAuthRequest{PlatformID: p.ID})
		res, err := w.svc.FinishOAuth(t.Context(), w.actor, w.user.ID, q.Get("state"), q.Get("code"), "", "")
		if err != nil {
			t.Fatal(err)
		}
		if res.Created || res.Platform.Status != models.PlatformConnected || res.Platform.BrokenAt != nil {
			t.Fatalf("after re-authorizing: %+v", res.Platform)
		}
		if tok, err := accessToken(t, w.svc, store, p); err != nil {
			t.Fatal(err)
		} else if _, ok := w.as.Valid(tok); !ok {
			t.Fatal("the new grant's token does not work")
		}
	})
}

// A grant that ends (a long-lived token without refresh) is announced a week ahead, with
// Re-authorize as the fix, and re-authorizing resolves it.
func TestOAuthGrantEndingIsAnnounced(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, store *models.Store) {
		w := newOAuthWorld(t, store, oauthfake.Options{NoRefresh: true, AccessTTL: 60 * 24 * time.Hour, Style: oauthfake.StyleMeta})
		p := w.connect(t)
		if p.GrantExpiresAt == nil || p.TokenExpiresAt == nil || !p.GrantExpiresAt.Equal(*p.TokenExpiresAt) {
			t.Fatalf("a long-lived token's end is the grant's: grant %v, token %v", p.GrantExpiresAt, p.TokenExpiresAt)
		}
		open := func() bool {
			has, err := store.HasOpenIncident(t.Context(), p.WorkspaceID, models.IncidentPlatform, p.ID, models.EventTokenExpiring)
			if err != nil {
				t.Fatal(err)
			}
			return has
		}
		if err := w.svc.CheckGrantEndings(t.Context()); err != nil || open() {
			t.Fatalf("announced 60 days ahead (%v)", err)
		}
		w.clock.Add(54 * 24 * time.Hour)
		if err := w.svc.CheckGrantEndings(t.Context()); err != nil || !open() {
			t.Fatalf("not announced 6 days ahead (%v)", err)
		}
		q := w.consent(t, core.OAuthRequest{PlatformID: p.ID})
		if _, err := w.svc.FinishOAuth(t.Context(), w.actor, w.user.ID, q.Get("state"), q.Get("code"), "", ""); err != nil {
			t.Fatal(err)
		}
		if open() {
			t.Fatal("re-authorizing did not resolve the announcement")
		}
		// Past its end, the token is refused by Sluice itself, with the fix.
		w.clock.Add(61 * 24 * time.Hour)
		_, err := accessToken(t, w.svc, store, p)
		if ce, ok := connectors.AsError(err); !ok || ce.Category != connectors.CategoryCredentials || !strings.Contains(ce.Message, "re-authorize") {
			t.Fatalf("an ended grant gave %v", err)
		}
	})
}

// Meta's consent gives a token of hours, traded at once for one of about 60 days.
func TestOAuthShortLivedTokenIsTradedForALongLivedOne(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, store *models.Store) {
		w := newOAuthWorld(t, store, oauthfake.Options{NoRefresh: true, AccessTTL: 2 * time.Hour, Style: oauthfake.StyleMeta})
		w.longLived = "fb_exchange_token"
		w.svc = w.service(store)
		p := w.connect(t)
		if n := w.as.Refreshes(); n != 1 {
			t.Fatalf("%d token trades after consent, want 1", n)
		}
		tok, err := accessToken(t, w.svc, store, p)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := w.as.Valid(tok); !ok {
			t.Fatal("the traded token does not work")
		}
		if p.Scopes != "contacts" || p.GrantExpiresAt == nil {
			t.Fatalf("the traded grant lost its scopes (%q) or its end (%v)", p.Scopes, p.GrantExpiresAt)
		}
	})
}
