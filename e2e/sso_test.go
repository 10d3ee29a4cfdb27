package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	fakeoidc "sluice/internal/fakes/oidc"
)

// The owner sets up single sign-on with an OpenID Connect provider running locally,
// signs in with it once, requires it; the sign-in page then has no password form, and a
// new person's first sign-in makes their account with the role their group maps to.
func TestSingleSignOnWithOpenIDConnect(t *testing.T) {
	base := startSluice(t, "SLUICE_ALLOW_PRIVATE_NETWORKS=true") // the provider listens on loopback
	idp := fakeoidc.New("sluice", "idp-secret-123", base+"/sso/callback",
		fakeoidc.User{Subject: "ada-1", Email: "ada@acme.example", EmailVerified: true, Name: "Ada Lovelace"})
	defer idp.Close()
	idp.Interactive = true // the provider shows its own sign-in page
	ctx := newBrowser(t)
	shots := newScreenshots(t)

	run(t, ctx, "create the first admin", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))
	run(t, ctx, "set up single sign-on",
		chromedp.Click(chromedp.CSS(`[data-testid=nav-sso]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=save-sso]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-provider_name`), "Acme ID"),
		chromedp.SendKeys(chromedp.CSS(`#f-issuer`), idp.Issuer()),
		chromedp.SendKeys(chromedp.CSS(`#f-client_id`), "sluice"),
		chromedp.SendKeys(chromedp.CSS(`#f-client_secret`), "idp-secret-123"),
		chromedp.SendKeys(chromedp.CSS(`#f-groups_claim`), "groups"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=sso-mapping] tbody tr:first-child input[name=group]`), "data-team"),
		chromedp.SetValue(chromedp.CSS(`[data-testid=sso-mapping] tbody tr:first-child select`), "editor"),
		chromedp.Click(chromedp.CSS(`[data-testid=save-sso]`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert-success`)),
		shots.take("sso-settings"),
	)
	run(t, ctx, "sign out and in with the provider",
		chromedp.Click(chromedp.CSS(`[data-testid=sign-out]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=sso-sign-in]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=password-form]`)),
		shots.take("sign-in-sso-or-password"),
		chromedp.Click(chromedp.CSS(`[data-testid=sso-sign-in]`)),
		chromedp.WaitVisible(chromedp.CSS(`#continue`)),
		shots.take("sso-provider-page"),
		chromedp.Click(chromedp.CSS(`#continue`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=sign-out]`)),
	)
	run(t, ctx, "require single sign-on",
		chromedp.Navigate(base+"/settings/sso"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=require-sso-on]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=require-sso-on]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=break-glass]`)),
		shots.take("sso-required"),
		chromedp.Click(chromedp.CSS(`[data-testid=sign-out]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=sso-sign-in]`)),
		chromedp.Poll[chromedp.Void](`!document.querySelector('input[name=password]') && !document.querySelector('[data-testid=password-form]')`),
		shots.take("sign-in-sso-only"),
	)
	idp.SetUser(fakeoidc.User{Subject: "grace-7", Email: "grace@acme.example", EmailVerified: true, Name: "Grace Hopper", Groups: []string{"staff", "data-team"}})
	run(t, ctx, "a new person's first sign-in",
		chromedp.Click(chromedp.CSS(`[data-testid=sso-sign-in]`)),
		chromedp.WaitVisible(chromedp.CSS(`#continue`)),
		chromedp.Click(chromedp.CSS(`#continue`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=sign-out]`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert-success`)),
		shots.take("sso-first-sign-in"),
	)
	who := read(t, ctx, "read who is signed in", chromedp.Text(chromedp.CSS(`.sidebar-footer`)))
	if !strings.Contains(who, "grace@acme.example") || !strings.Contains(who, "Editor") {
		t.Errorf("signed in as %q, want grace@acme.example as Editor", who)
	}
}
