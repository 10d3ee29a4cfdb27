package config

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaultsFileAndEnv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte("listen: \":9000\"\ndata_dir: /var/lib/sluice\nlog_level: debug\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, env(map[string]string{"SLUICE_LISTEN": ":7000", "SLUICE_DEMO": "false"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != ":7000" {
		t.Errorf("env must override the file: listen = %q", cfg.Listen)
	}
	if cfg.LogLevel != "debug" || cfg.DataDir != "/var/lib/sluice" {
		t.Errorf("file values lost: %+v", cfg)
	}
	if cfg.DatabaseURL != "sqlite:///var/lib/sluice/sluice.db" || !cfg.IsSQLite() {
		t.Errorf("default database = %q", cfg.DatabaseURL)
	}
	if cfg.DemoEnabled() {
		t.Error("SLUICE_DEMO=false ignored")
	}
}

func TestLoadMissingFileUsesDefaults(t *testing.T) {
	cfg, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != ":8080" || cfg.BaseURL != "http://localhost:8080" || !cfg.DemoEnabled() || cfg.SecureCookies() {
		t.Errorf("defaults = %+v", cfg)
	}
}

func TestLoadRefuses(t *testing.T) {
	cases := map[string]map[string]string{
		"postgres without a secret key": {"SLUICE_DATABASE_URL": "postgres://localhost/sluice"},
		"unknown database":              {"SLUICE_DATABASE_URL": "mysql://localhost/sluice"},
		"relative base url":             {"SLUICE_BASE_URL": "localhost:8080"},
		"bad demo flag":                 {"SLUICE_DEMO": "maybe"},
		"bad private networks flag":     {"SLUICE_ALLOW_PRIVATE_NETWORKS": "sometimes"},
		"bad smtp from":                 {"SLUICE_SMTP_FROM": "not an address"},
		"bad smtp url":                  {"SLUICE_SMTP_URL": "mail.example.com:25"},
	}
	for name, vars := range cases {
		if _, err := Load("", env(vars)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := Load("", env(map[string]string{"SLUICE_DATABASE_URL": "postgres://localhost/sluice", "SLUICE_SECRET_KEY": "x"})); err != nil {
		t.Errorf("postgres with a key: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	_ = os.WriteFile(bad, []byte("listen: [unclosed"), 0o600)
	if _, err := Load(bad, env(nil)); err == nil || !strings.Contains(err.Error(), "parse") {
		t.Errorf("broken yaml: err = %v", err)
	}
}

func TestGCPercent(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cfg, err := Load("", env(nil))
	if err != nil || cfg.GCPercent != DefaultGCPercent {
		t.Fatalf("default: %d %v", cfg.GCPercent, err)
	}
	if cfg, err := Load("", env(map[string]string{"SLUICE_GC_PERCENT": "150"})); err != nil || cfg.GCPercent != 150 {
		t.Fatalf("from the environment: %d %v", cfg.GCPercent, err)
	}
	for _, bad := range []string{"0", "-5", "lots"} {
		if _, err := Load("", env(map[string]string{"SLUICE_GC_PERCENT": bad})); err == nil || !strings.Contains(err.Error(), "SLUICE_GC_PERCENT") {
			t.Errorf("SLUICE_GC_PERCENT=%s: %v", bad, err)
		}
	}
}

func TestApplyGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	ApplyGC(250, func(string) string { return "" })
	if got := debug.SetGCPercent(100); got != 250 {
		t.Fatalf("GC percent %d after ApplyGC(250)", got)
	}
	ApplyGC(400, func(k string) string { return map[string]string{"GOGC": "50"}[k] }) // GOGC wins
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GC percent %d; GOGC is set, so ApplyGC must leave it", got)
	}
}

func TestMailFrom(t *testing.T) {
	for _, c := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"SLUICE_BASE_URL": "https://sluice.example.com:8443"}, "sluice@sluice.example.com"},
		{map[string]string{}, "sluice@localhost.localdomain"},
		{map[string]string{"SLUICE_SMTP_URL": "smtp://u:p@mail.example.com?from=alerts@example.com"}, "alerts@example.com"},
		{map[string]string{"SLUICE_SMTP_URL": "smtp://mail.example.com?from=a@example.com", "SLUICE_SMTP_FROM": "Sluice <b@example.com>"}, "Sluice <b@example.com>"},
	} {
		cfg, err := Load("", env(c.vars))
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.MailFrom(); got != c.want {
			t.Errorf("%v: MailFrom() = %q, want %q", c.vars, got, c.want)
		}
	}
}
