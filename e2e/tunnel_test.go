package e2e

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"sluice/internal/fakes/bastion"
	fake "sluice/internal/fakes/bigquery"
	"sluice/internal/testutil"
)

// A PostgreSQL source through an SSH bastion, in the browser: saved with the tunnel on,
// its page shows Sluice's public key and the connection check the bastion refused it
// with; once the key is installed and the bastion's host key changes, the check shows
// both fingerprints and the admin accepts the new key.
func TestSSHTunnelSourceForm(t *testing.T) {
	b := bastion.Start(t)
	u, err := url.Parse(testutil.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	base := startSluice(t, "SLUICE_DEMO=false")
	ctx := newBrowser(t)
	shots := newScreenshots(t)
	shots.n = 330

	run(t, ctx, "set up", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))
	run(t, ctx, "fill the form with a tunnel",
		chromedp.Navigate(base+"/sources/new"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=ssh-tunnel]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-name`), "Private warehouse"),
		typeValue(`[name="config.host"]`, u.Hostname()),
		typeValue(`[name="config.port"]`, u.Port()),
		typeValue(`[name="config.database"]`, strings.TrimPrefix(u.Path, "/")),
		typeValue(`[name="config.user"]`, u.User.Username()),
		choose(`[name="config.sslmode"]`, "disable"),
		choose(`[name="config.ssh_tunnel"]`, "true"),
		typeValue(`[name="config.ssh_host"]`, b.Host()),
		typeValue(`[name="config.ssh_port"]`, b.Port()),
		typeValue(`[name="config.ssh_user"]`, "sluice"),
		shots.take("ssh-tunnel-form"),
		click(`[data-testid=save-source]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=ssh-public-key]`)),
		shots.take("ssh-tunnel-key-refused"),
	)
	checks := read(t, ctx, "checks", chromedp.Text(chromedp.CSS(`[data-testid=validation]`)))
	if !strings.Contains(checks, "refused Sluice's key for user sluice") {
		t.Fatalf("the checks before the key is installed say %q", checks)
	}
	pub := strings.TrimSpace(read(t, ctx, "public key", chromedp.Text(chromedp.CSS(`[data-testid=ssh-public-key]`))))
	b.Authorize(pub)
	oldFP := b.HostKeyFingerprint()
	b.ChangeHostKey()

	run(t, ctx, "validate after the host key changed",
		click(`[data-testid=validate-source]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=host-key-offer]`)),
		shots.take("ssh-tunnel-host-key-changed"),
	)
	offer := read(t, ctx, "offer", chromedp.Text(chromedp.CSS(`[data-testid=host-key-offer]`)))
	if !strings.Contains(offer, oldFP) || !strings.Contains(offer, b.HostKeyFingerprint()) {
		t.Fatalf("the host key offer says %q", offer)
	}
	run(t, ctx, "accept the new host key",
		click(`[data-testid=accept-host-key]`),
		waitText(`[data-testid=source-status]`, "Connected"),
	)
}

// A BigQuery source for a Sluice whose only way out is an SSH bastion, in the browser:
// the BigQuery form has the tunnel's fields; saved with the tunnel on, the page shows
// Sluice's public key and the connection check the bastion refused it with; once the key
// is installed the five checks pass through the bastion, the connection check naming it.
func TestSSHTunnelBigQueryForm(t *testing.T) {
	ctx := context.Background()
	f, err := fake.New(fake.Options{PostgresURL: testutil.PostgresURL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	if err := f.CreateDataset(ctx, "marketing", "US"); err != nil {
		t.Fatal(err)
	}
	if err := f.Exec(ctx, `CREATE TABLE marketing.customers AS SELECT i AS id, 'c' || i || '@example.com' AS email FROM generate_series(1, 10) AS i`); err != nil {
		t.Fatal(err)
	}
	reader, key := f.ServiceAccount("sluice-reader")
	f.GrantProject(reader, fake.RoleJobUser)
	f.GrantDataset(reader, "marketing", fake.RoleDataViewer)
	b := bastion.Start(t)

	base := startSluice(t, "SLUICE_DEMO=false", "SLUICE_API_URL_BIGQUERY="+f.URL)
	bctx := newBrowser(t)
	shots := newScreenshots(t)
	shots.n = 335

	run(t, bctx, "set up", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))
	run(t, bctx, "fill the BigQuery form with a tunnel",
		chromedp.Navigate(base+"/sources/new"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=source-kind]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-name`), "Analytics behind the bastion"),
		choose(`[data-testid=source-kind]`, "bigquery"),
		chromedp.WaitVisible(chromedp.CSS(`[name="config.project_id"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=ssh-tunnel]`)),
		chromedp.SendKeys(chromedp.CSS(`[name="config.project_id"]`), f.Project()),
		chromedp.SendKeys(chromedp.CSS(`[name="config.dataset"]`), "marketing"),
		typeValue(`[name="config.service_account_key"]`, string(key)),
		choose(`[name="config.ssh_tunnel"]`, "true"),
		typeValue(`[name="config.ssh_host"]`, b.Host()),
		typeValue(`[name="config.ssh_port"]`, b.Port()),
		typeValue(`[name="config.ssh_user"]`, bastion.User),
		shots.take("bigquery-ssh-tunnel-form"),
		click(`[data-testid=save-source]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=ssh-public-key]`)),
		shots.take("bigquery-ssh-tunnel-key-refused"),
	)
	checks := read(t, bctx, "checks", chromedp.Text(chromedp.CSS(`[data-testid=validation]`)))
	if !strings.Contains(checks, "The SSH bastion "+b.Host()+":"+b.Port()+" refused Sluice's key for user sluice") {
		t.Fatalf("the checks before the key is installed say %q", checks)
	}
	b.Authorize(strings.TrimSpace(read(t, bctx, "public key", chromedp.Text(chromedp.CSS(`[data-testid=ssh-public-key]`)))))
	run(t, bctx, "validate with the key installed",
		click(`[data-testid=validate-source]`),
		waitText(`[data-testid=source-status]`, "Connected"),
		shots.take("bigquery-ssh-tunnel-connected"),
	)
	if flash := read(t, bctx, "flash", chromedp.Text(chromedp.CSS(`#flash`))); strings.TrimSpace(flash) != "" {
		t.Errorf("after the checks passed the page still says %q", flash)
	}
	checks = read(t, bctx, "checks", chromedp.Text(chromedp.CSS(`[data-testid=validation]`)))
	if !strings.Contains(checks, "Google signed in service account "+reader+" through the SSH bastion sluice@"+b.Host()+":"+b.Port()) || b.Forwarded() == 0 {
		t.Fatalf("the checks with the key installed say %q; the bastion forwarded %d connections", checks, b.Forwarded())
	}
}
