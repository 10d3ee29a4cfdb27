// Package httpdest is the HTTP plumbing destination connectors share: a client that
// refuses private networks (checked again at connect time, redirects never followed),
// the capture of each request and answer for the run page's debugger with secrets
// redacted, and the mapping of statuses and network failures to connector errors.
//
// It imports connectors and the standard library only, like the connectors that use it.
package httpdest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sluice/connectors"
)

// Limits. A platform that takes minutes to answer one batch is failing; thirty seconds
// outlasts a slow but healthy endpoint. Bodies in an Exchange are cut at 8 KiB (enough
// to read a request and its answer, small enough to keep a sample per batch), error
// details at 2 KiB; a response is read up to 8 MiB, enough for a rejection per record of
// the largest batch.
const (
	DefaultTimeout          = 30 * time.Second
	MaxExchangeBody         = 8 << 10
	MaxDetail               = 2 << 10
	DefaultMaxResponseBytes = 8 << 20
)

// Redacted replaces secret header values in an Exchange.
const Redacted = "[redacted]"

// Options configure a Client.
type Options struct {
	// Name is how messages name the destination, at the start of a sentence:
	// "The webhook", "HubSpot".
	Name string
	// AllowPrivate lets requests go to loopback and private addresses
	// (SLUICE_ALLOW_PRIVATE_NETWORKS): for tests, demos and on-premises endpoints.
	AllowPrivate bool
	// Timeout bounds a whole request, answer read included (DefaultTimeout when 0).
	Timeout time.Duration
	// MaxResponseBytes bounds how much of an answer is read (DefaultMaxResponseBytes when 0).
	MaxResponseBytes int64
}

// Client sends a destination's requests. It never follows a redirect (a 3xx comes back
// as the answer, which StatusError words as a configuration error: a destination must
// answer itself, and a redirect could point anywhere), never goes through a proxy from
// the environment (the address check would then judge the proxy, not the destination),
// and, unless AllowPrivate, refuses to connect to any address BlockedReason refuses.
type Client struct {
	name      string
	timeout   time.Duration
	maxBody   int64
	http      *http.Client
	transport *http.Transport
}

// NewClient returns a client with its own connection pool; Close releases it.
func NewClient(o Options) *Client {
	if o.Name == "" {
		o.Name = "The destination"
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !o.AllowPrivate {
		dialer.Control = dialControl
	}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConns:          16,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &Client{
		name:    o.Name,
		timeout: o.Timeout,
		maxBody: o.MaxResponseBytes,
		http: &http.Client{
			Transport: transport,
			Timeout:   o.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		transport: transport,
	}
}

// HTTPClient is the client's *http.Client, for code that posts through a library of its
// own (Slack alerts): the same address check at connect time, no redirects, no proxy.
func (c *Client) HTTPClient() *http.Client { return c.http }

// Timeout is how long one request may take, answer read included.
func (c *Client) Timeout() time.Duration { return c.timeout }

// Close drops the client's idle connections.
func (c *Client) Close() { c.transport.CloseIdleConnections() }

// Request is one request to send.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
	// SecretHeaders are headers whose values the Exchange shows as Redacted
	// (an Authorization, a signature, any header the user configured).
	SecretHeaders []string
}

// Response is an answer, whatever its status.
type Response struct {
	StatusCode int
	Header     http.Header
	// Body is the answer's body, up to the client's MaxResponseBytes; Truncated says
	// there was more.
	Body      []byte
	Truncated bool
	// Exchange is the request and this answer, secrets redacted, bodies truncated.
	Exchange *connectors.Exchange
}

// OK reports a 2xx status.
func (r *Response) OK() bool { return r.StatusCode >= 200 && r.StatusCode < 300 }

// Do sends r and reads the answer, whatever its status (StatusError words a failing
// one). When no answer comes (refused, reset, timed out, private address refused) the
// error is a *connectors.Error carrying the Exchange of the request as it was sent.
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	ex := NewExchange(r)
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: "url",
			Message: c.name + " URL is not valid.", Detail: connectors.MaskURLs(err.Error()), Exchange: ex, Err: err}
	}
	for name, values := range r.Header {
		req.Header[name] = append([]string(nil), values...)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		ce := c.TransportError(err)
		ce.Exchange = ex
		return nil, ce
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	ex.StatusCode = resp.StatusCode
	ex.ResponseBody = bodyText(body, MaxExchangeBody)
	if err != nil {
		ce := c.TransportError(err)
		ce.Exchange = ex
		return nil, ce
	}
	out := &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: body, Exchange: ex}
	if int64(len(body)) > c.maxBody {
		out.Body, out.Truncated = body[:c.maxBody], true
	}
	return out, nil
}

// NewExchange captures a request for the debugger: the URL with its secrets masked, the body cut at MaxExchangeBody, and the headers with secret values redacted.
func NewExchange(r Request) *connectors.Exchange {
	ex := &connectors.Exchange{Method: r.Method, URL: RedactURL(r.URL), RequestBody: bodyText(r.Body, MaxExchangeBody)}
	if len(r.Header) > 0 {
		secret := map[string]bool{}
		for _, name := range r.SecretHeaders {
			secret[http.CanonicalHeaderKey(name)] = true
		}
		ex.RequestHeaders = make(map[string]string, len(r.Header))
		for name, values := range r.Header {
			name = http.CanonicalHeaderKey(name)
			if secret[name] {
				ex.RequestHeaders[name] = Redacted
			} else {
				ex.RequestHeaders[name] = strings.Join(values, ", ")
			}
		}
	}
	return ex
}

// RedactURL masks a URL's user info, query values and fragment (connectors.MaskURL, the
// one rule for the secrets of a URL): what an Exchange, an error or a message may show.
func RedactURL(raw string) string { return connectors.MaskURL(raw) }

// Truncate cuts s to at most n bytes, on a character boundary, saying how long it was.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "… [truncated, " + strconv.Itoa(len(s)) + " bytes in all]"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// bodyText is a body as readable text: invalid UTF-8 replaced, cut at n bytes.
func bodyText(b []byte, n int) string {
	return Truncate(strings.ToValidUTF8(string(b), "\uFFFD"), n)
}

// IsBlocked reports whether err (from Do, CheckHost, or anything wrapping them) is the
// refusal of a private address, and returns it.
func IsBlocked(err error) (*BlockedError, bool) {
	var be *BlockedError
	ok := errors.As(err, &be)
	return be, ok
}
