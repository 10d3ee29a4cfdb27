package handlers_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"sluice/config"
	"sluice/internal/testutil"
	"sluice/jobs"
	"sluice/notify"
	"sluice/notify/notifytest"
)

// TestSendTestAlertDelivers: "Send test alert" queues a test message per target in the
// outbox, and one run of the dispatcher delivers it over a real SMTP conversation and to a
// Slack endpoint, with the link back to Settings → Alerts absolute.
func TestSendTestAlertDelivers(t *testing.T) {
	for _, d := range testutil.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			cfg := config.Default()
			cfg.AllowPrivateNetworks = true // the Slack endpoint listens on loopback
			a := serveWith(t, testutil.Store(t, d.URL(t)), cfg)
			smtpSrv := notifytest.StartSMTP(t, notifytest.SMTPOptions{})
			slack := notifytest.StartSlack(t)
			// Settings take https webhook URLs only: the endpoint is reached through TLS.
			target, err := url.Parse(slack.URL)
			if err != nil {
				t.Fatal(err)
			}
			slackTLS := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(target))
			t.Cleanup(slackTLS.Close)
			hook := slackTLS.URL + "/services/T000/B000/secret"

			admin, c := signedInAdmin(t, a)
			token := c.csrf("/settings/alerts")

			// Nothing to send to yet: it says what to do, and queues nothing.
			r := c.post("/settings/alerts/test", url.Values{"_csrf": {token}, "channel": {"email"}}).want(t, http.StatusOK)
			if msg := r.Text(t, "[data-testid=test-result-email]"); msg != "Add an e-mail recipient and save first." {
				t.Errorf("answer without recipients = %q", msg)
			}

			c.post("/settings/alerts", url.Values{"_csrf": {token}, "recipient_user": {admin.ID},
				"addresses": {"oncall@example.com\nAdmin@example.com"}, "slack_url": {hook}}).want(t, http.StatusSeeOther)

			r = c.post("/settings/alerts/test", url.Values{"_csrf": {token}, "channel": {"email"}}).want(t, http.StatusOK)
			if msg := r.Text(t, "[data-testid=test-result-email]"); msg != "A test alert is on its way to admin@example.com, oncall@example.com." {
				t.Errorf("e-mail answer = %q", msg)
			}
			r = c.post("/settings/alerts/test", url.Values{"_csrf": {token}, "channel": {"slack"}}).want(t, http.StatusOK)
			msg := r.Text(t, "[data-testid=test-result-slack]")
			if !strings.HasPrefix(msg, "A test alert is on its way to Slack webhook on 127.0.0.1:") || strings.Contains(r.Body, "secret") {
				t.Errorf("Slack answer = %q (or the page shows the webhook's secret)", msg)
			}
			if len(smtpSrv.Mails()) != 0 || len(slack.Payloads()) != 0 {
				t.Fatal("the handler sent instead of queuing")
			}

			mailer, err := notify.NewMailer(smtpSrv.URL("", ""), notify.MailerOptions{From: "sluice@example.com"})
			if err != nil {
				t.Fatal(err)
			}
			d := jobs.NewAlertDispatcher(a.store, slog.New(slog.DiscardHandler), jobs.AlertOptions{Mailer: mailer, Slack: notify.NewSlackPoster(slackTLS.Client())})
			sent, err := d.DispatchDue(t.Context())
			if err != nil || sent != 3 {
				t.Fatalf("dispatched %d, %v; want 3 (two e-mails, one Slack message)", sent, err)
			}

			mails := smtpSrv.Mails()
			var to []string
			for _, m := range mails {
				to = append(to, m.To...)
				body := string(m.Data)
				if !strings.Contains(body, "Subject: [Sluice] Test alert: Alerts of Acme reach you") {
					t.Errorf("mail to %v has not the test subject:\n%.400s", m.To, body)
				}
				if !strings.Contains(body, cfg.BaseURL+"/settings/alerts") {
					t.Errorf("mail to %v does not link to %s/settings/alerts", m.To, cfg.BaseURL)
				}
			}
			if strings.Join(to, ",") != "admin@example.com,oncall@example.com" && strings.Join(to, ",") != "oncall@example.com,admin@example.com" {
				t.Errorf("mails went to %v", to)
			}
			payloads := slack.Payloads()
			if len(payloads) != 1 {
				t.Fatalf("Slack got %d payloads", len(payloads))
			}
			var p struct {
				Text string `json:"text"`
			}
			if err := json.Unmarshal(payloads[0], &p); err != nil || !strings.Contains(p.Text, "Test alert") || !strings.Contains(string(payloads[0]), cfg.BaseURL+"/settings/alerts") {
				t.Errorf("Slack payload = %s", payloads[0])
			}

			// Sent once: a second pass has nothing left.
			if sent, err := d.DispatchDue(t.Context()); err != nil || sent != 0 {
				t.Errorf("second pass sent %d, %v", sent, err)
			}

			// Nothing failed yet, and the page says so.
			page := c.get("/settings/alerts").want(t, http.StatusOK)
			if page.Count(t, "[data-testid=failed-alert]") != 0 {
				t.Error("failed deliveries listed before any failed")
			}

			// A webhook Slack no longer knows: the delivery fails for good and is listed,
			// in plain words, by its label, never its URL.
			slack.AnswerWith(http.StatusNotFound)
			c.post("/settings/alerts/test", url.Values{"_csrf": {token}, "channel": {"slack"}}).want(t, http.StatusOK)
			if _, err := d.DispatchDue(t.Context()); err != nil {
				t.Fatal(err)
			}
			page = c.get("/settings/alerts").want(t, http.StatusOK)
			if n := page.Count(t, "[data-testid=failed-alert]"); n != 1 {
				t.Fatalf("%d failed deliveries listed, want 1", n)
			}
			row := page.Text(t, "[data-testid=failed-alert]")
			if !strings.Contains(row, "Slack no longer knows this webhook") || !strings.Contains(row, "Slack webhook on 127.0.0.1") || strings.Contains(page.Body, "B000/secret") {
				t.Errorf("failed delivery row = %q (or the page shows the webhook URL)", row)
			}
		})
	}
}
