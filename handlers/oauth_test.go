package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"sluice/config"
	"sluice/destinations/hubspot"
	hubspotfake "sluice/internal/fakes/hubspot"
	oauthfake "sluice/internal/fakes/oauth"
	"sluice/internal/testutil"
	"sluice/models"
)

// The OAuth pages on both databases: "Continue to HubSpot" sends the browser to the
// consent page with state; the provider's answer connects the platform; Re-authorize
// shows what waits and consents again; a denial changes nothing and says so; a state
// used twice is refused.
func TestOAuthPlatformPages(t *testing.T) {
	for _, d := range testutil.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			as := oauthfake.New(oauthfake.Options{ClientID: "sluice-test", ClientSecret: "test-secret", Style: oauthfake.StyleHubSpot, AutoApprove: true})
			defer as.Close()
			crm := hubspotfake.New(hubspotfake.Options{Tokens: as.Valid})
			defer crm.Close()
			cfg := config.Default()
			cfg.OAuth = map[string]config.OAuthClient{"hubspot": {ClientID: "sluice-test", ClientSecret: "test-secret", AuthURL: as.AuthURL(), TokenURL: as.TokenURL()}}
			a := serveWith(t, testutil.Store(t, d.URL(t)), cfg, hubspot.New(hubspot.Options{BaseURL: crm.URL, AllowPrivate: true}))
			_, browser := signedInAdmin(t, a)

			// consent follows the provider's answer back to Sluice's callback, and returns
			// the callback's address with Sluice's answer.
			consent := func(r *response) (string, *response) {
				t.Helper()
				to := r.want(t, http.StatusSeeOther).Location()
				if !strings.HasPrefix(to, as.AuthURL()+"?") || !strings.Contains(to, "state=") {
					t.Fatalf("the browser was sent to %q, not the consent page", to)
				}
				res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(to)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				back, err := url.Parse(res.Header.Get("Location"))
				if err != nil || back.Path != "/oauth/callback" {
					t.Fatalf("the provider sent the browser to %q", res.Header.Get("Location"))
				}
				callback := back.Path + "?" + back.RawQuery
				return callback, browser.get(callback)
			}

			form := url.Values{"_csrf": {browser.csrf("/settings/platforms/new?kind=hubspot")}, "kind": {"hubspot"}, "name": {"HubSpot"}}
			_, connected := consent(browser.post("/settings/platforms/oauth", form))
			page := browser.get(connected.want(t, http.StatusSeeOther).Location()).want(t, http.StatusOK)
			if got := page.Text(t, "[data-testid=platform-status]"); got != "Connected" {
				t.Fatalf("after consent the platform is %q", got)
			}
			if got := page.Text(t, "[data-testid=platform-connection]"); !strings.Contains(got, "admin@example.com") || !strings.Contains(got, "crm.objects.contacts.write") {
				t.Fatalf("the platform page does not say who connected it or its scopes: %q", got)
			}
			list, err := a.store.ListPlatforms(t.Context(), models.DefaultWorkspaceID)
			if err != nil || len(list) != 1 || !list[0].HasGrant() {
				t.Fatalf("platforms after consent: %+v (%v)", list, err)
			}
			p := list[0]

			// Re-authorize: what waits, then consent again.
			re := browser.get("/settings/platforms/"+p.ID+"/reauthorize").want(t, http.StatusOK)
			if got := re.Text(t, "[data-testid=blast-radius]"); !strings.Contains(got, "No activation is paused because of it") {
				t.Fatalf("the blast radius of a platform that paused nothing: %q", got)
			}
			token := re.Doc(t).Find("[data-testid=oauth-reauthorize] input[name=_csrf]").AttrOr("value", "")
			callback, back := consent(browser.post("/settings/platforms/"+p.ID+"/oauth", url.Values{"_csrf": {token}}))
			if to := back.want(t, http.StatusSeeOther).Location(); to != "/settings/platforms/"+p.ID {
				t.Fatalf("re-authorizing ended on %q", to)
			}
			if again, _ := a.store.PlatformByID(t.Context(), p.WorkspaceID, p.ID); again.OAuthSealed == p.OAuthSealed {
				t.Fatal("re-authorizing kept the old grant")
			}
			// The same answer again: its state was used.
			if to := browser.get(callback).want(t, http.StatusSeeOther).Location(); to != "/settings/platforms" {
				t.Fatalf("an answer used twice ended on %q", to)
			}
			if msg := browser.get("/settings/platforms").Text(t, "#flash"); !strings.Contains(msg, "unknown, expired or already used") {
				t.Fatalf("an answer used twice says %q", msg)
			}
			// A denial goes back to Re-authorize and says so.
			to := browser.post("/settings/platforms/"+p.ID+"/oauth", url.Values{"_csrf": {token}}).want(t, http.StatusSeeOther).Location()
			state, _ := url.Parse(to)
			denied := browser.get("/oauth/callback?error=access_denied&state=" + url.QueryEscape(state.Query().Get("state")))
			if loc := denied.want(t, http.StatusSeeOther).Location(); loc != "/settings/platforms/"+p.ID+"/reauthorize" {
				t.Fatalf("a denial ended on %q", loc)
			}
			if msg := browser.get("/settings/platforms/"+p.ID+"/reauthorize").Text(t, "#flash"); !strings.Contains(msg, "HubSpot did not grant access (access_denied)") {
				t.Fatalf("the denial says %q", msg)
			}
		})
	}
}
