package e2e

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A destination answering 404 leads to the platform's own page, where its settings (the
// URL among them) are edited: no Re-authorize, no source settings.
func TestNotFoundLeadsToEditablePlatformSettings(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Sluice-Check") == "1" {
			_, _ = w.Write([]byte(`{}`))
			return
		}
		http.Error(w, `{"error":"no such list"}`, http.StatusNotFound)
	}))
	defer hook.Close()
	base := startSluice(t, "SLUICE_ALLOW_PRIVATE_NETWORKS=true", "SLUICE_BOOTSTRAP_TOKEN="+bootstrapToken)

	var segs struct {
		Items []struct{ ID, Name string } `json:"items"`
	}
	api(t, base, "GET", "/segments", nil, &segs)
	var platform struct{ ID string }
	api(t, base, "POST", "/platforms", map[string]any{"name": "Newsletter list", "kind": "webhook", "config": map[string]any{"url": hook.URL}}, &platform)
	var act struct{ ID string }
	api(t, base, "POST", "/activations", map[string]any{"name": "VIPs to the list", "segment_id": segs.Items[0].ID, "platform_id": platform.ID,
		"action": "sync_records", "mappings": []map[string]string{{"from": "email", "to": "email", "type": "email"}}, "schedule": map[string]string{"kind": "manual"}}, &act)
	var queued struct{ ID, Status string }
	api(t, base, "POST", "/activations/"+act.ID+"/runs", nil, &queued)
	for i := 0; i < 100 && queued.Status != "failed"; i++ {
		time.Sleep(100 * time.Millisecond)
		api(t, base, "GET", "/runs/"+queued.ID, nil, &queued)
	}
	if queued.Status != "failed" {
		t.Fatalf("the run is %s, want failed", queued.Status)
	}

	ctx := newBrowser(t)
	shots := newScreenshots(t)
	shots.n = 110
	run(t, ctx, "set up", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))
	run(t, ctx, "open the failed run and its fix",
		chromedp.Navigate(base+"/runs/"+queued.ID),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=run-error] [data-testid=fix-button]`)),
		shots.take("not-found-run-fix"),
	)
	label := read(t, ctx, "read the fix", chromedp.Text(chromedp.CSS(`[data-testid=run-error] [data-testid=fix-button]`)))
	if strings.TrimSpace(label) != "Check the platform settings" {
		t.Fatalf("the fix button says %q", label)
	}
	run(t, ctx, "reach the platform's settings",
		chromedp.Click(chromedp.CSS(`[data-testid=run-error] [data-testid=fix-button]`)),
		chromedp.WaitVisible(chromedp.CSS(`#platform-settings input[name="config.url"]`)),
		chromedp.ScrollIntoView(chromedp.CSS(`#platform-settings`)),
		shots.take("platform-settings"),
	)
	if p := currentPath(t, ctx); p != "/settings/platforms/"+platform.ID+"#platform-settings" {
		t.Fatalf("the fix button opened %s", p)
	}
}
