package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"sluice/notify"
	"sluice/notify/notifytest"
)

const base = "https://sluice.example.com"

// sample is a failing run's alert as the runner will build it.
func sample(t testing.TB) notify.Message {
	t.Helper()
	run, err := notify.Link(base, "/runs/0190-abc")
	if err != nil {
		t.Fatal(err)
	}
	fix, err := notify.Link(base, "/platforms/0190-def/reauthorize?from=alert")
	if err != nil {
		t.Fatal(err)
	}
	return notify.Message{
		Kind: notify.KindFailure, Title: "Activation “VIP customers → Google Ads” failed",
		Workspace: "Acme", ObjectType: "Activation", ObjectName: "VIP customers → Google Ads",
		Category:   "Bad Credentials/Insufficient permissions",
		Reason:     "Google Ads refused Sluice's access token: the account was disconnected. Re-authorize the platform to resume the sync.",
		Counts:     []notify.Count{{Label: "Queried", Value: 1204332}, {Label: "Sent", Value: 0}, {Label: "Not sent", Value: 17}},
		Buttons:    []notify.Button{{Label: "Re-authorize Google Ads", URL: fix}, {Label: "Open the run", URL: run}},
		OccurredAt: time.Date(2026, 3, 4, 9, 30, 0, 0, time.UTC),
	}
}

// parts reads a received e-mail: its headers and its decoded parts by content type.
func parts(t *testing.T, data []byte) (mail.Header, map[string]string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	out := map[string]string{}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = p
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			body = quotedprintable.NewReader(p)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		out[ct] = strings.ReplaceAll(string(b), "\r\n", "\n")
	}
	return msg.Header, out
}

func TestMailerSendsHTMLAndTextOverSTARTTLSWithAuth(t *testing.T) {
	srv := notifytest.StartSMTP(t, notifytest.SMTPOptions{TLS: true, User: "mailer", Password: "s3cret:pass"})
	m, err := notify.NewMailer(srv.URL("mailer", "s3cret:pass"), notify.MailerOptions{From: "Sluice <alerts@sluice.example.com>", TLSConfig: srv.ClientTLS(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	msg := sample(t)
	if err := m.Send(context.Background(), "ops@example.com", msg); err != nil {
		t.Fatal(err)
	}
	mails := srv.Mails()
	if len(mails) != 1 {
		t.Fatalf("got %d mails, want 1", len(mails))
	}
	got := mails[0]
	if !got.TLS || got.User != "mailer" {
		t.Errorf("session TLS=%v user=%q, want STARTTLS and AUTH as mailer", got.TLS, got.User)
	}
	if got.From != "alerts@sluice.example.com" || len(got.To) != 1 || got.To[0] != "ops@example.com" {
		t.Errorf("envelope from %q to %v", got.From, got.To)
	}
	h, p := parts(t, got.Data)
	if from, _ := mail.ParseAddress(h.Get("From")); from == nil || from.Address != "alerts@sluice.example.com" {
		t.Errorf("From header %q", h.Get("From"))
	}
	if to, _ := mail.ParseAddress(h.Get("To")); to == nil || to.Address != "ops@example.com" {
		t.Errorf("To header %q", h.Get("To"))
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil || subject != "[Sluice] Failed: Activation “VIP customers → Google Ads” failed" {
		t.Errorf("Subject %q (%v)", subject, err)
	}
	if h.Get("Auto-Submitted") != "auto-generated" || h.Get("Message-Id") == "" {
		t.Errorf("headers Auto-Submitted %q Message-Id %q", h.Get("Auto-Submitted"), h.Get("Message-Id"))
	}
	text, html := p["text/plain"], p["text/html"]
	for _, want := range []string{"Failed: Activation", "Bad Credentials/Insufficient permissions", "refused Sluice's access token",
		"Queried: 1,204,332", "Re-authorize Google Ads:\n  https://sluice.example.com/platforms/0190-def/reauthorize?from=alert",
		"Open the run:\n  https://sluice.example.com/runs/0190-abc"} {
		if !strings.Contains(text, want) {
			t.Errorf("text part lacks %q:\n%s", want, text)
		}
	}
	for _, want := range []string{`href="https://sluice.example.com/platforms/0190-def/reauthorize?from=alert"`,
		`href="https://sluice.example.com/runs/0190-abc"`, ">Re-authorize Google Ads</a>", "1,204,332",
		"Sluice&#39;s access token", "max-width:600px"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML part lacks %q", want)
		}
	}
	if strings.Contains(html, "<img") || strings.Contains(html, "<link") || strings.Contains(html, "url(") {
		t.Error("the HTML part loads something remote")
	}
}

func TestMailerPlainSMTPWithoutAuth(t *testing.T) {
	srv := notifytest.StartSMTP(t, notifytest.SMTPOptions{})
	m, err := notify.NewMailer(srv.URL("", ""), notify.MailerOptions{From: notify.DefaultFrom(base)})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Send(context.Background(), "ops@example.com", sample(t)); err != nil {
		t.Fatal(err)
	}
	mails := srv.Mails()
	if len(mails) != 1 || mails[0].From != "sluice@sluice.example.com" || mails[0].TLS || mails[0].User != "" {
		t.Fatalf("mails %+v", mails)
	}
}

func TestMailerFailures(t *testing.T) {
	srv := notifytest.StartSMTP(t, notifytest.SMTPOptions{})
	m, err := notify.NewMailer(srv.URL("", ""), notify.MailerOptions{From: "sluice@example.com", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv.FailWith(451)
	err = m.Send(context.Background(), "ops@example.com", sample(t))
	if err == nil || notify.IsPermanent(err) {
		t.Fatalf("451: err %v, want a temporary error", err)
	}
	if err := m.Send(context.Background(), "not an address", sample(t)); !notify.IsPermanent(err) {
		t.Errorf("bad recipient: %v, want permanent", err)
	}
	bad := sample(t)
	bad.Buttons[0].URL = "/runs/1"
	if err := m.Send(context.Background(), "ops@example.com", bad); !notify.IsPermanent(err) || !errors.Is(err, notify.ErrInvalid) {
		t.Errorf("relative link: %v, want ErrInvalid", err)
	}
	if len(srv.Mails()) != 0 {
		t.Error("a refused message was recorded")
	}
	strict, err := notify.NewMailer(srv.URL("", "")+"?tls=required&from=x@example.com", notify.MailerOptions{Timeout: 5 * time.Second})
	if err != nil || strict.From() != "x@example.com" {
		t.Fatalf("?from: %v", err)
	}
	srv.FailWith(0)
	if err := strict.Send(context.Background(), "ops@example.com", sample(t)); err == nil || len(srv.Mails()) != 0 {
		t.Errorf("?tls=required sent without STARTTLS: %v", err)
	}
}

func TestNewMailer(t *testing.T) {
	for _, c := range []struct{ url, from, err string }{
		{"smtp://mail.example.com", "a@example.com", ""},
		{"smtps://u:p@mail.example.com:2465", "a@example.com", ""},
		{"http://mail.example.com", "a@example.com", "scheme"},
		{"smtp://", "a@example.com", "no host"},
		{"smtp://mail.example.com:99999", "a@example.com", "port"},
		{"smtp://mail.example.com", "", "From"},
		{"smtp://mail.example.com", "not an address", "From"},
	} {
		_, err := notify.NewMailer(c.url, notify.MailerOptions{From: c.from})
		if (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("NewMailer(%q, %q) = %v, want %q", c.url, c.from, err, c.err)
		}
		if err != nil && strings.Contains(err.Error(), ":p@") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func TestLinkAndDefaultFrom(t *testing.T) {
	for _, c := range []struct{ base, path, want string }{
		{"https://sluice.example.com", "/runs/1", "https://sluice.example.com/runs/1"},
		{"https://example.com/sluice/", "runs/1?tab=logs#top", "https://example.com/sluice/runs/1?tab=logs#top"},
	} {
		if got, err := notify.Link(c.base, c.path); err != nil || got != c.want {
			t.Errorf("Link(%q, %q) = %q, %v; want %q", c.base, c.path, got, err, c.want)
		}
	}
	if _, err := notify.Link(base, "https://evil.example.com/x"); err == nil {
		t.Error("Link took an absolute URL as a path")
	}
	if _, err := notify.Link("/relative", "/x"); err == nil {
		t.Error("Link took a relative base")
	}
	for in, want := range map[string]string{"https://sluice.example.com:8443/x": "sluice@sluice.example.com",
		"http://localhost:8080": "sluice@localhost.localdomain", "http://[::1]:8080": "sluice@localhost.localdomain"} {
		if got := notify.DefaultFrom(in); got != want {
			t.Errorf("DefaultFrom(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRenderEmailEscapes(t *testing.T) {
	m := sample(t)
	m.Reason = `column <script>alert(1)</script> & "phone" is missing`
	m.ObjectName = "<b>x</b>"
	html, text, err := notify.RenderEmail(m)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, "<script>") || strings.Contains(html, "<b>x</b>") {
		t.Error("HTML part does not escape the message")
	}
	if !strings.Contains(text, `column <script>alert(1)</script> & "phone" is missing`) {
		t.Error("text part escaped the message")
	}
	// NOTIFY_SAMPLE_HTML=/tmp/mail.html writes the sample e-mail, to look at in a browser.
	if out := os.Getenv("NOTIFY_SAMPLE_HTML"); out != "" {
		h, _, _ := notify.RenderEmail(sample(t))
		if err := os.WriteFile(out, []byte(h), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// block is the part of a Block Kit block the tests read.
type block struct {
	Type     string            `json:"type"`
	Text     *textObj          `json:"text"`
	Fields   []textObj         `json:"fields"`
	Elements []json.RawMessage `json:"elements"`
}

// buttons decodes an actions block's elements.
func (b block) buttons(t *testing.T) []buttonElem {
	t.Helper()
	var out []buttonElem
	for _, raw := range b.Elements {
		var e buttonElem
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

type textObj struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type buttonElem struct {
	Type string   `json:"type"`
	Text *textObj `json:"text"`
	URL  string   `json:"url"`
}

type payload struct {
	Text   string  `json:"text"`
	Blocks []block `json:"blocks"`
}

func post(t *testing.T, m notify.Message) payload {
	t.Helper()
	slack := notifytest.StartSlack(t)
	if err := notify.NewSlackPoster(nil).Post(context.Background(), slack.WebhookURL(), m); err != nil {
		t.Fatal(err)
	}
	got := slack.Payloads()
	if len(got) != 1 {
		t.Fatalf("Slack received %d payloads, want 1", len(got))
	}
	var p payload
	if err := json.Unmarshal(got[0], &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSlackPostsBlockKit(t *testing.T) {
	p := post(t, sample(t))
	var types []string
	for _, b := range p.Blocks {
		types = append(types, b.Type)
	}
	if strings.Join(types, ",") != "header,section,actions,context" {
		t.Fatalf("blocks %v", types)
	}
	if h := p.Blocks[0].Text; h.Type != "plain_text" || h.Text != "🔴 Activation “VIP customers → Google Ads” failed" {
		t.Errorf("header %+v", h)
	}
	sec := p.Blocks[1]
	if !strings.Contains(sec.Text.Text, "refused Sluice's access token") {
		t.Errorf("section text %q", sec.Text.Text)
	}
	var fields []string
	for _, f := range sec.Fields {
		fields = append(fields, f.Text)
	}
	want := []string{"*Activation*\nVIP customers → Google Ads", "*Category*\nBad Credentials/Insufficient permissions",
		"*Queried*\n1,204,332", "*Sent*\n0", "*Not sent*\n17"}
	if strings.Join(fields, "|") != strings.Join(want, "|") {
		t.Errorf("fields %q, want %q", fields, want)
	}
	btn := p.Blocks[2].buttons(t)
	if len(btn) != 2 || btn[0].Text.Text != "Re-authorize Google Ads" ||
		btn[0].URL != "https://sluice.example.com/platforms/0190-def/reauthorize?from=alert" ||
		btn[1].URL != "https://sluice.example.com/runs/0190-abc" {
		t.Errorf("buttons %+v", btn)
	}
	if !strings.HasPrefix(p.Text, "[Sluice] Failed: Activation") {
		t.Errorf("fallback text %q", p.Text)
	}
}

func TestSlackCutsEveryTextToBlockKitLimits(t *testing.T) {
	m := sample(t)
	m.Title = strings.Repeat("Very long title ", 40)
	m.Reason = strings.Repeat("a < b & c > d ", 1000)
	m.ObjectName = strings.Repeat("é", 5000)
	m.Category = strings.Repeat("&", 3000)
	m.Counts = nil
	for i := range 30 {
		m.Counts = append(m.Counts, notify.Count{Label: "Count " + strings.Repeat("x", i), Value: int64(i)})
	}
	m.Buttons = []notify.Button{{Label: strings.Repeat("Click ", 40), URL: base + "/runs/" + strings.Repeat("9", 4000)}}
	for range 40 {
		m.Buttons = append(m.Buttons, notify.Button{Label: strings.Repeat("Fix ", 30), URL: base + "/fix"})
	}
	p := post(t, m)
	n := utf8.RuneCountInString
	if len(p.Blocks) > notify.MaxBlocks {
		t.Errorf("%d blocks", len(p.Blocks))
	}
	for _, b := range p.Blocks {
		switch b.Type {
		case "header":
			if n(b.Text.Text) > 150 || !strings.HasSuffix(b.Text.Text, "…") {
				t.Errorf("header of %d characters", n(b.Text.Text))
			}
		case "section":
			if n(b.Text.Text) > 3000 || !strings.HasSuffix(b.Text.Text, "…") {
				t.Errorf("section text of %d characters", n(b.Text.Text))
			}
			if strings.Contains(b.Text.Text, "<") || strings.Contains(b.Text.Text, " & ") {
				t.Error("section text not escaped for mrkdwn")
			}
			if len(b.Fields) != 10 {
				t.Errorf("%d fields, want 10", len(b.Fields))
			}
			for _, f := range b.Fields {
				if n(f.Text) > 2000 {
					t.Errorf("field of %d characters", n(f.Text))
				}
				if i := strings.LastIndex(f.Text, "&"); i >= 0 && !strings.HasPrefix(f.Text[i:], "&amp;") {
					t.Errorf("field cut inside an entity: …%q", f.Text[max(0, i-10):])
				}
			}
		case "actions":
			if len(b.Elements) != 25 {
				t.Errorf("%d buttons, want 25 (the one with an overlong URL dropped)", len(b.Elements))
			}
			for _, e := range b.buttons(t) {
				if n(e.Text.Text) > 75 || len(e.URL) > 3000 {
					t.Errorf("button text %d, url %d characters", n(e.Text.Text), len(e.URL))
				}
			}
		}
	}
	if n(p.Text) > 3000 {
		t.Errorf("fallback text of %d characters", n(p.Text))
	}
}

func TestSlackErrorsHideTheWebhookURL(t *testing.T) {
	slack := notifytest.StartSlack(t)
	poster := notify.NewSlackPoster(nil)
	slack.AnswerWith(http.StatusNotFound)
	err := poster.Post(context.Background(), slack.WebhookURL(), sample(t))
	if !notify.IsPermanent(err) || strings.Contains(err.Error(), "secret") {
		t.Errorf("404: %v, want permanent without the URL", err)
	}
	slack.AnswerWith(http.StatusInternalServerError)
	err = poster.Post(context.Background(), slack.WebhookURL(), sample(t))
	if err == nil || notify.IsPermanent(err) || strings.Contains(err.Error(), "secret") {
		t.Errorf("500: %v, want temporary without the URL", err)
	}
	url := slack.WebhookURL()
	slack.Close()
	err = poster.Post(context.Background(), url, sample(t))
	if err == nil || notify.IsPermanent(err) || strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "B000") {
		t.Errorf("closed: %v, want temporary without the URL", err)
	}
}

func TestCheckWebhookURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://hooks.slack.com/services/T/B/x": true,
		"http://hooks.slack.com/services/T/B/x":  false,
		"https://u:p@hooks.slack.com/services/x": false,
		"hooks.slack.com/services/x":             false,
	} {
		if err := notify.CheckWebhookURL(raw, false); (err == nil) != ok {
			t.Errorf("CheckWebhookURL(%q) = %v", raw, err)
		}
	}
	if err := notify.CheckWebhookURL("http://127.0.0.1:9/x", true); err != nil {
		t.Errorf("plain http with private networks allowed: %v", err)
	}
}
