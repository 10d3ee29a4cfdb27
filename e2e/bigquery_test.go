package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	fake "sluice/internal/fakes/bigquery"
	"sluice/internal/testutil"
)

// An admin adds a Google BigQuery source against the fake: the form comes from the
// connector's spec (the key in a textarea that is never shown back), a service account
// without BigQuery Job User fails the access stage in words, and the right one passes
// the five checks live.
func TestBigQuerySourceForm(t *testing.T) {
	ctx := context.Background()
	f, err := fake.New(fake.Options{PostgresURL: testutil.PostgresURL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	if err := f.CreateDataset(ctx, "marketing", "EU"); err != nil {
		t.Fatal(err)
	}
	if err := f.Exec(ctx, `CREATE TABLE marketing.customers AS SELECT i AS id, 'c' || i || '@example.com' AS email FROM generate_series(1, 10) AS i`); err != nil {
		t.Fatal(err)
	}
	reader, key := f.ServiceAccount("sluice-reader")
	f.GrantProject(reader, fake.RoleJobUser)
	f.GrantDataset(reader, "marketing", fake.RoleDataViewer)
	viewer, noJobs := f.ServiceAccount("dataset-viewer")
	f.GrantDataset(viewer, "marketing", fake.RoleDataViewer)

	base := startSluice(t, "SLUICE_DEMO=false", "SLUICE_API_URL_BIGQUERY="+f.URL)
	bctx := newBrowser(t)
	shots := newScreenshots(t)
	shots.n = 270

	run(t, bctx, "set up", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))
	run(t, bctx, "fill the BigQuery form",
		chromedp.Navigate(base+"/sources"),
		chromedp.Click(chromedp.CSS(`[data-testid=new-source]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=source-kind]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-name`), "Analytics"),
		choose(`[data-testid=source-kind]`, "bigquery"),
		chromedp.WaitVisible(chromedp.CSS(`[name="config.project_id"]`)),
		chromedp.SendKeys(chromedp.CSS(`[name="config.project_id"]`), f.Project()),
		chromedp.SendKeys(chromedp.CSS(`[name="config.dataset"]`), "marketing"),
		typeValue(`[name="config.location"]`, "EU"),
		typeValue(`[name="config.service_account_key"]`, string(noJobs)),
		shots.take("bigquery-form"),
	)
	for _, field := range []string{"project_id", "dataset", "location", "service_account_key"} {
		if n := read(t, bctx, "field "+field, chromedp.Evaluate[int](`document.querySelectorAll('[name="config.`+field+`"]').length`)); n != 1 {
			t.Errorf("the form has %d inputs config.%s, want 1", n, field)
		}
	}
	if tag := read(t, bctx, "key input", chromedp.Evaluate[string](`document.querySelector('[name="config.service_account_key"]').tagName`)); tag != "TEXTAREA" {
		t.Errorf("the key input is a %s, want a textarea", tag)
	}

	run(t, bctx, "test with an account that may not run jobs",
		chromedp.Click(chromedp.CSS(`[data-testid=test-connection]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=check-lineage]`)),
		shots.take("bigquery-missing-job-user"),
	)
	msg := read(t, bctx, "checks", chromedp.Text(chromedp.CSS(`[data-testid=checks]`)))
	if !strings.Contains(msg, "Service account "+viewer+" may not run query jobs in project sluice-fake") || !strings.Contains(msg, "roles/bigquery.jobUser") {
		t.Fatalf("the checks say %q", msg)
	}
	run(t, bctx, "test with the reader's key",
		typeValue(`[name="config.service_account_key"]`, string(key)),
		chromedp.Click(chromedp.CSS(`[data-testid=test-connection]`)),
	)
	oks := passingChecks(t, bctx)
	run(t, bctx, "screenshot the checks", shots.take("bigquery-five-checks"))
	if oks != 5 {
		t.Fatalf("%d of 5 stages passed against the fake: %s", oks, read(t, bctx, "checks", chromedp.Text(chromedp.CSS(`[data-testid=checks]`))))
	}
	run(t, bctx, "save the source",
		chromedp.Click(chromedp.CSS(`[data-testid=save-source]`)),
		waitText(`[data-testid=source-status]`, "Connected"),
		shots.take("bigquery-source-page"),
	)
	if page := read(t, bctx, "source page", chromedp.Evaluate[string](`document.body.innerHTML`)); strings.Contains(page, "PRIVATE KEY") {
		t.Error("the source page shows the service account's private key")
	}

	// BigQuery bills by bytes read: the model's preview and the segment's count say what
	// reading scans, from BigQuery's dry run.
	run(t, bctx, "preview a model",
		chromedp.Navigate(base+"/models/new"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=mode-sql]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-name`), "Customers"),
		chromedp.Click(chromedp.CSS(`[data-testid=mode-sql]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=model-sql]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=model-sql]`), "SELECT id, email FROM `marketing`.`customers`"),
		click(`[data-testid=preview-model]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=model-scan]`)),
		shots.take("bigquery-model-scan"),
	)
	if got := read(t, bctx, "model scan", chromedp.Text(chromedp.CSS(`[data-testid=model-scan]`))); !strings.HasPrefix(got, "Reading all of it scans ") || !strings.Contains(got, "bytes") && !strings.Contains(got, "kB") {
		t.Fatalf("the model's preview says %q", got)
	}
	run(t, bctx, "save the model",
		choose(`[data-testid=model-primary-key]`, "id"),
		click(`[data-testid=save-model]`),
		waitText(`[data-testid=model-status]`, "Valid"),
	)
	run(t, bctx, "count a segment",
		chromedp.Navigate(base+"/segments/new"),
		waitText(`[data-testid=segment-count]`, "10"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=segment-scan]`)),
		shots.take("bigquery-segment-scan"),
	)
	if got := read(t, bctx, "segment scan", chromedp.Text(chromedp.CSS(`[data-testid=segment-scan]`))); !strings.HasPrefix(got, "Each run scans up to ") || !strings.Contains(got, "in the warehouse") {
		t.Fatalf("the segment's count says %q", got)
	}
}
