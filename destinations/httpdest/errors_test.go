package httpdest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"sluice/connectors"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"120":  120 * time.Second,
		" 5 ":  5 * time.Second,
		"0":    0,
		"-3":   0,
		"soon": 0,
		"":     0,
		"1.5":  0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(time.Hour).Format(time.RFC850):            time.Hour,
		now.Add(2 * time.Minute).Format(time.ANSIC):       2 * time.Minute,
		now.Add(-time.Minute).Format(http.TimeFormat):     0,
		"99999999999999":                                      365 * 24 * time.Hour,
		"Tue, 03 Nov 2026 10:00:30 GMT":                       30 * time.Second,
		fmt.Sprint(int64(365 * 24 * time.Hour / time.Second)): 365 * 24 * time.Hour,
	}
	for in, want := range cases {
		if got := ParseRetryAfter(in, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestStatusError(t *testing.T) {
	c := NewClient(Options{Name: "The webhook"})
	future := time.Now().Add(2 * time.Minute).UTC().Format(http.TimeFormat)
	cases := []struct {
		code       int
		retryAfter string
		category   connectors.Category
		retryable  bool
		wait       time.Duration // at least
	}{
		{400, "", connectors.CategoryConfiguration, false, 0},
		{401, "", connectors.CategoryCredentials, false, 0},
		{403, "", connectors.CategoryCredentials, false, 0},
		{404, "", connectors.CategoryNotFound, false, 0},
		{405, "", connectors.CategoryConfiguration, false, 0},
		{408, "", connectors.CategoryTimeout, true, 0},
		{409, "", connectors.CategoryConfiguration, false, 0},
		{410, "", connectors.CategoryNotFound, false, 0},
		{413, "", connectors.CategoryConfiguration, false, 0},
		{422, "", connectors.CategoryConfiguration, false, 0},
		{429, "", connectors.CategoryRateLimit, true, 0},
		{429, "7", connectors.CategoryRateLimit, true, 7 * time.Second},
		{429, future, connectors.CategoryRateLimit, true, 110 * time.Second},
		{500, "", connectors.CategoryConnection, true, 0},
		{502, "", connectors.CategoryConnection, true, 0},
		{503, "30", connectors.CategoryConnection, true, 30 * time.Second},
		{504, "", connectors.CategoryConnection, true, 0},
		{301, "", connectors.CategoryConfiguration, false, 0},
		{307, "", connectors.CategoryConfiguration, false, 0},
	}
	for _, tc := range cases {
		h := http.Header{}
		if tc.retryAfter != "" {
			h.Set("Retry-After", tc.retryAfter)
		}
		ex := &connectors.Exchange{StatusCode: tc.code}
		e := c.StatusError(&Response{StatusCode: tc.code, Header: h, Body: []byte("nope"), Exchange: ex})
		if e == nil {
			t.Errorf("%d: no error", tc.code)
			continue
		}
		if e.Category != tc.category || e.Retryable != tc.retryable {
			t.Errorf("%d: category %s retryable %v, want %s %v", tc.code, e.Category, e.Retryable, tc.category, tc.retryable)
		}
		if e.RetryAfter < tc.wait || (tc.wait == 0 && e.RetryAfter != 0) || e.RetryAfter > tc.wait+10*time.Second {
			t.Errorf("%d (Retry-After %q): RetryAfter %v, want about %v", tc.code, tc.retryAfter, e.RetryAfter, tc.wait)
		}
		if e.Exchange != ex {
			t.Errorf("%d: the error does not carry the exchange", tc.code)
		}
		if !strings.HasPrefix(e.Message, fmt.Sprintf("The webhook answered %d", tc.code)) {
			t.Errorf("%d: message %q", tc.code, e.Message)
		}
		if want := fmt.Sprintf("HTTP %d %s: nope", tc.code, http.StatusText(tc.code)); e.Detail != want {
			t.Errorf("%d: detail %q, want %q", tc.code, e.Detail, want)
		}
	}
	for _, code := range []int{200, 201, 202, 204, 207} {
		if e := c.StatusError(&Response{StatusCode: code}); e != nil {
			t.Errorf("%d: %v, want nil", code, e)
		}
	}
	e := c.StatusError(&Response{StatusCode: 401, Header: http.Header{}})
	if want := "The webhook answered 401 Unauthorized: check its credentials or headers."; e.Message != want {
		t.Errorf("401 message %q, want %q", e.Message, want)
	}
	if e.Detail != "HTTP 401 Unauthorized (empty body)" {
		t.Errorf("401 detail %q", e.Detail)
	}
	e = c.StatusError(&Response{StatusCode: 302, Header: http.Header{"Location": {"https://u:pw@elsewhere.example/x"}}})
	if !strings.Contains(e.Message, "redirect to https://***:***@elsewhere.example/x") || strings.Contains(e.Message, "pw@") || strings.Contains(e.Message, "u:") {
		t.Errorf("302 message %q", e.Message)
	}
}

func TestTruncate(t *testing.T) {
	if got := Truncate("short", 10); got != "short" {
		t.Errorf("Truncate(short) = %q", got)
	}
	s := strings.Repeat("é", 10) // 20 bytes
	got := Truncate(s, 5)
	if !utf8.ValidString(got) || !strings.HasPrefix(got, "éé… [truncated, 20 bytes in all]") {
		t.Errorf("Truncate = %q", got)
	}
	if got := bodyText([]byte{'a', 0xff, 'b'}, 10); got != "a\uFFFDb" {
		t.Errorf("bodyText = %q", got)
	}
}

func TestNewExchangeRedacts(t *testing.T) {
	ex := NewExchange(Request{
		Method: http.MethodPost,
		URL:    "https://bob:hunter2@hooks.example/in?token=tk9&x=1",
		Header: http.Header{
			"Authorization":      {"Bearer s3cr3t"},
			"X-Sluice-Signature": {"sha256=abc"},
			"Content-Type":       {"application/json"},
		},
		SecretHeaders: []string{"authorization", "X-Sluice-Signature"},
		Body:          []byte(strings.Repeat("x", 3*MaxExchangeBody)),
	})
	if ex.URL != "https://***:***@hooks.example/in?token=***&x=***" {
		t.Errorf("URL = %q", ex.URL)
	}
	want := map[string]string{"Authorization": Redacted, "X-Sluice-Signature": Redacted, "Content-Type": "application/json"}
	for k, v := range want {
		if ex.RequestHeaders[k] != v {
			t.Errorf("header %s = %q, want %q", k, ex.RequestHeaders[k], v)
		}
	}
	if len(ex.RequestBody) > MaxExchangeBody+64 || !strings.Contains(ex.RequestBody, "truncated, 24576 bytes in all") {
		t.Errorf("request body of %d bytes not truncated: ...%s", len(ex.RequestBody), ex.RequestBody[len(ex.RequestBody)-40:])
	}
	if got := RedactURL("http://user:pa ss@host/%zz"); strings.Contains(got, "pa ss") {
		t.Errorf("RedactURL of an unparsable URL kept the password: %q", got)
	}
}

func TestTransportError(t *testing.T) {
	c := NewClient(Options{Name: "The webhook"})
	cases := []struct {
		err       error
		category  connectors.Category
		retryable bool
	}{
		{&net.DNSError{Err: "no such host", Name: "nx.example", IsNotFound: true}, connectors.CategoryConnection, false},
		{&net.DNSError{Err: "server misbehaving", Name: "flaky.example", IsTemporary: true}, connectors.CategoryConnection, true},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded), connectors.CategoryTimeout, true},
		{context.Canceled, connectors.CategoryConnection, false},
		{&BlockedError{Reason: "loopback"}, connectors.CategoryConfiguration, false},
		{errors.New("something odd"), connectors.CategoryConnection, true},
	}
	for _, tc := range cases {
		e := c.TransportError(tc.err)
		if e.Category != tc.category || e.Retryable != tc.retryable || !errors.Is(e, tc.err) || e.Message == "" {
			t.Errorf("TransportError(%v) = %s retryable %v (%q), want %s %v", tc.err, e.Category, e.Retryable, e.Message, tc.category, tc.retryable)
		}
	}
}

// A request that gets no answer is worded with net/http's error, which names the URL:
// its user and query are masked there as in the Exchange.
func TestTransportErrorMasksTheURL(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: the connection is refused
	c := NewClient(Options{Name: "The webhook", AllowPrivate: true})
	defer c.Close()
	_, err = c.Do(t.Context(), Request{Method: http.MethodPost, URL: "http://hookuser:hookpass@" + addr + "/in?token=tok-e91&x=1"})
	ce, ok := connectors.AsError(err)
	if !ok {
		t.Fatalf("error %v", err)
	}
	for _, text := range []string{ce.Detail, ce.Error(), ce.Exchange.URL} {
		if strings.Contains(text, "hookpass") || strings.Contains(text, "hookuser") || strings.Contains(text, "tok-e91") {
			t.Errorf("a secret of the URL shows: %s", text)
		}
	}
	if !strings.Contains(ce.Detail, "http://***:***@"+addr+"/in?token=***&x=***") {
		t.Errorf("detail %q lacks the masked URL", ce.Detail)
	}
	_, err = c.Do(t.Context(), Request{Method: http.MethodPost, URL: "http://hookuser:hookpass@" + addr + "/in?token=tok-e91\x7f"})
	if ce, ok := connectors.AsError(err); !ok || strings.Contains(ce.Detail, "hookpass") || strings.Contains(ce.Detail, "tok-e91") {
		t.Errorf("an invalid URL's error shows a secret: %v", err)
	}
}
