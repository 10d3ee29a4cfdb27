package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/destinations/httpdest"
	"sluice/destinations/webhook"
)

// received is one request as the fake endpoint saw it.
type received struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
	Query  string
}

// endpoint is a fake webhook: it records every request and answers with reply.
type endpoint struct {
	*httptest.Server
	mu    sync.Mutex
	got   []received
	reply func(w http.ResponseWriter, r *http.Request, body []byte)
}

func newEndpoint(t *testing.T, reply func(w http.ResponseWriter, r *http.Request, body []byte)) *endpoint {
	t.Helper()
	e := &endpoint{reply: reply}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.got = append(e.got, received{r.Method, r.URL.Path, r.Header.Clone(), body, r.URL.RawQuery})
		e.mu.Unlock()
		if e.reply != nil {
			e.reply(w, r, body)
		}
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *endpoint) requests() []received {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]received(nil), e.got...)
}

func answer(status int, body string) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// open opens a webhook at url with private networks allowed (httptest listens on
// 127.0.0.1) and the extra config given.
func open(t *testing.T, url string, extra connectors.Config) connectors.Destination {
	t.Helper()
	return openWith(t, webhook.NewWithOptions(webhook.Options{AllowPrivate: true}), url, extra)
}

func openWith(t *testing.T, c connectors.DestinationConnector, url string, extra connectors.Config) connectors.Destination {
	t.Helper()
	cfg := connectors.Config{"url": url}
	for k, v := range extra {
		cfg[k] = v
	}
	d, err := c.Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("Open(%v): %v", cfg, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func mustConnectorError(t *testing.T, err error) *connectors.Error {
	t.Helper()
	ce, ok := connectors.AsError(err)
	if !ok {
		t.Fatalf("err = %v (%T), want a *connectors.Error", err, err)
	}
	return ce
}

var sampleBatch = connectors.Batch{
	ActivationID: "act_1",
	RunID:        "run_9",
	Action:       webhook.ActionSyncRecords,
	Records: []connectors.Record{
		{Key: "c-1", Op: connectors.OpUpsert, Fields: map[string]any{"email": "a@example.com", "score": 12.5, "vip": true, "note": "<b>&</b>"}},
		{Key: "c-2", Op: connectors.OpUpsert},
		{Key: "c-3", Op: connectors.OpRemove, Fields: map[string]any{"email": "gone@example.com"}},
	},
}

const sampleBody = `{"activation_id":"act_1","run_id":"run_9","records":[` +
	`{"op":"upsert","key":"c-1","fields":{"email":"a@example.com","note":"<b>&</b>","score":12.5,"vip":true}},` +
	`{"op":"upsert","key":"c-2","fields":{}},` +
	`{"op":"remove","key":"c-3"}]}`

func TestSpec(t *testing.T) {
	s := webhook.New(false).Spec()
	if s.Kind != "webhook" || s.Label != "Webhook" || s.Auth != connectors.AuthNone {
		t.Errorf("kind %q label %q auth %q", s.Kind, s.Label, s.Auth)
	}
	if s.RequestsPerSecond != 10 || s.Burst != 10 {
		t.Errorf("rate %v burst %d, want 10/10", s.RequestsPerSecond, s.Burst)
	}
	fields := map[string]connectors.FieldSpec{}
	for _, f := range s.Config {
		fields[f.Name] = f
	}
	want := []struct {
		name     string
		typ      connectors.FieldType
		required bool
		secret   bool
		def      string
	}{
		{"url", connectors.FieldString, true, false, ""},
		{"batch_size", connectors.FieldInt, false, false, "500"},
		{"requests_per_second", connectors.FieldInt, false, false, "10"},
		{"headers", connectors.FieldText, false, true, ""},
		{"send_removals", connectors.FieldBool, false, false, ""},
		{"signing_secret", connectors.FieldPassword, false, true, ""},
	}
	if len(fields) != len(want) {
		t.Errorf("%d fields, want %d", len(fields), len(want))
	}
	for _, w := range want {
		f, ok := fields[w.name]
		if !ok || f.Type != w.typ || f.Required != w.required || f.Secret != w.secret || f.Default != w.def || f.Help == "" {
			t.Errorf("field %s = %+v", w.name, f)
		}
	}
	if len(s.Actions) != 1 {
		t.Fatalf("actions = %+v", s.Actions)
	}
	a := s.Actions[0]
	if a.Name != "sync_records" || !a.Custom || a.BatchSize != 500 || !a.Removals {
		t.Errorf("action = %+v", a)
	}
}

func TestWriteSendsTheContractRequest(t *testing.T) {
	ep := newEndpoint(t, answer(http.StatusOK, ""))
	d := open(t, ep.URL+"/hooks/in?tenant=acme", connectors.Config{
		"headers":       "Authorization: Bearer tok-123\n\n  X-Tenant :  acme  \r\nX-Multi: a\nX-Multi: b",
		"send_removals": "true",
	})
	res, err := d.Write(context.Background(), sampleBatch)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if len(res.Rejected) != 0 {
		t.Errorf("rejected = %+v", res.Rejected)
	}
	got := ep.requests()
	if len(got) != 1 {
		t.Fatalf("%d requests, want exactly 1", len(got))
	}
	r := got[0]
	if r.Method != http.MethodPost || r.Path != "/hooks/in" || r.Query != "tenant=acme" {
		t.Errorf("request %s %s?%s", r.Method, r.Path, r.Query)
	}
	if string(r.Body) != sampleBody {
		t.Errorf("body\n got %s\nwant %s", r.Body, sampleBody)
	}
	wantHeaders := map[string]string{
		"Content-Type":  "application/json",
		"User-Agent":    "Sluice",
		"Authorization": "Bearer tok-123",
		"X-Tenant":      "acme",
	}
	for k, v := range wantHeaders {
		if r.Header.Get(k) != v {
			t.Errorf("header %s = %q, want %q", k, r.Header.Get(k), v)
		}
	}
	if m := r.Header.Values("X-Multi"); len(m) != 2 || m[0] != "a" || m[1] != "b" {
		t.Errorf("X-Multi = %v", m)
	}
	if r.Header.Get("X-Sluice-Signature") != "" || r.Header.Get("X-Sluice-Check") != "" {
		t.Errorf("unexpected Sluice headers: %v", r.Header)
	}
	ex := res.Exchange
	// The query string may carry a credential: the exchange masks its values.
	if ex == nil || ex.Method != "POST" || ex.URL != ep.URL+"/hooks/in?tenant=***" || ex.StatusCode != 200 || ex.RequestBody != sampleBody {
		t.Errorf("exchange = %+v", ex)
	}
}

func TestSignatureVerifies(t *testing.T) {
	const secret = "whsec_top"
	ep := newEndpoint(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		// What an endpoint does: recompute the HMAC over the raw body and compare.
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		if !hmac.Equal([]byte(r.Header.Get("X-Sluice-Signature")), []byte(want)) {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"bad signature"}`)
		}
	})
	d := open(t, ep.URL, connectors.Config{"signing_secret": secret, "send_removals": "on"})
	if _, err := d.Write(context.Background(), sampleBatch); err != nil {
		t.Fatalf("Write with the right secret: %v", err)
	}
	sig := ep.requests()[0].Header.Get("X-Sluice-Signature")
	if !strings.HasPrefix(sig, "sha256=") || len(sig) != len("sha256=")+64 {
		t.Errorf("signature %q", sig)
	}
	if err := d.Check(context.Background()); err != nil {
		t.Errorf("Check is signed too: %v", err)
	}

	wrong := open(t, ep.URL, connectors.Config{"signing_secret": "not-it", "send_removals": "on"})
	_, err := wrong.Write(context.Background(), sampleBatch)
	if ce := mustConnectorError(t, err); ce.Category != connectors.CategoryCredentials {
		t.Errorf("a wrong secret verified: %v", err)
	}
	if got := webhook.Sign([]byte("k"), []byte("body")); got != hmacHex("k", "body") {
		t.Errorf("Sign = %s", got)
	}
}

func hmacHex(key, body string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func TestRejectionsParsed(t *testing.T) {
	ep := newEndpoint(t, answer(http.StatusOK, `{"accepted": 2, "rejected": [
		{"key": "c-1", "message": "email bounced"},
		{"key": "nobody", "message": "not in the batch"},
		{"key": "c-1", "message": "listed twice"},
		{"key": 42, "message": "numeric key"},
		{"key": "c-3"}
	]}`))
	d := open(t, ep.URL, connectors.Config{"send_removals": "true"})
	b := sampleBatch
	b.Records = append(append([]connectors.Record(nil), sampleBatch.Records...), connectors.Record{Key: "42", Op: connectors.OpUpsert})
	res, err := d.Write(context.Background(), b)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	want := []connectors.Rejection{
		{Key: "c-1", Message: "email bounced"},
		{Key: "42", Message: "numeric key"},
		{Key: "c-3", Message: "The webhook rejected this record without saying why."},
	}
	if fmt.Sprint(res.Rejected) != fmt.Sprint(want) {
		t.Errorf("rejected\n got %+v\nwant %+v", res.Rejected, want)
	}
	if res.Exchange == nil || !strings.Contains(res.Exchange.ResponseBody, "email bounced") {
		t.Errorf("exchange = %+v", res.Exchange)
	}
}

func TestAnyOtherTwoHundredBodyAcceptsAll(t *testing.T) {
	cases := []struct {
		status int
		body   string
	}{
		{200, ""}, {204, ""}, {202, "OK"}, {200, "<html>thanks</html>"}, {200, `{"status":"ok"}`},
		{200, `{"rejected": []}`}, {200, `{"rejected": "none"}`}, {201, `[1,2]`}, {200, `{"rejected": [`},
	}
	for _, tc := range cases {
		ep := newEndpoint(t, answer(tc.status, tc.body))
		d := open(t, ep.URL, nil)
		res, err := d.Write(context.Background(), connectors.Batch{Records: []connectors.Record{{Key: "k", Op: connectors.OpUpsert}}})
		if err != nil || len(res.Rejected) != 0 || res.Exchange.StatusCode != tc.status {
			t.Errorf("%d %q: res %+v, err %v", tc.status, tc.body, res, err)
		}
	}
}

func TestStatusesMapToCategories(t *testing.T) {
	cases := []struct {
		status     int
		retryAfter string
		category   connectors.Category
		retryable  bool
		wait       time.Duration
		field      string
	}{
		{400, "", connectors.CategoryConfiguration, false, 0, ""},
		{401, "", connectors.CategoryCredentials, false, 0, "headers"},
		{403, "", connectors.CategoryCredentials, false, 0, "headers"},
		{404, "", connectors.CategoryNotFound, false, 0, "url"},
		{413, "", connectors.CategoryConfiguration, false, 0, "batch_size"},
		{422, "", connectors.CategoryConfiguration, false, 0, ""},
		{429, "", connectors.CategoryRateLimit, true, 0, ""},
		{429, "17", connectors.CategoryRateLimit, true, 17 * time.Second, ""},
		{429, "date", connectors.CategoryRateLimit, true, 2 * time.Minute, ""},
		{500, "", connectors.CategoryConnection, true, 0, ""},
		{502, "", connectors.CategoryConnection, true, 0, ""},
		{503, "5", connectors.CategoryConnection, true, 5 * time.Second, ""},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d_%s", tc.status, tc.retryAfter), func(t *testing.T) {
			ep := newEndpoint(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
				switch tc.retryAfter {
				case "":
				case "date":
					w.Header().Set("Retry-After", time.Now().Add(tc.wait).UTC().Format(http.TimeFormat))
				default:
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(tc.status)
				fmt.Fprintf(w, `{"error":"status %d"}`, tc.status)
			})
			d := open(t, ep.URL, nil)
			res, err := d.Write(context.Background(), connectors.Batch{RunID: "r", Records: []connectors.Record{{Key: "k", Op: connectors.OpUpsert}}})
			if res != nil {
				t.Errorf("result %+v alongside the error", res)
			}
			ce := mustConnectorError(t, err)
			if ce.Category != tc.category || ce.Retryable != tc.retryable || ce.Field != tc.field {
				t.Errorf("category %s retryable %v field %q, want %s %v %q", ce.Category, ce.Retryable, ce.Field, tc.category, tc.retryable, tc.field)
			}
			slack := time.Duration(0)
			if tc.retryAfter == "date" {
				slack = 2 * time.Second // an HTTP date has whole seconds
			}
			if ce.RetryAfter < tc.wait-slack || ce.RetryAfter > tc.wait {
				t.Errorf("RetryAfter %v, want %v", ce.RetryAfter, tc.wait)
			}
			wantDetail := fmt.Sprintf(`HTTP %d %s: {"error":"status %d"}`, tc.status, http.StatusText(tc.status), tc.status)
			if ce.Detail != wantDetail {
				t.Errorf("detail %q, want %q", ce.Detail, wantDetail)
			}
			if !strings.HasPrefix(ce.Message, fmt.Sprintf("The webhook answered %d %s", tc.status, http.StatusText(tc.status))) {
				t.Errorf("message %q", ce.Message)
			}
			if ex := ce.Exchange; ex == nil || ex.StatusCode != tc.status || ex.Method != "POST" ||
				ex.RequestBody != `{"activation_id":"","run_id":"r","records":[{"op":"upsert","key":"k","fields":{}}]}` ||
				!strings.Contains(ex.ResponseBody, "status") {
				t.Errorf("exchange = %+v", ex)
			}
		})
	}
	ep := newEndpoint(t, answer(401, "no"))
	_, err := open(t, ep.URL, nil).Write(context.Background(), sampleBatchUpserts())
	if ce := mustConnectorError(t, err); ce.Message != "The webhook answered 401 Unauthorized: check its credentials or headers." {
		t.Errorf("401 message %q", ce.Message)
	}
}

func sampleBatchUpserts() connectors.Batch {
	return connectors.Batch{ActivationID: "a", RunID: "r", Records: sampleBatch.Records[:2]}
}

func TestLongAnswersTruncated(t *testing.T) {
	long := strings.Repeat("x", 20000)
	ep := newEndpoint(t, answer(http.StatusInternalServerError, long))
	_, err := open(t, ep.URL, nil).Write(context.Background(), sampleBatchUpserts())
	ce := mustConnectorError(t, err)
	if len(ce.Detail) > 2200 || !strings.Contains(ce.Detail, "truncated, 20000 bytes in all") {
		t.Errorf("detail of %d bytes: %.80q…", len(ce.Detail), ce.Detail)
	}
	if len(ce.Exchange.ResponseBody) > 8300 || !strings.Contains(ce.Exchange.ResponseBody, "truncated, 20000 bytes in all") {
		t.Errorf("exchange response body of %d bytes", len(ce.Exchange.ResponseBody))
	}
}

func TestTimeoutIsTimeout(t *testing.T) {
	release := make(chan struct{})
	ep := newEndpoint(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	c := webhook.NewWithOptions(webhook.Options{AllowPrivate: true, Timeout: 100 * time.Millisecond})
	d := openWith(t, c, ep.URL, nil)
	start := time.Now()
	_, err := d.Write(context.Background(), sampleBatchUpserts())
	ce := mustConnectorError(t, err)
	if ce.Category != connectors.CategoryTimeout || !ce.Retryable {
		t.Errorf("category %s retryable %v (%v)", ce.Category, ce.Retryable, err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("took %v, the timeout is 100ms", elapsed)
	}
	if ce.Exchange == nil || ce.Exchange.StatusCode != 0 || !strings.Contains(ce.Exchange.RequestBody, `"key":"c-1"`) {
		t.Errorf("exchange = %+v", ce.Exchange)
	}
}

func TestConnectionRefusedAndReset(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/hook"
	ln.Close()
	_, err = open(t, closed, nil).Write(context.Background(), sampleBatchUpserts())
	if ce := mustConnectorError(t, err); ce.Category != connectors.CategoryConnection || !ce.Retryable || !strings.Contains(ce.Message, "refused") {
		t.Errorf("refused: %v (retryable %v)", err, ce.Retryable)
	}

	ep := newEndpoint(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.(*net.TCPConn).SetLinger(0) // an RST, not a FIN
			conn.Close()
		}
	})
	_, err = open(t, ep.URL, nil).Write(context.Background(), sampleBatchUpserts())
	if ce := mustConnectorError(t, err); ce.Category != connectors.CategoryConnection || !ce.Retryable || ce.Exchange == nil ||
		!strings.Contains(ce.Message, "closed the connection") {
		t.Errorf("reset: %v (retryable %v)", err, ce.Retryable)
	}
}

func TestUntrustedCertificateIsConfiguration(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()
	_, err := open(t, srv.URL, nil).Write(context.Background(), sampleBatchUpserts())
	ce := mustConnectorError(t, err)
	if ce.Category != connectors.CategoryConfiguration || ce.Retryable || ce.Field != "url" || !strings.Contains(ce.Message, "certificate") {
		t.Errorf("self-signed certificate: %v (field %q)", err, ce.Field)
	}
	// Plain HTTP where the URL says https.
	plain := newEndpoint(t, answer(http.StatusOK, ""))
	_, err = open(t, strings.Replace(plain.URL, "http://", "https://", 1), nil).Write(context.Background(), sampleBatchUpserts())
	if ce := mustConnectorError(t, err); ce.Category != connectors.CategoryConfiguration || ce.Field != "url" {
		t.Errorf("https to an http server: %v", err)
	}
}

func TestRedirectRefused(t *testing.T) {
	var followed atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/new", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/new", func(http.ResponseWriter, *http.Request) { followed.Add(1) })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	_, err := open(t, srv.URL+"/old", nil).Write(context.Background(), sampleBatchUpserts())
	ce := mustConnectorError(t, err)
	if ce.Category != connectors.CategoryConfiguration || ce.Retryable || ce.Field != "url" {
		t.Errorf("category %s retryable %v field %q", ce.Category, ce.Retryable, ce.Field)
	}
	if !strings.Contains(ce.Message, "redirect to /new") || !strings.Contains(ce.Message, "does not follow redirects") {
		t.Errorf("message %q", ce.Message)
	}
	if followed.Load() != 0 {
		t.Error("the redirect was followed")
	}
	if ce.Exchange == nil || ce.Exchange.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("exchange = %+v", ce.Exchange)
	}
}

func TestPrivateAddressesRefusedAtOpen(t *testing.T) {
	ep := newEndpoint(t, answer(http.StatusOK, ""))
	port := ep.Listener.Addr().(*net.TCPAddr).Port
	c := webhook.New(false)
	urls := []string{
		ep.URL,
		fmt.Sprintf("http://localhost:%d/hook", port),
		fmt.Sprintf("http://[::1]:%d/hook", port),
		"http://169.254.169.254/latest/meta-data/",
		"http://10.0.0.7/hook",
		"https://192.168.1.10/hook",
		"http://100.64.0.1/hook",
		"http://[fe80::1]/hook",
		"http://[fd00::1]/hook",
		"http://[::ffff:127.0.0.1]/hook",
		"http://0.0.0.0/hook",
	}
	for _, u := range urls {
		d, err := c.Open(context.Background(), connectors.Config{"url": u}, nil)
		if d != nil {
			d.Close()
		}
		ce, ok := connectors.AsError(err)
		if !ok || ce.Category != connectors.CategoryConfiguration || ce.Field != "url" || ce.Retryable {
			t.Errorf("Open(%s) = %v, want a configuration error on url", u, err)
			continue
		}
		if _, blocked := httpdest.IsBlocked(err); !blocked || !strings.Contains(ce.Message, "SLUICE_ALLOW_PRIVATE_NETWORKS") {
			t.Errorf("Open(%s): %q", u, ce.Message)
		}
	}
	if n := len(ep.requests()); n != 0 {
		t.Errorf("the endpoint got %d requests", n)
	}

	// A public address is accepted by Open, which sends nothing: no connection is tried.
	d, err := c.Open(context.Background(), connectors.Config{"url": "https://93.184.216.34/hook"}, nil)
	if err != nil {
		t.Fatalf("Open of a public address: %v", err)
	}
	d.Close()

	// With private networks allowed, the loopback endpoint is fine.
	if _, err := open(t, ep.URL, nil).Write(context.Background(), sampleBatchUpserts()); err != nil {
		t.Errorf("allowPrivate: %v", err)
	}
}

// publicResolver makes every name resolve to a public address at Open: the situation of
// DNS rebinding, where the name answers differently when Sluice connects.
type publicResolver struct{}

func (publicResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
}

func TestPrivateAddressRefusedAtConnect(t *testing.T) {
	ep := newEndpoint(t, answer(http.StatusOK, ""))
	port := ep.Listener.Addr().(*net.TCPAddr).Port
	c := webhook.NewWithOptions(webhook.Options{Resolver: publicResolver{}})
	d := openWith(t, c, fmt.Sprintf("http://localhost:%d/hook", port), nil) // passes Open: "public"

	// At connect time the system resolves localhost to 127.0.0.1 (or ::1): refused.
	_, err := d.Write(context.Background(), sampleBatchUpserts())
	ce := mustConnectorError(t, err)
	if ce.Category != connectors.CategoryConfiguration || ce.Retryable || ce.Field != "url" {
		t.Errorf("Write: category %s retryable %v field %q", ce.Category, ce.Retryable, ce.Field)
	}
	be, blocked := httpdest.IsBlocked(err)
	if !blocked || be.Reason != "loopback" {
		t.Errorf("Write: %v, want a loopback refusal", err)
	}
	if ce.Exchange == nil || ce.Exchange.StatusCode != 0 {
		t.Errorf("exchange = %+v", ce.Exchange)
	}
	if _, blocked := httpdest.IsBlocked(d.Check(context.Background())); !blocked {
		t.Error("Check was not refused at connect time")
	}
	if n := len(ep.requests()); n != 0 {
		t.Errorf("the endpoint got %d requests", n)
	}
}

func TestOpenConfigErrors(t *testing.T) {
	cases := []struct {
		cfg   connectors.Config
		field string
	}{
		{connectors.Config{}, "url"},
		{connectors.Config{"url": "   "}, "url"},
		{connectors.Config{"url": "ftp://hooks.example/in"}, "url"},
		{connectors.Config{"url": "hooks.example/in"}, "url"},
		{connectors.Config{"url": "http://"}, "url"},
		{connectors.Config{"url": "http://:8080/in"}, "url"},
		{connectors.Config{"url": "http://hooks.example:99999/in"}, "url"},
		{connectors.Config{"url": "http://hooks.exa mple/in"}, "url"},
		{connectors.Config{"batch_size": "0"}, "batch_size"},
		{connectors.Config{"batch_size": "10001"}, "batch_size"},
		{connectors.Config{"batch_size": "-5"}, "batch_size"},
		{connectors.Config{"batch_size": "lots"}, "batch_size"},
		{connectors.Config{"headers": "Authorization Bearer x"}, "headers"},
		{connectors.Config{"headers": "X-Ok: 1\nno colon here"}, "headers"},
		{connectors.Config{"headers": "Host: evil.example"}, "headers"},
		{connectors.Config{"headers": "content-length: 3"}, "headers"},
		{connectors.Config{"headers": "Content-Type: text/plain"}, "headers"},
		{connectors.Config{"headers": "X-Sluice-Signature: sha256=00"}, "headers"},
		{connectors.Config{"headers": "Bad Name: x"}, "headers"},
		{connectors.Config{"headers": ": empty name"}, "headers"},
		{connectors.Config{"send_removals": "maybe"}, "send_removals"},
	}
	c := webhook.New(true)
	for _, tc := range cases {
		cfg := connectors.Config{"url": "https://hooks.example/in"}
		for k, v := range tc.cfg {
			cfg[k] = v
		}
		if len(tc.cfg) == 0 {
			delete(cfg, "url")
		}
		d, err := c.Open(context.Background(), cfg, nil)
		if d != nil {
			d.Close()
		}
		ce, ok := connectors.AsError(err)
		if !ok || ce.Category != connectors.CategoryConfiguration || ce.Field != tc.field || ce.Message == "" || ce.Retryable {
			t.Errorf("Open(%v) = %v (field %q), want a configuration error on %s", tc.cfg, err, fieldOf(err), tc.field)
		}
	}
	// Valid edge values open.
	for _, cfg := range []connectors.Config{
		{"url": "HTTPS://Hooks.Example/in", "batch_size": "1"},
		{"url": " http://hooks.example:8080/in#frag ", "batch_size": "10000", "send_removals": "false"},
		{"url": "https://user:pw@hooks.example/in", "headers": "Authorization: Basic dTpw:x\n\n"},
	} {
		d, err := c.Open(context.Background(), cfg, nil)
		if err != nil {
			t.Errorf("Open(%v): %v", cfg, err)
			continue
		}
		d.Close()
	}
}

func fieldOf(err error) string {
	if ce, ok := connectors.AsError(err); ok {
		return ce.Field
	}
	return ""
}

func TestWriteRefusesWhatTheConfigForbids(t *testing.T) {
	ep := newEndpoint(t, answer(http.StatusOK, ""))
	d := open(t, ep.URL, connectors.Config{"batch_size": "2"})
	type actioner interface {
		Action(name string) (connectors.Action, bool)
	}
	a, ok := d.(actioner).Action("sync_records")
	if !ok || a.BatchSize != 2 || a.Removals || !a.Custom {
		t.Errorf("Action = %+v, %v", a, ok)
	}
	if _, ok := d.(actioner).Action("other"); ok {
		t.Error("Action(other) found")
	}

	_, err := d.Write(context.Background(), connectors.Batch{Records: []connectors.Record{
		{Key: "1", Op: connectors.OpUpsert}, {Key: "2", Op: connectors.OpUpsert}, {Key: "3", Op: connectors.OpUpsert}}})
	if ce := mustConnectorError(t, err); ce.Category != connectors.CategoryConfiguration || ce.Field != "batch_size" || ce.Retryable {
		t.Errorf("oversized batch: %v", err)
	}
	_, err = d.Write(context.Background(), connectors.Batch{Records: []connectors.Record{{Key: "1", Op: connectors.OpRemove}}})
	if ce := mustConnectorError(t, err); ce.Category != connectors.CategoryConfiguration || ce.Field != "send_removals" {
		t.Errorf("removal while send_removals is off: %v", err)
	}
	_, err = d.Write(context.Background(), connectors.Batch{Records: []connectors.Record{{Key: "1", Op: "merge"}}})
	if ce := mustConnectorError(t, err); ce.Category != connectors.CategoryConfiguration {
		t.Errorf("unknown op: %v", err)
	}
	if n := len(ep.requests()); n != 0 {
		t.Errorf("the endpoint got %d requests", n)
	}
}

func TestCheck(t *testing.T) {
	status := http.StatusNoContent
	ep := newEndpoint(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) { w.WriteHeader(status) })
	d := open(t, ep.URL+"/hook", connectors.Config{"headers": "Authorization: Bearer t", "signing_secret": "s"})
	if err := d.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	r := ep.requests()[0]
	const want = `{"activation_id":"","run_id":"","records":[]}`
	if r.Method != http.MethodPost || r.Path != "/hook" || string(r.Body) != want {
		t.Errorf("check request %s %s %s", r.Method, r.Path, r.Body)
	}
	if r.Header.Get("X-Sluice-Check") != "1" || r.Header.Get("Authorization") != "Bearer t" ||
		r.Header.Get("X-Sluice-Signature") != hmacHex("s", want) || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("check headers %v", r.Header)
	}
	status = http.StatusForbidden
	ce := mustConnectorError(t, d.Check(context.Background()))
	if ce.Category != connectors.CategoryCredentials || ce.Exchange == nil || ce.Exchange.RequestHeaders["X-Sluice-Check"] != "1" {
		t.Errorf("Check on 403: %v, exchange %+v", ce, ce.Exchange)
	}
}

func TestExchangeRedactsSecrets(t *testing.T) {
	const token, secret, password, key = "tok-s3cr3t", "whsec-s3cr3t", "pw-s3cr3t", "key-s3cr3t"
	for _, status := range []int{200, 401} {
		ep := newEndpoint(t, answer(status, `{}`))
		u := strings.Replace(ep.URL, "http://", "http://bob:"+password+"@", 1) + "/in?key=" + key + "&x=1"
		d := open(t, u, connectors.Config{"headers": "Authorization: Bearer " + token + "\nX-Api-Key: " + token,
			"signing_secret": secret, "batch_size": "1000"})
		b := connectors.Batch{ActivationID: "a", RunID: "r"}
		for i := range 400 {
			b.Records = append(b.Records, connectors.Record{Key: fmt.Sprint(i), Op: connectors.OpUpsert, Fields: map[string]any{"email": fmt.Sprintf("user%d@example.com", i)}})
		}
		res, err := d.Write(context.Background(), b)
		var ex *connectors.Exchange
		if status == 200 {
			if err != nil {
				t.Fatalf("Write: %v", err)
			}
			ex = res.Exchange
		} else {
			ce := mustConnectorError(t, err)
			ex = ce.Exchange
			if strings.Contains(ce.Error(), token) || strings.Contains(ce.Error(), password) || strings.Contains(ce.Error(), key) {
				t.Errorf("the error text carries a secret: %s", ce.Error())
			}
		}
		got := ep.requests()
		if got[0].Header.Get("Authorization") != "Bearer "+token {
			t.Errorf("the endpoint did not get the real header: %v", got[0].Header)
		}
		if got[0].Path != "/in" || got[0].Query != "key="+key+"&x=1" {
			t.Errorf("the endpoint did not get the real URL: %s?%s", got[0].Path, got[0].Query)
		}
		if ex.RequestHeaders["Authorization"] != "[redacted]" || ex.RequestHeaders["X-Api-Key"] != "[redacted]" ||
			ex.RequestHeaders["X-Sluice-Signature"] != "[redacted]" ||
			ex.RequestHeaders["Content-Type"] != "application/json" || ex.RequestHeaders["User-Agent"] != "Sluice" {
			t.Errorf("%d: exchange headers %v", status, ex.RequestHeaders)
		}
		js, _ := json.Marshal(ex)
		sig := got[0].Header.Get("X-Sluice-Signature")
		for _, s := range []string{token, secret, password, key, "bob", sig[len("sha256="):]} {
			if strings.Contains(string(js), s) {
				t.Errorf("%d: the exchange carries %q: %s", status, s, js[:300])
			}
		}
		if want := strings.Replace(ep.URL, "http://", "http://***:***@", 1) + "/in?key=***&x=***"; ex.URL != want {
			t.Errorf("exchange URL %q", ex.URL)
		}
		if len(ex.RequestBody) > 8300 || !strings.Contains(ex.RequestBody, "truncated") || len(got[0].Body) < 16000 {
			t.Errorf("request body: %d bytes in the exchange, %d sent", len(ex.RequestBody), len(got[0].Body))
		}
	}
}

func TestOpenDoesNotChangeTheConfig(t *testing.T) {
	cfg := connectors.Config{"url": " https://hooks.example/in "}
	d, err := webhook.New(true).Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if len(cfg) != 1 || cfg["url"] != " https://hooks.example/in " {
		t.Errorf("config became %v", cfg)
	}
}

func TestCancelledContext(t *testing.T) {
	ep := newEndpoint(t, answer(http.StatusOK, ""))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := open(t, ep.URL, nil).Write(ctx, sampleBatchUpserts())
	if !errors.Is(err, context.Canceled) || fieldOf(err) != "" {
		t.Errorf("err = %v (field %q), want it to wrap context.Canceled, with no field to fix", err, fieldOf(err))
	}
}

func TestRateLimitFromConfig(t *testing.T) {
	c := webhook.New(true)
	d, err := c.Open(context.Background(), connectors.Config{"url": "http://127.0.0.1:1/hook", "requests_per_second": "250"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rl, ok := d.(interface{ RateLimit() (float64, int) })
	if !ok {
		t.Fatal("the destination does not say its rate limit")
	}
	if perSecond, burst := rl.RateLimit(); perSecond != 250 || burst != 250 {
		t.Fatalf("RateLimit = %v, %d; want 250, 250", perSecond, burst)
	}
	for _, bad := range []string{"0", "10001", "fast"} {
		if _, err := c.Open(context.Background(), connectors.Config{"url": "http://127.0.0.1:1/hook", "requests_per_second": bad}, nil); err == nil {
			t.Errorf("requests_per_second %q accepted", bad)
		}
	}
}
