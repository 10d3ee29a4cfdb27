package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sluice/demo"
)

// clickLink clicks the link whose text is text, once htmx has settled.
func clickLink(text string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if err := settled(ctx, t); err != nil {
			return chromedp.Void{}, err
		}
		ok, err := chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const a = [...document.querySelectorAll('a')].find(a => a.textContent.trim() === %q);
			if (!a) return false; a.click(); return true; })()`, text))(ctx, t)
		if err == nil && !ok {
			err = fmt.Errorf("no link %q on the page", text)
		}
		return chromedp.Void{}, err
	}
}

// demoReady reloads the activations list until the banner says the demo is prepared.
func demoReady(base string, shots *screenshots) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		shot := false
		for range 100 {
			if _, err := chromedp.Navigate(base+"/activations")(ctx, t); err != nil {
				return chromedp.Void{}, err
			}
			state, err := chromedp.Evaluate[string](`(document.querySelector('[data-testid=demo-banner]') || {dataset: {}}).dataset.state || ""`)(ctx, t)
			if err != nil {
				return chromedp.Void{}, err
			}
			if state == "ready" {
				return chromedp.Void{}, nil
			}
			if state == "preparing" && !shot {
				shot = true
				if _, err := shots.take("demo-preparing")(ctx, t); err != nil {
					return chromedp.Void{}, err
				}
			}
			time.Sleep(250 * time.Millisecond)
		}
		return chromedp.Void{}, fmt.Errorf("the demo was not prepared in 25 s")
	}
}

// The demo tells Sluice's story on a fresh start: its activations list shows the one
// that failed; its page says why and opens the run, whose fix leads to the platform's
// rate; the broken OAuth platform is re-authorized on the built-in consent page; the
// renamed column is remapped and the two activations it paused resume.
func TestDemoStory(t *testing.T) {
	base := startSluice(t, "SLUICE_DEMO_STORY=true", "SLUICE_BOOTSTRAP_TOKEN="+bootstrapToken)
	ctx := newBrowser(t)
	shots := newScreenshots(t)
	shots.n = 200
	run(t, ctx, "set up", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))
	run(t, ctx, "wait for the demo", demoReady(base, shots))

	run(t, ctx, "the list shows the failed activation",
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=activation-row]`)),
		shots.take("demo-activations"),
		clickLink("Failed"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=activation-row]`)),
		shots.take("demo-failed-filter"),
		clickLink(demo.ActivationRateLimit),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=current-error]`)),
		shots.take("demo-failed-activation"),
	)
	why := read(t, ctx, "read its error", chromedp.Text(chromedp.CSS(`[data-testid=current-error]`)))
	if !strings.Contains(why, "Rate Limit") || !strings.Contains(why, "429 Too Many Requests") {
		t.Errorf("the activation's error says %q", why)
	}
	run(t, ctx, "open the run and follow the fix",
		clickLink("Open the run"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=run-error] [data-testid=fix-button]`)),
		shots.take("demo-failed-run"),
		click(`[data-testid=run-error] [data-testid=fix-button]`),
		chromedp.WaitVisible(chromedp.CSS(`#platform-settings`)),
		chromedp.ScrollIntoView(chromedp.CSS(`#platform-settings`)),
		shots.take("demo-fix-rate"),
	)
	if p := currentPath(t, ctx); !strings.HasPrefix(p, "/settings/platforms/") || !strings.HasSuffix(p, "#platform-settings") {
		t.Errorf("the fix opened %s", p)
	}
	title := read(t, ctx, "read the platform", chromedp.Text(chromedp.CSS(`h1`)))
	if strings.TrimSpace(title) != demo.PlatformAds {
		t.Errorf("the fix opened the platform %q", title)
	}

	run(t, ctx, "re-authorize the broken platform",
		chromedp.Navigate(base+"/settings/platforms"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=reauthorize]`)),
		shots.take("demo-broken-platform"),
		click(`[data-testid=reauthorize]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=continue-oauth]`)),
		click(`[data-testid=continue-oauth]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=consent-allow]`)),
		shots.take("demo-consent"),
		chromedp.Click(chromedp.CSS(`[data-testid=consent-allow]`)),
		waitText(`[data-testid=platform-status]`, "Connected"),
		shots.take("demo-reauthorized"),
	)
	if flash := read(t, ctx, "read the flash", chromedp.Text(chromedp.CSS(`#flash`))); !strings.Contains(flash, "1 activation paused by it resumed") {
		t.Errorf("after re-authorizing, the flash says %q", flash)
	}

	run(t, ctx, "remap the renamed column",
		chromedp.Navigate(base+"/activations?status=paused"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=paused-icon]`)),
		shots.take("demo-paused"),
		chromedp.Navigate(base+"/models"),
		clickLink("Loyalty members"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=remap-column]`)),
		shots.take("demo-model-issue"),
		click(`[data-testid=remap-column]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=remap-plan]`)),
		shots.take("demo-remap"),
	)
	to := read(t, ctx, "read the suggestion", chromedp.AttributeValue(chromedp.CSS(`[data-testid=remap-candidate]`), "data-column"))
	if to.Value != demo.RenamedTo {
		t.Errorf("the wizard suggests %q first, want %s", to.Value, demo.RenamedTo)
	}
	run(t, ctx, "accept", click(`[data-testid=remap-accept]`), chromedp.WaitVisible(chromedp.CSS(`[data-testid=columns-table]`)), shots.take("demo-remapped"))
	flash := read(t, ctx, "read the flash", chromedp.Text(chromedp.CSS(`#flash`)))
	for _, name := range []string{demo.ActivationMobiles, demo.ActivationPoints} {
		if !strings.Contains(flash, name) {
			t.Errorf("the flash %q does not name %s as resumed", flash, name)
		}
	}
	run(t, ctx, "the paused activations resumed",
		chromedp.Navigate(base+"/activations"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=activation-row]`)),
		shots.take("demo-resumed"),
	)
	paused := read(t, ctx, "count pause icons", chromedp.Evaluate[int](`document.querySelectorAll("[data-testid=paused-icon]").length`))
	if paused != 0 {
		t.Errorf("%d activations are still paused", paused)
	}
}
