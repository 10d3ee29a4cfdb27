package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Mailer sends alerts over SMTP, one e-mail per recipient.
type Mailer struct {
	host string
	opts []gomail.Option
	from string
}

// MailerOptions tune a Mailer beyond its URL.
type MailerOptions struct {
	// From is the sender address ("sluice@example.com" or "Sluice <sluice@example.com>").
	From string
	// Timeout bounds connecting and each SMTP command (30 seconds when 0).
	Timeout time.Duration
	// TLSConfig overrides the TLS settings (tests trust their own certificate with it).
	TLSConfig *tls.Config
}

// NewMailer reads an SMTP URL: smtp://user:pass@host:port uses STARTTLS when the server
// offers it (port 587 when none is given; ?tls=required refuses to send without it),
// smtps:// implicit TLS (port 465). With user info, Sluice authenticates with the best
// mechanism the server offers; without, it sends unauthenticated. ?from= is the sender
// when MailerOptions.From is empty.
func NewMailer(smtpURL string, o MailerOptions) (*Mailer, error) {
	u, err := url.Parse(smtpURL)
	if err != nil {
		return nil, errors.New("notify: SMTP URL is not a URL")
	}
	if u.Hostname() == "" {
		return nil, errors.New("notify: SMTP URL has no host")
	}
	if o.From == "" {
		o.From = u.Query().Get("from")
	}
	if o.From == "" {
		return nil, errors.New("notify: no From address for e-mail")
	}
	if _, err := mail.ParseAddress(o.From); err != nil {
		return nil, fmt.Errorf("notify: From address %q: %w", o.From, err)
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	port := 0
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("notify: SMTP URL port %q is not a port", p)
		}
	}
	tlsConfig := o.TLSConfig
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tlsConfig = tlsConfig.Clone()
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = u.Hostname()
	}
	opts := []gomail.Option{gomail.WithTimeout(o.Timeout), gomail.WithTLSConfig(tlsConfig)}
	switch u.Scheme {
	case "smtp":
		if port == 0 {
			port = 587
		}
		policy := gomail.TLSOpportunistic
		if u.Query().Get("tls") == "required" {
			policy = gomail.TLSMandatory
		}
		opts = append(opts, gomail.WithTLSPolicy(policy))
	case "smtps":
		if port == 0 {
			port = 465
		}
		opts = append(opts, gomail.WithSSL())
	default:
		return nil, fmt.Errorf("notify: SMTP URL scheme %q: use smtp:// or smtps://", u.Scheme)
	}
	opts = append(opts, gomail.WithPort(port))
	if u.User != nil && u.User.Username() != "" {
		pass, _ := u.User.Password()
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(u.User.Username()), gomail.WithPassword(pass))
	}
	return &Mailer{host: u.Hostname(), opts: opts, from: o.From}, nil
}

// From is the sender address the mailer writes.
func (m *Mailer) From() string { return m.from }

// Send renders msg and sends it to one recipient. A recipient or sender the server
// refuses for good (a 5xx answer to MAIL FROM or RCPT TO) is wrapped in ErrPermanent;
// anything else may succeed if tried again.
func (m *Mailer) Send(ctx context.Context, to string, msg Message) error {
	if err := msg.Validate(); err != nil {
		return permanent(err)
	}
	if _, err := mail.ParseAddress(to); err != nil {
		return permanent(fmt.Errorf("notify: recipient %q: %w", to, err))
	}
	html, text, err := RenderEmail(msg)
	if err != nil {
		return fmt.Errorf("notify: render e-mail: %w", err)
	}
	e := gomail.NewMsg()
	if err := e.From(m.from); err != nil {
		return permanent(fmt.Errorf("notify: From %q: %w", m.from, err))
	}
	if err := e.To(to); err != nil {
		return permanent(fmt.Errorf("notify: recipient %q: %w", to, err))
	}
	e.Subject(msg.Subject())
	e.SetMessageID()
	if msg.OccurredAt.IsZero() {
		e.SetDate()
	} else {
		e.SetDateWithValue(msg.OccurredAt)
	}
	e.SetGenHeader("Auto-Submitted", "auto-generated")
	e.SetBodyString(gomail.TypeTextPlain, text)
	e.AddAlternativeString(gomail.TypeTextHTML, html)

	c, err := gomail.NewClient(m.host, m.opts...)
	if err != nil {
		return fmt.Errorf("notify: SMTP client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, e); err != nil {
		var se *gomail.SendError
		if errors.As(err, &se) && !se.IsTemp() && (se.Reason == gomail.ErrSMTPRcptTo || se.Reason == gomail.ErrSMTPMailFrom) {
			return permanent(fmt.Errorf("notify: send e-mail: %w", err))
		}
		return fmt.Errorf("notify: send e-mail: %w", err)
	}
	return nil
}

// ErrPermanent marks a failure that sending again will not fix: an invalid message, an
// address the server refuses for good, a webhook Slack says does not exist.
var ErrPermanent = errors.New("notify: permanent failure")

type permanentError struct{ err error }

func (e permanentError) Error() string   { return e.err.Error() }
func (e permanentError) Unwrap() []error { return []error{e.err, ErrPermanent} }

func permanent(err error) error { return permanentError{err} }

// IsPermanent reports whether err is a failure sending again will not fix.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

// DefaultFrom is the sender used when none is configured: sluice@ the base URL's host.
func DefaultFrom(baseURL string) string {
	host := "localhost"
	if u, err := url.Parse(baseURL); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	host = strings.TrimSuffix(host, ".")
	if strings.Contains(host, ":") {
		host = "localhost" // an IPv6 literal
	}
	if !strings.Contains(host, ".") {
		// An address needs a dotted domain to pass most servers' checks.
		host += ".localdomain"
	}
	return "sluice@" + host
}
