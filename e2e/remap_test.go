package e2e

import (
	"database/sql"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"sluice/demo"
	"sluice/sources/sqlite"
)

// A column renamed in the warehouse pauses the activation mapping it, with the reason on
// the activations list; the model's Remap… button opens the wizard, which suggests the
// renamed column with its values and lists what will change; accepting resumes the
// activation.
func TestRemapWizardAfterARename(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{}`))
	}))
	defer hook.Close()
	data := t.TempDir()
	base := startSluice(t, "SLUICE_ALLOW_PRIVATE_NETWORKS=true", "SLUICE_BOOTSTRAP_TOKEN="+bootstrapToken, "SLUICE_DATA_DIR="+data)

	var segs struct {
		Items []struct{ ID, Name string } `json:"items"`
	}
	api(t, base, "GET", "/segments", nil, &segs)
	var dms struct {
		Items []struct{ ID, Name string } `json:"items"`
	}
	api(t, base, "GET", "/models", nil, &dms)
	modelID := ""
	for _, m := range dms.Items {
		if m.Name == "Customers" {
			modelID = m.ID
		}
	}
	var platform struct{ ID string }
	api(t, base, "POST", "/platforms", map[string]any{"name": "Newsletter list", "kind": "webhook", "config": map[string]any{"url": hook.URL}}, &platform)
	var act struct{ ID string }
	api(t, base, "POST", "/activations", map[string]any{"name": "VIPs to the newsletter", "segment_id": segs.Items[0].ID, "platform_id": platform.ID,
		"action": "sync_records", "mappings": []map[string]string{{"from": "email", "to": "email", "type": "email"}}, "schedule": map[string]string{"kind": "manual"}}, &act)

	db, err := sql.Open("sqlite", filepath.Join(sqlite.Dir(data), demo.WarehouseFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`ALTER TABLE customers RENAME COLUMN email TO email_address`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	api(t, base, "POST", "/models/"+modelID+"/validate", nil, nil)

	ctx := newBrowser(t)
	shots := newScreenshots(t)
	shots.n = 120
	run(t, ctx, "set up", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))
	run(t, ctx, "the activations list shows the pause",
		chromedp.Navigate(base+"/activations"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=paused-icon]`)),
		shots.take("remap-paused-list"),
	)
	why := read(t, ctx, "read the pause reason", chromedp.AttributeValue(chromedp.CSS(`[data-testid=paused-icon]`), "title"))
	if !strings.Contains(why.Value, "Column email is missing from model Customers") {
		t.Errorf("the pause icon says %q", why.Value)
	}

	run(t, ctx, "open the wizard from the model's issue",
		chromedp.Navigate(base+"/models/"+modelID),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=remap-column]`)),
		shots.take("remap-model-issue"),
		click(`[data-testid=remap-column]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=remap-plan]`)),
		shots.take("remap-wizard"),
	)
	first := read(t, ctx, "read the suggestion", chromedp.AttributeValue(chromedp.CSS(`[data-testid=remap-candidate]`), "data-column"))
	if first.Value != "email_address" {
		t.Errorf("the wizard suggests %q first, want email_address", first.Value)
	}
	plan := read(t, ctx, "read the plan", chromedp.Text(chromedp.CSS(`[data-testid=plan-list]`)))
	if !strings.Contains(plan, "VIPs to the newsletter") {
		t.Errorf("the plan %q does not list the activation's mapping", plan)
	}

	run(t, ctx, "accept",
		click(`[data-testid=remap-accept]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=columns-table]`)),
		shots.take("remap-done"),
	)
	flash := read(t, ctx, "read the flash", chromedp.Text(chromedp.CSS(`#flash`)))
	if !strings.Contains(flash, "Resumed: VIPs to the newsletter") {
		t.Errorf("flash %q, want the resumed activation named", flash)
	}
	run(t, ctx, "the activations list shows it active",
		chromedp.Navigate(base+"/activations"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=activation-row]`)),
		shots.take("remap-resumed-list"),
	)
	paused := read(t, ctx, "count pause icons", chromedp.Evaluate[int](`document.querySelectorAll("[data-testid=paused-icon]").length`))
	if paused != 0 {
		t.Errorf("%d activations still show the pause icon", paused)
	}
}
