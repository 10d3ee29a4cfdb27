package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	fake "sluice/internal/fakes/databricks"
	"sluice/internal/testutil"
)

// An admin adds a Databricks source against the fake workspace: the form comes from the
// connector's spec, the five checks run live and pass, and a wrong token fails the
// connection stage in words.
func TestDatabricksSourceForm(t *testing.T) {
	ctx := context.Background()
	f, err := fake.New(ctx, testutil.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	if err := f.CreateSchema(ctx, "main", "sales"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Pool().Exec(ctx, `CREATE TABLE "main.sales".customers AS SELECT i AS id, 'c' || i || '@example.com' AS email FROM generate_series(1, 10) AS i`); err != nil {
		t.Fatal(err)
	}
	const reader = "reader@example.com"
	token := f.AddUser(reader)
	for _, g := range [][3]string{{fake.UseCatalog, fake.OnCatalog, "main"}, {fake.UseSchema, fake.OnSchema, "main.sales"}, {fake.Select, fake.OnTable, "main.sales.customers"}} {
		if err := f.Grant(ctx, reader, g[0], g[1], g[2]); err != nil {
			t.Fatal(err)
		}
	}
	base := startSluice(t, "SLUICE_DEMO=false", "SLUICE_API_URL_DATABRICKS="+f.URL())
	bctx := newBrowser(t)
	shots := newScreenshots(t)
	shots.n = 230

	run(t, bctx, "set up", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))
	run(t, bctx, "fill the Databricks form",
		chromedp.Navigate(base+"/sources"),
		chromedp.Click(chromedp.CSS(`[data-testid=new-source]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=source-kind]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-name`), "Lakehouse"),
		choose(`[data-testid=source-kind]`, "databricks"),
		chromedp.WaitVisible(chromedp.CSS(`[name="config.warehouse"]`)),
		chromedp.SendKeys(chromedp.CSS(`[name="config.host"]`), "dbc-a1b2c3d4-e5f6.cloud.databricks.com"),
		chromedp.SendKeys(chromedp.CSS(`[name="config.warehouse"]`), "/sql/1.0/warehouses/"+fake.WarehouseID),
		chromedp.SendKeys(chromedp.CSS(`[name="config.catalog"]`), "main"),
		typeValue(`[name="config.schema"]`, "sales"),
		chromedp.SendKeys(chromedp.CSS(`[name="config.token"]`), "dapi-wrong"),
		shots.take("databricks-form"),
	)
	for _, field := range []string{"host", "warehouse", "catalog", "schema", "auth", "token", "client_id", "client_secret"} {
		if n := read(t, bctx, "field "+field, chromedp.Evaluate[int](`document.querySelectorAll('[name="config.`+field+`"]').length`)); n != 1 {
			t.Errorf("the form has %d inputs config.%s, want 1", n, field)
		}
	}
	if typ := read(t, bctx, "token type", chromedp.Evaluate[string](`document.querySelector('[name="config.token"]').type`)); typ != "password" {
		t.Errorf("the token input is %q, want password", typ)
	}

	run(t, bctx, "test with a wrong token",
		chromedp.Click(chromedp.CSS(`[data-testid=test-connection]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=check-lineage]`)),
		shots.take("databricks-wrong-token"),
	)
	msg := read(t, bctx, "connection message", chromedp.Text(chromedp.CSS(`[data-testid=checks]`)))
	if !strings.Contains(msg, "The personal access token is not valid") {
		t.Fatalf("the checks say %q", msg)
	}
	run(t, bctx, "test with the right token",
		typeValue(`[name="config.token"]`, token),
		chromedp.Click(chromedp.CSS(`[data-testid=test-connection]`)),
	)
	oks := 0
	for range 50 {
		oks = read(t, bctx, "count passing stages", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=checks] [data-ok=true]').length`))
		if oks == 5 {
			break
		}
		run(t, bctx, "wait", chromedp.Sleep(100*time.Millisecond))
	}
	run(t, bctx, "screenshot the checks", shots.take("databricks-five-checks"))
	if oks != 5 {
		t.Fatalf("%d of 5 stages passed against the fake workspace: %s", oks, read(t, bctx, "checks", chromedp.Text(chromedp.CSS(`[data-testid=checks]`))))
	}
	run(t, bctx, "save the source",
		chromedp.Click(chromedp.CSS(`[data-testid=save-source]`)),
		waitText(`[data-testid=source-status]`, "Connected"),
		shots.take("databricks-source-page"),
	)
}
