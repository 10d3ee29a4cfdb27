package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// waitContains polls until the element's text holds want, and answers that text.
func waitContains(selector, want string, got *string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		deadline := time.Now().Add(20 * time.Second)
		last := ""
		for time.Now().Before(deadline) {
			txt, err := chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, selector))(ctx, t)
			if err == nil {
				if last = strings.TrimSpace(txt); strings.Contains(last, want) {
					*got = last
					return chromedp.Void{}, nil
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		return chromedp.Void{}, fmt.Errorf("%s: text is %q, want it to hold %q", selector, last, want)
	}
}

// A webhook slow to answer, which answers 503 the first time: the run's page says what
// the run waits for, in plain words and naming the platform, then shows the run
// succeeded once the second try went through.
func TestRunPageSaysWhatTheRunWaitsFor(t *testing.T) {
	var requests atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Sluice-Check") != "" {
			_, _ = w.Write([]byte(`{}`))
			return
		}
		n := requests.Add(1)
		time.Sleep(3 * time.Second)
		if n == 1 {
			w.Header().Set("Retry-After", "3")
			http.Error(w, `{"message":"busy"}`, http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	defer hook.Close()
	base := startSluice(t, "SLUICE_ALLOW_PRIVATE_NETWORKS=true", "SLUICE_BOOTSTRAP_TOKEN="+runPageToken)

	// Three demo customers to a webhook, in one request.
	modelID := customersModel(t, base)
	var seg, platform, act, queued struct{ ID string }
	runPageAPI(t, base, "POST", "/segments", map[string]any{"model_id": modelID, "name": "First three",
		"conditions": map[string]any{"all": []any{map[string]any{"column": "id", "op": "lte", "value": 3}}}}, &seg)
	runPageAPI(t, base, "POST", "/platforms", map[string]any{"name": "Slow webhook", "kind": "webhook", "config": map[string]any{"url": hook.URL}}, &platform)
	runPageAPI(t, base, "POST", "/activations", map[string]any{"name": "First three to the slow webhook", "segment_id": seg.ID, "platform_id": platform.ID,
		"action": "sync_records", "schedule": map[string]string{"kind": "manual"},
		"mappings": []map[string]string{{"from": "email", "to": "email", "type": "email"}, {"from": "first_name", "to": "first_name"}}}, &act)

	ctx := newBrowser(t)
	shots := newScreenshots(t)
	shots.n = 360
	run(t, ctx, "set up", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))
	runPageAPI(t, base, "POST", "/activations/"+act.ID+"/runs", nil, &queued)

	var waiting, backoff string
	run(t, ctx, "the run waits for the webhook",
		chromedp.Navigate(base+"/runs/"+queued.ID),
		waitContains(`[data-testid=progress-wait]`, "Waiting for the platform Slow webhook to answer:", &waiting),
		shots.take("run-waits-for-answer"),
		waitContains(`[data-testid=progress-wait]`, "last answer: 503 Service Unavailable", &backoff),
		shots.take("run-waits-after-503"),
	)
	if !strings.Contains(waiting, "s so far, timeout 30 s, try 1 of 5") {
		t.Errorf("the first wait reads %q", waiting)
	}
	if !strings.Contains(backoff, "try 2 of 5") {
		t.Errorf("the wait after the 503 reads %q", backoff)
	}
	run(t, ctx, "the run succeeds",
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=run-counts]`)),
		shots.take("run-succeeded-after-wait"),
	)
	status := read(t, ctx, "read status", chromedp.Text(chromedp.CSS(`[data-testid=run-status]`)))
	if !strings.HasPrefix(status, "Succeeded") {
		t.Fatalf("the run ended %q", status)
	}
	if n := read(t, ctx, "count waits", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=progress-wait]').length`)); n != 0 {
		t.Error("the finished run's page still says it waits")
	}
	if got := requests.Load(); got != 2 {
		t.Errorf("the webhook got %d requests, want 2 (a 503, then the one that went through)", got)
	}
}
