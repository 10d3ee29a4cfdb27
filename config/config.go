// Package config loads Sluice's bootstrap settings: config.yaml, then SLUICE_*
// environment overrides. The result is passed down explicitly; nothing here is global.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config holds every setting Sluice needs to boot. Field names follow API.md "Running it".
type Config struct {
	Listen         string `yaml:"listen"`
	BaseURL        string `yaml:"base_url"`
	DataDir        string `yaml:"data_dir"`
	DatabaseURL    string `yaml:"database_url"`
	SecretKey      string `yaml:"secret_key"`
	BootstrapToken string `yaml:"bootstrap_token"`
	Demo           *bool  `yaml:"demo"`
	// DemoStory adds, to the demo's warehouse, models and segments, its platforms,
	// activations in every state and their run history (default true; false keeps the
	// demo to its data, for tests that build their own activations on it).
	DemoStory            *bool  `yaml:"demo_story"`
	AllowPrivateNetworks bool   `yaml:"allow_private_networks"`
	SMTPURL              string `yaml:"smtp_url"`
	// SMTPFrom is the sender of alert e-mails; MailFrom says what is used when it is empty.
	SMTPFrom      string `yaml:"smtp_from"`
	RetentionDays int    `yaml:"retention_days"`
	GCPercent     int    `yaml:"gc_percent"`
	LogLevel      string `yaml:"log_level"`
	LogFormat     string `yaml:"log_format"`
	// TrustedProxies are the addresses (IPs or CIDRs) of the reverse proxies in front of
	// Sluice: only a request arriving from one of them has its X-Forwarded-For read for
	// the client's address. Empty: the connection's address is the client's.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// MetricsListen, when set, is a second address serving only /metrics, without a
	// token, for a Prometheus on a private network.
	MetricsListen string `yaml:"metrics_listen"`
	// OAuth holds this installation's OAuth clients by provider (hubspot, google, meta):
	// what platforms connected with OAuth authorize. Read them with OAuthClient.
	OAuth map[string]OAuthClient `yaml:"oauth"`
	// APIURLs replace platform kinds' documented API addresses, by kind (a provider's
	// sandbox, or a local fake for tests and demos). Read them with APIURL.
	APIURLs map[string]string `yaml:"api_urls"`
}

// APIURL is where a platform kind's API is reached when not at its documented address:
// config.yaml's api_urls.<kind>, or SLUICE_API_URL_<KIND>; "" for the documented one.
func (c Config) APIURL(kind string, getenv func(string) string) string {
	if v := getenv("SLUICE_API_URL_" + strings.ToUpper(kind)); v != "" {
		return v
	}
	return c.APIURLs[kind]
}

// OAuthClient is an OAuth client registered at a provider, with <base_url>/oauth/callback
// as its redirect URL. AuthURL and TokenURL replace the provider's documented endpoints
// (a local authorization server); leave them empty otherwise.
type OAuthClient struct {
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	AuthURL      string `yaml:"auth_url"`
	TokenURL     string `yaml:"token_url"`
}

// OAuthClient is the client of a provider: config.yaml's oauth.<provider>, each value
// replaced by SLUICE_OAUTH_<PROVIDER>_CLIENT_ID, _CLIENT_SECRET, _AUTH_URL or _TOKEN_URL
// when set.
func (c Config) OAuthClient(provider string, getenv func(string) string) OAuthClient {
	out := c.OAuth[provider]
	prefix := "SLUICE_OAUTH_" + strings.ToUpper(provider) + "_"
	for suffix, dst := range map[string]*string{"CLIENT_ID": &out.ClientID, "CLIENT_SECRET": &out.ClientSecret, "AUTH_URL": &out.AuthURL, "TOKEN_URL": &out.TokenURL} {
		if v := getenv(prefix + suffix); v != "" {
			*dst = v
		}
	}
	return out
}

// Default returns the settings used when neither the file nor the environment says otherwise.
func Default() Config {
	return Config{
		Listen:        ":8080",
		BaseURL:       "http://localhost:8080",
		DataDir:       "./data",
		RetentionDays: 30,
		GCPercent:     DefaultGCPercent,
		LogLevel:      "info",
		LogFormat:     "text",
	}
}

// Load reads path (a missing file is not an error: defaults apply) and then the environment.
func Load(path string, getenv func(string) string) (Config, error) {
	cfg := Default()
	if path != "" {
		raw, err := os.ReadFile(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return cfg, fmt.Errorf("config: read %s: %w", path, err)
		default:
			if err := yaml.Unmarshal(raw, &cfg); err != nil {
				return cfg, fmt.Errorf("config: parse %s: %w", path, err)
			}
		}
	}
	if err := cfg.applyEnv(getenv); err != nil {
		return cfg, err
	}
	return cfg, cfg.validate()
}

func (c *Config) applyEnv(getenv func(string) string) error {
	str := map[string]*string{
		"SLUICE_LISTEN":          &c.Listen,
		"SLUICE_BASE_URL":        &c.BaseURL,
		"SLUICE_DATA_DIR":        &c.DataDir,
		"SLUICE_DATABASE_URL":    &c.DatabaseURL,
		"SLUICE_SECRET_KEY":      &c.SecretKey,
		"SLUICE_BOOTSTRAP_TOKEN": &c.BootstrapToken,
		"SLUICE_SMTP_URL":        &c.SMTPURL,
		"SLUICE_SMTP_FROM":       &c.SMTPFrom,
		"SLUICE_LOG_LEVEL":       &c.LogLevel,
		"SLUICE_LOG_FORMAT":      &c.LogFormat,
		"SLUICE_METRICS_LISTEN":  &c.MetricsListen,
	}
	for name, dst := range str {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	if v := getenv("SLUICE_DEMO"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("config: SLUICE_DEMO=%q is not true or false", v)
		}
		c.Demo = &b
	}
	if v := getenv("SLUICE_DEMO_STORY"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("config: SLUICE_DEMO_STORY=%q is not true or false", v)
		}
		c.DemoStory = &b
	}
	if v := getenv("SLUICE_RETENTION_DAYS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("config: SLUICE_RETENTION_DAYS=%q is not a number of days", v)
		}
		c.RetentionDays = n
	}
	if v := getenv("SLUICE_GC_PERCENT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("config: SLUICE_GC_PERCENT=%q is not a positive percentage", v)
		}
		c.GCPercent = n
	}
	if v := getenv("SLUICE_TRUSTED_PROXIES"); v != "" {
		c.TrustedProxies = nil
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				c.TrustedProxies = append(c.TrustedProxies, p)
			}
		}
	}
	if v := getenv("SLUICE_ALLOW_PRIVATE_NETWORKS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("config: SLUICE_ALLOW_PRIVATE_NETWORKS=%q is not true or false", v)
		}
		c.AllowPrivateNetworks = b
	}
	return nil
}

func (c *Config) validate() error {
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("config: base_url %q must be an absolute http(s) URL", c.BaseURL)
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.DatabaseURL == "" {
		c.DatabaseURL = "sqlite://" + filepath.Join(c.DataDir, "sluice.db")
	}
	if c.SMTPFrom != "" {
		if _, err := mail.ParseAddress(c.SMTPFrom); err != nil {
			return fmt.Errorf("config: smtp_from %q is not an e-mail address", c.SMTPFrom)
		}
	}
	if c.SMTPURL != "" {
		if u, err := url.Parse(c.SMTPURL); err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
			return errors.New("config: smtp_url must look like smtp://user:pass@host:port or smtps://…")
		}
	}
	if c.RetentionDays < 1 {
		return errors.New("config: retention_days must be at least 1")
	}
	if c.GCPercent < 1 {
		return errors.New("config: gc_percent must be at least 1")
	}
	if _, err := c.TrustedProxyRanges(); err != nil {
		return err
	}
	if !c.IsSQLite() && !c.IsPostgres() {
		return fmt.Errorf("config: database_url must start with postgres:// or sqlite://")
	}
	if c.IsPostgres() && c.SecretKey == "" {
		return errors.New("config: SLUICE_SECRET_KEY is required with PostgreSQL (32 bytes, base64 or hex), so that every instance can read the secrets the others wrote")
	}
	return nil
}

// DefaultGCPercent is the garbage collector's target Sluice runs with: a run allocates a
// few short-lived values per record and holds little (tens of MB whatever the segment's
// size), so collecting when the heap has grown by 200% rather than Go's 100% trades
// some 40 MB at the peak for a much faster sync (docs/benchmarks.md).
const DefaultGCPercent = 200

// ApplyGC sets the garbage collector's target to percent, unless the GOGC environment
// variable sets it already (Go's own knob wins).
func ApplyGC(percent int, getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(percent)
	}
}

// IsSQLite reports whether the embedded database is in use.
func (c Config) IsSQLite() bool { return strings.HasPrefix(c.DatabaseURL, "sqlite://") }

// IsPostgres reports whether a PostgreSQL server is in use.
func (c Config) IsPostgres() bool {
	return strings.HasPrefix(c.DatabaseURL, "postgres://") || strings.HasPrefix(c.DatabaseURL, "postgresql://")
}

// DemoEnabled is true unless switched off; by default on for the embedded database only.
func (c Config) DemoEnabled() bool {
	if c.Demo != nil {
		return *c.Demo
	}
	return c.IsSQLite()
}

// DemoStoryEnabled is whether the demo, when it is seeded, also tells its story:
// platforms, activations in every state and their runs (on unless switched off).
func (c Config) DemoStoryEnabled() bool {
	return c.DemoEnabled() && (c.DemoStory == nil || *c.DemoStory)
}

// TrustedProxyRanges is TrustedProxies as networks; a bare IP is a network of one.
func (c Config) TrustedProxyRanges() ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, p := range c.TrustedProxies {
		p = strings.TrimSpace(p)
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return nil, fmt.Errorf("config: trusted_proxies: %q is not an IP address or CIDR range", p)
			}
			prefix = netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen())
		}
		prefix = prefix.Masked()
		out = append(out, &net.IPNet{IP: prefix.Addr().AsSlice(), Mask: net.CIDRMask(prefix.Bits(), prefix.Addr().BitLen())})
	}
	return out, nil
}

// MailFrom is the sender of alert e-mails: smtp_from, else the SMTP URL's ?from=, else
// sluice@ the base URL's host.
func (c Config) MailFrom() string {
	if c.SMTPFrom != "" {
		return c.SMTPFrom
	}
	if u, err := url.Parse(c.SMTPURL); err == nil && u.Query().Get("from") != "" {
		return u.Query().Get("from")
	}
	host := "localhost"
	if u, err := url.Parse(c.BaseURL); err == nil && u.Hostname() != "" && !strings.Contains(u.Hostname(), ":") {
		host = strings.TrimSuffix(u.Hostname(), ".")
	}
	if !strings.Contains(host, ".") {
		host += ".localdomain" // most servers want a dotted domain
	}
	return "sluice@" + host
}

// SecureCookies is true when Sluice is served over TLS.
func (c Config) SecureCookies() bool { return strings.HasPrefix(c.BaseURL, "https://") }
