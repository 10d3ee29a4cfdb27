package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
)

// An admin connects a webhook platform, creates an activation of the demo segment,
// runs it, and reads the run: records arrive at the webhook, and the run page shows
// the counts and the records withheld for bad data.
func TestActivationRunsToAWebhook(t *testing.T) {
	var received atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Records []json.RawMessage `json:"records"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		received.Add(int64(len(body.Records)))
		_, _ = w.Write([]byte(`{}`))
	}))
	defer hook.Close()
	base := startSluice(t, "SLUICE_ALLOW_PRIVATE_NETWORKS=true")
	ctx := newBrowser(t)
	shots := newScreenshots(t)
	shots.n = 70

	run(t, ctx, "set up", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))
	run(t, ctx, "connect a webhook platform",
		chromedp.Navigate(base+"/settings/platforms"),
		chromedp.Click(chromedp.CSS(`[data-testid=new-platform]`)),
		chromedp.WaitVisible(chromedp.CSS(`#f-kind`)), // the form's page, before choosing on it
		choose("#f-kind", "webhook"),
		chromedp.WaitVisible(chromedp.CSS(`[name="config.url"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-name`), "CRM webhook"),
		chromedp.SendKeys(chromedp.CSS(`[name="config.url"]`), hook.URL),
		shots.take("platform-form"),
		chromedp.Click(chromedp.CSS(`[data-testid=save-platform]`)),
		waitText(`[data-testid=platform-status]`, "Connected"),
		shots.take("platform-page"),
	)
	run(t, ctx, "create an activation",
		chromedp.Navigate(base+"/activations/new"),
		createThroughWizard("VIPs to the CRM", "FR"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=run-now]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=run-now]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=run-row]`)),
	)
	// The run executes in the server's workers: reload until it is over.
	for i := 0; i < 50; i++ {
		status := read(t, ctx, "read health", chromedp.Text(chromedp.CSS(`[data-testid=activation-health]`)))
		if status != "Never run" {
			break
		}
		run(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`[data-testid=run-row]`)))
	}
	run(t, ctx, "activation page", shots.take("activation-page"),
		chromedp.Click(chromedp.CSS(`[data-testid=run-row] a`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=run-counts]`)),
		shots.take("run-page"),
	)
	sent := read(t, ctx, "read sent", chromedp.Text(chromedp.CSS(`[data-testid=count-sent]`)))
	if sent == "0" || strings.TrimSpace(sent) == "" {
		t.Fatalf("the run sent %q records", sent)
	}
	if got := received.Load(); got == 0 || strings.TrimSpace(sent) != strconv.FormatInt(got, 10) {
		t.Fatalf("the webhook received %d records, the run page says %s sent", got, sent)
	}
	run(t, ctx, "activations list", chromedp.Navigate(base+"/activations"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=activation-row]`)), shots.take("activations-list"))
}
