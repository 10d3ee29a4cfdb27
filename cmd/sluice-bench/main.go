// Command sluice-bench measures a sync end to end on PostgreSQL against PostgreSQL's own
// COPY of the same extraction query, in the same run (docs/benchmarks.md).
//
// For each size it creates two fresh databases (a warehouse and Sluice's store), seeds
// `customers` with N rows, sets Sluice up on the store (source, model, segment of
// everyone, a webhook platform pointing at a loopback receiver in this process, an
// activation of six fields), times COPY (SELECT …) TO STDOUT of the engine's extraction
// query, then runs each scenario in a child process (this binary with -child) so that
// its peak RSS can be read: a full first sync, unchanged reruns, and reruns after 1% of
// the rows changed.
//
//	go run ./cmd/sluice-bench -rows 1000000
//	go run ./cmd/sluice-bench -rows 100000,1000000,5000000 -json results.json
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"sluice/config"
	"sluice/connectors"
	"sluice/core"
	"sluice/destinations/webhook"
	"sluice/engine"
	"sluice/jobs"
	"sluice/models"
	"sluice/secrets"
	"sluice/segments"
	"sluice/sources/postgres"
)

// The issue's targets: each scenario's time against PostgreSQL's COPY of the same query,
// and peak RSS.
const (
	targetFull      = 5.0
	targetUnchanged = 2.0
	targetChanged   = 2.5
	targetRSSMB     = 200.0
	targetRSSGrowth = 1.25 // a larger run's peak RSS against the 1,000,000-row run's
)

type options struct {
	rows       []int
	admin      string
	keep       bool
	cpuProfile string
	memProfile string
	batch      int
	copies     int
	repeat     int
	settle     bool
	runLog     bool
	jsonOut    string
}

type childOptions struct {
	store, workspace, activation string
	cpuProfile, memProfile       string
	label                        string
	runLog                       bool
}

func main() {
	var (
		o        options
		c        childOptions
		rowsFlag string
		child    bool
	)
	flag.StringVar(&rowsFlag, "rows", "1000000", "rows to seed; a comma-separated list runs each size in turn (e.g. 100000,1000000,5000000)")
	flag.StringVar(&o.admin, "postgres", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "admin URL of the PostgreSQL server the databases are created on")
	flag.BoolVar(&o.keep, "keep", false, "keep the databases after the run")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write each scenario's CPU profile (of the child) to PREFIX-<rows>-<scenario>.cpu.pprof")
	flag.StringVar(&o.memProfile, "memprofile", "", "write each scenario's heap profile, taken when its heap was largest, to PREFIX-<rows>-<scenario>.heap.pprof")
	flag.IntVar(&o.batch, "batch", 1000, "webhook batch size")
	flag.IntVar(&o.copies, "copies", 3, "times COPY is run; the fastest is the reference")
	flag.IntVar(&o.repeat, "repeat", 3, "times the unchanged and the 1%-changed reruns are run; the median counts")
	flag.BoolVar(&o.settle, "settle", true, "before each scenario, VACUUM ANALYZE both databases and CHECKPOINT, as autovacuum and the checkpointer would have between two scheduled runs")
	flag.BoolVar(&o.runLog, "log", false, "print each run's log")
	flag.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file")
	// The child's flags (internal).
	flag.BoolVar(&child, "child", false, "internal: run one sync, as a child process")
	flag.StringVar(&c.store, "store", "", "internal: the store's URL")
	flag.StringVar(&c.workspace, "workspace", "", "internal: the workspace ID")
	flag.StringVar(&c.activation, "activation", "", "internal: the activation ID")
	flag.StringVar(&c.label, "label", "", "internal: the profiles' label")
	flag.Parse()

	if child {
		c.cpuProfile, c.memProfile, c.runLog = o.cpuProfile, o.memProfile, o.runLog
		if err := runChild(c); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		return
	}
	for _, s := range strings.Split(rowsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 100 {
			fmt.Fprintf(os.Stderr, "bad -rows %q: give row counts of at least 100\n", rowsFlag)
			os.Exit(2)
		}
		o.rows = append(o.rows, n)
	}
	o.repeat = max(o.repeat, 1)
	if err := runParent(o); err != nil {
		fmt.Fprintln(os.Stderr, "sluice-bench:", err)
		os.Exit(1)
	}
}

// box is the store's secret box; parent and children share its fixed key.
func box() *secrets.Box {
	key := make([]byte, secrets.KeySize)
	for i := range key {
		key[i] = byte(7 * i)
	}
	b, err := secrets.New(key)
	if err != nil {
		panic(err)
	}
	return b
}

func registry() *connectors.Registry {
	reg := connectors.NewRegistry()
	reg.RegisterSource(postgres.New())
	reg.RegisterDestination(webhook.New(true)) // the receiver is on loopback
	return reg
}

// childResult is what a child prints.
type childResult struct {
	Seconds float64       `json:"seconds"`
	Status  string        `json:"status"`
	Error   string        `json:"error,omitempty"`
	Counts  engine.Counts `json:"counts"`
	Log     []string      `json:"log,omitempty"`
}

// ---- the child: one sync ------------------------------------------------------------

func runChild(c childOptions) error {
	ctx := context.Background()
	config.ApplyGC(config.DefaultGCPercent, os.Getenv) // as sluice serve does
	store, err := models.Open(c.store, box())
	if err != nil {
		return err
	}
	defer store.Close()
	reg := registry()
	dl := jobs.NewRunner(store, core.New(store, reg), slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), jobs.Options{})

	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile + "-" + c.label + ".cpu.pprof")
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	var heap *peakHeap
	if c.memProfile != "" {
		heap = watchHeap()
	}

	start := time.Now()
	queued, err := dl.RunNow(ctx, c.workspace, c.activation, models.TriggerManual, false)
	if err != nil {
		return err
	}
	if !dl.RunOne(ctx) {
		return errors.New("no run was claimed")
	}
	elapsed := time.Since(start)

	if heap != nil {
		if err := heap.stop(c.memProfile + "-" + c.label + ".heap.pprof"); err != nil {
			return err
		}
	}
	r, err := store.RunByID(ctx, c.workspace, queued.ID)
	if err != nil {
		return err
	}
	k := r.RunCounts
	res := childResult{Seconds: elapsed.Seconds(), Status: r.Status, Error: strings.TrimSpace(r.ErrorMessage + " " + r.ErrorDetail),
		Counts: engine.Counts{Queried: k.Queried, Added: k.Added, Changed: k.Changed, Removed: k.Removed, Unchanged: k.Unchanged,
			Sent: k.Sent, Rejected: k.Rejected, Unsent: k.Unsent, SourceIssues: k.SourceIssues}}
	if c.runLog {
		lines, err := store.ListRunLogs(ctx, c.workspace, r.ID, 200)
		if err != nil {
			return err
		}
		for _, l := range lines {
			res.Log = append(res.Log, l.At.Format("15:04:05.000")+" "+l.Message)
		}
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// peakHeap keeps the heap profile taken when the live heap was largest (sampled every
// 200 ms): where the memory goes at the peak, not after the run.
type peakHeap struct {
	done chan struct{}
	wg   sync.WaitGroup
	best []byte
	max  uint64
}

func watchHeap() *peakHeap {
	h := &peakHeap{done: make(chan struct{})}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-t.C:
			}
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > h.max+h.max/10 {
				var buf bytes.Buffer
				if pprof.Lookup("heap").WriteTo(&buf, 0) == nil {
					h.best, h.max = buf.Bytes(), v
				}
			}
		}
	}()
	return h
}

func (h *peakHeap) stop(path string) error {
	close(h.done)
	h.wg.Wait()
	if h.best == nil {
		var buf bytes.Buffer
		runtime.GC()
		if err := pprof.Lookup("heap").WriteTo(&buf, 0); err != nil {
			return err
		}
		h.best = buf.Bytes()
	}
	fmt.Fprintf(os.Stderr, "heap profile at %.1f MB of heap objects: %s\n", float64(h.max)/1e6, path)
	return os.WriteFile(path, h.best, 0o644)
}

// ---- the receiver -------------------------------------------------------------------

// receiver is the loopback webhook endpoint: it reads each body, counts its records with
// a byte scan (each record has one "op") and answers {}.
type receiver struct {
	requests atomic.Int64
	records  atomic.Int64
	bufs     sync.Pool
}

var opMark = []byte(`"op":`)

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	buf, _ := rc.bufs.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	defer rc.bufs.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(r.Body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if r.Header.Get(webhook.HeaderCheck) == "" {
		rc.requests.Add(1)
		rc.records.Add(int64(bytes.Count(buf.Bytes(), opMark)))
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, "{}")
}

func (rc *receiver) reset() { rc.requests.Store(0); rc.records.Store(0) }

// ---- the parent ---------------------------------------------------------------------

// run is one scenario run, and the COPY timed just before it.
type run struct {
	Seconds  float64       `json:"seconds"`
	Copy     float64       `json:"copy_seconds"` // the fastest of the COPYs timed just before`
	RSSMB    float64       `json:"peak_rss_mb"`
	Status   string        `json:"status"`
	Error    string        `json:"error,omitempty"`
	Counts   engine.Counts `json:"counts"`
	Records  int64         `json:"records_received"`
	Requests int64         `json:"requests_received"`
}

// scenario is a scenario's runs, each compared with the COPY timed just before it: the
// machine's speed drifts (other tenants of the host), and a ratio of two times taken
// seconds apart is what stays comparable.
type scenario struct {
	Name   string  `json:"name"`
	Target float64 `json:"target_ratio"`
	Runs   []run   `json:"runs"`
}

// ratio is the median of the runs' ratios to their COPY.
func (s scenario) ratio() float64 { return s.median(func(r run) float64 { return r.Seconds / r.Copy }) }

func (s scenario) median(of func(run) float64) float64 {
	t := make([]float64, len(s.Runs))
	for i, r := range s.Runs {
		t[i] = of(r)
	}
	slices.Sort(t)
	if n := len(t); n%2 == 0 {
		return (t[n/2-1] + t[n/2]) / 2
	}
	return t[len(t)/2]
}

func (s scenario) peakRSS() float64 {
	m := 0.0
	for _, r := range s.Runs {
		m = max(m, r.RSSMB)
	}
	return m
}

type sizeResult struct {
	Rows        int        `json:"rows"`
	SeedSeconds float64    `json:"seed_seconds"`
	RowBytes    float64    `json:"average_row_bytes"`
	SQL         string     `json:"sql"`
	Copies      []float64  `json:"copy_seconds"`
	Scenarios   []scenario `json:"scenarios"`
}

func (r sizeResult) peakRSS() float64 {
	m := 0.0
	for _, s := range r.Scenarios {
		m = max(m, s.peakRSS())
	}
	return m
}

func runParent(o options) error {
	ctx := context.Background()
	rc := &receiver{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: rc}
	go srv.Serve(ln)
	defer srv.Close()
	hookURL := "http://" + ln.Addr().String() + "/hook"

	logf("machine: %s", machine(ctx, o.admin))
	var results []sizeResult
	for _, n := range o.rows {
		res, err := benchSize(ctx, o, n, rc, hookURL)
		if err != nil {
			return fmt.Errorf("%d rows: %w", n, err)
		}
		results = append(results, res)
		if o.jsonOut != "" {
			raw, _ := json.MarshalIndent(results, "", "  ")
			if err := os.WriteFile(o.jsonOut, raw, 0o644); err != nil {
				return err
			}
		}
	}
	logf("load average after: %s", loadavg())
	fmt.Print(table(results))
	return nil
}

// machine describes where the benchmark runs.
func machine(ctx context.Context, admin string) string {
	cpu := "unknown CPU"
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	pg := "PostgreSQL ?"
	if c, err := pgx.Connect(ctx, admin); err == nil {
		_ = c.QueryRow(ctx, "SHOW server_version").Scan(&pg)
		pg = "PostgreSQL " + pg
		var sb, wm string
		_ = c.QueryRow(ctx, "SELECT current_setting('shared_buffers'), current_setting('work_mem')").Scan(&sb, &wm)
		pg += fmt.Sprintf(" (shared_buffers %s, work_mem %s)", sb, wm)
		c.Close(ctx)
	}
	return fmt.Sprintf("%d CPUs (%s), %s, %s, load average %s", runtime.NumCPU(), cpu, pg, runtime.Version(), loadavg())
}

func loadavg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func dbURL(admin, name string) (string, error) {
	u, err := url.Parse(admin)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

func benchSize(ctx context.Context, o options, n int, rc *receiver, hookURL string) (sizeResult, error) {
	res := sizeResult{Rows: n}
	adm, err := pgx.Connect(ctx, o.admin)
	if err != nil {
		return res, err
	}
	defer adm.Close(ctx)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	suffix := hex.EncodeToString(b)
	whName, storeName := "sluice_bench_wh_"+suffix, "sluice_bench_store_"+suffix
	for _, name := range []string{whName, storeName} {
		if _, err := adm.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			return res, err
		}
	}
	if o.keep {
		logf("keeping the databases %s and %s", whName, storeName)
	} else {
		defer func() {
			for _, name := range []string{whName, storeName} {
				if _, err := adm.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
					logf("drop database %s: %v", name, err)
				}
			}
		}()
	}
	whURL, _ := dbURL(o.admin, whName)
	storeURL, _ := dbURL(o.admin, storeName)

	// 1. Seed the warehouse.
	dw, err := pgx.Connect(ctx, whURL)
	if err != nil {
		return res, err
	}
	defer dw.Close(ctx)
	logf("%d rows: seeding the warehouse", n)
	t := time.Now()
	if res.RowBytes, err = seed(ctx, dw, n); err != nil {
		return res, fmt.Errorf("seed: %w", err)
	}
	res.SeedSeconds = time.Since(t).Seconds()
	logf("seeded in %.1f s (%.0f bytes a row)", res.SeedSeconds, res.RowBytes)

	// 2. Set Sluice up on its store.
	ws, actID, sql, err := setup(ctx, storeURL, whURL, hookURL, o.batch)
	if err != nil {
		return res, fmt.Errorf("setup: %w", err)
	}
	res.SQL = sql
	logf("extraction query: %s", sql)

	// 3. PostgreSQL's own COPY of the same query.
	if o.settle {
		if err := settle(ctx, dw, storeURL); err != nil {
			return res, err
		}
	}
	if res.Copies, err = timeCopy(ctx, dw, sql, o.copies); err != nil {
		return res, fmt.Errorf("copy: %w", err)
	}
	logf("COPY: %s s (%.0f rows/s at best)", fmtList(res.Copies), float64(n)/slices.Min(res.Copies))

	// 4. The scenarios, each run in a child process.
	one := func(sc *scenario, label string) error {
		if o.settle {
			if err := settle(ctx, dw, storeURL); err != nil {
				return err
			}
		}
		copies, err := timeCopy(ctx, dw, sql, o.copies)
		if err != nil {
			return fmt.Errorf("copy: %w", err)
		}
		rc.reset()
		r, err := runScenario(ctx, o, storeURL, ws, actID, strconv.Itoa(n)+"-"+label)
		if err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		r.Copy = slices.Min(copies)
		r.Records, r.Requests = rc.records.Load(), rc.requests.Load()
		sc.Runs = append(sc.Runs, r)
		logf("%s: COPY %s s, sync %.2f s (%.2f× COPY), peak RSS %.0f MB, %s, %+v, %d records received in %d requests",
			label, fmtList(copies), r.Seconds, r.Seconds/r.Copy, r.RSSMB, r.Status, r.Counts, r.Records, r.Requests)
		if r.Error != "" {
			logf("%s: error: %s", label, r.Error)
		}
		if !countsExpected(n, sc.Name, r) {
			logf("%s: the counts are not what the scenario means", label)
		}
		return nil
	}

	full := scenario{Name: "full", Target: targetFull}
	if err := one(&full, "full"); err != nil {
		return res, err
	}
	if err := checkRunLogSQL(ctx, storeURL, sql); err != nil {
		logf("warning: %v", err)
	}
	unchanged := scenario{Name: "unchanged", Target: targetUnchanged}
	for i := range o.repeat {
		if err := one(&unchanged, fmt.Sprintf("unchanged-%d", i+1)); err != nil {
			return res, err
		}
	}
	changed := scenario{Name: "changed_1pct", Target: targetChanged}
	for i := range o.repeat {
		logf("updating 1%% of the rows (id %% 100 = %d)", i)
		if _, err := dw.Exec(ctx, `UPDATE customers SET city = city || ' (moved)', ltv = ltv + 1 WHERE id % 100 = $1`, i); err != nil {
			return res, err
		}
		if _, err := dw.Exec(ctx, `VACUUM ANALYZE customers`); err != nil {
			return res, err
		}
		if err := one(&changed, fmt.Sprintf("changed_1pct-%d", i+1)); err != nil {
			return res, err
		}
	}
	res.Scenarios = []scenario{full, unchanged, changed}
	return res, nil
}

// seed creates customers with n rows of eight columns in one INSERT … SELECT over
// generate_series, adds its primary key and vacuums it, so no reader pays for hint bits;
// it answers the average row size.
func seed(ctx context.Context, dw *pgx.Conn, n int) (float64, error) {
	stmts := []string{
		`CREATE TABLE customers (
			id bigint NOT NULL,
			email text,
			first_name text,
			last_name text,
			country text,
			city text,
			ltv numeric(12,2),
			signed_up_at timestamptz
		)`,
		`INSERT INTO customers
		SELECT i,
		       'customer' || i || '@example.com',
		       (ARRAY['Ada','Grace','Alan','Edsger','Barbara','Donald','Ken','Margaret','Niklaus','Frances'])[1 + i % 10],
		       (ARRAY['Lovelace','Hopper','Turing','Dijkstra','Liskov','Knuth','Thompson','Hamilton','Wirth','Allen'])[1 + (i / 10) % 10],
		       (ARRAY['FR','DE','US','GB','ES','IT','NL','BE','CH','SE'])[1 + (i / 100) % 10],
		       (ARRAY['Paris','Berlin','New York','London','Madrid','Rome','Amsterdam','Brussels','Zurich','Stockholm'])[1 + (i / 7) % 10],
		       ((i * 7919) % 100000) / 100.0,
		       timestamptz '2020-01-01 00:00:00+00' + (i % 1000000) * interval '61 seconds'
		FROM generate_series(1::bigint, ` + strconv.Itoa(n) + `) AS i`,
		`ALTER TABLE customers ADD PRIMARY KEY (id)`,
		`VACUUM ANALYZE customers`,
	}
	for _, s := range stmts {
		if _, err := dw.Exec(ctx, s); err != nil {
			return 0, err
		}
	}
	var avg float64
	err := dw.QueryRow(ctx, `SELECT avg(pg_column_size(c.*)) FROM (SELECT * FROM customers LIMIT 10000) c`).Scan(&avg)
	return avg, err
}

// setup makes the workspace, source, model, segment, platform and activation, and
// answers the workspace, the activation and the extraction SQL the engine will run.
func setup(ctx context.Context, storeURL, whURL, hookURL string, batch int) (ws, actID, sql string, err error) {
	store, err := models.Open(storeURL, box())
	if err != nil {
		return "", "", "", err
	}
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		return "", "", "", err
	}
	u, err := store.SetupFirstAdmin(ctx, "Bench", models.NewUser{Email: "bench@example.com", Name: "Bench", Password: "correct horse battery"})
	if err != nil {
		return "", "", "", err
	}
	admin := models.Actor{WorkspaceID: u.WorkspaceID, Type: models.ActorUser, ID: u.ID, Name: u.Email, Role: u.Role}
	reg := registry()
	wh := core.New(store, reg)

	wu, _ := url.Parse(whURL)
	spec, err := wh.SourceSpec("postgres")
	if err != nil {
		return "", "", "", err
	}
	src, err := store.CreateSource(ctx, admin, spec, models.SourceInput{Name: "Warehouse", Config: connectors.Config{
		"host": wu.Hostname(), "port": wu.Port(), "database": strings.TrimPrefix(wu.Path, "/"), "user": wu.User.Username(), "sslmode": "disable"}})
	if err != nil {
		return "", "", "", err
	}
	if src, err = wh.ValidateSource(ctx, admin.WorkspaceID, src.ID); err != nil || src.Status != models.SourceConnected {
		return "", "", "", fmt.Errorf("source not connected: %v %v", src.Status, err)
	}
	m, err := wh.CreateModel(ctx, admin, core.ModelRequest{SourceID: src.ID, Name: "Customers",
		Table: &connectors.Table{Schema: "public", Name: "customers"}, PrimaryKey: "id"})
	if err != nil {
		return "", "", "", err
	}
	seg, err := wh.SaveSegment(ctx, admin, "", core.SegmentRequest{ModelID: m.ID, Name: "Everyone", Conditions: segments.All()})
	if err != nil {
		return "", "", "", err
	}
	p, err := wh.CreatePlatform(ctx, admin, webhook.Kind, models.PlatformInput{Name: "Loopback", Config: connectors.Config{
		"url": hookURL, "batch_size": strconv.Itoa(batch), "requests_per_second": "10000", "send_removals": "true"}})
	if err != nil {
		return "", "", "", err
	}
	if p.Status != models.PlatformConnected {
		return "", "", "", fmt.Errorf("platform not connected: %s %s", p.Status, p.StatusMessage)
	}
	mappings := []models.Mapping{
		{From: "email", To: "email", Type: "email"},
		{From: "first_name", To: "first_name", Type: "string"},
		{From: "last_name", To: "last_name", Type: "string"},
		{From: "country", To: "country", Type: "string"},
		{From: "ltv", To: "ltv", Type: "number"},
		{From: "signed_up_at", To: "signed_up_at", Type: "datetime"},
	}
	a, err := wh.CreateActivation(ctx, admin, models.ActivationInput{Name: "Customers to loopback", SegmentID: seg.ID, PlatformID: p.ID,
		Action: webhook.ActionSyncRecords, Schedule: models.Schedule{Kind: "manual"}, Mappings: mappings,
		Settings: models.ActivationSettings{SendRemovals: true}})
	if err != nil {
		return "", "", "", err
	}

	// The engine's extraction statement, built as it builds it: the key's byte-ordered
	// text, then each mapped column once, in mapping order (checkRunLogSQL compares it
	// with the one the engine logs).
	cond, err := segments.Parse(seg.ConditionsJSON)
	if err != nil {
		return "", "", "", err
	}
	d := postgres.Dialect{}
	rel := m.Relation()
	where, args, err := segments.Compile(d, rel, cond, m.Columns())
	if err != nil {
		return "", "", "", err
	}
	if len(args) > 0 {
		return "", "", "", errors.New("the segment has bound parameters, which COPY cannot take")
	}
	q := func(c string) string { return d.QuoteIdent(segments.Alias) + "." + d.QuoteIdent(c) }
	key, _ := engine.KeyTextSQL(d, q(m.PrimaryKey))
	list := []string{key}
	for _, mp := range mappings {
		list = append(list, q(mp.From))
	}
	sql = "SELECT " + strings.Join(list, ", ") + " FROM " + d.RelationSQL(rel, segments.Alias) + " WHERE " + where + " ORDER BY " + key
	return admin.WorkspaceID, a.ID, sql, nil
}

// settle vacuums and analyzes both databases and checkpoints, so a scenario starts on a
// quiet server: no autovacuum of the previous run's writes, no checkpoint under way.
func settle(ctx context.Context, dw *pgx.Conn, storeURL string) error {
	st, err := pgx.Connect(ctx, storeURL)
	if err != nil {
		return err
	}
	defer st.Close(ctx)
	for _, c := range []*pgx.Conn{st, dw} {
		if _, err := c.Exec(ctx, "VACUUM ANALYZE"); err != nil {
			return fmt.Errorf("settle: %w", err)
		}
	}
	if _, err := st.Exec(ctx, "CHECKPOINT"); err != nil {
		return fmt.Errorf("settle: %w", err)
	}
	return nil
}

// checkRunLogSQL checks that the query the engine logged is the one COPY runs.
func checkRunLogSQL(ctx context.Context, storeURL, sql string) error {
	conn, err := pgx.Connect(ctx, storeURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var msg string
	err = conn.QueryRow(ctx, `SELECT message FROM run_logs WHERE message LIKE 'Extracting the segment%' ORDER BY at LIMIT 1`).Scan(&msg)
	if err != nil {
		return fmt.Errorf("reading the engine's query from the run log: %w", err)
	}
	if !strings.HasSuffix(msg, sql) {
		return fmt.Errorf("the engine ran another query than COPY: %q", msg)
	}
	logf("the query the engine logged is the one COPY runs")
	return nil
}

// timeCopy runs COPY (sql) TO STDOUT into io.Discard times times.
func timeCopy(ctx context.Context, dw *pgx.Conn, sql string, times int) ([]float64, error) {
	var out []float64
	for range max(times, 1) {
		t := time.Now()
		if _, err := dw.PgConn().CopyTo(ctx, io.Discard, "COPY ("+sql+") TO STDOUT"); err != nil {
			return nil, err
		}
		out = append(out, time.Since(t).Seconds())
	}
	return out, nil
}

// runScenario runs one sync in a child process and reads its peak RSS.
func runScenario(ctx context.Context, o options, storeURL, ws, actID, label string) (run, error) {
	var r run
	exe, err := os.Executable()
	if err != nil {
		return r, err
	}
	args := []string{"-child", "-store", storeURL, "-workspace", ws, "-activation", actID, "-label", label}
	if o.cpuProfile != "" {
		args = append(args, "-cpuprofile", o.cpuProfile)
	}
	if o.memProfile != "" {
		args = append(args, "-memprofile", o.memProfile)
	}
	if o.runLog {
		args = append(args, "-log")
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return r, fmt.Errorf("child: %w", err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.RSSMB = float64(ru.Maxrss) / 1024 // KB on Linux
	}
	var cr childResult
	if err := json.Unmarshal(stdout.Bytes(), &cr); err != nil {
		return r, fmt.Errorf("the child answered %q: %w", stdout.String(), err)
	}
	for _, l := range cr.Log {
		fmt.Fprintln(os.Stderr, "    "+l)
	}
	r.Seconds, r.Status, r.Error, r.Counts = cr.Seconds, cr.Status, cr.Error, cr.Counts
	return r, nil
}

// ---- report -------------------------------------------------------------------------

// countsExpected checks a run did what its scenario means: every row sent on the first
// run, none on an unchanged rerun, 1% changed after the update, and the receiver got
// exactly those.
func countsExpected(n int, scenario string, r run) bool {
	c := r.Counts
	if r.Status != models.RunSucceeded || c.Queried != int64(n) || !c.Balanced() {
		return false
	}
	switch scenario {
	case "full":
		return c.Added == int64(n) && c.Sent == int64(n) && r.Records == int64(n)
	case "unchanged":
		return c.Unchanged == int64(n) && c.Sent == 0 && r.Records == 0
	case "changed_1pct":
		return c.Changed == int64(n/100) && c.Sent == int64(n/100) && r.Records == int64(n/100)
	}
	return true
}

func table(results []sizeResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n| rows | scenario | COPY s (median) | sync s (median) | runs: sync s (× its COPY) | × COPY (median) | target | peak RSS MB | counts | verdict |\n")
	fmt.Fprintf(&b, "| ---: | --- | ---: | ---: | --- | ---: | ---: | ---: | --- | --- |\n")
	var rss1M float64
	for _, r := range results {
		if r.Rows == 1000000 {
			rss1M = r.peakRSS()
		}
	}
	for _, r := range results {
		for _, sc := range r.Scenarios {
			med := sc.median(func(r run) float64 { return r.Seconds })
			ratio := sc.ratio()
			var times []string
			ok := true
			for _, run := range sc.Runs {
				times = append(times, fmt.Sprintf("%.2f (%.2f×)", run.Seconds, run.Seconds/run.Copy))
				ok = ok && countsExpected(r.Rows, sc.Name, run)
			}
			verdict := "PASS"
			if ratio > sc.Target || sc.peakRSS() >= targetRSSMB || !ok {
				verdict = "FAIL"
			}
			counts := "as expected"
			if !ok {
				counts = "WRONG"
			}
			fmt.Fprintf(&b, "| %d | %s | %.2f | %.2f | %s | %.2f | ≤ %.1f | %.0f | %s | %s |\n",
				r.Rows, sc.Name, sc.median(func(r run) float64 { return r.Copy }), med, strings.Join(times, ", "), ratio, sc.Target, sc.peakRSS(), counts, verdict)
		}
	}
	for _, r := range results {
		if rss1M > 0 && r.Rows > 1000000 {
			growth := r.peakRSS() / rss1M
			verdict := "PASS"
			if growth > targetRSSGrowth {
				verdict = "FAIL"
			}
			fmt.Fprintf(&b, "\npeak RSS at %d rows: %.0f MB, %+.0f%% against %.0f MB at 1,000,000 rows (target: at most +%.0f%%): %s\n",
				r.Rows, r.peakRSS(), 100*(growth-1), rss1M, 100*(targetRSSGrowth-1), verdict)
		}
	}
	return b.String()
}

func fmtList(xs []float64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.FormatFloat(x, 'f', 2, 64)
	}
	return strings.Join(s, ", ")
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
