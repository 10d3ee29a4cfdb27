package e2e

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sluice/demo"
	"sluice/sources/sqlite"
)

// A newcomer on the demo meets none of the rough edges: the source page's lineage covers
// its five models and "Validate now" keeps the Validation card and turns the badge at
// once; a name already taken keeps the model's preview and key; the wizard's review
// wraps long values and says why key 10 comes before 9, and editing shows what is chosen;
// the platform page labels health as the list does; /sources/new opens on PostgreSQL;
// the Run History fits a 1400 px wide window.
func TestRoughEdgesOfTheDemo(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"down for maintenance"}`, http.StatusBadRequest)
	}))
	defer hook.Close()
	data := t.TempDir()
	base := startSluice(t, "SLUICE_ALLOW_PRIVATE_NETWORKS=true", "SLUICE_DATA_DIR="+data)
	warehouse := filepath.Join(sqlite.Dir(data), demo.WarehouseFile)
	ctx := newBrowser(t)
	shots := newScreenshots(t)
	shots.n = 120
	js := func(step, expr string) bool {
		t.Helper()
		return read(t, ctx, step, chromedp.Evaluate[bool](expr))
	}

	run(t, ctx, "set up", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))
	run(t, ctx, "the demo source",
		chromedp.Navigate(base+"/sources"),
		click(`[data-testid=source-row] a`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=check-lineage]`)),
		waitText(`[data-testid=check-lineage] .check-message`, "All 5 models resolve."),
		shots.take("demo-source-lineage"),
	)
	if err := os.Rename(warehouse, warehouse+".away"); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "validate a missing warehouse",
		click(`[data-testid=validate-source]`),
		waitText(`[data-testid=source-status]`, "Broken"),
		chromedp.WaitVisible(chromedp.CSS(`#validation [data-testid=check-connection][data-ok=false]`)),
		settle,
		shots.take("source-validated-broken"),
	)
	if n := read(t, ctx, "count checks", chromedp.Evaluate[int](`document.querySelectorAll('#validation [data-testid=checks] li').length`)); n != 5 {
		t.Fatalf("the Validation card shows %d checks after Validate now, want 5", n)
	}
	if err := os.Rename(warehouse+".away", warehouse); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "validate it back",
		click(`[data-testid=validate-source]`),
		waitText(`[data-testid=source-status]`, "Connected"),
		chromedp.WaitVisible(chromedp.CSS(`#validation [data-testid=check-lineage][data-ok=true]`)),
		settle,
		shots.take("source-validated-connected"),
	)

	run(t, ctx, "a model name already taken",
		chromedp.Navigate(base+"/models/new"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=mode-sql]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-name`), "Customers"),
		chromedp.Click(chromedp.CSS(`[data-testid=mode-sql]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=model-sql]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=model-sql]`), "SELECT id, email, country FROM customers"),
		click(`[data-testid=preview-model]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=preview-table]`)),
		choose(`[data-testid=model-primary-key]`, "email"),
		click(`[data-testid=save-model]`),
		chromedp.WaitVisible(chromedp.CSS(`.field.has-error #f-name`)),
		settle,
		shots.take("model-name-taken"),
	)
	if !js("preview kept", `document.querySelectorAll('[data-testid=preview-table] tbody tr').length === 20 && document.querySelector('[data-testid=model-primary-key]').value === 'email'`) {
		t.Fatal("the preview or the chosen key is gone after the refused save")
	}

	run(t, ctx, "connect a webhook that refuses",
		chromedp.Navigate(base+"/settings/platforms/new"),
		choose("#f-kind", "webhook"),
		chromedp.WaitVisible(chromedp.CSS(`[name="config.url"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-name`), "Refusing webhook"),
		chromedp.SendKeys(chromedp.CSS(`[name="config.url"]`), hook.URL),
		chromedp.Click(chromedp.CSS(`[data-testid=save-platform]`)),
		waitText(`[data-testid=platform-status]`, "Connected"),
	)
	platformPage := currentPath(t, ctx)
	step, next := wizardStep, wizardNext
	run(t, ctx, "the wizard up to its review",
		chromedp.Navigate(base+"/activations/new"),
		step("segment"), pick("French VIP customers"),
		next("platform"), pick("Refusing webhook"),
		next("action"), next("mappings"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=mapping-row]`)),
		shots.take("wizard-mappings-summary"),
		next("schedule"), next("settings"),
		chromedp.SendKeys(chromedp.CSS(`#f-default_phone_region`), "FR"),
		next("review"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=payloads]`)),
		shots.take("wizard-review"),
	)
	if !js("payloads wrap", `[...document.querySelectorAll('[data-testid=payload]')].every(p => getComputedStyle(p).whiteSpace === 'pre-wrap' && p.scrollWidth <= p.clientWidth)`) {
		t.Fatal("a payload of the review is cut: it scrolls sideways")
	}
	if note := read(t, ctx, "key order note", chromedp.Text(chromedp.CSS(`[data-testid=key-order-note]`))); !strings.Contains(note, "10 comes before 9") {
		t.Fatalf("the review should say why key 10 comes before 9: %q", note)
	}
	run(t, ctx, "create it",
		chromedp.SetValue(chromedp.CSS(`[data-testid=activation-name]`), "French VIPs to the refusing hook"),
		click(`[data-testid=create-activation]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=activation-health]`)),
	)
	activation := currentPath(t, ctx)
	health := ""
	for i := 0; i < 1; i++ {
		run(t, ctx, "run now", chromedp.Navigate(base+activation), click(`[data-testid=run-now]`), chromedp.WaitVisible(chromedp.CSS(`[data-testid=activation-health]`)))
		deadline := time.Now().Add(30 * time.Second)
		for runs := 0; runs <= i; runs = read(t, ctx, "runs", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=run-row]').length`)) {
			if time.Now().After(deadline) {
				t.Fatalf("run %d against the refusing webhook did not end within 30s", i+1)
			}
			run(t, ctx, "reload", chromedp.Sleep(300*time.Millisecond), chromedp.Navigate(base+activation+"?tab=runs"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=activation-health]`)))
		}
		health = read(t, ctx, "health", chromedp.Text(chromedp.CSS(`[data-testid=activation-health]`)))
	}
	run(t, ctx, "the activations list", chromedp.Navigate(base+"/activations"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=activation-row]`)))
	listHealth := read(t, ctx, "list health", chromedp.Evaluate[string](`[...document.querySelectorAll('[data-testid=activation-row]')].find(r => r.textContent.includes('refusing hook')).querySelector('.badge-dot').textContent`))
	run(t, ctx, "back to it", chromedp.Navigate(base+activation))
	if !js("paused already", `!!document.querySelector('[data-testid=resume]')`) {
		run(t, ctx, "pause it", click(`[data-testid=pause]`), chromedp.WaitVisible(chromedp.CSS(`[data-testid=resume]`)))
	}

	run(t, ctx, "the run history at 1400 px",
		chromedp.EmulateViewport(1400, 900),
		chromedp.Navigate(base+activation+"?tab=runs"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=runs-table]`)),
	)
	// One run of the demo is short in every column: add a row as wide as a long-lived
	// activation's (the longest status, an hour's run, seven-digit counts).
	if !js("a wide row", `(() => { const row = document.querySelector('[data-testid=run-row]'); const wide = row.cloneNode(true);
		const cells = wide.querySelectorAll('td'); cells[0].querySelector('.badge').textContent = 'Succeeded with warnings';
		cells[1].textContent = 'schedule'; cells[2].textContent = '28 Dec 2026, 23:59 UTC'; cells[3].textContent = '1h2m3.4s';
		for (let i = 4; i < cells.length; i++) cells[i].textContent = '1234567';
		row.parentNode.appendChild(wide); return cells.length === 10; })()`) {
		t.Fatal("the Run History has not its ten columns")
	}
	run(t, ctx, "look at it", shots.take("run-history-1400"))
	if !js("run history fits", `(() => { const w = document.querySelector('[data-testid=runs-table]').closest('.table-wrap'); return w.scrollWidth <= w.clientWidth; })()`) {
		t.Fatal("the Run History table scrolls sideways at 1400 px")
	}

	run(t, ctx, "the platform page",
		chromedp.Navigate(base+platformPage),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=activation-health]`)),
		shots.take("platform-activations"),
	)
	if got := read(t, ctx, "platform health", chromedp.Text(chromedp.CSS(`[data-testid=activation-health]`))); got != listHealth || got != health || got == strings.ToLower(got) {
		t.Fatalf("the platform page labels the health %q, the list %q, the activation %q", got, listHealth, health)
	}
	if !js("paused beside it", `!!document.querySelector('[data-testid=paused-icon]')`) {
		t.Fatal("the platform page should show the pause beside the health")
	}

	run(t, ctx, "edit it",
		chromedp.Navigate(base+activation+"/edit"),
		step("segment"),
		shots.take("wizard-edit-summary"),
	)
	mappings := read(t, ctx, "summary mappings", chromedp.Text(chromedp.CSS(`[data-testid=wizard-summary] [data-testid=summary-mappings]`)))
	schedule := read(t, ctx, "summary schedule", chromedp.Text(chromedp.CSS(`[data-testid=wizard-summary] [data-testid=summary-schedule]`)))
	if !strings.HasSuffix(mappings, "fields") || !strings.HasPrefix(schedule, "Manual") {
		t.Fatalf("editing, the side panel says Mappings %q, Schedule %q", mappings, schedule)
	}

	run(t, ctx, "add a source",
		chromedp.Navigate(base+"/sources/new"),
		chromedp.WaitVisible(chromedp.CSS(`[name="config.host"]`)),
		shots.take("new-source-postgres"),
	)
	if kind := read(t, ctx, "default kind", chromedp.Evaluate[string](`document.querySelector('[data-testid=source-kind]').selectedOptions[0].textContent`)); kind != "PostgreSQL" {
		t.Fatalf("/sources/new opens on %q, want PostgreSQL", kind)
	}
}
