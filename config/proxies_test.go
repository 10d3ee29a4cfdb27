package config

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

// TestTrustedProxiesAndMetricsListen: the file's list, the environment's comma list
// (which wins), bare IPs as networks of one, and nothing trusted by default.
func TestTrustedProxiesAndMetricsListen(t *testing.T) {
	cfg, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := cfg.TrustedProxyRanges(); err != nil || len(r) != 0 || cfg.MetricsListen != "" {
		t.Fatalf("defaults: ranges %v (%v), metrics_listen %q; want none", r, err, cfg.MetricsListen)
	}

	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte("trusted_proxies: [\"10.0.0.0/8\"]\nmetrics_listen: \"127.0.0.1:9100\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = Load(path, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.TrustedProxies) != 1 || cfg.MetricsListen != "127.0.0.1:9100" {
		t.Errorf("from the file: %v, %q", cfg.TrustedProxies, cfg.MetricsListen)
	}

	cfg, err = Load(path, env(map[string]string{"SLUICE_TRUSTED_PROXIES": " 192.0.2.10, 2001:db8::/32 ,", "SLUICE_METRICS_LISTEN": ":9200"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MetricsListen != ":9200" {
		t.Errorf("metrics_listen %q", cfg.MetricsListen)
	}
	ranges, err := cfg.TrustedProxyRanges()
	if err != nil || len(ranges) != 2 {
		t.Fatalf("ranges %v, %v; want the environment's two", ranges, err)
	}
	for _, tc := range []struct {
		ip   string
		want bool
	}{
		{"192.0.2.10", true}, {"192.0.2.11", false}, {"10.1.2.3", false}, {"2001:db8:1::1", true}, {"127.0.0.1", false},
	} {
		in := false
		for _, r := range ranges {
			in = in || r.Contains(net.ParseIP(tc.ip))
		}
		if in != tc.want {
			t.Errorf("%s trusted = %v, want %v", tc.ip, in, tc.want)
		}
	}

	for _, bad := range []string{"proxy.internal", "10.0.0.0/33", "10.0.0.1:80"} {
		if _, err := Load("", env(map[string]string{"SLUICE_TRUSTED_PROXIES": bad})); err == nil {
			t.Errorf("SLUICE_TRUSTED_PROXIES=%q accepted", bad)
		}
	}
}
