package e2e

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/chromedp/chromedp"

	"sluice/notify"
)

// sampleFailure is a failure alert as the incident hooks build it: the run's figures,
// the reason in plain words, and the buttons to the run and to the fix under base.
func sampleFailure(t *testing.T, base, runPath, fixPath string) notify.Message {
	t.Helper()
	runURL, err := notify.Link(base, runPath)
	if err != nil {
		t.Fatal(err)
	}
	fixURL, err := notify.Link(base, fixPath)
	if err != nil {
		t.Fatal(err)
	}
	return notify.Message{
		Kind: notify.KindFailure, Title: "Activation “VIPs to the newsletter list” failed", Workspace: "Acme Inc",
		ObjectType: "Activation", ObjectName: "VIPs to the newsletter list", Category: "Configuration",
		Reason:     "The platform answered 404 Not Found: the list this activation writes to no longer exists at that URL. Check the platform settings, then run the activation again.",
		Counts:     []notify.Count{{Label: "Queried", Value: 12840}, {Label: "Sent", Value: 0}, {Label: "Rejected", Value: 12840}},
		Buttons:    []notify.Button{{Label: "Check the platform settings", URL: fixURL}, {Label: "Open the run", URL: runURL}},
		OccurredAt: time.Date(2026, 12, 6, 5, 30, 0, 0, time.UTC),
	}
}

// The HTML e-mail, opened in Chromium at a phone's and a desktop client's width, reads
// well (screenshots), carries its buttons as absolute links, and loads nothing remote.
// That the Slack rendering of the same message keeps to Block Kit's limits is
// TestSlackCutsEveryTextToBlockKitLimits in notify.
func TestAlertEmailInChromium(t *testing.T) {
	const base = "https://sluice.acme.example"
	m := sampleFailure(t, base, "/runs/r-42", "/settings/platforms/p-7#platform-settings")
	html, _, err := notify.RenderEmail(m)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "alert.html")
	if err := os.WriteFile(file, []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := newBrowser(t)
	shots := newScreenshots(t)
	shots.n = 140
	for _, w := range []struct {
		name  string
		width int64
	}{{"alert-email-phone", 420}, {"alert-email-desktop", 1024}} {
		run(t, ctx, "open the e-mail at "+w.name,
			chromedp.EmulateViewport(w.width, 900),
			chromedp.Navigate("file://"+file),
			chromedp.WaitVisible(chromedp.CSS(`a[href]`)),
			shots.take(w.name),
		)
		// Nothing wider than the screen: a phone never scrolls sideways.
		if overflow := read(t, ctx, "measure", chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`)); overflow > 0 {
			t.Errorf("%s: the e-mail is %dpx wider than the screen", w.name, overflow)
		}
		links := read(t, ctx, "read the buttons", chromedp.Evaluate[[]map[string]string](
			`[...document.querySelectorAll('a[href]')].map(a => ({label: a.textContent.trim(), href: a.getAttribute('href')}))`))
		got := map[string]string{}
		for _, l := range links {
			got[l["label"]] = l["href"]
		}
		for _, b := range m.Buttons {
			if got[b.Label] != b.URL || !strings.HasPrefix(got[b.Label], base+"/") {
				t.Errorf("%s: button %q links to %q, want %q", w.name, b.Label, got[b.Label], b.URL)
			}
		}
		// No remote images: no <img> pointing outside, and the page fetched nothing.
		remote := read(t, ctx, "list what the page loaded", chromedp.Evaluate[[]string](
			`[...performance.getEntriesByType('resource').map(e => e.name), ...[...document.images].map(i => i.src)].filter(u => !u.startsWith('data:') && !u.startsWith('file:'))`))
		if len(remote) > 0 {
			t.Errorf("%s: the e-mail loads %v", w.name, remote)
		}
	}
}

// A link from an alert e-mail clicked while signed out: sign-in first, then the very
// page the button named, the run page and the fix page alike.
func TestAlertLinkSignedOutLandsOnThePageAfterSignIn(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Sluice-Check") == "1" {
			_, _ = w.Write([]byte(`{}`))
			return
		}
		http.Error(w, `{"error":"no such list"}`, http.StatusNotFound)
	}))
	defer hook.Close()
	base := startSluice(t, "SLUICE_ALLOW_PRIVATE_NETWORKS=true", "SLUICE_BOOTSTRAP_TOKEN="+bootstrapToken)

	var segs struct {
		Items []struct{ ID, Name string } `json:"items"`
	}
	api(t, base, "GET", "/segments", nil, &segs)
	var platform struct{ ID string }
	api(t, base, "POST", "/platforms", map[string]any{"name": "Newsletter list", "kind": "webhook", "config": map[string]any{"url": hook.URL}}, &platform)
	var act struct{ ID string }
	api(t, base, "POST", "/activations", map[string]any{"name": "VIPs to the list", "segment_id": segs.Items[0].ID, "platform_id": platform.ID,
		"action": "sync_records", "mappings": []map[string]string{{"from": "email", "to": "email", "type": "email"}}, "schedule": map[string]string{"kind": "manual"}}, &act)
	var queued struct{ ID, Status string }
	api(t, base, "POST", "/activations/"+act.ID+"/runs", nil, &queued)
	for i := 0; i < 100 && queued.Status != "failed"; i++ {
		time.Sleep(100 * time.Millisecond)
		api(t, base, "GET", "/runs/"+queued.ID, nil, &queued)
	}
	if queued.Status != "failed" {
		t.Fatalf("the run is %s, want failed", queued.Status)
	}

	const email, password = "ada@acme.example", "correct horse battery"
	admin := newBrowser(t)
	run(t, admin, "set up", chromedp.Navigate(base+"/setup"), createAdmin(email, password))
	// The fix is where the run page's own fix button leads: the alert links there too.
	run(t, admin, "open the run", chromedp.Navigate(base+"/runs/"+queued.ID),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=run-error] [data-testid=fix-button]`)))
	fixHref := read(t, admin, "read the fix link", chromedp.Evaluate[string](
		`document.querySelector('[data-testid=run-error] [data-testid=fix-button]').getAttribute('href')`))

	html, _, err := notify.RenderEmail(sampleFailure(t, base, "/runs/"+queued.ID, fixHref))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(html))
	if err != nil {
		t.Fatal(err)
	}
	hrefOf := func(label string) string {
		href, _ := doc.Find("a").FilterFunction(func(_ int, s *goquery.Selection) bool { return strings.TrimSpace(s.Text()) == label }).Attr("href")
		if !strings.HasPrefix(href, base+"/") {
			t.Fatalf("the e-mail's %q button links to %q", label, href)
		}
		return href
	}

	shots := newScreenshots(t)
	shots.n = 150
	for _, c := range []struct {
		name, label, wait string
	}{
		{"run", "Open the run", `[data-testid=run-error]`},
		{"fix", "Check the platform settings", `#platform-settings`},
	} {
		link := hrefOf(c.label)
		u, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		ctx := newBrowser(t) // a fresh browser: signed out
		run(t, ctx, "open the "+c.name+" link signed out",
			chromedp.Navigate(link),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=sign-in]`)),
			shots.take("alert-link-"+c.name+"-sign-in"),
		)
		loc := read(t, ctx, "read location", chromedp.Location())
		if lu, err := url.Parse(loc); err != nil || lu.Path != "/login" || lu.Query().Get("next") != u.Path {
			t.Fatalf("the signed-out %s link landed on %s, want /login?next=%s", c.name, loc, u.Path)
		}
		run(t, ctx, "sign in from the "+c.name+" link",
			chromedp.SendKeys(chromedp.CSS(`#f-email`), email),
			chromedp.SendKeys(chromedp.CSS(`#f-password`), password),
			chromedp.Click(chromedp.CSS(`[data-testid=sign-in]`)),
			chromedp.WaitVisible(chromedp.CSS(c.wait)),
			shots.take("alert-link-"+c.name+"-landed"),
		)
		if p := currentPath(t, ctx); strings.SplitN(p, "#", 2)[0] != u.Path {
			t.Fatalf("after sign-in the %s link landed on %s, want %s", c.name, p, u.Path)
		}
	}
}

// Settings → Alerts as an admin sees it: a recipient and a Slack webhook saved (shown
// masked), a test alert sent, and the delivery Slack refused listed in plain words.
func TestAlertSettingsPageWithAFailedDelivery(t *testing.T) {
	// A Slack endpoint that no longer knows the webhook, over TLS that Sluice trusts.
	slack := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no_service", http.StatusNotFound)
	}))
	defer slack.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: slack.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	hook := slack.URL + "/services/T0001/B0002/hookS3cret"
	base := startSluice(t, "SLUICE_ALLOW_PRIVATE_NETWORKS=true", "SSL_CERT_FILE="+ca)

	ctx := newBrowser(t)
	shots := newScreenshots(t)
	shots.n = 160
	run(t, ctx, "set up", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))
	run(t, ctx, "save a recipient and a Slack webhook",
		chromedp.Navigate(base+"/settings/alerts"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=alert-form]`)),
		chromedp.SendKeys(chromedp.CSS(`textarea[name=addresses]`), "oncall@acme.example"),
		chromedp.SendKeys(chromedp.CSS(`input[name=slack_url]`), hook),
		chromedp.Click(chromedp.CSS(`[data-testid=save-alerts]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=failed-alerts]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=test-slack]`)),
	)
	body := read(t, ctx, "read the page", chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if strings.Contains(body, "hookS3cret") || !strings.Contains(body, "services/***") {
		t.Fatal("the saved Slack URL is shown in clear, or not at all")
	}
	run(t, ctx, "look at the saved settings", shots.take("alerts-saved"))
	run(t, ctx, "send a test alert to Slack",
		chromedp.Click(chromedp.CSS(`[data-testid=test-slack]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=test-result-slack]`)),
		shots.take("alerts-test-sent"),
	)
	if msg := read(t, ctx, "read the answer", chromedp.Text(chromedp.CSS(`[data-testid=test-result-slack]`))); !strings.HasPrefix(msg, "A test alert is on its way to Slack webhook on 127.0.0.1") {
		t.Fatalf("test alert answer = %q", msg)
	}
	// The dispatcher looks every 5 seconds; Slack's 404 is final at the first attempt.
	deadline := time.Now().Add(20 * time.Second)
	for {
		run(t, ctx, "reload", chromedp.Navigate(base+"/settings/alerts"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=failed-alerts]`)))
		n := read(t, ctx, "count failed", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=failed-alert]').length`))
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d failed deliveries listed after 20 s, want 1", n)
		}
		time.Sleep(time.Second)
	}
	run(t, ctx, "look at the failed delivery", shots.take("alerts-failed-delivery"))
	row := read(t, ctx, "read the row", chromedp.Text(chromedp.CSS(`[data-testid=failed-alert]`)))
	if !strings.Contains(row, "Slack no longer knows this webhook") || strings.Contains(row, "hookS3cret") {
		t.Errorf("failed delivery row = %q", row)
	}
}
