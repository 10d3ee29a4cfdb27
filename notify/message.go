// Package notify renders an alert — what failed, why, and where to click to fix it — as
// an e-mail (HTML and plain text, sent over SMTP) and as a Slack Block Kit message (posted
// to an incoming webhook), and delivers it.
//
// It knows nothing of Sluice's records: the caller (jobs) builds a Message from them,
// with absolute links made from the base URL, and hands the Slack sender the HTTP client
// to post with, which is where private addresses are refused.
package notify

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Kind says why a message is sent; it sets the subject's prefix and the accent colour.
type Kind string

// The kinds of message.
const (
	// KindFailure opens an incident: something broke.
	KindFailure Kind = "failure"
	// KindResolved closes one: what broke works again.
	KindResolved Kind = "resolved"
	// KindReminder is the daily reminder of an incident still open.
	KindReminder Kind = "reminder"
	// KindTest is "Send test alert" from Settings → Alerts.
	KindTest Kind = "test"
	// KindInvitation invites someone to a workspace, with a link to accept.
	KindInvitation Kind = "invitation"
)

// Valid reports whether k is one of the kinds above.
func (k Kind) Valid() bool {
	switch k {
	case KindFailure, KindResolved, KindReminder, KindTest, KindInvitation:
		return true
	}
	return false
}

// Message is what an alert says, the same on every channel. It is stored as JSON in the
// outbox, so its fields keep their JSON names once released.
type Message struct {
	Kind Kind `json:"kind"`
	// Title is the one line a reader sees first: "Activation “VIP to Ads” failed".
	Title string `json:"title"`
	// Workspace names the workspace, for readers of several.
	Workspace string `json:"workspace,omitempty"`
	// ObjectType and ObjectName say what failed: "Activation", "VIP to Ads".
	ObjectType string `json:"object_type,omitempty"`
	ObjectName string `json:"object_name,omitempty"`
	// Category is the error category's label as the app shows it ("Rate Limit").
	Category string `json:"category,omitempty"`
	// Reason is the plain-language message: why it failed, or what recovered.
	Reason string `json:"reason,omitempty"`
	// Counts are optional figures of the run (Queried 1,204; Rejected 17).
	Counts []Count `json:"counts,omitempty"`
	// Buttons link to the run and to the fix; the first is the main action.
	Buttons []Button `json:"buttons,omitempty"`
	// OccurredAt is when the event happened (UTC).
	OccurredAt time.Time `json:"occurred_at"`
}

// Count is one figure shown beside the reason.
type Count struct {
	Label string `json:"label"`
	Value int64  `json:"value"`
}

// Button is a link a reader clicks: to the run, or to where the cause is fixed
// (Re-authorize, Edit mapping, the model's remap). URL is absolute (see Link).
type Button struct {
	Label string `json:"label"`
	URL   string `json:"url"`
}

// ErrInvalid wraps every reason a message cannot be sent as it is; sending it again
// will not help.
var ErrInvalid = errors.New("notify: invalid message")

// Validate checks what every channel needs: a kind, a title, and absolute http(s) links.
func (m Message) Validate() error {
	if !m.Kind.Valid() {
		return fmt.Errorf("%w: kind %q", ErrInvalid, m.Kind)
	}
	if strings.TrimSpace(m.Title) == "" {
		return fmt.Errorf("%w: no title", ErrInvalid)
	}
	for _, b := range m.Buttons {
		if strings.TrimSpace(b.Label) == "" {
			return fmt.Errorf("%w: a button has no label", ErrInvalid)
		}
		u, err := url.Parse(b.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: button %q links to %q, not an absolute http(s) URL", ErrInvalid, b.Label, b.URL)
		}
	}
	return nil
}

// Subject is the e-mail subject, and the plain text Slack shows in notifications.
func (m Message) Subject() string {
	prefix := map[Kind]string{KindFailure: "Failed", KindResolved: "Resolved", KindReminder: "Still failing", KindTest: "Test alert", KindInvitation: "Invitation"}[m.Kind]
	s := oneLine(m.Title)
	if prefix != "" {
		s = prefix + ": " + s
	}
	return "[Sluice] " + s
}

// What is "Activation: VIP to Ads", or whichever half is known.
func (m Message) What() string {
	switch {
	case m.ObjectType != "" && m.ObjectName != "":
		return m.ObjectType + ": " + m.ObjectName
	case m.ObjectName != "":
		return m.ObjectName
	}
	return m.ObjectType
}

// Link makes the absolute URL of path (an app path such as "/runs/42") under baseURL
// (SLUICE_BASE_URL), keeping any path prefix the base carries.
func Link(baseURL, path string) (string, error) {
	base, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return "", fmt.Errorf("notify: base URL %q is not an absolute http(s) URL", baseURL)
	}
	ref, err := url.Parse(path)
	if err != nil || ref.Scheme != "" || ref.Host != "" {
		return "", fmt.Errorf("notify: %q is not an app path", path)
	}
	out := *base
	out.Path = base.Path + "/" + strings.TrimLeft(ref.Path, "/")
	out.RawPath = ""
	out.RawQuery, out.Fragment = ref.RawQuery, ref.Fragment
	return out.String(), nil
}

// oneLine folds line breaks and runs of spaces into single spaces (subjects, headers).
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// accent is the colour of a kind: red for a failure, green for a recovery, amber for a
// reminder, blue for a test, indigo for an invitation.
func (k Kind) accent() string {
	switch k {
	case KindResolved:
		return "#15803d"
	case KindReminder:
		return "#b45309"
	case KindTest:
		return "#1d4ed8"
	case KindInvitation:
		return "#4338ca"
	}
	return "#b91c1c"
}

// label is the word of the badge above the title.
func (k Kind) label() string {
	switch k {
	case KindResolved:
		return "Resolved"
	case KindReminder:
		return "Still failing"
	case KindTest:
		return "Test alert"
	case KindInvitation:
		return "Invitation"
	}
	return "Failed"
}
