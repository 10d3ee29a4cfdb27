package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// An editor of two workspaces copies the demo's Customers model: "Copy to workspace…"
// on the model's page, choose the target, and the preview says what is missing there
// (no warehouse source of the same kind yet) instead of creating half a copy.
func TestCopyModelPreview(t *testing.T) {
	base := startSluice(t, "SLUICE_BOOTSTRAP_TOKEN="+runPageToken)
	ctx := newBrowser(t)
	shots := newScreenshots(t)
	modelID := customersModel(t, base)

	run(t, ctx, "create the first admin", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))
	run(t, ctx, "add a workspace",
		chromedp.Click(chromedp.CSS(`[data-testid=nav-workspaces]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=add-workspace]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=add-workspace-form] #f-name`), "Production"),
		chromedp.Click(chromedp.CSS(`[data-testid=add-workspace]`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert-success`)),
	)
	run(t, ctx, "open the copy page from the model",
		chromedp.Navigate(base+"/models/"+modelID),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=copy-to-workspace]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=copy-to-workspace]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=copy-target-form]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=copy-target-form] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=copy-preview]`)),
		shots.take("copy-preview"),
	)
	msg := read(t, ctx, "read the preview", chromedp.Text(chromedp.CSS(`[data-testid=copy-preview]`)))
	if !strings.Contains(msg, "Production has no") || !strings.Contains(msg, "connect one there first") {
		t.Errorf("preview: %q", msg)
	}
}
