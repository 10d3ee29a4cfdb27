// Package webhook is the destination that talks to any HTTP endpoint (API.md, "The
// webhook platform"): each batch is one JSON POST to the configured URL, optionally
// signed with HMAC-SHA256, and the endpoint answers with its status and, optionally,
// the records it rejected. Tests and demos use it as a platform they control.
//
// URLs at loopback, private, link-local and other non-public addresses are refused, at
// Open and again at connect time, unless the connector was made with allowPrivate
// (SLUICE_ALLOW_PRIVATE_NETWORKS); redirects are never followed.
package webhook

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"sluice/connectors"
	"sluice/destinations/httpdest"
)

// Kind is the registry key of the webhook connector.
const Kind = "webhook"

// ActionSyncRecords is the webhook's one action: send upserts (and removals) by key.
const ActionSyncRecords = "sync_records"

// Batch sizes. 500 records of a few fields make a request of some 100 KB, which any
// endpoint takes; 10,000 is the most any platform Sluice knows takes in one call.
const (
	DefaultBatchSize = 500
	MaxBatchSize     = 10000
)

// The documented rate limit, shared by every activation of one webhook platform: ten
// requests a second, in bursts of ten, is gentle on a small self-hosted endpoint and
// still moves 5,000 records a second at the default batch size.
const (
	RequestsPerSecond = 10
	Burst             = 10
)

// Headers Sluice sets on every request.
const (
	HeaderSignature = "X-Sluice-Signature"
	HeaderCheck     = "X-Sluice-Check"
	UserAgent       = "Sluice"
)

// Options configure the connector beyond New's defaults.
type Options struct {
	// AllowPrivate lets URLs point at loopback and private addresses.
	AllowPrivate bool
	// Timeout bounds each request (httpdest.DefaultTimeout, 30 s, when 0).
	Timeout time.Duration
	// Resolver resolves the URL's host at Open (net.DefaultResolver when nil). The
	// connect-time check always asks the system, as the dialer does.
	Resolver httpdest.Resolver
}

// New returns the webhook connector; allowPrivate is SLUICE_ALLOW_PRIVATE_NETWORKS.
func New(allowPrivate bool) connectors.DestinationConnector {
	return NewWithOptions(Options{AllowPrivate: allowPrivate})
}

// NewWithOptions returns the webhook connector with a timeout or resolver of its own:
// tests observe a timeout in milliseconds and make a host name resolve where they want.
func NewWithOptions(o Options) connectors.DestinationConnector {
	return &connector{opts: o}
}

type connector struct {
	opts Options
}

// Spec describes the form. Headers are one secret field: they are where an endpoint's
// Authorization or API key goes, so they are stored encrypted and never shown back.
func (c *connector) Spec() connectors.DestinationSpec {
	return connectors.DestinationSpec{
		Kind:  Kind,
		Label: "Webhook",
		// No sign-in flow: an endpoint that wants credentials gets them as headers.
		Auth: connectors.AuthNone,
		Config: []connectors.FieldSpec{
			{Name: "url", Label: "URL", Type: connectors.FieldString, Required: true,
				Help: "The endpoint that receives each batch as a JSON POST (http or https). It must be public: private and loopback addresses are refused unless an administrator allows private networks. A user and password in the URL (https://user:password@…) and its query string are stored encrypted and shown as ***: leave them as shown to keep them."},
			{Name: "batch_size", Label: "Batch size", Type: connectors.FieldInt, Default: strconv.Itoa(DefaultBatchSize),
				Help: "Records per request, from 1 to 10,000."},
			{Name: "headers", Label: "Headers", Type: connectors.FieldText, Secret: true,
				Help: "Extra request headers, one \"Name: value\" per line, e.g. \"Authorization: Bearer …\". Stored encrypted, never shown back."},
			{Name: "requests_per_second", Label: "Requests per second", Type: connectors.FieldInt, Default: strconv.Itoa(RequestsPerSecond),
				Help: "The most requests Sluice sends this endpoint per second, shared by all its activations (1 to 10,000)."},
			{Name: "send_removals", Label: "Send removals", Type: connectors.FieldBool,
				Help: "Also send the records that left the segment, with op \"remove\"."},
			{Name: "signing_secret", Label: "Signing secret", Type: connectors.FieldPassword, Secret: true,
				Help: "When set, each request carries X-Sluice-Signature: sha256=<hex HMAC-SHA256 of the body under this secret>, so the endpoint can tell Sluice sent it."},
		},
		Actions:           []connectors.Action{SyncRecords(DefaultBatchSize, true)},
		RequestsPerSecond: RequestsPerSecond,
		Burst:             Burst,
	}
}

// SyncRecords is the action with a platform's batch size and removal setting.
func SyncRecords(batchSize int, removals bool) connectors.Action {
	return connectors.Action{
		Name:      ActionSyncRecords,
		Label:     "Sync records",
		Custom:    true, // the endpoint takes whatever fields the mapping names
		BatchSize: batchSize,
		Removals:  removals,
	}
}

// settings are a validated config.
type settings struct {
	url          string
	batchSize    int
	rate         int
	header       http.Header
	sendRemovals bool
	secret       string
}

// Open checks the config and that the URL's host is a public address; it sends nothing
// (Check does).
func (c *connector) Open(ctx context.Context, cfg connectors.Config, _ connectors.Tokens) (connectors.Destination, error) {
	set, u, err := c.parse(cfg)
	if err != nil {
		return nil, err
	}
	client := httpdest.NewClient(httpdest.Options{Name: "The webhook", AllowPrivate: c.opts.AllowPrivate, Timeout: c.opts.Timeout})
	if !c.opts.AllowPrivate {
		if err := httpdest.CheckHost(ctx, c.opts.Resolver, u.Hostname()); err != nil {
			ce := client.TransportError(err)
			ce.Field = "url"
			return nil, ce
		}
	}
	return &destination{set: set, client: client}, nil
}

// Target is an endpoint Sluice itself sends webhook batches to (the Sandbox's inbox,
// under Sluice's own base URL): same body, answer and errors as any webhook.
type Target struct {
	// Name is how messages name it ("The Sandbox").
	Name string
	// URL is built by Sluice from its base URL, never typed by a user: that is why it may
	// be a loopback or private address while user-typed URLs may not.
	URL       string
	Header    http.Header
	BatchSize int
	Rate      int
	Removals  bool
	// Tokens, when set, gives the access token sent as Authorization: Bearer.
	Tokens  connectors.Tokens
	Timeout time.Duration
}

// OpenTarget returns the destination sending to t.
func OpenTarget(t Target) connectors.Destination {
	client := httpdest.NewClient(httpdest.Options{Name: t.Name, AllowPrivate: true, Timeout: t.Timeout})
	set := settings{url: t.URL, batchSize: t.BatchSize, rate: t.Rate, header: t.Header, sendRemovals: t.Removals}
	return &destination{set: set, client: client, tokens: t.Tokens}
}

func (c *connector) parse(in connectors.Config) (settings, *url.URL, error) {
	cfg := connectors.Config{}
	for k, v := range in {
		cfg[k] = v
	}
	for _, k := range []string{"url", "batch_size", "requests_per_second", "send_removals"} {
		cfg[k] = strings.TrimSpace(cfg[k])
	}
	if err := cfg.Validate(c.Spec().Config); err != nil {
		return settings{}, nil, err
	}
	u, err := parseURL(cfg["url"])
	if err != nil {
		return settings{}, nil, err
	}
	size, _ := strconv.Atoi(cfg["batch_size"])
	if size < 1 || size > MaxBatchSize {
		return settings{}, nil, configError("batch_size", "Batch size must be between 1 and 10,000.")
	}
	rate, _ := strconv.Atoi(cfg["requests_per_second"])
	if rate < 1 || rate > 10000 {
		return settings{}, nil, configError("requests_per_second", "Requests per second must be between 1 and 10,000.")
	}
	header, err := parseHeaders(cfg["headers"])
	if err != nil {
		return settings{}, nil, err
	}
	removals, err := parseBool(cfg["send_removals"])
	if err != nil {
		return settings{}, nil, configError("send_removals", "Send removals must be true or false.")
	}
	return settings{url: u.String(), batchSize: size, rate: rate, header: header, sendRemovals: removals, secret: cfg["signing_secret"]}, u, nil
}

func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: "url",
			Message: "The URL is not valid: write it in full, e.g. https://hooks.example.com/sluice.",
			Detail:  httpdest.RedactURL(raw), Err: err}
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, configError("url", "The URL must start with https:// (or http://).")
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, configError("url", "The URL has no host: write it in full, e.g. https://hooks.example.com/sluice.")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, configError("url", "The URL's port must be between 1 and 65535.")
		}
	}
	u.Fragment, u.RawFragment = "", "" // never sent anyway
	return u, nil
}

// Headers a configured line may not set: those the HTTP layer owns (Host, lengths,
// connection management) and those this connector's contract fixes (content type, user
// agent, X-Sluice-*).
var forbiddenHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Content-Type": true, "Content-Encoding": true,
	"Transfer-Encoding": true, "Connection": true, "Keep-Alive": true, "Upgrade": true,
	"Te": true, "Trailer": true, "Expect": true, "Proxy-Connection": true,
	"Proxy-Authorization": true, "User-Agent": true,
}

// parseHeaders reads "Name: value" lines; blank lines are skipped. Values may contain
// colons ("Authorization: Basic a:b" is fine) and are trimmed of surrounding spaces.
func parseHeaders(text string) (http.Header, error) {
	h := http.Header{}
	for i, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		n := i + 1
		name, value, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok {
			return nil, configError("headers", "Header line "+strconv.Itoa(n)+" has no colon: write one \"Name: value\" per line.")
		}
		if !isToken(name) {
			return nil, configError("headers", "Header line "+strconv.Itoa(n)+" has no valid name before its colon: a name is letters, digits and - only.")
		}
		canon := http.CanonicalHeaderKey(name)
		if forbiddenHeaders[canon] || strings.HasPrefix(canon, "X-Sluice-") || strings.HasPrefix(canon, "Proxy-") {
			return nil, configError("headers", "Header line "+strconv.Itoa(n)+" sets "+canon+", which Sluice sets itself: remove that line.")
		}
		value = strings.TrimSpace(value)
		if strings.ContainsFunc(value, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
			return nil, configError("headers", "Header line "+strconv.Itoa(n)+" ("+canon+") has a control character in its value.")
		}
		h.Add(canon, value)
	}
	return h, nil
}

// isToken reports whether s is an HTTP field name (RFC 9110 token).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("!#$%&'*+-.^_`|~", r):
		default:
			return false
		}
	}
	return true
}

// parseBool reads a checkbox or a config file's boolean; empty is false.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "", "false", "0", "off", "no":
		return false, nil
	case "true", "1", "on", "yes":
		return true, nil
	}
	return false, strconv.ErrSyntax
}

func configError(field, message string) *connectors.Error {
	return &connectors.Error{Category: connectors.CategoryConfiguration, Field: field, Message: message}
}
