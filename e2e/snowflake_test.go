package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	sffake "sluice/internal/fakes/snowflake"
	"sluice/internal/testutil"
)

// An admin adds a Snowflake source against the fake SQL API: the form comes from the
// connector's spec (the private key a secret text area, the help saying why there is no
// password), a key the user does not have fails the connection stage in words, and with
// the user's key the five checks run live and pass.
func TestSnowflakeSourceForm(t *testing.T) {
	ctx := context.Background()
	f, err := sffake.New(sffake.Options{PostgresURL: testutil.PostgresURL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	for _, q := range []string{`CREATE SCHEMA "MARKETING"`,
		`CREATE TABLE "MARKETING"."CUSTOMERS" AS SELECT i AS "ID", 'c' || i || '@example.com' AS "EMAIL" FROM generate_series(1, 10) AS i`} {
		if err := f.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	key, err := f.Provision(ctx, sffake.Reader{User: "SLUICE_READER", Role: "SLUICE_ROLE", Warehouse: "COMPUTE_WH", Schema: "MARKETING", Tables: []string{"CUSTOMERS"}, Suspended: true})
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := sffake.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	base := startSluice(t, "SLUICE_DEMO=false", "SLUICE_API_URL_SNOWFLAKE="+f.URL)
	bctx := newBrowser(t)
	shots := newScreenshots(t)
	shots.n = 250

	run(t, bctx, "set up", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))
	run(t, bctx, "fill the Snowflake form",
		chromedp.Navigate(base+"/sources"),
		chromedp.Click(chromedp.CSS(`[data-testid=new-source]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=source-kind]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-name`), "Snowflake"),
		choose(`[data-testid=source-kind]`, "snowflake"),
		chromedp.WaitVisible(chromedp.CSS(`[name="config.private_key"]`)),
		chromedp.SendKeys(chromedp.CSS(`[name="config.account"]`), strings.ToLower(sffake.Account)),
		chromedp.SendKeys(chromedp.CSS(`[name="config.user"]`), "sluice_reader"),
		typeValue(`[name="config.private_key"]`, otherKey),
		chromedp.SendKeys(chromedp.CSS(`[name="config.warehouse"]`), "compute_wh"),
		chromedp.SendKeys(chromedp.CSS(`[name="config.role"]`), "sluice_role"),
		chromedp.SendKeys(chromedp.CSS(`[name="config.database"]`), "analytics"),
		typeValue(`[name="config.schema"]`, "marketing"),
		shots.take("snowflake-form"),
	)
	for _, field := range []string{"account", "user", "private_key", "private_key_passphrase", "warehouse", "role", "database", "schema"} {
		if n := read(t, bctx, "field "+field, chromedp.Evaluate[int](`document.querySelectorAll('[name="config.`+field+`"]').length`)); n != 1 {
			t.Errorf("the form has %d inputs config.%s, want 1", n, field)
		}
	}
	if n := read(t, bctx, "password field", chromedp.Evaluate[int](`document.querySelectorAll('[name="config.password"]').length`)); n != 0 {
		t.Errorf("the form offers a password")
	}
	if help := read(t, bctx, "key help", chromedp.Evaluate[string](`document.body.textContent`)); !strings.Contains(help, "No password: Snowflake's SQL API, which Sluice uses, signs in with a key pair only.") {
		t.Errorf("the form does not say why there is no password")
	}

	run(t, bctx, "test with a key the user does not have",
		chromedp.Click(chromedp.CSS(`[data-testid=test-connection]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=check-lineage]`)),
		shots.take("snowflake-wrong-key"),
	)
	msg := read(t, bctx, "connection message", chromedp.Text(chromedp.CSS(`[data-testid=checks]`)))
	if !strings.Contains(msg, "Snowflake did not accept Sluice's key for user SLUICE_READER") {
		t.Fatalf("the checks say %q", msg)
	}
	run(t, bctx, "test with the user's key",
		typeValue(`[name="config.private_key"]`, key),
		chromedp.Click(chromedp.CSS(`[data-testid=test-connection]`)),
	)
	oks := 0
	for range 100 {
		oks = read(t, bctx, "count passing stages", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=checks] [data-ok=true]').length`))
		if oks == 5 {
			break
		}
		run(t, bctx, "wait", chromedp.Sleep(100*time.Millisecond))
	}
	run(t, bctx, "screenshot the checks", shots.take("snowflake-five-checks"))
	if oks != 5 {
		t.Fatalf("%d of 5 stages passed against the fake: %s", oks, read(t, bctx, "checks", chromedp.Text(chromedp.CSS(`[data-testid=checks]`))))
	}
	run(t, bctx, "save the source",
		chromedp.Click(chromedp.CSS(`[data-testid=save-source]`)),
		waitText(`[data-testid=source-status]`, "Connected"),
		shots.take("snowflake-source-page"),
	)
	if line := strings.Split(key, "\n")[1]; strings.Contains(read(t, bctx, "source page", chromedp.Evaluate[string](`document.documentElement.outerHTML`)), line) {
		t.Error("the source page shows the private key")
	}
}
