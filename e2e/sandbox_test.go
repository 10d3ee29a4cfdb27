package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// Sandbox (OAuth) without any outside provider: connect it through Sluice's built-in
// consent page, send to it and read its inbox, revoke the grant, watch the run fail on
// credentials and the platform break, then re-authorize it and see it connected again.
func TestSandboxOAuthConsentAndReauthorize(t *testing.T) {
	base := startSluice(t, "SLUICE_BOOTSTRAP_TOKEN="+bootstrapToken) // no private networks, no OAuth settings
	ctx := newBrowser(t)
	shots := newScreenshots(t)
	shots.n = 160
	run(t, ctx, "set up", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))
	run(t, ctx, "connect the Sandbox (OAuth) through the built-in consent page",
		chromedp.Navigate(base+"/settings/platforms/new"),
		choose("#f-kind", "sandbox_oauth"),
		waitText(`[data-testid=save-platform]`, "Continue to Sandbox (OAuth)"),
		typeValue("#f-name", "Sandbox CRM"),
		click(`[data-testid=save-platform]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=consent-allow]`)),
		shots.take("sandbox-consent"),
		chromedp.Click(chromedp.CSS(`[data-testid=consent-allow]`)),
		waitText(`[data-testid=platform-status]`, "Connected"),
		shots.take("sandbox-connected"),
	)
	platformID := strings.TrimPrefix(currentPath(t, ctx), "/settings/platforms/")

	var segs struct {
		Items []struct{ ID, Name string } `json:"items"`
	}
	api(t, base, "GET", "/segments", nil, &segs)
	var act struct{ ID string }
	api(t, base, "POST", "/activations", map[string]any{"name": "Customers to the Sandbox", "segment_id": segs.Items[0].ID, "platform_id": platformID,
		"action": "sync_records", "mappings": []map[string]string{{"from": "email", "to": "email", "type": "email"}}, "schedule": map[string]string{"kind": "manual"}}, &act)
	first := runToEnd(t, base, act.ID, false)
	if !strings.HasPrefix(first.Status, "succeeded") {
		t.Fatalf("the first run %s (%s)", first.Status, first.message())
	}
	run(t, ctx, "open the inbox",
		chromedp.Navigate(base+"/settings/platforms/"+platformID),
		click(`[data-testid=open-inbox]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=inbox-row]`)),
		shots.take("sandbox-inbox"),
	)

	run(t, ctx, "revoke the grant",
		chromedp.Navigate(base+"/settings/platforms/"+platformID),
		click(`[data-testid=revoke-grant]`),
		waitText(`#flash`, "The grant was revoked at the Sandbox's authorization server: the next run or check fails with bad credentials, and the platform waits for Re-authorize."),
	)
	second := runToEnd(t, base, act.ID, true)
	if second.Status != "failed" || second.category() != "credentials" {
		t.Fatalf("after revoking, the run is %s (%s: %s)", second.Status, second.category(), second.message())
	}
	run(t, ctx, "re-authorize the broken platform",
		chromedp.Navigate(base+"/settings/platforms"),
		waitText(`[data-testid=platform-status]`, "Broken"),
		shots.take("sandbox-broken"),
		click(`[data-testid=reauthorize]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=continue-oauth]`)),
		click(`[data-testid=continue-oauth]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=consent-allow]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=consent-allow]`)),
		waitText(`[data-testid=platform-status]`, "Connected"),
		shots.take("sandbox-reauthorized"),
	)
	var now struct{ Status string }
	api(t, base, "GET", "/activations/"+act.ID, nil, &now)
	if now.Status != "active" {
		t.Fatalf("re-authorizing left the activation %s", now.Status)
	}
}
