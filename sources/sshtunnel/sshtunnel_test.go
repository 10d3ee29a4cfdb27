package sshtunnel_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/internal/fakes/bastion"
	"sluice/sources/sshtunnel"
)

// echoServer answers each connection with what it reads, until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(t *testing.T, tun *sshtunnel.Tunnel, addr, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := tun.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("dial %s through the tunnel: %v", addr, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != msg {
		t.Fatalf("read back %q, %v", buf, err)
	}
}

func TestKeyAndFingerprint(t *testing.T) {
	priv, pub, err := sshtunnel.NewKey("sluice")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(priv, "-----BEGIN OPENSSH PRIVATE KEY-----") || !strings.HasPrefix(pub, "ssh-ed25519 ") || !strings.HasSuffix(pub, " sluice") {
		t.Fatalf("key pair: %q / %q", priv[:40], pub)
	}
	if fp := sshtunnel.Fingerprint(pub); !strings.HasPrefix(fp, "SHA256:") || len(fp) != len("SHA256:")+43 {
		t.Errorf("fingerprint = %q", fp)
	}
	if fp := sshtunnel.Fingerprint("not a key"); fp != "" {
		t.Errorf("fingerprint of garbage = %q", fp)
	}
}

// A tunnel whose connection to the bastion died (a restarted bastion, an idle firewall)
// makes a new one on the next dial, logging in again, with the pinned host key.
func TestTunnelReconnectsAfterTheBastionDropsIt(t *testing.T) {
	b := bastion.Start(t)
	priv, pub, err := sshtunnel.NewKey("sluice")
	if err != nil {
		t.Fatal(err)
	}
	b.Authorize(pub)
	cfg, ok, err := sshtunnel.FromConfig(connectors.Config{sshtunnel.FieldEnabled: "true", sshtunnel.FieldHost: b.Host(),
		sshtunnel.FieldPort: b.Port(), sshtunnel.FieldUser: "sluice", sshtunnel.FieldPrivateKey: priv, sshtunnel.FieldHostKey: b.HostKey()})
	if err != nil || !ok {
		t.Fatalf("config: %v %v", ok, err)
	}
	tun, err := cfg.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	echo := echoServer(t)
	roundTrip(t, tun, echo, "first")
	roundTrip(t, tun, echo, "second")
	if b.Logins() != 1 || b.Forwarded() != 2 {
		t.Fatalf("two connections over one login: %d logins, %d forwarded", b.Logins(), b.Forwarded())
	}
	b.DropConnections()
	time.Sleep(50 * time.Millisecond) // the client notices the closed connection
	roundTrip(t, tun, echo, "after the drop")
	if b.Logins() != 2 {
		t.Fatalf("after the bastion dropped the tunnel: %d logins, want 2", b.Logins())
	}
	if err := tun.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if _, err := tun.DialContext(context.Background(), "tcp", echo); err == nil {
		t.Error("a closed tunnel still dials")
	}
}

func TestSettingsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		cfg   connectors.Config
		field string
	}{
		{connectors.Config{sshtunnel.FieldEnabled: "yes"}, sshtunnel.FieldEnabled},
		{connectors.Config{sshtunnel.FieldEnabled: "true", sshtunnel.FieldUser: "u"}, sshtunnel.FieldHost},
		{connectors.Config{sshtunnel.FieldEnabled: "true", sshtunnel.FieldHost: "h", sshtunnel.FieldPort: "70000", sshtunnel.FieldUser: "u"}, sshtunnel.FieldPort},
		{connectors.Config{sshtunnel.FieldEnabled: "true", sshtunnel.FieldHost: "h"}, sshtunnel.FieldUser},
	} {
		ce, ok := connectors.AsError(sshtunnel.CheckSettings(tc.cfg))
		if !ok || ce.Field != tc.field || ce.Category != connectors.CategoryConfiguration {
			t.Errorf("%v: %v, want an error on %s", tc.cfg, ce, tc.field)
		}
	}
	if err := sshtunnel.CheckSettings(connectors.Config{sshtunnel.FieldEnabled: "false"}); err != nil {
		t.Errorf("tunnel off: %v", err)
	}
}

// A config without a tunnel opens none, and the nil tunnel is the direct way: what a
// connector holds and calls whether or not its source asks for a tunnel.
func TestNoTunnelIsTheDirectWay(t *testing.T) {
	tunnel, err := sshtunnel.Open(connectors.Config{sshtunnel.FieldEnabled: "false", sshtunnel.FieldHost: "bastion.example.com"})
	if err != nil || tunnel != nil {
		t.Fatalf("open without a tunnel: %v %v", tunnel, err)
	}
	base := &http.Client{Timeout: time.Second}
	tr := &http.Transport{}
	via, err := tunnel.Reach(context.Background())
	if tunnel.HTTPClient(base) != base || tunnel.Transport(tr) != tr || via != "" || err != nil ||
		tunnel.PresentedHostKey() != "" || tunnel.Close() != nil {
		t.Fatal("the nil tunnel changed the way to the warehouse")
	}
}

// An HTTP client through the tunnel keeps its base's settings, dials through the bastion
// and uses no proxy; the tunnel's Close ends its connections.
func TestHTTPClientThroughTheTunnel(t *testing.T) {
	b := bastion.Start(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("through")) }))
	t.Cleanup(srv.Close)
	cfg, pub := b.TunnelConfig(t, connectors.Config{})
	b.Authorize(pub)
	tunnel, err := sshtunnel.Open(cfg)
	if err != nil || tunnel == nil {
		t.Fatalf("open: %v %v", tunnel, err)
	}
	base := &http.Client{Timeout: 7 * time.Second, Transport: &http.Transport{
		Proxy: func(*http.Request) (*url.URL, error) { return url.Parse("http://127.0.0.1:1") }, MaxIdleConnsPerHost: 3}}
	c := tunnel.HTTPClient(base)
	tr := c.Transport.(*http.Transport)
	if c.Timeout != base.Timeout || tr.MaxIdleConnsPerHost != 3 || tr.Proxy != nil || tr == base.Transport {
		t.Fatalf("client through the tunnel: timeout %v, idle per host %d, proxy %v", c.Timeout, tr.MaxIdleConnsPerHost, tr.Proxy != nil)
	}
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "through" || b.Forwarded() != 1 {
		t.Fatalf("answer %q, %d connections forwarded", body, b.Forwarded())
	}
	if err := tunnel.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(srv.URL); err == nil || !strings.Contains(err.Error(), "tunnel closed") {
		t.Fatalf("a request after Close: %v", err)
	}
}
