package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sluice/demo"
	"sluice/sources/sqlite"
)

// settled waits until htmx has no request, swap or settle in flight, so the page a
// step acts on is the one the server last answered (a person is never that fast).
func settled(ctx context.Context, t *chromedp.Target) error {
	for range 100 {
		// Busy too: a page still loading, whose scripts (htmx) have not bound their listeners.
		busy, err := chromedp.Evaluate[bool](`document.readyState !== 'complete' || !!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')`)(ctx, t)
		if err != nil || !busy {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("htmx still busy after 5s")
}

// click clicks once htmx has settled.
func click(selector string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if err := settled(ctx, t); err != nil {
			return chromedp.Void{}, err
		}
		return chromedp.Click(chromedp.CSS(selector))(ctx, t)
	}
}

// choose sets a select's value and fires the change event htmx listens to.
func choose(selector, value string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if err := settled(ctx, t); err != nil {
			return chromedp.Void{}, err
		}
		js := fmt.Sprintf(`(() => { const el = document.querySelector(%q); if (!el) return false;
			el.value = %q; el.dispatchEvent(new Event('change', {bubbles: true})); return el.value === %q; })()`, selector, value, value)
		ok, err := chromedp.Evaluate[bool](js)(ctx, t)
		if err == nil && !ok {
			err = fmt.Errorf("cannot choose %q in %s", value, selector)
		}
		return chromedp.Void{}, err
	}
}

// typeValue replaces an input's text and fires change, as leaving the field would.
func typeValue(selector, value string) chromedp.Action[chromedp.Void] {
	return choose(selector, value)
}

// waitText polls until the element's text is want.
func waitText(selector, want string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		deadline := time.Now().Add(15 * time.Second)
		last := ""
		var lastErr error
		for time.Now().Before(deadline) {
			// An evaluation can fail while the page navigates (a form's redirect): the
			// next try reads the new page.
			got, err := chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, selector))(ctx, t)
			if lastErr = err; err == nil {
				if last = strings.TrimSpace(got); last == want {
					return chromedp.Void{}, nil
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		if lastErr != nil {
			return chromedp.Void{}, fmt.Errorf("%s: %w", selector, lastErr)
		}
		return chromedp.Void{}, fmt.Errorf("%s: text is %q, want %q", selector, last, want)
	}
}

// count asks the warehouse file itself, independently of Sluice's compiler.
func count(t *testing.T, path, where string) int {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM customers WHERE " + where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// An admin connects the demo warehouse, models it with SQL and builds a segment with a
// nested group; the count follows every click and equals the warehouse's own count.
func TestSourceModelAndSegment(t *testing.T) {
	// SQLite sources read only files in the warehouses directory of the data dir.
	data := t.TempDir()
	base := startSluice(t, "SLUICE_DEMO=false", "SLUICE_DATA_DIR="+data)
	warehouse := filepath.Join(sqlite.Dir(data), "warehouse.db")
	if err := demo.WriteWarehouse(context.Background(), warehouse, 600); err != nil {
		t.Fatal(err)
	}
	ctx := newBrowser(t)
	shots := newScreenshots(t)
	shots.n = 50

	run(t, ctx, "set up", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))
	run(t, ctx, "fill the source form",
		chromedp.Navigate(base+"/sources"),
		chromedp.Click(chromedp.CSS(`[data-testid=new-source]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=source-kind]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-name`), "Demo warehouse"),
		choose(`[data-testid=source-kind]`, "sqlite"),
		chromedp.WaitVisible(chromedp.CSS(`[name="config.path"]`)),
		chromedp.SendKeys(chromedp.CSS(`[name="config.path"]`), warehouse),
		chromedp.Click(chromedp.CSS(`[data-testid=test-connection]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=check-lineage]`)),
		shots.take("source-tested"),
	)
	oks := read(t, ctx, "count passing stages", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=checks] [data-ok=true]').length`))
	if oks != 5 {
		t.Fatalf("%d of 5 stages passed on the demo warehouse", oks)
	}
	run(t, ctx, "save the source",
		chromedp.Click(chromedp.CSS(`[data-testid=save-source]`)),
		waitText(`[data-testid=source-status]`, "Connected"),
		shots.take("source-page"),
	)

	run(t, ctx, "model from SQL",
		chromedp.Navigate(base+"/models/new"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=mode-sql]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-name`), "Customers"),
		chromedp.Click(chromedp.CSS(`[data-testid=mode-sql]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=model-sql]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=model-sql]`), "SELECT id, email, first_name, country, age, vip, signed_up_at FROM customers"),
		chromedp.Click(chromedp.CSS(`[data-testid=preview-model]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=preview-table]`)),
		shots.take("model-preview"),
	)
	previewRows := read(t, ctx, "preview rows", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=preview-table] tbody tr').length`))
	if previewRows != 20 {
		t.Fatalf("preview shows %d rows, want 20", previewRows)
	}
	run(t, ctx, "save the model",
		chromedp.Click(chromedp.CSS(`[data-testid=save-model]`)),
		waitText(`[data-testid=model-status]`, "Valid"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=duplicates-report]`)),
		shots.take("model-page"),
	)

	total := count(t, warehouse, "1=1")
	fr := count(t, warehouse, "country = 'FR'")
	nested := count(t, warehouse, "country = 'FR' AND (age > 40 OR vip)")
	run(t, ctx, "build a segment with a nested group",
		chromedp.Navigate(base+"/segments/new"),
		waitText(`[data-testid=segment-count]`, strconv.Itoa(total)),
		chromedp.SendKeys(chromedp.CSS(`#f-name`), "French high-value customers"),
		click(`[data-testid="add-condition-r"]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-path="r.0"]`)),
		choose(`[name="n.r.0.column"]`, "country"),
		chromedp.WaitReady(chromedp.CSS(`[name="n.r.0.op"] option[value=contains]`)),
		typeValue(`[name="n.r.0.value"]`, "FR"),
		waitText(`[data-testid=segment-count]`, strconv.Itoa(fr)),
		click(`[data-testid="add-group-r"]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="add-condition-r.1"]`)),
		choose(`[name="n.r.1.kind"]`, "any"),
		click(`[data-testid="add-condition-r.1"]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-path="r.1.0"]`)),
		choose(`[name="n.r.1.0.column"]`, "age"),
		chromedp.WaitReady(chromedp.CSS(`[name="n.r.1.0.op"] option[value=gt]`)),
		choose(`[name="n.r.1.0.op"]`, "gt"),
		typeValue(`[name="n.r.1.0.value"]`, "40"),
		click(`[data-testid="add-condition-r.1"]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-path="r.1.1"]`)),
		choose(`[name="n.r.1.1.column"]`, "vip"),
		chromedp.WaitVisible(chromedp.CSS(`select[name="n.r.1.1.value"]`)),
		choose(`[name="n.r.1.1.value"]`, "true"),
		waitText(`[data-testid=segment-count]`, strconv.Itoa(nested)),
		choose(`[data-testid=breakdown-column]`, "country"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=breakdown]`)),
		shots.take("segment-builder"),
	)
	sqlText := read(t, ctx, "read SQL", chromedp.Text(chromedp.CSS(`[data-testid=sql-preview]`)))
	if strings.Contains(sqlText, "'FR'") || !strings.Contains(sqlText, "COUNT(*)") {
		t.Fatalf("the SQL preview should count with parameters, not values: %s", sqlText)
	}
	run(t, ctx, "save the segment",
		click(`[data-testid=save-segment]`),
		chromedp.WaitVisible(chromedp.CSS(`.alert-success`)),
		waitText(`[data-testid=segment-count]`, strconv.Itoa(nested)),
		shots.take("segment-saved"),
		chromedp.Navigate(base+"/segments"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=segment-row]`)),
		shots.take("segments-list"),
		chromedp.Navigate(base+"/models"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=model-row]`)),
		shots.take("models-list"),
		chromedp.Navigate(base+"/sources"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=source-row]`)),
		shots.take("sources-list"),
	)
}

// passingChecks waits up to ten seconds for the five checks of a source form to pass and
// answers how many did, so that a test can fail with the checks' own words.
func passingChecks(t *testing.T, ctx context.Context) int {
	t.Helper()
	oks := 0
	for range 100 {
		oks = read(t, ctx, "count passing stages", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=checks] [data-ok=true]').length`))
		if oks == 5 {
			break
		}
		run(t, ctx, "wait", chromedp.Sleep(100*time.Millisecond))
	}
	return oks
}
