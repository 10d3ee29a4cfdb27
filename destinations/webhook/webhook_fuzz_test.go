package webhook

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"math"
	"net/netip"
	"testing"

	"sluice/connectors"
)

// FuzzRejections reads arbitrary 2xx bodies as an endpoint's answer: nothing panics, and
// the rejections it reports name only keys the batch sent, each once, each with a
// message. Keys come from the fuzzer too, so they meet the body's.
func FuzzRejections(f *testing.F) {
	for _, body := range []string{
		"", " ", "null", "{}", "[1,2]", `{"rejected": []}`, `{"rejected": "none"}`, `{"rejected": [`, `{"rejected": null}`,
		`{"accepted": 2, "rejected": [{"key": "c-2", "message": "Email is not valid."}, {"key": "nobody", "message": "x"}, {"key": "c-3"}, {"key": "c-2", "message": "twice"}]}`,
		`{"rejected": [{"key": 42, "message": "numeric key"}, {"key": 4.20e1}, {"key": true}, {"key": null}, {"key": {"a": 1}}]}`,
		`{"rejected": [{"key": "", "message": ""}]}`,
		`{"rejected": [{"key": "\u00e9\ud800", "message": "\u0000"}]}`,
	} {
		f.Add([]byte(body), "c-2", "42")
	}
	f.Fuzz(func(t *testing.T, body []byte, k1, k2 string) {
		records := []connectors.Record{{Key: k1, Op: connectors.OpUpsert}, {Key: k2, Op: connectors.OpRemove}, {Key: "c-3", Op: connectors.OpUpsert}}
		sent := map[string]bool{k1: true, k2: true, "c-3": true}
		seen := map[string]bool{}
		for _, r := range rejections(body, records) {
			switch {
			case !sent[r.Key]:
				t.Fatalf("%s: rejection of %q, which was not sent (%q, %q, c-3)", body, r.Key, k1, k2)
			case seen[r.Key]:
				t.Fatalf("%s: %q rejected twice", body, r.Key)
			case r.Message == "":
				t.Fatalf("%s: rejection of %q without a message", body, r.Key)
			}
			seen[r.Key] = true
		}
	})
}

// FuzzAppendPayload checks the hand-written encoder against encoding/json on arbitrary
// text (invalid UTF-8, control and line-separator characters) and numbers: the same
// bytes, or a refusal exactly where encode would refuse or a value it does not handle.
func FuzzAppendPayload(f *testing.F) {
	f.Add("act", "run", "key", "name", "<&>\u2028\u2029", int64(-7), 1e21, true)
	f.Add("", "\x00", "\xff\xfe", "\xed\xa0\x80", "\"\\/\b\f\n\r\t\x1f\x7f", int64(math.MinInt64), 9.99e-7, false)
	f.Add("é€😀", "\ufffd", "\xe2\x82", "k", "v", int64(0), math.Copysign(0, -1), true)
	f.Add("a", "b", "c", "d", "e", int64(1), math.Inf(1), false)
	f.Fuzz(func(t *testing.T, act, run, key, name, text string, n int64, x float64, b bool) {
		fields := map[string]any{name: text, name + "n": n, name + "x": x, name + "b": b, name + "0": nil}
		var empty map[string]any
		p := payload{ActivationID: act, RunID: run, Records: []wireRecord{
			{Op: connectors.OpUpsert, Key: key, Fields: &fields},
			{Op: connectors.OpRemove, Key: text},
			{Op: connectors.OpUpsert, Key: name, Fields: &empty},
		}}
		want, err := encode(p)
		got, ok := appendPayload(nil, p)
		switch {
		case err != nil && ok:
			t.Fatalf("encode refused (%v) what appendPayload wrote: %s", err, got)
		case err == nil && !ok && !math.IsInf(x, 0) && !math.IsNaN(x):
			t.Fatalf("appendPayload gave up on what encode wrote: %s", want)
		case ok && !bytes.Equal(got, want):
			t.Fatalf("appendPayload\n got %s\nwant %s", got, want)
		}
	})
}

// privateResolver resolves every host name to a private address, so that a refusal at
// Open never waits on the network.
type privateResolver struct{}

func (privateResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("10.0.0.7")}, nil
}

// FuzzOpen opens the webhook with arbitrary configs, private networks allowed and not:
// nothing panics, every refusal is a *connectors.Error naming one of the spec's fields,
// and Open leaves the config it was given as it was.
func FuzzOpen(f *testing.F) {
	add := func(url, batch, headers, rate, removals, secret string) {
		f.Add(url, batch, headers, rate, removals, secret)
	}
	add("https://hooks.example/in", "", "", "", "", "")
	add("HTTPS://Hooks.Example/in", "1", "Authorization: Basic dTpw:x\n\n", "10000", "false", "s")
	add(" http://hooks.example:8080/in#frag ", "10000", "X-Ok: 1\r\nX-Two: 2", "1", "yes", "")
	add("https://user:pw@hooks.example/in?token=1", "500", "", "10", "on", "")
	add("https://user:***@hooks.example/in", "", "", "", "", "")
	add("ftp://hooks.example/in", "0", "Authorization Bearer x", "0", "maybe", "")
	add("hooks.example/in", "10001", "X-Ok: 1\nno colon here", "-1", "TRUE", "")
	add("http://", "-5", "Host: evil.example", "10001", "1", "")
	add("http://:8080/in", "lots", "content-length: 3", "1e3", "", "")
	add("http://hooks.example:99999/in", "007", "X-Sluice-Signature: sha256=00", " 5", "", "")
	add("http://hooks.exa mple/in", "+1", "Bad Name: x", "", "", "")
	add("http://[::1]:80/in", "", ": empty name", "", "", "")
	add("http://169.254.169.254/latest/meta-data/", "", "X-A: a\x00b", "", "", "")
	add("http://[fe80::1%25eth0]/", "", "Proxy-Foo: x", "", "", "")
	add("https://93.184.216.34/hook", "", "", "", "", "")
	add("http://%41:80/", "", "", "", "", "")
	specFields := map[string]bool{}
	for _, fs := range (&connector{}).Spec().Config {
		specFields[fs.Name] = true
	}
	connectorsUnderTest := []connectors.DestinationConnector{
		NewWithOptions(Options{AllowPrivate: true}),
		NewWithOptions(Options{Resolver: privateResolver{}}),
	}
	f.Fuzz(func(t *testing.T, url, batch, headers, rate, removals, secret string) {
		cfg := connectors.Config{"url": url, "batch_size": batch, "headers": headers,
			"requests_per_second": rate, "send_removals": removals, "signing_secret": secret}
		for k, v := range cfg {
			if v == "" {
				delete(cfg, k) // an absent key as well as an empty one
			}
		}
		before := maps.Clone(cfg)
		for _, c := range connectorsUnderTest {
			d, err := c.Open(context.Background(), cfg, nil)
			if !maps.Equal(cfg, before) {
				t.Fatalf("Open changed its config: %q became %q", before, cfg)
			}
			if err == nil {
				if d == nil {
					t.Fatalf("Open(%q) = nil, nil", cfg)
				}
				d.Close()
				continue
			}
			var ce *connectors.Error
			if !errors.As(err, &ce) || !specFields[ce.Field] || ce.Message == "" || d != nil {
				t.Fatalf("Open(%q) = %v, %v (%T): want a *connectors.Error on a config field", cfg, d, err, err)
			}
		}
	})
}
