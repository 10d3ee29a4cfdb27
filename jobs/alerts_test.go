package jobs_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice/config"
	"sluice/internal/testutil"
	"sluice/jobs"
	"sluice/models"
	"sluice/notify"
	"sluice/notify/notifytest"
)

func alertMessage(t testing.TB, title string) notify.Message {
	t.Helper()
	run, err := notify.Link("https://sluice.example.com", "/runs/r1")
	if err != nil {
		t.Fatal(err)
	}
	return notify.Message{Kind: notify.KindFailure, Title: title, ObjectType: "Activation", ObjectName: "VIP to Ads",
		Category: "Rate Limit", Reason: "Google Ads kept answering 429.", Buttons: []notify.Button{{Label: "Open the run", URL: run}},
		OccurredAt: time.Now().UTC()}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func mailer(t testing.TB, srv *notifytest.SMTPServer) *notify.Mailer {
	t.Helper()
	m, err := notify.NewMailer(srv.URL("", ""), notify.MailerOptions{From: "sluice@sluice.example.com", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func subjects(t *testing.T, mails []notifytest.Mail) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, m := range mails {
		msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
		if err != nil {
			t.Fatal(err)
		}
		s, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		out[s]++
	}
	return out
}

// An alert enqueued by an instance that dies before sending it is sent by the next one
// to start on the same database.
func TestAlertSurvivesARestart(t *testing.T) {
	for _, d := range testutil.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			ctx := context.Background()
			url := d.URL(t)
			first := testutil.Store(t, url)
			smtpSrv, slack := notifytest.StartSMTP(t, notifytest.SMTPOptions{}), notifytest.StartSlack(t)
			if _, err := jobs.EnqueueAlert(ctx, first, models.DefaultWorkspaceID, models.ChannelEmail, alertMessage(t, "Run failed"), "ops@example.com"); err != nil {
				t.Fatal(err)
			}
			if _, err := jobs.EnqueueAlert(ctx, first, models.DefaultWorkspaceID, models.ChannelSlack, alertMessage(t, "Run failed"), slack.WebhookURL()); err != nil {
				t.Fatal(err)
			}
			first.Close() // killed before any dispatcher ran

			second := testutil.Store(t, url)
			d := jobs.NewAlertDispatcher(second, quiet(), jobs.AlertOptions{Mailer: mailer(t, smtpSrv)})
			sent, err := d.DispatchDue(ctx)
			if err != nil || sent != 2 {
				t.Fatalf("sent %d, %v; want 2", sent, err)
			}
			if got := subjects(t, smtpSrv.Mails()); got["[Sluice] Failed: Run failed"] != 1 || len(got) != 1 {
				t.Errorf("e-mails %v", got)
			}
			if p := slack.Payloads(); len(p) != 1 || !strings.Contains(string(p[0]), `"url":"https://sluice.example.com/runs/r1"`) {
				t.Errorf("Slack payloads %s", p)
			}
			if again, err := d.DispatchDue(ctx); err != nil || again != 0 {
				t.Errorf("a second pass sent %d, %v", again, err)
			}
		})
	}
}

// Two instances on one database, dispatching at once, send each message once.
func TestTwoDispatchersSendEachAlertOnce(t *testing.T) {
	for _, d := range testutil.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			ctx := context.Background()
			url := d.URL(t)
			a, b := testutil.Store(t, url), testutil.Store(t, url)
			smtpSrv, slack := notifytest.StartSMTP(t, notifytest.SMTPOptions{}), notifytest.StartSlack(t)
			const n = 30
			for i := range n {
				if _, err := jobs.EnqueueAlert(ctx, a, models.DefaultWorkspaceID, models.ChannelEmail, alertMessage(t, fmt.Sprintf("Run %d failed", i)), "ops@example.com"); err != nil {
					t.Fatal(err)
				}
				if _, err := jobs.EnqueueAlert(ctx, a, models.DefaultWorkspaceID, models.ChannelSlack, alertMessage(t, fmt.Sprintf("Run %d failed", i)), slack.WebhookURL()); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			total := make([]int, 2)
			for i, s := range []*models.Store{a, b} {
				disp := jobs.NewAlertDispatcher(s, quiet(), jobs.AlertOptions{Mailer: mailer(t, smtpSrv), Batch: 3})
				wg.Go(func() {
					sent, err := disp.DispatchDue(ctx)
					if err != nil {
						t.Error(err)
					}
					total[i] = sent
				})
			}
			wg.Wait()
			if total[0]+total[1] != 2*n {
				t.Errorf("sent %v, want %d in all", total, 2*n)
			}
			got := subjects(t, smtpSrv.Mails())
			if len(got) != n {
				t.Errorf("%d distinct e-mails, want %d", len(got), n)
			}
			for s, c := range got {
				if c != 1 {
					t.Errorf("%q sent %d times", s, c)
				}
			}
			headers := map[string]int{}
			for _, p := range slack.Payloads() {
				i := strings.Index(string(p), "Run ")
				headers[string(p)[i:i+12]]++
			}
			if len(slack.Payloads()) != n || len(headers) != n {
				t.Errorf("Slack got %d posts, %d distinct, want %d", len(slack.Payloads()), len(headers), n)
			}
			t.Logf("dispatchers sent %v", total)
		})
	}
}

// A failing SMTP server: the e-mail is tried again after a growing wait, then failed and
// listed for the Alerts page with the server's answer. A webhook Slack says is gone is
// failed at once.
func TestFailingDeliveryIsRetriedThenFailed(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		smtpSrv, slack := notifytest.StartSMTP(t, notifytest.SMTPOptions{}), notifytest.StartSlack(t)
		smtpSrv.FailWith(451)
		slack.AnswerWith(http.StatusNotFound)
		retry := models.AlertRetry{MaxAttempts: 3, Base: 300 * time.Millisecond, Max: time.Second}
		d := jobs.NewAlertDispatcher(s, quiet(), jobs.AlertOptions{Mailer: mailer(t, smtpSrv), Retry: retry})
		if _, err := jobs.EnqueueAlert(ctx, s, models.DefaultWorkspaceID, models.ChannelEmail, alertMessage(t, "Run failed"), "ops@example.com"); err != nil {
			t.Fatal(err)
		}
		if _, err := jobs.EnqueueAlert(ctx, s, models.DefaultWorkspaceID, models.ChannelSlack, alertMessage(t, "Run failed"), slack.WebhookURL()); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var tries []time.Duration
		for time.Since(start) < 10*time.Second {
			before := smtpSrv.Tries()
			if _, err := d.DispatchDue(ctx); err != nil {
				t.Fatal(err)
			}
			if smtpSrv.Tries() > before {
				tries = append(tries, time.Since(start))
			}
			failed, err := s.FailedAlerts(ctx, models.DefaultWorkspaceID, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(failed) == 2 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if len(tries) != 3 {
			t.Fatalf("SMTP tried %d times (%v), want 3", len(tries), tries)
		}
		// Waits of 300 ms then 600 ms between the tries. Each try is seen when its
		// DispatchDue returns, after the SMTP exchange that began at the wait's start,
		// so a gap may look up to a poll and an exchange shorter: 50 ms of slack.
		const tolerance = 50 * time.Millisecond
		if gap1, gap2 := tries[1]-tries[0], tries[2]-tries[1]; gap1 < 300*time.Millisecond-tolerance || gap2 < 600*time.Millisecond-tolerance {
			t.Errorf("tries at %v: no backoff", tries)
		}
		failed, _ := s.FailedAlerts(ctx, models.DefaultWorkspaceID, 10)
		byChannel := map[string]models.OutboxMessage{}
		for _, f := range failed {
			byChannel[f.Channel] = f
		}
		if e := byChannel[models.ChannelEmail]; e.Attempts != 3 || !strings.Contains(e.LastError, "451") {
			t.Errorf("e-mail: %d attempts, last error %q", e.Attempts, e.LastError)
		}
		if sl := byChannel[models.ChannelSlack]; sl.Attempts != 1 || !strings.Contains(sl.LastError, "404") || strings.Contains(sl.LastError, "secret") {
			t.Errorf("Slack: %d attempts, last error %q", sl.Attempts, sl.LastError)
		}
		if len(smtpSrv.Mails()) != 0 || len(slack.Payloads()) != 0 {
			t.Error("something was delivered")
		}
	})
}

// The dispatcher StartAlerts builds from the configuration refuses to post to a Slack
// webhook on a loopback address unless private networks are allowed.
func TestStartAlertsRefusesPrivateSlackAddresses(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprint("allow_private=", allow), func(t *testing.T) {
			s := testutil.Store(t, testutil.SQLiteURL(t))
			slack := notifytest.StartSlack(t)
			ctx, cancel := context.WithCancel(context.Background())
			cfg := config.Default()
			cfg.AllowPrivateNetworks = allow
			wg, err := jobs.StartAlerts(ctx, cfg, s, quiet())
			if err != nil {
				t.Fatal(err)
			}
			defer func() { cancel(); wg.Wait() }()
			out, err := jobs.EnqueueAlert(ctx, s, models.DefaultWorkspaceID, models.ChannelSlack, alertMessage(t, "Run failed"), slack.WebhookURL())
			if err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(8 * time.Second)
			for time.Now().Before(deadline) {
				m, err := s.AlertByID(ctx, models.DefaultWorkspaceID, out[0].ID)
				if err != nil {
					t.Fatal(err)
				}
				if m.Attempts > 0 {
					if allow && (m.Status != models.OutboxSent || len(slack.Payloads()) != 1) {
						t.Errorf("allowed: %s (%s), %d posts", m.Status, m.LastError, len(slack.Payloads()))
					}
					if !allow && (m.Status == models.OutboxSent || len(slack.Payloads()) != 0 || !strings.Contains(m.LastError, "127.0.0.1") && !strings.Contains(m.LastError, "loopback")) {
						t.Errorf("refused: %s, last error %q, %d posts", m.Status, m.LastError, len(slack.Payloads()))
					}
					if strings.Contains(m.LastError, "secret") {
						t.Errorf("last error shows the webhook URL: %q", m.LastError)
					}
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
			t.Fatal("the dispatcher never tried")
		})
	}
}
