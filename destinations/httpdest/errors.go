package httpdest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"sluice/connectors"
)

// StatusError words an answer that is not 2xx as a connector error, following
// connectors.Destination's contract: 401/403 credentials; 404/410 not_found; 429
// rate_limit and 5xx connection, both retryable and with the Retry-After the answer
// asked for; 408 timeout, retryable; 3xx (a redirect, never followed) and other 4xx
// configuration, not retryable — 400/422/413 are what the engine splits a batch on. The
// error carries the Exchange and, as Detail, the status and the body cut at MaxDetail.
// It returns nil for a 2xx answer. Connectors may reword the Message or set a Field.
func (c *Client) StatusError(resp *Response) *connectors.Error {
	if resp.OK() {
		return nil
	}
	code := resp.StatusCode
	status := statusLabel(code)
	e := &connectors.Error{Exchange: resp.Exchange, Detail: detail(status, resp.Body)}
	answered := fmt.Sprintf("%s answered %s", c.name, status)
	// Whether Sluice tries again is the engine's to say (Retryable); the message says
	// only what the destination did.
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		e.Category = connectors.CategoryCredentials
		e.Message = answered + ": check its credentials or headers."
	case code == http.StatusNotFound || code == http.StatusGone:
		e.Category = connectors.CategoryNotFound
		e.Message = answered + ": check the URL."
	case code == http.StatusTooManyRequests:
		e.Category, e.Retryable = connectors.CategoryRateLimit, true
		e.RetryAfter = RetryAfter(resp.Header, time.Now())
		e.Message = answered + ": it limits how fast Sluice may send."
	case code == http.StatusRequestTimeout:
		e.Category, e.Retryable = connectors.CategoryTimeout, true
		e.Message = answered + ": it did not receive the request in time."
	case code >= 500 && code <= 599:
		e.Category, e.Retryable = connectors.CategoryConnection, true
		e.RetryAfter = RetryAfter(resp.Header, time.Now())
		e.Message = answered + ": it failed on its side."
	case code >= 300 && code <= 399:
		e.Category = connectors.CategoryConfiguration
		to := ""
		if loc := resp.Header.Get("Location"); loc != "" {
			to = " to " + RedactURL(loc)
		}
		e.Message = fmt.Sprintf("%s, a redirect%s: Sluice does not follow redirects, the endpoint must answer itself. Use the final URL.", answered, to)
	case code == http.StatusBadRequest || code == http.StatusUnprocessableEntity:
		e.Category = connectors.CategoryConfiguration
		e.Message = answered + ": it refused the records as sent. Check the field mappings and what the endpoint expects; its answer is in the run log."
	case code == http.StatusRequestEntityTooLarge:
		e.Category = connectors.CategoryConfiguration
		e.Message = answered + ": the batch is too large for it. Lower the batch size."
	case code == http.StatusMethodNotAllowed:
		e.Category = connectors.CategoryConfiguration
		e.Message = answered + ": the URL does not take this kind of request. Check the URL."
	case code >= 400 && code <= 499:
		e.Category = connectors.CategoryConfiguration
		e.Message = answered + ": it refused the request. Check its settings; its answer is in the run log."
	default:
		e.Category, e.Retryable = connectors.CategoryConnection, true
		e.Message = answered + ", which is not a valid HTTP status."
	}
	return e
}

// statusLabel is "401 Unauthorized", or just the number for a status without a name.
func statusLabel(code int) string {
	if text := http.StatusText(code); text != "" {
		return strconv.Itoa(code) + " " + text
	}
	return strconv.Itoa(code)
}

func detail(status string, body []byte) string {
	text := strings.TrimSpace(bodyText(body, MaxDetail))
	if text == "" {
		return "HTTP " + status + " (empty body)"
	}
	return "HTTP " + status + ": " + text
}

// RetryAfter reads an answer's Retry-After header: a number of seconds or an HTTP date
// (RFC 9110 §10.2.3), relative to now. It is 0 when the header is absent, unreadable or
// in the past.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	return ParseRetryAfter(h.Get("Retry-After"), now)
}

// ParseRetryAfter reads one Retry-After value; see RetryAfter.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(365*24*time.Hour/time.Second) { // absurd; the engine bounds waits anyway
			secs = int64(365 * 24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		if d := at.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// TransportError words a request that got no answer: refused or reset connections and
// timeouts are retryable (connection, timeout); a private address refused, a redirect, or
// a certificate that does not verify are configuration, not retryable; a host name that
// does not exist is a connection error not worth retrying at once. The raw error is the
// Detail, every URL in it masked (net/http names the URL, user and query included).
func (c *Client) TransportError(err error) *connectors.Error {
	if ce, ok := connectors.AsError(err); ok {
		return ce
	}
	e := &connectors.Error{Category: connectors.CategoryConnection, Detail: connectors.MaskURLs(err.Error()), Err: err}
	var blocked *BlockedError
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var recordErr tls.RecordHeaderError
	var netErr net.Error
	switch {
	case errors.As(err, &blocked):
		e.Category = connectors.CategoryConfiguration
		e.Message = BlockedMessage(c.name, blocked)
	case errors.Is(err, context.Canceled):
		e.Message = c.name + " did not answer before the request was cancelled."
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		e.Category, e.Retryable = connectors.CategoryTimeout, true
		e.Message = c.name + " did not answer in time."
	case errors.As(err, &dnsErr):
		e.Retryable = !dnsErr.IsNotFound
		e.Message = fmt.Sprintf("%s could not be reached: the host name %q does not resolve. Check the URL.", c.name, dnsErr.Name)
	case errors.As(err, &certErr), errors.As(err, &unknownAuthority), errors.As(err, &hostnameErr), errors.As(err, &invalidCert):
		e.Category = connectors.CategoryConfiguration
		e.Message = c.name + " presented a TLS certificate that could not be verified: it is not signed by a trusted authority, has expired, or does not match the host name. Check the URL."
	case errors.As(err, &recordErr), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		e.Category = connectors.CategoryConfiguration
		e.Message = c.name + " does not speak HTTPS at this address. Check the URL (http or https, and the port)."
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Retryable = true
		e.Message = c.name + " refused the connection: check the URL and that the endpoint is up."
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		e.Retryable = true
		e.Message = c.name + " closed the connection before answering."
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		e.Retryable = true
		e.Message = c.name + " could not be reached: there is no network route to it."
	default:
		e.Retryable = true
		e.Message = c.name + " could not be reached."
	}
	return e
}

// BlockedMessage words the refusal of a private address for a user, and says how an
// administrator lifts it.
func BlockedMessage(name string, b *BlockedError) string {
	at := b.Addr.String()
	if !b.Addr.IsValid() {
		at = b.Host
	} else if b.Host != "" && b.Host != at {
		at = b.Host + ", which resolves to " + at
	}
	return fmt.Sprintf("%s is at a %s address (%s), which Sluice refuses to send to: it must be a public endpoint. "+
		"An administrator can allow private networks with SLUICE_ALLOW_PRIVATE_NETWORKS=true.", name, b.Reason, at)
}
