package e2e

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The activation page follows the run it started: no reload, its live panel shows the
// stage and the rows processed as they grow, and once the run ends the page shows it
// finished in the Run History, the live panel gone.
func TestActivationPageFollowsItsRun(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Sluice-Check") == "" {
			time.Sleep(150 * time.Millisecond)
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	defer hook.Close()
	base := startSluice(t, "SLUICE_ALLOW_PRIVATE_NETWORKS=true", "SLUICE_BOOTSTRAP_TOKEN="+runPageToken)
	modelID := customersModel(t, base)
	var seg, platform, act struct{ ID string }
	runPageAPI(t, base, "POST", "/segments", map[string]any{"model_id": modelID, "name": "Everyone", "conditions": map[string]any{"all": []any{}}}, &seg)
	runPageAPI(t, base, "POST", "/platforms", map[string]any{"name": "CRM webhook", "kind": "webhook", "config": map[string]any{"url": hook.URL, "batch_size": "25"}}, &platform)
	runPageAPI(t, base, "POST", "/activations", map[string]any{"name": "Everyone to the CRM", "segment_id": seg.ID, "platform_id": platform.ID,
		"action": "sync_records", "schedule": map[string]string{"kind": "manual"}, "settings": map[string]any{"default_phone_region": "FR"},
		"mappings": []map[string]string{{"from": "email", "to": "email", "type": "email"}, {"from": "first_name", "to": "first_name"}}}, &act)

	ctx := newBrowser(t)
	shots := newScreenshots(t)
	shots.n = 170
	run(t, ctx, "set up", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))
	run(t, ctx, "run it from its page",
		chromedp.Navigate(base+"/activations/"+act.ID),
		click(`[data-testid=run-now]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=live-run] [data-testid=run-progress][hx-trigger]`)),
	)
	// A mark on the window tells whether the page was reloaded.
	mark := func() bool {
		ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__same === true`))
		return ok
	}
	if !read(t, ctx, "mark the page", chromedp.Evaluate[bool](`window.__same = true`)) {
		t.Fatal("the page could not be marked")
	}
	processed := func() int64 {
		txt, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('[data-testid=live-run] [data-testid=progress-processed]') || {}).textContent || ""`))
		n, _ := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(txt), ",", ""), 10, 64)
		return n
	}
	var moved int64
	for i := 0; i < 300 && moved == 0; i++ {
		time.Sleep(100 * time.Millisecond)
		moved = processed()
	}
	if moved == 0 || !mark() {
		t.Fatalf("the live panel never moved without a reload (processed %d, same page %v)", moved, mark())
	}
	run(t, ctx, "watch it move", shots.take("activation-live-run"))
	stage := read(t, ctx, "stage", chromedp.Evaluate[string](`document.querySelector('[data-testid=live-run] [data-testid=progress-stage]').textContent`))
	if strings.HasPrefix(stage, "Queued") || strings.HasPrefix(stage, "Preflight") {
		t.Errorf("rows are processed, yet the live panel says %q", stage)
	}
	// The run ends: the page shows it finished, by itself.
	deadline := time.Now().Add(90 * time.Second)
	for {
		done, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.querySelector('[data-testid=live-run]') && !!document.querySelector('[data-testid=run-row]') && document.querySelector('[data-testid=run-row]').textContent.includes('Succeeded')`))
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the activation page did not show the finished run within 90 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	run(t, ctx, "the finished run", settle, shots.take("activation-run-finished"))
	if n := read(t, ctx, "polls left", chromedp.Evaluate[int](`document.querySelectorAll('[hx-trigger^=every]').length`)); n != 0 {
		t.Errorf("%d elements still poll once no run is in flight", n)
	}

	// Its run page sums the source issues up by reason; a reason narrows the list.
	run(t, ctx, "its source issues by reason",
		click(`[data-testid=run-row] a`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=source-issues-summary]`)),
		chromedp.ScrollIntoView(chromedp.CSS(`#source-issues-card`)),
		settle, shots.take("run-issue-summary"),
		click(`[data-testid=source-issues-summary] [data-testid=reason-link]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=source-issues-filter]`)),
		settle, shots.take("run-issues-one-reason"),
	)
	if !read(t, ctx, "one reason listed", chromedp.Evaluate[bool](`(() => {
		const want = document.querySelector('[data-testid=source-issues-summary] tr.active [data-testid=reason-count]').textContent.trim();
		const rows = [...document.querySelectorAll('#source-issues-card [data-testid=issue-row]')];
		const page = Math.min(Number(want.replace(/,/g, '')), 100); // the list shows 100 records a page
		return rows.length > 0 && rows.length === page && new Set(rows.map(r => r.children[2].textContent)).size === 1; })()`)) {
		t.Error("the list narrowed to one reason does not hold that reason's records alone")
	}
}
