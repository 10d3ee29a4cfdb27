package bigquery_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"sluice/config"
	"sluice/connectors"
	"sluice/core"
	"sluice/destinations/webhook"
	fake "sluice/internal/fakes/bigquery"
	"sluice/internal/testutil"
	"sluice/jobs"
	"sluice/models"
	"sluice/segments"
	"sluice/sources/bigquery"
)

// The extraction benchmark: N rows (SLUICE_BQ_BENCH_ROWS, default 1,000,000) of
// sluice-bench's customers table behind the fake, which runs in a child process so that
// the benchmark's memory is Sluice's alone. Two measures, each once per b.N:
//
//   - extract: the engine's extraction query (key text, six columns, ORDER BY the key)
//     read through the connector's Query, rows counted and dropped;
//   - sync: a full first sync of an activation of everyone to a loopback webhook
//     (batches of 1,000) through core, jobs and the engine, as sluice-bench runs one.
//
// It reports rows/s, the peak Go heap (sampled every 10 ms) and the process's peak RSS
// (getrusage; it only grows, so the sync's figure covers both). Run it with
//
//	go test -run '^$' -bench BenchmarkExtraction -benchtime 1x ./sources/bigquery/
func BenchmarkExtraction(b *testing.B) {
	rows := 1_000_000
	if v := os.Getenv("SLUICE_BQ_BENCH_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		rows = n
	}
	config.ApplyGC(config.DefaultGCPercent, os.Getenv) // as sluice serve does
	proc := startFakeProcess(b, rows)
	cfg := connectors.Config{"project_id": fake.DefaultProject, "dataset": "bench", "location": "US", "service_account_key": proc.Key}
	conn := bigquery.New(bigquery.Options{BaseURL: proc.URL})
	ctx := context.Background()

	b.Run("extract", func(b *testing.B) {
		src, err := conn.Open(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer src.Close()
		d := src.Dialect()
		col := func(c string) string { return d.QuoteIdent("m") + "." + d.QuoteIdent(c) }
		key := d.(connectors.KeyOrderer).KeyTextSQL(col("id"))
		sql := "SELECT " + key + ", " + col("email") + ", " + col("first_name") + ", " + col("last_name") + ", " + col("country") + ", " + col("ltv") + ", " + col("signed_up_at") +
			" FROM " + d.RelationSQL(connectors.Relation{Table: &connectors.Table{Schema: "bench", Name: "customers"}}, "m") + " WHERE 1=1 ORDER BY " + key
		for b.Loop() {
			heap := watchHeap()
			start := time.Now()
			n := 0
			err := src.Query(ctx, sql, nil, func(row []any) error { n++; return nil })
			secs := time.Since(start).Seconds()
			peak := heap.stop()
			if err != nil || n != rows {
				b.Fatalf("read %d rows of %d: %v", n, rows, err)
			}
			report(b, rows, secs, peak)
		}
	})

	b.Run("sync", func(b *testing.B) {
		store := testutil.Store(b, testutil.PostgresURL(b))
		_, admin := testutil.Admin(b, store)
		reg := connectors.NewRegistry()
		reg.RegisterSource(conn)
		reg.RegisterDestination(webhook.New(true))
		svc := core.New(store, reg)
		runner := jobs.NewRunner(store, svc, slog.New(slog.DiscardHandler), jobs.Options{})
		spec, _ := svc.SourceSpec(bigquery.Kind)
		src, err := store.CreateSource(ctx, admin, spec, models.SourceInput{Name: "BigQuery", Config: cfg})
		if err != nil {
			b.Fatal(err)
		}
		m, err := svc.CreateModel(ctx, admin, core.ModelRequest{SourceID: src.ID, Name: "Customers", Table: &connectors.Table{Schema: "bench", Name: "customers"}, PrimaryKey: "id"})
		if err != nil {
			b.Fatal(err)
		}
		seg, err := svc.SaveSegment(ctx, admin, "", core.SegmentRequest{ModelID: m.ID, Name: "Everyone", Conditions: segments.All()})
		if err != nil {
			b.Fatal(err)
		}
		var records atomic.Int64
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if r.Header.Get(webhook.HeaderCheck) == "" {
				records.Add(int64(bytes.Count(body, []byte(`"op":`))))
			}
			_, _ = io.WriteString(w, "{}")
		}))
		defer hook.Close()
		platform, err := svc.CreatePlatform(ctx, admin, "webhook", models.PlatformInput{Name: "Hook", Config: connectors.Config{
			"url": hook.URL, "batch_size": "1000", "requests_per_second": "10000", "send_removals": "true"}})
		if err != nil {
			b.Fatal(err)
		}
		act, err := svc.CreateActivation(ctx, admin, models.ActivationInput{Name: "Everyone to the hook", SegmentID: seg.ID, PlatformID: platform.ID,
			Action: webhook.ActionSyncRecords, Schedule: models.Schedule{Kind: "manual"},
			Mappings: []models.Mapping{{From: "email", To: "email", Type: "email"}, {From: "first_name", To: "first_name", Type: "string"},
				{From: "last_name", To: "last_name", Type: "string"}, {From: "country", To: "country", Type: "string"},
				{From: "ltv", To: "ltv", Type: "number"}, {From: "signed_up_at", To: "signed_up_at", Type: "datetime"}}})
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			records.Store(0)
			heap := watchHeap()
			start := time.Now()
			queued, err := runner.RunNow(ctx, admin.WorkspaceID, act.ID, models.TriggerManual, true)
			if err != nil {
				b.Fatal(err)
			}
			runner.RunOne(ctx)
			secs := time.Since(start).Seconds()
			peak := heap.stop()
			r, err := store.RunByID(ctx, admin.WorkspaceID, queued.ID)
			if err != nil {
				b.Fatal(err)
			}
			if r.Queried != int64(rows) || r.Added != int64(rows) || r.Sent != int64(rows) || records.Load() != int64(rows) {
				b.Fatalf("run %s: %+v, the hook got %d records (%s)", r.Status, r.RunCounts, records.Load(), r.ErrorMessage)
			}
			report(b, rows, secs, peak)
			b.StopTimer()
			// The next full sync starts from nothing acknowledged.
			if err := store.DB().Exec("DELETE FROM sync_state_pages WHERE activation_id = ?", act.ID).Error; err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})
}

func report(b *testing.B, rows int, secs float64, peakHeap uint64) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	b.ReportMetric(float64(rows)/secs, "rows/s")
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MB")
	b.ReportMetric(secs, "s/run")
}

// heapWatch samples the Go heap in use until stopped.
type heapWatch struct {
	done chan struct{}
	peak chan uint64
}

func watchHeap() *heapWatch {
	w := &heapWatch{done: make(chan struct{}), peak: make(chan uint64, 1)}
	go func() {
		var peak uint64
		var ms runtime.MemStats
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-w.done:
				w.peak <- peak
				return
			case <-t.C:
			}
		}
	}()
	return w
}

func (w *heapWatch) stop() uint64 {
	close(w.done)
	return <-w.peak
}

// fakeProcess is the fake BigQuery served by a child process.
type fakeProcess struct {
	URL string `json:"url"`
	Key string `json:"key"`
}

// startFakeProcess runs TestFakeProcess in a child process on a fresh database, with
// rows customers seeded, and stops it when the benchmark ends.
func startFakeProcess(b *testing.B, rows int) fakeProcess {
	cmd := exec.Command(os.Args[0], "-test.run=^TestFakeProcess$", "-test.v=false")
	cmd.Env = append(os.Environ(), "SLUICE_BQ_FAKE_PROCESS=1", "SLUICE_BQ_FAKE_PG="+testutil.PostgresURL(b), "SLUICE_BQ_FAKE_ROWS="+strconv.Itoa(rows))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var p fakeProcess
		if json.Unmarshal(sc.Bytes(), &p) == nil && p.URL != "" {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return p
		}
	}
	b.Fatalf("the fake's process ended without serving: %v", sc.Err())
	return fakeProcess{}
}

// TestFakeProcess is the benchmark's child: it serves a fake with the bench dataset
// until its standard input closes. It does nothing in a normal test run.
func TestFakeProcess(t *testing.T) {
	if os.Getenv("SLUICE_BQ_FAKE_PROCESS") != "1" {
		t.Skip("the benchmark's child process only")
	}
	ctx := context.Background()
	f, err := fake.New(fake.Options{PostgresURL: os.Getenv("SLUICE_BQ_FAKE_PG")})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.CreateDataset(ctx, "bench", "US"); err != nil {
		t.Fatal(err)
	}
	rows := os.Getenv("SLUICE_BQ_FAKE_ROWS")
	for _, s := range []string{
		`CREATE TABLE bench.customers (id bigint NOT NULL, email text, first_name text, last_name text, country text, city text, ltv numeric(12,2), signed_up_at timestamptz)`,
		`INSERT INTO bench.customers
		SELECT i,
		       'customer' || i || '@example.com',
		       (ARRAY['Ada','Grace','Alan','Edsger','Barbara','Donald','Ken','Margaret','Niklaus','Frances'])[1 + i % 10],
		       (ARRAY['Lovelace','Hopper','Turing','Dijkstra','Liskov','Knuth','Thompson','Hamilton','Wirth','Allen'])[1 + (i / 10) % 10],
		       (ARRAY['FR','DE','US','GB','ES','IT','NL','BE','CH','SE'])[1 + (i / 100) % 10],
		       (ARRAY['Paris','Berlin','New York','London','Madrid','Rome','Amsterdam','Brussels','Zurich','Stockholm'])[1 + (i / 7) % 10],
		       ((i * 7919) % 100000) / 100.0,
		       timestamptz '2020-01-01 00:00:00+00' + (i % 1000000) * interval '61 seconds'
		FROM generate_series(1::bigint, ` + rows + `) AS i`,
		`ALTER TABLE bench.customers ADD PRIMARY KEY (id)`,
		`VACUUM ANALYZE bench.customers`,
	} {
		if err := f.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	email, key := f.ServiceAccount("bench")
	f.GrantProject(email, fake.RoleJobUser)
	f.GrantDataset(email, "bench", fake.RoleDataViewer)
	line, _ := json.Marshal(fakeProcess{URL: f.URL, Key: string(key)})
	fmt.Println(string(line))
	_, _ = io.Copy(io.Discard, os.Stdin)
}
