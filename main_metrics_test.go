package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// freeAddr is a loopback address nothing listens on (the port was free a moment ago).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestServeMetricsListener starts `sluice serve` with SLUICE_METRICS_LISTEN: the second
// address serves /metrics without a token and nothing else, the main one asks for a
// token, and both stop with the server.
func TestServeMetricsListener(t *testing.T) {
	dir := t.TempDir()
	mainAddr, metricsAddr := freeAddr(t), freeAddr(t)
	env := map[string]string{
		"SLUICE_DATA_DIR": dir, "SLUICE_CONFIG": filepath.Join(dir, "absent.yaml"), "SLUICE_DEMO": "false",
		"SLUICE_LISTEN": mainAddr, "SLUICE_METRICS_LISTEN": metricsAddr, "SLUICE_LOG_LEVEL": "error",
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, io.Discard, func(k string) string { return env[k] }) }()

	get := func(url string) (int, string, error) {
		res, err := http.Get(url)
		if err != nil {
			return 0, "", err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return res.StatusCode, string(b), err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if status, _, err := get("http://" + mainAddr + "/healthz"); err == nil && status == http.StatusOK {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("sluice did not come up")
		}
		time.Sleep(50 * time.Millisecond)
	}

	if status, body, err := get("http://" + metricsAddr + "/metrics"); err != nil || status != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Errorf("metrics listener /metrics: %d, %v\n%.300s", status, err, body)
	}
	for _, path := range []string{"/healthz", "/login", "/api/v1/activations"} {
		if status, _, err := get("http://" + metricsAddr + path); err != nil || status != http.StatusNotFound {
			t.Errorf("metrics listener %s: %d, %v; want 404", path, status, err)
		}
	}
	if status, _, err := get("http://" + mainAddr + "/metrics"); err != nil || status != http.StatusUnauthorized {
		t.Errorf("main listener /metrics without a token: %d, %v; want 401", status, err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, _, err := get("http://" + metricsAddr + "/metrics"); err == nil {
		t.Error("the metrics listener still answers after shutdown")
	}
}
