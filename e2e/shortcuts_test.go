package e2e

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The lists answer the keyboard: j and k move a visible focus row, Enter opens it, /
// focuses the search (and typing there types, it does not move rows), ? shows the
// shortcuts. A long operation says it is working: connecting a platform whose check
// takes seconds, the button is disabled and reads "Checking the connection…".
func TestListShortcutsAndProgress(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Sluice-Check") == "1" {
			time.Sleep(6 * time.Second) // a slow destination
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	defer hook.Close()
	base := startSluice(t, "SLUICE_ALLOW_PRIVATE_NETWORKS=true", "SLUICE_BOOTSTRAP_TOKEN="+bootstrapToken)
	ctx := newBrowser(t)
	shots := newScreenshots(t)
	shots.n = 340
	js := func(step, expr string) string {
		t.Helper()
		return read(t, ctx, step, chromedp.Evaluate[string](expr))
	}

	run(t, ctx, "set up", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))
	run(t, ctx, "models list", chromedp.Navigate(base+"/models"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=model-row]`)), settle)
	names := read(t, ctx, "row names", chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid=model-row] a')].map(a => a.textContent.trim())`))
	if len(names) < 2 {
		t.Fatalf("the demo has models %v, want two", names)
	}
	run(t, ctx, "j twice", chromedp.KeyEvent("j"), chromedp.KeyEvent("j"), shots.take("shortcuts-j"))
	if got := js("after j j", `document.activeElement.textContent.trim()`); got != names[1] {
		t.Fatalf("after j j the focus is on %q, want the second row %q", got, names[1])
	}
	if n := read(t, ctx, "marked rows", chromedp.Evaluate[int](`document.querySelectorAll('tr.kb-row').length`)); n != 1 {
		t.Fatalf("%d rows are marked as focused, want 1", n)
	}
	run(t, ctx, "k", chromedp.KeyEvent("k"))
	if got := js("after k", `document.activeElement.textContent.trim()`); got != names[0] {
		t.Fatalf("after k the focus is on %q, want the first row %q", got, names[0])
	}
	run(t, ctx, "Enter opens the row", chromedp.KeyEvent("\r"), chromedp.WaitNotPresent(chromedp.CSS(`[data-testid=model-row]`)), chromedp.WaitVisible(chromedp.CSS(`h1`)))
	if h1 := js("title", `document.querySelector('h1').textContent.trim()`); h1 != names[0] {
		t.Fatalf("Enter opened %q, want the model %q", h1, names[0])
	}

	// An activation, so the activations list has a row and its search.
	var segs struct {
		Items []struct{ ID string } `json:"items"`
	}
	api(t, base, "GET", "/segments", nil, &segs)
	var platform struct{ ID string }
	api(t, base, "POST", "/platforms", map[string]any{"name": "CRM webhook", "kind": "webhook", "config": map[string]any{"url": hook.URL}}, &platform)
	api(t, base, "POST", "/activations", map[string]any{"name": "VIPs to the CRM", "segment_id": segs.Items[0].ID, "platform_id": platform.ID,
		"action": "sync_records", "mappings": []map[string]string{{"from": "email", "to": "email", "type": "email"}}, "schedule": map[string]string{"kind": "manual"}}, nil)
	run(t, ctx, "slash focuses the search",
		chromedp.Navigate(base+"/activations"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=activation-row]`)), settle,
		chromedp.KeyEvent("/"),
	)
	if got := js("search", `document.activeElement.dataset.testid || document.activeElement.tagName`); got != "activation-search" {
		t.Fatalf("after / the focus is on %q, want the search", got)
	}
	// DevTools sends a key's character as an event of its own, which the page's
	// preventDefault on the key does not cancel as a browser does: start typing afresh.
	read(t, ctx, "clear the search", chromedp.Evaluate[bool](`(document.activeElement.value = '', true)`))
	run(t, ctx, "type in the search", chromedp.KeyEvent("jk"))
	if got := js("search", `document.activeElement.dataset.testid + ':' + document.activeElement.value`); got != "activation-search:jk" {
		t.Fatalf("after typing j k in the search, the focus and its value are %q, want the search holding jk", got)
	}
	if n := read(t, ctx, "marked rows", chromedp.Evaluate[int](`document.querySelectorAll('tr.kb-row').length`)); n != 0 {
		t.Fatal("j typed in the search moved the focus row")
	}
	run(t, ctx, "? shows the shortcuts",
		chromedp.Click(chromedp.CSS(`h1`)), // out of the search
		chromedp.KeyEvent("?"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=shortcuts-help]`)),
		shots.take("shortcuts-help"),
	)
	if got := js("help", `document.querySelector('[data-testid=shortcuts-help]').textContent`); !strings.Contains(got, "Next row") || !strings.Contains(got, "Open the row") {
		t.Fatalf("the help says %q", got)
	}
	run(t, ctx, "Escape closes it", chromedp.KeyEvent("\x1b"), chromedp.WaitNotVisible(chromedp.CSS(`[data-testid=shortcuts-help]`)))

	run(t, ctx, "connect a slow platform",
		chromedp.Navigate(base+"/settings/platforms/new"),
		choose("#f-kind", "webhook"),
		chromedp.WaitVisible(chromedp.CSS(`[name="config.url"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-name`), "Slow webhook"),
		chromedp.SendKeys(chromedp.CSS(`[name="config.url"]`), hook.URL),
		settle,
		chromedp.Click(chromedp.CSS(`[data-testid=save-platform]`)),
	)
	busy := read(t, ctx, "the button while the check runs", chromedp.Poll[string](`(() => {
		const b = document.querySelector('[data-testid=save-platform]');
		return b && b.disabled && getComputedStyle(b, '::after').content; })()`))
	if busy != `"Checking the connection…"` {
		t.Fatalf("while the check runs the button says %s", busy)
	}
	run(t, ctx, "screenshot the check", shots.take("platform-checking"))
	run(t, ctx, "the check ends", waitText(`[data-testid=platform-status]`, "Connected"))
}
