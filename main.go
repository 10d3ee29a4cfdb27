// Command sluice moves audiences from a data warehouse to marketing tools and says
// when a sync broke, why, and where to fix it. main.go is wiring only.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"sluice/config"
	"sluice/connectors"
	"sluice/core"
	"sluice/demo"
	"sluice/destinations/braze"
	"sluice/destinations/googleads"
	"sluice/destinations/httpdest"
	"sluice/destinations/hubspot"
	"sluice/destinations/klaviyo"
	"sluice/destinations/metaads"
	"sluice/destinations/sandbox"
	"sluice/destinations/webhook"
	"sluice/handlers"
	"sluice/jobs"
	"sluice/models"
	"sluice/secrets"
	"sluice/sources/bigquery"
	"sluice/sources/databricks"
	"sluice/sources/postgres"
	"sluice/sources/redshift"
	"sluice/sources/snowflake"
	"sluice/sources/sqlite"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `Usage: sluice [--config config.yaml] <command> [flags]

Commands:
  serve                      run the web app and the scheduler (default)
  migrate                    apply database migrations and exit
  token create --role R      create an API token (admin|editor|operator|viewer) and print it
  user create --email E --password P --role R
                             create a user in the first workspace; for an account
                             that exists already, leave --password out: it is added
                             with the role and keeps its own password
  keys rotate|check          re-seal stored secrets under a new SLUICE_SECRET_KEY (docs/operations.md)
  version                    print the version

Settings come from config.yaml, overridden by SLUICE_* environment variables.
`

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "sluice:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	global := flag.NewFlagSet("sluice", flag.ContinueOnError)
	global.Usage = func() { fmt.Fprint(os.Stderr, usage) }
	configPath := global.String("config", envOr(getenv, "SLUICE_CONFIG", "config.yaml"), "path to config.yaml")
	if err := global.Parse(args); err != nil {
		return err
	}
	args = global.Args()
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	if cmd == "version" {
		fmt.Fprintln(stdout, "sluice", buildVersion())
		return nil
	}
	cfg, err := config.Load(*configPath, getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg)
	switch cmd {
	case "serve":
		config.ApplyGC(cfg.GCPercent, getenv)
		return serve(ctx, cfg, log)
	case "migrate":
		store, err := openStore(ctx, cfg)
		if err != nil {
			return err
		}
		defer store.Close()
		v, err := store.Migrate(ctx)
		if err == nil {
			fmt.Fprintf(stdout, "database at version %d\n", v)
		}
		return err
	case "token":
		return tokenCommand(ctx, cfg, args, stdout)
	case "user":
		return userCommand(ctx, cfg, args, stdout)
	case "keys":
		return keysCommand(ctx, cfg, args, stdout, getenv)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n\n%s", cmd, usage)
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

func buildVersion() string {
	if version != "dev" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return version
}

func newLogger(cfg config.Config) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// openStore connects and migrates: every command needs the current schema.
func openStore(ctx context.Context, cfg config.Config) (*models.Store, error) {
	box, err := secretBox(cfg)
	if err != nil {
		return nil, err
	}
	store, err := models.Open(cfg.DatabaseURL, box)
	if err != nil {
		return nil, err
	}
	if _, err := store.Migrate(ctx); err != nil {
		store.Close()
		return nil, err
	}
	return store, nil
}

// secretBox loads the key from the settings, or (SQLite only) from the data dir.
func secretBox(cfg config.Config) (*secrets.Box, error) {
	var key []byte
	var err error
	if cfg.SecretKey != "" {
		key, err = secrets.ParseKey(cfg.SecretKey)
	} else {
		key, err = secrets.LoadOrCreateKeyFile(filepath.Join(cfg.DataDir, "secret.key"))
	}
	if err != nil {
		return nil, err
	}
	return secrets.New(key)
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	if cfg.BootstrapToken != "" {
		created, err := store.EnsureBootstrapToken(ctx, cfg.BootstrapToken)
		if err != nil {
			return err
		}
		if created {
			log.Info("created the bootstrap API token")
		}
	}
	// SQLite sources read files in this directory only; the demo writes its warehouse there.
	if err := os.MkdirAll(sqlite.Dir(cfg.DataDir), 0o700); err != nil {
		return fmt.Errorf("create the warehouses directory: %w", err)
	}
	reg := registry(cfg)
	writes := core.New(store, reg)
	writes.SetAlerts(cfg.BaseURL, log)
	writes.SetOAuth(cfg.BaseURL, oauthClients(cfg, reg, os.Getenv))
	writes.SetSSOClient(httpdest.NewClient(httpdest.Options{Name: "The identity provider", AllowPrivate: cfg.AllowPrivateNetworks}).HTTPClient())
	runner := jobs.NewRunner(store, writes, log, jobs.Options{})
	// Earlier versions kept the demo warehouse at the data dir's root, where SQLite
	// sources may no longer read.
	if n, err := demo.MoveWarehouse(ctx, store, writes, cfg.DataDir); err != nil {
		log.Warn("could not move the demo warehouse into the warehouses directory", "dir", sqlite.Dir(cfg.DataDir), "err", err)
	} else if n > 0 {
		log.Info("moved the demo warehouse into the warehouses directory", "dir", sqlite.Dir(cfg.DataDir), "sources", n)
	}
	story := false
	if cfg.DemoEnabled() {
		seeded, err := demo.Seed(ctx, store, writes, cfg.DataDir)
		if err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
		if seeded {
			log.Info("added the demo workspace's sample data (SLUICE_DEMO=false to start without)")
		}
		if cfg.DemoStoryEnabled() {
			story, err = demo.PrepareStory(ctx, store, seeded)
		} else {
			err = demo.SkipStory(ctx, store)
		}
		if err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
	}
	scheduler, err := jobs.NewScheduler(store, runner, log, cfg.RetentionDays)
	if err != nil {
		return err
	}
	scheduler.Start()
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	workers := runner.Start(workCtx)
	alerts, err := jobs.StartAlerts(workCtx, cfg, store, log)
	if err != nil {
		return err
	}

	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	e := handlers.New(handlers.Deps{Config: cfg, Store: store, Secrets: store.Secrets(), Logger: log, Registry: metrics, Core: writes, Runs: runner})
	srv := &http.Server{Addr: cfg.Listen, Handler: e, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	metricsSrv := metricsServer(cfg, metrics)

	errc := make(chan error, 2)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	go func() { errc <- fmt.Errorf("listen on %s: %w", cfg.Listen, srv.Serve(ln)) }()
	if story {
		// The demo's platforms are Sandbox inboxes inside Sluice, checked over HTTP at its
		// base URL: they are made now that it listens, their runs by the workers.
		workers.Add(1)
		go func() {
			defer workers.Done()
			start := time.Now()
			if err := demo.Story(workCtx, store, writes, runner, cfg.DataDir); err != nil {
				log.Warn("the demo's activations could not all be prepared; the next start carries on", "err", err)
				return
			}
			log.Info("prepared the demo's platforms, activations and their runs", "took", time.Since(start).Round(time.Millisecond))
		}()
	}
	if metricsSrv != nil {
		go func() {
			errc <- fmt.Errorf("metrics: listen on %s: %w", cfg.MetricsListen, metricsSrv.ListenAndServe())
		}()
		log.Info("serving /metrics without a token", "metrics_listen", cfg.MetricsListen)
	}
	log.Info("sluice is up", "version", buildVersion(), "listen", cfg.Listen, "url", cfg.BaseURL,
		"database", map[bool]string{true: "sqlite", false: "postgres"}[cfg.IsSQLite()])
	if need, _ := store.NeedsSetup(ctx); need {
		log.Info("new installation: create the first admin at " + cfg.BaseURL + "/setup")
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	// Everything stops within shutdownGrace of the signal, as orchestrators expect
	// (Kubernetes kills after 30 s): requests finish, runs checkpoint.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	// Stop the workers: a run in flight stops at once, keeps what was acknowledged
	// (the batch cut short is sent again next run), and is marked interrupted.
	stopWork()
	stopped := make(chan struct{})
	go func() {
		workers.Wait()
		alerts.Wait()
		close(stopped)
	}()
	scheduler.Stop(shutdownCtx)
	err = srv.Shutdown(shutdownCtx)
	if metricsSrv != nil {
		err = errors.Join(err, metricsSrv.Shutdown(shutdownCtx))
	}
	select {
	case <-stopped:
	case <-shutdownCtx.Done():
		// A run's lease then expires and a live instance's reaper marks it interrupted.
		log.Warn("a worker did not stop in time; exiting anyway", "grace", shutdownGrace)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// shutdownGrace bounds the shutdown after SIGTERM or Ctrl-C.
const shutdownGrace = 25 * time.Second

// metricsServer is the second listener of metrics_listen, serving only /metrics without
// a token (the main address asks for one); nil when it is not set.
func metricsServer(cfg config.Config, reg *prometheus.Registry) *http.Server {
	if cfg.MetricsListen == "" {
		return nil
	}
	return &http.Server{Addr: cfg.MetricsListen, Handler: handlers.MetricsHandler(reg), ReadHeaderTimeout: 10 * time.Second}
}

// registry lists every source and destination kind this build can connect to.
func registry(cfg config.Config) *connectors.Registry {
	r := connectors.NewRegistry()
	r.RegisterSource(postgres.New())
	r.RegisterSource(redshift.New())
	r.RegisterSource(sqlite.New(sqlite.Dir(cfg.DataDir), ownDatabase(cfg)...))
	r.RegisterSource(bigquery.New(bigquery.Options{BaseURL: cfg.APIURL("bigquery", os.Getenv)}))
	r.RegisterSource(databricks.New(databricks.Options{BaseURL: cfg.APIURL("databricks", os.Getenv)}))
	r.RegisterSource(snowflake.New(snowflake.Options{BaseURL: cfg.APIURL("snowflake", os.Getenv)}))
	r.RegisterDestination(webhook.New(cfg.AllowPrivateNetworks))
	r.RegisterDestination(hubspot.New(hubspot.Options{BaseURL: cfg.APIURL("hubspot", os.Getenv), AllowPrivate: cfg.AllowPrivateNetworks}))
	r.RegisterDestination(klaviyo.New(klaviyo.Options{BaseURL: cfg.APIURL("klaviyo", os.Getenv), AllowPrivate: cfg.AllowPrivateNetworks}))
	r.RegisterDestination(braze.New(braze.Options{AllowPrivate: cfg.AllowPrivateNetworks}))
	r.RegisterDestination(googleads.New(googleads.Options{BaseURL: cfg.APIURL("googleads", os.Getenv), AllowPrivate: cfg.AllowPrivateNetworks}))
	r.RegisterDestination(metaads.New(metaads.Options{BaseURL: cfg.APIURL("metaads", os.Getenv), AllowPrivate: cfg.AllowPrivateNetworks}))
	r.RegisterDestination(sandbox.New(sandbox.Options{BaseURL: cfg.BaseURL}))
	r.RegisterDestination(sandbox.NewOAuth(sandbox.Options{BaseURL: cfg.BaseURL}))
	return r
}

// oauthClients are the installation's OAuth clients of every provider a registered kind
// authorizes with.
func oauthClients(cfg config.Config, reg *connectors.Registry, getenv func(string) string) map[string]core.OAuthClient {
	out := map[string]core.OAuthClient{}
	for _, spec := range reg.DestinationSpecs() {
		if spec.OAuth == nil {
			continue
		}
		c := cfg.OAuthClient(spec.OAuth.Provider, getenv)
		out[spec.OAuth.Provider] = core.OAuthClient{ClientID: c.ClientID, ClientSecret: c.ClientSecret, AuthURL: c.AuthURL, TokenURL: c.TokenURL}
	}
	return out
}

// ownDatabase is Sluice's own database file when it is SQLite: the SQLite source kind
// must never open it, wherever the settings put it.
func ownDatabase(cfg config.Config) []string {
	if !cfg.IsSQLite() {
		return nil
	}
	path, _, _ := strings.Cut(strings.TrimPrefix(cfg.DatabaseURL, "sqlite://"), "?")
	return []string{path}
}

// firstWorkspaceActor is who the command line acts as: the operator at the console.
func firstWorkspaceActor() models.Actor {
	return models.Actor{WorkspaceID: models.DefaultWorkspaceID, Type: models.ActorSystem, Name: "command line", Role: models.RoleAdmin}
}

func tokenCommand(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: sluice token create --role admin|editor|operator|viewer [--name NAME]")
	}
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	role := fs.String("role", "", "admin, editor, operator or viewer")
	name := fs.String("name", "command line", "what uses the token")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	_, plaintext, err := store.CreateAPIToken(ctx, firstWorkspaceActor(), *name, models.Role(strings.ToLower(*role)))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, plaintext)
	return nil
}

func userCommand(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: sluice user create --email E --password P --role admin|editor|operator|viewer [--name NAME]")
	}
	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	email := fs.String("email", "", "e-mail address, used to sign in")
	password := fs.String("password", "", "first password of a new account (at least 10 characters); never changes an existing account's")
	role := fs.String("role", "", "admin, editor, operator or viewer")
	name := fs.String("name", "", "display name")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := store.CreateUser(ctx, firstWorkspaceActor(), models.NewUser{Email: *email, Password: *password, Role: models.Role(strings.ToLower(*role)), Name: *name})
	if err != nil {
		return err
	}
	if *password == "" {
		fmt.Fprintf(stdout, "added %s (%s), who keeps their own password\n", u.Email, u.Role)
		return nil
	}
	fmt.Fprintf(stdout, "created %s (%s)\n", u.Email, u.Role)
	return nil
}
