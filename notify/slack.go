package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"
)

// Block Kit's documented limits (docs.slack.dev/reference/block-kit): a message beyond
// them is refused whole, so every text is cut to fit before it is sent.
const (
	MaxBlocks         = 50
	MaxHeaderText     = 150
	MaxSectionText    = 3000
	MaxFields         = 10
	MaxFieldText      = 2000
	MaxActionElements = 25
	MaxButtonText     = 75
	MaxButtonURL      = 3000
	MaxContextText    = 3000
	// MaxFallbackText bounds the top-level text Slack shows in notifications.
	MaxFallbackText = 3000
)

// SlackMessage builds the Block Kit message of m: a header with the title, a section
// with the reason and the fields (what failed, category, counts), the buttons, and a
// context line. Every text is cut to its limit; a button whose URL is too long to send
// whole is dropped rather than sent broken.
func SlackMessage(m Message) *slack.WebhookMessage {
	var blocks []slack.Block
	blocks = append(blocks, slack.NewHeaderBlock(plain(m.Kind.emoji()+" "+oneLine(m.Title), MaxHeaderText)))

	var fields []*slack.TextBlockObject
	addField := func(label, value string) {
		if value == "" || len(fields) == MaxFields {
			return
		}
		fields = append(fields, mrkdwnField(label, value))
	}
	if m.ObjectType != "" || m.ObjectName != "" {
		label := m.ObjectType
		if label == "" {
			label = "Object"
		}
		addField(label, oneLine(m.ObjectName))
	}
	addField("Category", m.Category)
	for _, c := range m.Counts {
		addField(c.Label, thousands(c.Value))
	}
	var text *slack.TextBlockObject
	if m.Reason != "" {
		text = slack.NewTextBlockObject(slack.MarkdownType, cutEscaped(m.Reason, MaxSectionText), false, true)
	}
	if text != nil || len(fields) > 0 {
		blocks = append(blocks, slack.NewSectionBlock(text, fields, nil))
	}

	var buttons []slack.BlockElement
	for i, b := range m.Buttons {
		if len(buttons) == MaxActionElements {
			break
		}
		if len(b.URL) > MaxButtonURL {
			continue
		}
		btn := slack.NewButtonBlockElement(fmt.Sprintf("link_%d", i), "", plain(b.Label, MaxButtonText))
		btn.URL = b.URL
		if len(buttons) == 0 {
			btn.Style = slack.StylePrimary
		}
		buttons = append(buttons, btn)
	}
	if len(buttons) > 0 {
		blocks = append(blocks, slack.NewActionBlock("links", buttons...))
	}

	var ctx []string
	if m.Workspace != "" {
		ctx = append(ctx, "Workspace "+cutEscaped(m.Workspace, 200))
	}
	if !m.OccurredAt.IsZero() {
		ctx = append(ctx, m.OccurredAt.UTC().Format("Mon 2 Jan 2006, 15:04 MST"))
	}
	ctx = append(ctx, "Sent by Sluice")
	blocks = append(blocks, slack.NewContextBlock("context",
		slack.NewTextBlockObject(slack.MarkdownType, cutEscaped(strings.Join(ctx, " · "), MaxContextText), false, true)))

	if len(blocks) > MaxBlocks {
		blocks = blocks[:MaxBlocks]
	}
	fallback := m.Subject()
	if m.Reason != "" {
		fallback += " — " + oneLine(m.Reason)
	}
	return &slack.WebhookMessage{Text: cutEscaped(fallback, MaxFallbackText), Blocks: &slack.Blocks{BlockSet: blocks}}
}

// emoji marks a kind at a glance in the channel.
func (k Kind) emoji() string {
	switch k {
	case KindResolved:
		return "✅"
	case KindReminder:
		return "⏰"
	case KindTest:
		return "🔔"
	case KindInvitation:
		return "✉️"
	}
	return "🔴"
}

func plain(s string, limit int) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, cut(oneLine(s), limit), true, false)
}

func mrkdwnField(label, value string) *slack.TextBlockObject {
	head := "*" + escape(oneLine(label)) + "*\n"
	if len([]rune(head)) > MaxFieldText/2 {
		head = "*" + cutEscaped(oneLine(label), MaxFieldText/2-3) + "*\n"
	}
	return slack.NewTextBlockObject(slack.MarkdownType, head+cutEscaped(value, MaxFieldText-utf8.RuneCountInString(head)), false, true)
}

// cut shortens s to at most limit characters (runes), ending in "…" when it was longer.
func cut(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	r := []rune(s)
	return strings.TrimRight(string(r[:limit-1]), " ") + "…"
}

// escape writes s for mrkdwn: &, < and > are Slack's control characters.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// cutEscaped escapes s for mrkdwn and cuts it to limit characters of the escaped text,
// never in the middle of an entity.
func cutEscaped(s string, limit int) string {
	e := escape(s)
	if utf8.RuneCountInString(e) <= limit {
		return e
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		piece := escape(string(r))
		w := utf8.RuneCountInString(piece)
		if n+w > limit-1 {
			break
		}
		b.WriteString(piece)
		n += w
	}
	return strings.TrimRight(b.String(), " ") + "…"
}

// SlackPoster posts messages to Slack incoming webhooks.
type SlackPoster struct {
	client *http.Client
}

// NewSlackPoster posts with client, which is where private and loopback addresses are
// refused (Sluice passes one that checks every address it connects to, unless
// SLUICE_ALLOW_PRIVATE_NETWORKS) and redirects are not followed. Nil: a plain client
// with a timeout, for tests only.
func NewSlackPoster(client *http.Client) *SlackPoster {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &SlackPoster{client: client}
}

// CheckWebhookURL checks the shape of an incoming-webhook URL: https (http too when
// private networks are allowed, for local tests), a host, no user info. Where it points
// is checked by the client at connect time.
func CheckWebhookURL(raw string, allowPlainHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("notify: the Slack webhook URL is not a URL")
	}
	if u.Scheme != "https" && !(allowPlainHTTP && u.Scheme == "http") {
		return errors.New("notify: the Slack webhook URL must start with https://")
	}
	if u.User != nil {
		return errors.New("notify: the Slack webhook URL must not carry a user name or password")
	}
	return nil
}

// Post sends msg to the webhook at webhookURL. The URL is a secret: errors name only its
// host. Slack's 4xx answers other than 429 (the webhook was revoked, the channel
// archived) are permanent.
func (p *SlackPoster) Post(ctx context.Context, webhookURL string, msg Message) error {
	if err := msg.Validate(); err != nil {
		return permanent(err)
	}
	err := slack.PostWebhookCustomHTTPContext(ctx, webhookURL, p.client, SlackMessage(msg))
	if err == nil {
		return nil
	}
	safe := maskURL(err.Error(), webhookURL)
	var sc slack.StatusCodeError
	if errors.As(err, &sc) && sc.Code >= 400 && sc.Code < 500 && sc.Code != http.StatusTooManyRequests {
		return permanent(fmt.Errorf("notify: Slack answered %s", sc.Status))
	}
	if sc.Code != 0 {
		return fmt.Errorf("notify: Slack answered %s", sc.Status)
	}
	return fmt.Errorf("notify: post to Slack: %s", safe)
}

// maskURL replaces a secret URL in s with its scheme and host.
func maskURL(s, secret string) string {
	shown := "the webhook"
	if u, err := url.Parse(secret); err == nil && u.Host != "" {
		shown = u.Scheme + "://" + u.Host + "/…"
	}
	s = strings.ReplaceAll(s, secret, shown)
	if u, err := url.Parse(secret); err == nil && u.Path != "" && len(u.Path) > 1 {
		s = strings.ReplaceAll(s, u.Path, "/…")
	}
	return s
}
