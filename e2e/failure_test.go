package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// api calls Sluice's API with the bootstrap token and decodes the answer.
func api(t *testing.T, base, method, path string, body any, out any) {
	t.Helper()
	var buf bytes.Buffer
	if body != nil {
		_ = json.NewEncoder(&buf).Encode(body)
	}
	req, _ := http.NewRequest(method, base+"/api/v1"+path, &buf)
	req.Header.Set("Authorization", "Bearer "+bootstrapToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		var e bytes.Buffer
		_, _ = e.ReadFrom(res.Body)
		t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, e.String())
	}
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

const bootstrapToken = "e2e-bootstrap-token-0123456789"

// The seed's troubleshooting path: a webhook starts refusing Sluice's credentials; the
// marketer filters the activations on Failed, opens the activation, reads the error in
// plain words and reaches the Re-authorize page in one click.
func TestFailedActivationLeadsToItsFix(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Sluice-Check") == "1" {
			_, _ = w.Write([]byte(`{}`)) // the check at connection time passes
			return
		}
		http.Error(w, `{"error":"token revoked"}`, http.StatusUnauthorized)
	}))
	defer hook.Close()
	base := startSluice(t, "SLUICE_ALLOW_PRIVATE_NETWORKS=true", "SLUICE_BOOTSTRAP_TOKEN="+bootstrapToken)

	var segs struct {
		Items []struct{ ID, Name string } `json:"items"`
	}
	api(t, base, "GET", "/segments", nil, &segs)
	if len(segs.Items) == 0 {
		t.Fatal("the demo has no segment")
	}
	var platform struct{ ID string }
	api(t, base, "POST", "/platforms", map[string]any{"name": "Ads audience", "kind": "webhook", "config": map[string]any{"url": hook.URL}}, &platform)
	var act struct{ ID string }
	api(t, base, "POST", "/activations", map[string]any{"name": "VIPs to ads", "segment_id": segs.Items[0].ID, "platform_id": platform.ID,
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
	shots.n = 90
	run(t, ctx, "set up", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))
	run(t, ctx, "filter on Failed",
		chromedp.Navigate(base+"/activations"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=activation-filters]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=activation-filters] a[href$="status=failed"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=activation-row]`)),
		shots.take("activations-failed"),
	)
	if p := currentPath(t, ctx); p != "/activations?status=failed" {
		t.Fatalf("the Failed filter opened %s", p)
	}
	run(t, ctx, "open the activation and its error",
		chromedp.Click(chromedp.CSS(`[data-testid=activation-row] a`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=current-error]`)),
		shots.take("activation-error"),
	)
	msg := read(t, ctx, "read the error", chromedp.Text(chromedp.CSS(`[data-testid=current-error]`)))
	if !strings.Contains(msg, "Bad Credentials/Insufficient permissions") {
		t.Fatalf("the error does not say its category: %q", msg)
	}
	run(t, ctx, "open the failed run, its error and its fix",
		chromedp.Click(chromedp.CSS(`[data-testid=current-error] a[href^="/runs/"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=run-error]`)),
		shots.take("failed-run"),
	)
	if got := read(t, ctx, "read the run's error", chromedp.Text(chromedp.CSS(`[data-testid=run-error]`))); !strings.Contains(got, "401") {
		t.Fatalf("the run page does not say what the webhook answered: %q", got)
	}
	run(t, ctx, "reach the fix",
		chromedp.Click(chromedp.CSS(`[data-testid=run-error] [data-testid=fix-button]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=save-platform]`)),
		shots.take("reauthorize"),
	)
	if p := currentPath(t, ctx); p != "/settings/platforms/"+platform.ID+"/reauthorize" {
		t.Fatalf("the fix button opened %s", p)
	}
}
