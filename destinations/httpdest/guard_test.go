package httpdest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"sluice/connectors"
)

func TestBlockedReason(t *testing.T) {
	refused := map[string]string{
		"127.0.0.1":              "loopback",
		"127.255.255.254":        "loopback",
		"::1":                    "loopback",
		"0.0.0.0":                "unspecified",
		"::":                     "unspecified",
		"0.1.2.3":                "\"this network\"",
		"10.1.2.3":               "private",
		"172.16.0.1":             "private",
		"172.31.255.255":         "private",
		"192.168.1.1":            "private",
		"fc00::1":                "private",
		"fd12:3456::1":           "private",
		"169.254.169.254":        "link-local",
		"169.254.0.1":            "link-local",
		"fe80::1":                "link-local",
		"fe80::1%eth0":           "link-local",
		"100.64.0.1":             "carrier-grade NAT (shared)",
		"100.127.255.255":        "carrier-grade NAT (shared)",
		"::ffff:127.0.0.1":       "loopback",
		"::ffff:10.0.0.1":        "private",
		"::ffff:169.254.169.254": "link-local",
		"::ffff:100.64.0.1":      "carrier-grade NAT (shared)",
		"::ffff:198.18.0.1":      "benchmarking",
		"224.0.0.1":              "multicast",
		"239.255.255.250":        "multicast",
		"ff02::1":                "multicast",
		"ff05::1:3":              "multicast",
		"255.255.255.255":        "reserved",
		"240.0.0.1":              "reserved",
		"192.0.0.8":              "IETF protocol",
		"192.0.2.10":             "documentation",
		"198.18.0.1":             "benchmarking",
		"2001:db8::1":            "documentation",
		"fec0::1":                "site-local",
		"::127.0.0.1":            "reserved (IPv4-compatible)",
		"64:ff9b::7f00:1":        "loopback",   // NAT64 of 127.0.0.1
		"64:ff9b::a9fe:a9fe":     "link-local", // NAT64 of 169.254.169.254
		"64:ff9b:1::1":           "private (local NAT64)",
		"2002:7f00:1::1":         "loopback", // 6to4 of 127.0.0.1
		"2002:a00:1::1":          "private",  // 6to4 of 10.0.0.1
		"100::1":                 "discard-only",
	}
	for s, want := range refused {
		if got := BlockedReason(netip.MustParseAddr(s)); got != want {
			t.Errorf("BlockedReason(%s) = %q, want %q", s, got, want)
		}
	}
	allowed := []string{
		"8.8.8.8", "93.184.216.34", "1.1.1.1", "100.63.255.255", "100.128.0.0",
		"172.15.255.255", "172.32.0.0", "192.169.0.1", "169.255.0.1",
		"2606:4700:4700::1111", "2001:4860:4860::8888", "::ffff:8.8.8.8",
		"64:ff9b::808:808", "2002:808:808::1",
	}
	for _, s := range allowed {
		if got := BlockedReason(netip.MustParseAddr(s)); got != "" {
			t.Errorf("BlockedReason(%s) = %q, want allowed", s, got)
		}
	}
	if BlockedReason(netip.Addr{}) == "" {
		t.Error("the zero Addr must be refused")
	}
}

// fakeResolver answers from a table and fails for anything else, as DNS would.
type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	list, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, s := range list {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

func TestCheckHost(t *testing.T) {
	r := fakeResolver{
		"public.example":   {"93.184.216.34", "2606:2800:220:1::1"},
		"mixed.example":    {"93.184.216.34", "10.0.0.5"},
		"metadata.example": {"169.254.169.254"},
		"v6loop.example":   {"::1"},
		"mapped.example":   {"::ffff:192.168.0.1"},
		"empty.example":    {},
	}
	ctx := context.Background()
	for _, host := range []string{"public.example", "93.184.216.34", "2606:4700:4700::1111"} {
		if err := CheckHost(ctx, r, host); err != nil {
			t.Errorf("CheckHost(%s) = %v, want nil", host, err)
		}
	}
	blocked := map[string]string{
		"mixed.example":    "10.0.0.5",
		"metadata.example": "169.254.169.254",
		"v6loop.example":   "::1",
		"mapped.example":   "::ffff:192.168.0.1",
		"127.0.0.1":        "127.0.0.1",
		"::1":              "::1",
		"169.254.169.254":  "169.254.169.254",
		"10.0.0.1":         "10.0.0.1",
	}
	for host, addr := range blocked {
		err := CheckHost(ctx, r, host)
		be, ok := IsBlocked(err)
		if !ok {
			t.Errorf("CheckHost(%s) = %v, want a BlockedError", host, err)
			continue
		}
		if be.Addr.String() != addr {
			t.Errorf("CheckHost(%s) blocked %s, want %s", host, be.Addr, addr)
		}
	}
	for _, host := range []string{"nx.example", "empty.example"} {
		var dnsErr *net.DNSError
		if err := CheckHost(ctx, r, host); !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
			t.Errorf("CheckHost(%s) = %v, want a not-found DNSError", host, err)
		}
	}
	// The system resolver: localhost is loopback on every machine.
	if _, ok := IsBlocked(CheckHost(ctx, nil, "localhost")); !ok {
		t.Error("CheckHost(localhost) with the system resolver was not refused")
	}
}

// The connect-time check is called with the address about to be dialled; it is tested
// directly so that no connection to a non-loopback address is ever attempted.
func TestDialControl(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:80", "[::1]:443", "169.254.169.254:80", "10.0.0.1:8080",
		"[fe80::1%lo]:80", "[::ffff:127.0.0.1]:80", "100.64.1.1:80", "0.0.0.0:80", "not-an-address"} {
		if _, ok := IsBlocked(dialControl("tcp", addr, nil)); !ok {
			t.Errorf("dialControl(%s) allowed it", addr)
		}
	}
	for _, addr := range []string{"93.184.216.34:443", "[2606:4700:4700::1111]:443"} {
		if err := dialControl("tcp", addr, nil); err != nil {
			t.Errorf("dialControl(%s) = %v, want nil", addr, err)
		}
	}
}

func TestClientRefusesLoopbackAtConnect(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()

	c := NewClient(Options{Name: "The webhook"})
	defer c.Close()
	_, err := c.Do(context.Background(), Request{Method: http.MethodPost, URL: srv.URL, Body: []byte("{}")})
	ce, ok := connectors.AsError(err)
	if !ok || ce.Category != connectors.CategoryConfiguration || ce.Retryable {
		t.Fatalf("err = %#v, want a configuration error, not retryable", err)
	}
	if _, ok := IsBlocked(err); !ok {
		t.Errorf("err does not wrap a BlockedError: %v", err)
	}
	if !strings.Contains(ce.Message, "loopback") || !strings.Contains(ce.Message, "SLUICE_ALLOW_PRIVATE_NETWORKS") {
		t.Errorf("message = %q", ce.Message)
	}
	if ce.Exchange == nil || ce.Exchange.URL != srv.URL || ce.Exchange.StatusCode != 0 {
		t.Errorf("exchange = %#v", ce.Exchange)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the server got %d requests", n)
	}

	// The same client with private networks allowed gets through.
	open := NewClient(Options{AllowPrivate: true})
	defer open.Close()
	resp, err := open.Do(context.Background(), Request{Method: http.MethodPost, URL: srv.URL, Body: []byte("{}")})
	if err != nil || resp.StatusCode != http.StatusOK || hits.Load() != 1 {
		t.Fatalf("allowed client: resp %v, err %v, hits %d", resp, err, hits.Load())
	}
}
