package e2e

import (
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"sluice/internal/fakes/bastion"
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
