package jobs_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	"testing"

	"sluice/internal/testutil"
	"sluice/jobs"
	"sluice/models"
	"sluice/notify"
	"sluice/notify/notifytest"
)

// slackTLS is a Slack incoming webhook over HTTPS (the settings take https URLs only)
// that records the payloads it accepted.
type slackTLS struct {
	*httptest.Server
	mu       sync.Mutex
	payloads []map[string]any
}

func startSlackTLS(t *testing.T) *slackTLS {
	s := &slackTLS{}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p map[string]any
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.payloads = append(s.payloads, p)
		s.mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *slackTLS) all() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.payloads...)
}

const alertBase = "https://sluice.example.com/app"

// mailText is the plain-text part of a received e-mail, and its subject.
func mailText(t *testing.T, m notifytest.Mail) (subject, text string) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no text/plain part in %s", m.Data)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			b, _ := io.ReadAll(p)
			if p.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
				b, _ = io.ReadAll(newQP(string(b)))
			}
			return subject, string(b)
		}
	}
}

// Acceptance of issue 12: a failing run sends one e-mail and one Slack message with
// absolute links to the run and to the fix; a second failure of the same kind sends
// none; recovery sends one resolved notice on each. The alerts are enqueued with the
// failure, so Sluice killed before sending them still sends them from a new process,
// and two instances on one database send each once.
func TestIncidentAlertsEndToEndOnPostgres(t *testing.T) {
	w := newWorld(t)
	smtpSrv := notifytest.StartSMTP(t, notifytest.SMTPOptions{})
	slack := startSlackTLS(t)
	w.core.SetAlerts(alertBase, slog.New(slog.DiscardHandler))
	hook := slack.URL + "/services/T000/B000/secret"
	if _, err := w.store.PutAlertSettings(w.ctx, w.admin, models.AlertSettings{
		Recipients: []string{"ops@example.com"}, SlackWebhookURLs: []string{hook},
		Events: []string{models.EventRunFailed}}, false); err != nil {
		t.Fatal(err)
	}
	dispatcher := func(store *models.Store) *jobs.AlertDispatcher {
		m, err := notify.NewMailer(smtpSrv.URL("", ""), notify.MailerOptions{From: "sluice@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		return jobs.NewAlertDispatcher(store, slog.New(slog.DiscardHandler), jobs.AlertOptions{Mailer: m, Slack: notify.NewSlackPoster(slack.Client())})
	}
	// Two other instances of Sluice on the same database: the one that ran the runs is
	// "killed" before it sends anything.
	other1, other2 := dispatcher(testutil.Store(t, w.storeURL)), dispatcher(testutil.Store(t, w.storeURL))
	dispatchBoth := func() int {
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		for _, d := range []*jobs.AlertDispatcher{other1, other2} {
			wg.Go(func() {
				n, err := d.DispatchDue(w.ctx)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				total += n
				mu.Unlock()
			})
		}
		wg.Wait()
		return total
	}

	if r, _ := w.run(); r.Status == models.RunFailed {
		t.Fatalf("first run: %s %s", r.Status, r.ErrorMessage)
	}
	if n := dispatchBoth(); n != 0 {
		t.Fatalf("a good run sent %d alerts", n)
	}

	// The platform answers 404: the run fails with not_found.
	w.rc.set(func(rc *receiver) { rc.status = 404 })
	w.exec(`UPDATE customers SET name = 'Ten' WHERE id = 10`)
	failed, _ := w.run()
	if failed.Status != models.RunFailed || failed.ErrorCategory != "not_found" {
		t.Fatalf("404: %s %s", failed.Status, failed.ErrorCategory)
	}
	// Killed here: nothing was sent, the two messages wait in the outbox.
	if len(smtpSrv.Mails()) != 0 || len(slack.all()) != 0 {
		t.Fatal("sent before any dispatcher ran")
	}
	if n := dispatchBoth(); n != 2 {
		t.Fatalf("sent %d messages, want 2 (one e-mail, one Slack)", n)
	}
	mails, posts := smtpSrv.Mails(), slack.all()
	if len(mails) != 1 || len(posts) != 1 {
		t.Fatalf("%d e-mails and %d Slack messages, want one each", len(mails), len(posts))
	}
	runLink := alertBase + "/runs/" + failed.ID
	fixLink := alertBase + "/settings/platforms/" + w.platform.ID + "#platform-settings"
	subject, text := mailText(t, mails[0])
	if mails[0].To[0] != "ops@example.com" || !strings.Contains(subject, "Failed") || !strings.Contains(subject, "Customers to CRM") {
		t.Fatalf("e-mail to %v, subject %q", mails[0].To, subject)
	}
	for _, want := range []string{runLink, fixLink, "Resource Not Found", "Check the platform settings"} {
		if !strings.Contains(text, want) {
			t.Errorf("the e-mail does not say %q:\n%s", want, text)
		}
	}
	raw, _ := json.Marshal(posts[0])
	for _, want := range []string{runLink, fixLink, "Resource Not Found"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("the Slack message does not hold %q:\n%s", want, raw)
		}
	}
	// The links are app paths a signed-out click keeps through sign-in.
	for _, l := range []string{runLink, fixLink} {
		u, err := url.Parse(l)
		if err != nil || u.Scheme != "https" || !strings.HasPrefix(u.Path, "/app/") {
			t.Errorf("link %q is not absolute under the base URL", l)
		}
	}

	// A second failure of the same kind: counted, not sent.
	again, _ := w.run()
	if again.Status != models.RunFailed || again.ErrorCategory != "not_found" {
		t.Fatalf("second 404: %s %s", again.Status, again.ErrorCategory)
	}
	if n := dispatchBoth(); n != 0 {
		t.Fatalf("a repeat sent %d messages", n)
	}
	open, _, err := w.store.Incidents(w.ctx, w.admin.WorkspaceID, models.IncidentFilter{Status: models.IncidentsOpen})
	if err != nil || len(open) != 1 || open[0].Occurrences != 2 || open[0].ObjectID != w.act.ID || open[0].Category != "not_found" {
		t.Fatalf("open incidents: %+v %v", open, err)
	}

	// Recovery: one resolved notice on each channel.
	w.rc.set(func(rc *receiver) { rc.status = 0 })
	if r, _ := w.run(); r.Status == models.RunFailed {
		t.Fatalf("recovery run: %s %s", r.Status, r.ErrorMessage)
	}
	if n := dispatchBoth(); n != 2 {
		t.Fatalf("recovery sent %d messages, want 2", n)
	}
	mails, posts = smtpSrv.Mails(), slack.all()
	if len(mails) != 2 || len(posts) != 2 {
		t.Fatalf("%d e-mails and %d Slack messages in all, want two each", len(mails), len(posts))
	}
	if subject, _ := mailText(t, mails[1]); !strings.Contains(subject, "Resolved") {
		t.Fatalf("second e-mail: %q", subject)
	}
	if raw, _ := json.Marshal(posts[1]); !strings.Contains(string(raw), "Resolved") {
		t.Fatalf("second Slack message: %s", raw)
	}
	resolved, _, err := w.store.Incidents(w.ctx, w.admin.WorkspaceID, models.IncidentFilter{Status: models.IncidentsResolved})
	if err != nil || len(resolved) != 1 || resolved[0].ResolvedAt == nil {
		t.Fatalf("resolved incidents: %+v %v", resolved, err)
	}
	if n := dispatchBoth(); n != 0 {
		t.Fatalf("%d more messages", n)
	}
}

func newQP(s string) io.Reader { return quotedprintable.NewReader(strings.NewReader(s)) }
