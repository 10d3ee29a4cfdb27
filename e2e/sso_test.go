package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"sluice/internal/fakes/oidcop"
)

// signInAtProvider fills the provider's own login page (zitadel/oidc's example).
func signInAtProvider(username, password string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		return chromedp.Void{}, chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(`#username`), username),
			chromedp.SendKeys(chromedp.CSS(`#password`), password),
			chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		)
	}
}

// The owner sets up single sign-on with a real OpenID Connect provider running locally
// (zitadel/oidc's OpenID Provider and its example login page), signs in with it once,
// requires it; the sign-in page then has no password form, and a new person's first
// sign-in makes their account with the role their group maps to.
func TestSingleSignOnWithOpenIDConnect(t *testing.T) {
	base := startSluice(t, "SLUICE_ALLOW_PRIVATE_NETWORKS=true") // the provider listens on loopback
	idp := oidcop.Start("sluice", "idp-secret-123", base+"/sso/callback",
		oidcop.User{ID: "ada-1", Username: "ada", Password: "ada-at-acme-id", FirstName: "Ada", LastName: "Lovelace",
			Email: "ada@acme.example", EmailVerified: true},
		oidcop.User{ID: "grace-7", Username: "grace", Password: "grace-at-acme-id", FirstName: "Grace", LastName: "Hopper",
			Email: "grace@acme.example", EmailVerified: true, Groups: []string{"staff", "data-team"}})
	defer idp.Close()
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
		chromedp.SendKeys(chromedp.CSS(`#f-groups_claim`), oidcop.GroupsClaim),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=sso-mapping] tbody tr:first-child input[name=group]`), "data-team"),
		chromedp.SetValue(chromedp.CSS(`[data-testid=sso-mapping] tbody tr:first-child select`), "editor"),
		chromedp.Click(chromedp.CSS(`[data-testid=save-sso]`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert-success`)),
		shots.take("sso-settings"),
		chromedp.ScrollIntoView(chromedp.CSS(`[data-testid=remove-sso-footer]`)),
		shots.take("sso-remove"),
	)
	run(t, ctx, "sign out and in with the provider",
		chromedp.Click(chromedp.CSS(`[data-testid=sign-out]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=sso-sign-in]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=password-form]`)),
		shots.take("sign-in-sso-or-password"),
		chromedp.Click(chromedp.CSS(`[data-testid=sso-sign-in]`)),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		shots.take("sso-provider-page"),
		signInAtProvider("ada", "ada-at-acme-id"),
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
	run(t, ctx, "a new person's first sign-in",
		chromedp.Click(chromedp.CSS(`[data-testid=sso-sign-in]`)),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		signInAtProvider("grace", "grace-at-acme-id"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=sign-out]`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert-success`)),
		shots.take("sso-first-sign-in"),
	)
	who := read(t, ctx, "read who is signed in", chromedp.Text(chromedp.CSS(`.sidebar-footer`)))
	if !strings.Contains(who, "grace@acme.example") || !strings.Contains(who, "Editor") {
		t.Errorf("signed in as %q, want grace@acme.example as Editor", who)
	}
}
