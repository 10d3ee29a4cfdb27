package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const runPageToken = "e2e-runpage-token-0123456789abcdef"

// runPageAPI calls Sluice's API with runPageToken and decodes the answer.
func runPageAPI(t *testing.T, base, method, path string, body, out any) {
	t.Helper()
	var buf bytes.Buffer
	if body != nil {
		_ = json.NewEncoder(&buf).Encode(body)
	}
	req, _ := http.NewRequest(method, base+"/api/v1"+path, &buf)
	req.Header.Set("Authorization", "Bearer "+runPageToken)
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

// customersModel is the id of the demo's Customers model.
func customersModel(t *testing.T, base string) string {
	t.Helper()
	var ms struct {
		Items []struct{ ID, Name string } `json:"items"`
	}
	runPageAPI(t, base, "GET", "/models", nil, &ms)
	for _, m := range ms.Items {
		if m.Name == "Customers" {
			return m.ID
		}
	}
	t.Fatalf("no Customers model in the demo: %+v", ms.Items)
	return ""
}

// An operator watches a slow run on its page: the progress card polls, the rows
// processed and the bar move without a reload, then the page turns into the finished
// run with its counts and timing per stage. The log filters by level, a running run is
// cancelled from its page, and the record lookup tells what happened to one customer.
func TestRunPageShowsLiveProgress(t *testing.T) {
	var slow atomic.Bool
	var requests atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Sluice-Check") == "" && slow.Load() {
			time.Sleep(200 * time.Millisecond)
		}
		requests.Add(1)
		_, _ = w.Write([]byte(`{}`))
	}))
	defer hook.Close()
	base := startSluice(t, "SLUICE_ALLOW_PRIVATE_NETWORKS=true", "SLUICE_BOOTSTRAP_TOKEN="+runPageToken)

	// Everyone in the demo warehouse (5,000 customers), 50 records a request.
	modelID := customersModel(t, base)
	var seg, platform, act struct{ ID string }
	runPageAPI(t, base, "POST", "/segments", map[string]any{"model_id": modelID, "name": "Everyone", "conditions": map[string]any{"all": []any{}}}, &seg)
	runPageAPI(t, base, "POST", "/platforms", map[string]any{"name": "CRM webhook", "kind": "webhook", "config": map[string]any{"url": hook.URL, "batch_size": "50"}}, &platform)
	runPageAPI(t, base, "POST", "/activations", map[string]any{"name": "Everyone to the CRM", "segment_id": seg.ID, "platform_id": platform.ID,
		"action": "sync_records", "schedule": map[string]string{"kind": "manual"}, "settings": map[string]any{"default_phone_region": "FR"},
		"mappings": []map[string]string{{"from": "email", "to": "email", "type": "email"}, {"from": "first_name", "to": "first_name"}, {"from": "phone", "to": "phone", "type": "phone"}}}, &act)

	// A first, fast run: the segment's size is known from then on.
	var first struct {
		ID, Status string
		Counts     struct{ Queried int64 } `json:"counts"`
	}
	runPageAPI(t, base, "POST", "/activations/"+act.ID+"/runs", nil, &first)
	for i := 0; i < 200 && (first.Status == "queued" || first.Status == "running"); i++ {
		time.Sleep(100 * time.Millisecond)
		runPageAPI(t, base, "GET", "/runs/"+first.ID, nil, &first)
	}
	if first.Status != "succeeded_with_warnings" && first.Status != "succeeded" || first.Counts.Queried < 1500 {
		t.Fatalf("first run %s, queried %d", first.Status, first.Counts.Queried)
	}

	ctx := newBrowser(t)
	shots := newScreenshots(t)
	shots.n = 110
	run(t, ctx, "set up", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))

	// A slow full resync: about 100 requests of 200 ms.
	slow.Store(true)
	run(t, ctx, "start a slow full resync and open its page",
		chromedp.Navigate(base+"/activations/"+act.ID),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=full-resync]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=full-resync]`)),
		waitText(`.flash .alert-success`, "Full resync queued: every record will be sent again."),
		chromedp.Click(chromedp.CSS(`[data-testid=run-row] a`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=run-progress][hx-trigger]`)),
		shots.take("run-progress-start"),
	)
	runPath := currentPath(t, ctx)
	// processed reads the rows processed in one go: htmx replaces the node every second,
	// and the page reloads when the run ends.
	processed := func() int64 {
		txt, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('[data-testid=progress-processed]') || {}).textContent || ""`))
		if err != nil {
			return 0
		}
		n, _ := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(txt), ",", ""), 10, 64)
		return n
	}
	if n := processed(); n >= 1000 {
		t.Fatalf("the run processed %d rows before the page showed it: not slow enough to watch", n)
	}
	// The rows processed and the bar move while the page stays where it is.
	var moved int64
	for i := 0; i < 300 && moved == 0; i++ {
		time.Sleep(100 * time.Millisecond)
		if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=run-counts]').length`)); n > 0 {
			t.Fatal("the run finished before the page showed it moving")
		}
		moved = processed()
	}
	if moved == 0 {
		t.Fatal("the progress never moved")
	}
	bar := read(t, ctx, "read the bar", chromedp.Evaluate[[]float64](`(() => { const p = document.querySelector('[data-testid=progress-bar]'); return p ? [p.value, p.max, p.position] : [0, 0, 0]; })()`))
	if bar[0] <= 0 || bar[0] > bar[1] || bar[2] <= 0 || bar[2] >= 1 {
		t.Fatalf("the progress bar reads value %v of %v (position %v)", bar[0], bar[1], bar[2])
	}
	run(t, ctx, "progress moved", shots.take("run-progress-moving"))
	if p := currentPath(t, ctx); p != runPath {
		t.Fatalf("the page moved to %s", p)
	}

	// When the run is over the page shows its results, without anyone reloading it.
	run(t, ctx, "the finished page",
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=run-counts]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=run-timing]`)),
		shots.take("run-finished"),
	)
	if n := read(t, ctx, "count polls", chromedp.Evaluate[int](`document.querySelectorAll('[hx-trigger]').length`)); n != 0 {
		t.Errorf("the finished page still polls (%d triggers)", n)
	}
	timing := read(t, ctx, "read timing", chromedp.Text(chromedp.CSS(`[data-testid=run-timing]`)))
	if !strings.Contains(timing, "Extract and send") || !strings.Contains(timing, "rows/s") {
		t.Errorf("timing card: %q", timing)
	}
	status := read(t, ctx, "read status", chromedp.Text(chromedp.CSS(`[data-testid=run-status]`)))
	if !strings.HasPrefix(status, "Succeeded") {
		t.Fatalf("the slow run ended %q", status)
	}

	// The debugger shows a request sent and its answer.
	run(t, ctx, "open a request",
		chromedp.Click(chromedp.CSS(`[data-testid=sample] summary`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=sample] .sample-body`)),
		chromedp.ScrollIntoView(chromedp.CSS(`[data-testid=samples]`)),
		shots.take("run-request"),
	)
	if body := read(t, ctx, "read request", chromedp.Text(chromedp.CSS(`[data-testid=sample] .sample-pre`))); !strings.Contains(body, `"records"`) {
		t.Errorf("the request shown is %q", body)
	}

	// Another slow resync, cancelled from its page.
	run(t, ctx, "cancel a running run",
		chromedp.Navigate(base+"/activations/"+act.ID),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=full-resync]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=full-resync]`)),
		waitText(`.flash .alert-success`, "Full resync queued: every record will be sent again."),
		chromedp.Click(chromedp.CSS(`[data-testid=run-row] a`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=cancel-run]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=cancel-run]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=cancel-requested]`)),
		shots.take("run-cancel-requested"),
		waitText(`[data-testid=run-status]`, "Cancelled"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=run-cancelled]`)),
		shots.take("run-cancelled"),
	)
	cancelledPath := currentPath(t, ctx)

	// Its log filters by level, swapped in place: the errors say why it stopped.
	run(t, ctx, "filter the log",
		chromedp.Click(chromedp.CSS(`[data-testid=log-level-error]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=log-level-error].active`)),
		chromedp.ScrollIntoView(chromedp.CSS(`#run-log-card`)),
		shots.take("run-log-errors"),
	)
	levels := read(t, ctx, "read log levels", chromedp.Evaluate[[]string](`[...document.querySelectorAll('.log-line .log-level')].map(e => e.textContent.trim())`))
	if len(levels) == 0 {
		t.Fatal("the cancelled run's log has no error line")
	}
	for _, l := range levels {
		if l != "error" {
			t.Fatalf("the errors filter shows a %q line", l)
		}
	}
	if p := currentPath(t, ctx); p != cancelledPath+"?level=error" {
		t.Errorf("the filter is not in the address: %s", p)
	}

	// The record lookup: why customer 194 (an invalid e-mail in the demo) is not at the
	// platform, what happened to customer 1, and a key never seen.
	run(t, ctx, "look a withheld record up",
		chromedp.Navigate(base+"/activations/"+act.ID),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=lookup-key]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=lookup-key]`), "194"),
		chromedp.Click(chromedp.CSS(`[data-testid=lookup-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=timeline-entry]`)),
		chromedp.ScrollIntoView(chromedp.CSS(`[data-testid=record-lookup]`)),
		shots.take("record-lookup-withheld"),
	)
	timeline := func() []string {
		return read(t, ctx, "read timeline", chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid=timeline-entry]')].map(e => e.dataset.kind)`))
	}
	if kinds := timeline(); len(kinds) < 2 || kinds[0] != "withheld" {
		t.Errorf("customer 194's timeline: %v", kinds)
	}
	if why := read(t, ctx, "read why", chromedp.Text(chromedp.CSS(`[data-testid=timeline-why]`))); !strings.Contains(why, "invalid_email") {
		t.Errorf("the withheld entry does not say why: %q", why)
	}
	run(t, ctx, "look a sent record up",
		chromedp.SetValue(chromedp.CSS(`[data-testid=lookup-key]`), "1"),
		chromedp.Click(chromedp.CSS(`[data-testid=lookup-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=timeline-entry][data-kind=added]`)),
		shots.take("record-lookup-added"),
	)
	if kinds := timeline(); len(kinds) < 2 || kinds[len(kinds)-1] != "added" {
		t.Errorf("customer 1's timeline: %v", kinds)
	}
	run(t, ctx, "look an unknown key up",
		chromedp.SetValue(chromedp.CSS(`[data-testid=lookup-key]`), "no-such-customer"),
		chromedp.Click(chromedp.CSS(`[data-testid=lookup-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=lookup-empty]`)),
	)
	if got := read(t, ctx, "read sentence", chromedp.Text(chromedp.CSS(`[data-testid=lookup-empty]`))); !strings.HasPrefix(got, "This key was not in the segment in the last") {
		t.Errorf("unknown key: %q", got)
	}
	if requests.Load() == 0 {
		t.Fatal("the webhook received nothing")
	}
}
