// Command sluice-load measures Sluice's pages and JSON API at a large customer's size on
// PostgreSQL (docs/benchmarks.md, "Pages and API under load").
//
// It creates a fresh database, migrates it, builds the data set in SQL (1,000
// activations, one of them with 100,000 runs: one every 15 minutes for about three
// years), serves Sluice's HTTP handler in this process on a loopback port and drives each
// endpoint in turn with concurrent keep-alive clients — a signed-in session for pages, a
// bearer token for the API — then prints requests/s and latency percentiles per endpoint.
//
//	go run ./cmd/sluice-load
//	go run ./cmd/sluice-load -c 32 -d 5s -markdown load.md
//	go run ./cmd/sluice-load -only /api/v1/runs -cpuprofile cpu.out
//	go run ./cmd/sluice-load -only /runs/ -memprofile allocs.out
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"sluice/config"
	"sluice/connectors"
	"sluice/core"
	"sluice/destinations/webhook"
	"sluice/handlers"
	"sluice/jobs"
	"sluice/models"
	"sluice/secrets"
	"sluice/sources/postgres"
)

// The targets.
const (
	targetP99      = 50 * time.Millisecond
	targetRunsRate = 5000.0 // GET /api/v1/runs/{id}, requests/s
)

type options struct {
	admin       string
	activations int
	history     int
	conns       int
	duration    time.Duration
	warmup      time.Duration
	only        string
	markdown    string
	cpuProfile  string
	memProfile  string
	queries     bool
	keep        bool
	wrk         bool
}

func main() {
	var o options
	flag.StringVar(&o.admin, "admin", envOr("SLUICE_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"),
		"PostgreSQL URL of a database where this may CREATE DATABASE")
	flag.IntVar(&o.activations, "activations", 1000, "activations in the workspace")
	flag.IntVar(&o.history, "runs", 100000, "runs in the history of one activation")
	flag.IntVar(&o.conns, "c", 32, "concurrent connections")
	flag.DurationVar(&o.duration, "d", 4*time.Second, "measured time per endpoint")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured time per endpoint before")
	flag.StringVar(&o.only, "only", "", "measure only the endpoint of this name, or those whose name contains this")
	flag.StringVar(&o.markdown, "markdown", "", "also write the results as a markdown table to this file")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured time to this file")
	flag.StringVar(&o.memProfile, "memprofile", "", "write a profile of the allocations (go tool pprof -sample_index=alloc_objects) to this file at the end")
	flag.BoolVar(&o.queries, "queries", false, "print the SQL statements one request of each endpoint runs, and measure nothing")
	flag.BoolVar(&o.keep, "keep", false, "keep the database afterwards")
	flag.BoolVar(&o.wrk, "wrk", false, "drive the endpoints with wrk (two threads) instead of this process's clients, as the issue measured")
	flag.Parse()
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "sluice-load:", err)
		os.Exit(1)
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, o options) error {
	dbURL, drop, err := createDatabase(ctx, o.admin)
	if err != nil {
		return err
	}
	if !o.keep {
		defer drop()
	} else {
		fmt.Println("database kept:", dbURL)
	}
	box, err := secrets.New(bytes.Repeat([]byte{0x5a}, secrets.KeySize))
	if err != nil {
		return err
	}
	store, err := models.Open(dbURL, box)
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		return err
	}
	const email, password = "load@example.com", "a long load-test passphrase"
	admin, err := store.SetupFirstAdmin(ctx, "Load", models.NewUser{Email: email, Name: "Load Admin", Password: password})
	if err != nil {
		return err
	}
	actor := models.Actor{WorkspaceID: admin.WorkspaceID, Type: models.ActorUser, ID: admin.ID, Name: admin.Email, Role: admin.Role}
	_, token, err := store.CreateAPIToken(ctx, actor, "load", models.RoleViewer)
	if err != nil {
		return err
	}
	began := time.Now()
	ds, err := seed(ctx, dbURL, admin.WorkspaceID, o.activations, o.history)
	if err != nil {
		return err
	}
	fmt.Printf("data set: %d activations, %d runs for %s, built in %s\n", o.activations, o.history, ds.bigActivation, time.Since(began).Round(time.Millisecond))

	reg := connectors.NewRegistry()
	reg.RegisterSource(postgres.New())
	reg.RegisterDestination(webhook.New(true))
	logger := slog.New(slog.DiscardHandler)
	writes := core.New(store, reg)
	runner := jobs.NewRunner(store, writes, logger, jobs.Options{}) // not started: nothing runs
	cfg := config.Default()
	config.ApplyGC(cfg.GCPercent, os.Getenv) // as `sluice serve` does
	e := handlers.New(handlers.Deps{Config: cfg, Store: store, Secrets: box, Logger: logger,
		Registry: prometheus.NewRegistry(), Core: writes, Runs: runner})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	cookies, err := signIn(ctx, base, email, password)
	if err != nil {
		return err
	}
	bearer := "Bearer " + token
	act := ds.bigActivation
	endpoints := []endpoint{
		{name: "/activations", path: "/activations", page: true},
		{name: "/activations/{id}", path: "/activations/" + act, page: true},
		{name: "/activations/{id}?tab=runs", path: "/activations/" + act + "?tab=runs", page: true},
		{name: "/runs/{id}", path: "/runs/" + ds.failedRun, page: true},
		{name: "/settings/platforms", path: "/settings/platforms", page: true},
		{name: "/incidents", path: "/incidents", page: true},
		{name: "GET /api/v1/activations", path: "/api/v1/activations"},
		{name: "GET /api/v1/activations/{id}/runs", path: "/api/v1/activations/" + act + "/runs"},
		{name: "GET /api/v1/runs/{id}", path: "/api/v1/runs/" + ds.failedRun},
	}
	for i := range endpoints {
		if endpoints[i].page {
			endpoints[i].header = http.Header{"Cookie": {cookies}}
		} else {
			endpoints[i].header = http.Header{"Authorization": {bearer}}
		}
	}

	if o.queries {
		return printEndpointQueries(ctx, store, base, endpoints, o.only)
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if o.memProfile != "" {
		defer writeAllocsProfile(o.memProfile)
	}
	fmt.Printf("%d connections, %s per endpoint (after %s of warm-up), GOMAXPROCS %d\n\n", o.conns, o.duration, o.warmup, runtime.GOMAXPROCS(0))
	fmt.Printf("%-36s %8s %9s %9s %9s %9s %9s %7s %6s %5s\n", "endpoint", "req/s", "p50", "p99", "max", "CPU/req", "PG/req", "allocs", "errors", "load")
	var results []result
	for _, ep := range selected(endpoints, o.only) {
		if err := ep.check(ctx, base); err != nil {
			return err
		}
		var r result
		if o.wrk {
			if r, err = driveWrk(ctx, store.DB(), base, ep, o.conns, o.warmup, o.duration); err != nil {
				return err
			}
		} else {
			r = drive(ctx, store.DB(), base, ep, o.conns, o.warmup, o.duration)
		}
		results = append(results, r)
		fmt.Printf("%-36s %8.0f %9s %9s %9s %9s %9s %7d %6d %5s\n", r.name, r.rate, ms(r.p50), ms(r.p99), ms(r.max), msf(r.cpu), msf(r.pg), r.allocs, r.errors, r.load)
	}
	fmt.Println()
	missed := verdict(results)
	for _, m := range missed {
		fmt.Println("target missed:", m)
	}
	if len(missed) == 0 {
		fmt.Println("every target met: p99 under 50 ms everywhere, GET /api/v1/runs/{id} at 5,000 requests/s or more")
	}
	if o.markdown != "" {
		if err := os.WriteFile(o.markdown, []byte(markdown(results, o)), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeAllocsProfile writes the allocations made since the process started (the
// measured requests most of them) to path.
func writeAllocsProfile(path string) {
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sluice-load:", err)
		return
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		fmt.Fprintln(os.Stderr, "sluice-load:", err)
	}
}

// selected are the endpoints -only names: the one of exactly that name, else those
// whose name contains it; all of them when only is empty.
func selected(endpoints []endpoint, only string) []endpoint {
	if only == "" {
		return endpoints
	}
	exact := slices.ContainsFunc(endpoints, func(ep endpoint) bool { return ep.name == only })
	var out []endpoint
	for _, ep := range endpoints {
		if exact && ep.name == only || !exact && strings.Contains(ep.name, only) {
			out = append(out, ep)
		}
	}
	return out
}

// printEndpointQueries asks each selected endpoint twice (the first answer may write
// what later ones only read, as a session's last visit) and prints the statements of
// the second.
func printEndpointQueries(ctx context.Context, store *models.Store, base string, endpoints []endpoint, only string) error {
	var log queryLog
	if err := log.watch(store.DB()); err != nil {
		return err
	}
	for _, ep := range selected(endpoints, only) {
		if err := ep.check(ctx, base); err != nil {
			return err
		}
		sql, err := log.during(func() error { return ep.check(ctx, base) })
		if err != nil {
			return err
		}
		printQueries(ep.name, sql)
	}
	return nil
}

// verdict lists the targets the results miss.
func verdict(results []result) []string {
	var missed []string
	for _, r := range results {
		if r.errors > 0 {
			missed = append(missed, fmt.Sprintf("%s: %d errors", r.name, r.errors))
		}
		if r.p99 >= targetP99 {
			missed = append(missed, fmt.Sprintf("%s: p99 %s, want under %s", r.name, ms(r.p99), ms(targetP99)))
		}
		if r.name == "GET /api/v1/runs/{id}" && r.rate < targetRunsRate {
			missed = append(missed, fmt.Sprintf("%s: %.0f requests/s, want %.0f", r.name, r.rate, targetRunsRate))
		}
	}
	return missed
}

// markdown is the results as a table for docs/benchmarks.md.
func markdown(results []result, o options) string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "%d activations, %d runs for one, %d connections, %s per endpoint, %d CPUs (%s), %s\n\n",
		o.activations, o.history, o.conns, o.duration, runtime.NumCPU(), host, time.Now().UTC().Format("2006-01-02"))
	b.WriteString("| endpoint | requests/s | p50 | p99 | max | CPU per request | PostgreSQL CPU per request | allocations per request | load average |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| `%s` | %.0f | %s | %s | %s | %s | %s | %d | %s |\n", r.name, r.rate, ms(r.p50), ms(r.p99), ms(r.max), msf(r.cpu), msf(r.pg), r.allocs, r.load)
	}
	return b.String()
}

func msf(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000)
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}

// createDatabase makes an empty database beside admin's and says how to drop it.
func createDatabase(ctx context.Context, admin string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("connect to %s: %w", admin, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "sluice_load_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		return "", nil, err
	}
	u, err := url.Parse(admin)
	if err != nil {
		conn.Close(ctx)
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		conn.Close(context.Background())
	}
	return u.String(), drop, nil
}

// signIn signs in through the login form, as a browser does, and returns the cookies
// of the session.
func signIn(ctx context.Context, base, email, password string) (string, error) {
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/login", nil)
	res, err := client.Do(req)
	if err != nil {
		return "", err
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	csrf := between(string(body), `name="_csrf" value="`, `"`)
	if csrf == "" {
		return "", errors.New("no CSRF token on /login")
	}
	jar := map[string]string{}
	keep := func(res *http.Response) {
		for _, c := range res.Cookies() {
			jar[c.Name] = c.Value
		}
	}
	keep(res)
	form := url.Values{"_csrf": {csrf}, "email": {email}, "password": {password}}
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", cookieHeader(jar))
	res, err = client.Do(req)
	if err != nil {
		return "", err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("sign in: status %d", res.StatusCode)
	}
	keep(res)
	return cookieHeader(jar), nil
}

func cookieHeader(jar map[string]string) string {
	var parts []string
	for k, v := range jar {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, "; ")
}

func between(s, start, end string) string {
	_, after, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, end)
	return v
}
