package databricks_test

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"sluice/connectors"
	fake "sluice/internal/fakes/databricks"
	"sluice/internal/testutil"
	"sluice/models"
	"sluice/segments"
	"sluice/sources/databricks"
	"sluice/sources/postgres"
)

var benchRows = flag.Int("databricks.rows", 1_000_000, "rows BenchmarkExtract seeds and reads")

// seedBench creates main.sales.bench with n rows of eight columns (id bigint, e-mail,
// first and last name, country, city, ltv numeric(12,2), signed_up_at timestamptz), the
// rows cmd/sluice-bench seeds.
func seedBench(tb testing.TB, f *fake.Fake, n int) {
	tb.Helper()
	seed := fmt.Sprintf(`CREATE TABLE "main.sales".bench AS
SELECT i::bigint AS id, 'customer' || i || '@example.com' AS email, 'First' || (i %% 1000) AS first_name,
       'Last' || (i %% 5000) AS last_name, (ARRAY['FR','DE','US','GB','ES'])[1 + i %% 5] AS country,
       'City ' || (i %% 300) AS city, (i %% 100000) / 100.0 :: numeric(12,2) AS ltv,
       TIMESTAMPTZ '2024-01-01 00:00:00+00' + i * INTERVAL '1 second' AS signed_up_at
FROM generate_series(1, %d) AS i`, n)
	start := time.Now()
	if _, err := f.Pool().Exec(context.Background(), seed); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("seeded %d rows in %v", n, time.Since(start).Round(time.Millisecond))
}

// peakHeap samples the Go heap in use every 10 ms until the returned func is called,
// which answers the peak above the level at the start, in MB.
func peakHeap() func() float64 {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
		}
	})
	return func() float64 {
		close(stop)
		wg.Wait()
		if p := peak.Load(); p > before.HeapInuse {
			return float64(p-before.HeapInuse) / (1 << 20)
		}
		return 0
	}
}

func maxRSS() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Maxrss) / 1024
}

// BenchmarkActivation is a whole activation of *benchRows rows from the fake workspace
// to a webhook through jobs, core and the engine, as cmd/sluice-bench runs one from
// PostgreSQL: the full first sync, then an unchanged rerun. It reports each run's time,
// the peak of the Go heap above its level before the run and the process's peak RSS
// (the fake workspace and the webhook inbox run in the same process: an upper bound of
// what the run holds). Run it alone:
//
//	go test ./sources/databricks -run '^$' -bench Activation -benchtime 1x -databricks.rows 1000000
func BenchmarkActivation(b *testing.B) {
	w := newWarehouse(b)
	seedBench(b, w.f, *benchRows)
	w.grant(b, fake.Select, fake.OnTable, "main.sales.bench")
	in := &inbox{countOnly: true}
	run := startActivation(b, w, "bench", segments.All(), []models.Mapping{
		{From: "email", To: "email", Type: "email"}, {From: "first_name", To: "first_name", Type: "string"},
		{From: "last_name", To: "last_name", Type: "string"}, {From: "country", To: "country", Type: "string"},
		{From: "ltv", To: "ltv", Type: "number"}, {From: "signed_up_at", To: "signed_up_at", Type: "datetime"}}, in, 1000, 10000)
	for b.Loop() {
		for _, scenario := range []string{"full", "unchanged"} {
			done := peakHeap()
			start := time.Now()
			r := run()
			elapsed := time.Since(start)
			grow := done()
			want := int64(*benchRows)
			if scenario == "full" && (r.Sent != want || in.received != *benchRows) || scenario == "unchanged" && r.Unchanged != want {
				b.Fatalf("%s: %s %+v, %d received", scenario, r.Status, r.RunCounts, in.received)
			}
			b.ReportMetric(elapsed.Seconds(), scenario+"-s")
			b.ReportMetric(grow, scenario+"-peak-heap-MB")
			b.Logf("%s: %d rows in %v (%s), heap peak %.1f MB above its start, process peak RSS %.0f MB",
				scenario, r.Queried, elapsed.Round(time.Millisecond), r.Status, grow, maxRSS())
		}
		b.ReportMetric(maxRSS(), "maxrss-MB")
	}
}

// BenchmarkExtract reads the engine's extraction query (the key's text in byte order,
// seven columns, ORDER BY the key) over *benchRows rows, through the Databricks
// connector and the fake workspace (EXTERNAL_LINKS chunks of 10,000 rows), and, for
// reference, through the PostgreSQL connector straight from the same table. It reports
// rows/s, the peak of the Go heap in use above its level before the read (sampled every
// 10 ms; the fake runs in the same process, so its buffers are counted too), the bytes
// allocated per row, and the process's peak RSS. Run it alone:
//
//	go test ./sources/databricks -run '^$' -bench Extract -benchtime 1x -databricks.rows 1000000
func BenchmarkExtract(b *testing.B) {
	ctx := context.Background()
	pgURL := testutil.PostgresURL(b)
	f, err := fake.New(ctx, pgURL)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := f.CreateSchema(ctx, "main", "sales"); err != nil {
		b.Fatal(err)
	}
	seedBench(b, f, *benchRows)
	token := f.AddUser(Reader)
	for _, g := range [][3]string{{fake.UseCatalog, fake.OnCatalog, "main"}, {fake.UseSchema, fake.OnSchema, "main.sales"}, {fake.Select, fake.OnTable, "main.sales.bench"}} {
		if err := f.Grant(ctx, Reader, g[0], g[1], g[2]); err != nil {
			b.Fatal(err)
		}
	}
	cols := []string{"email", "first_name", "last_name", "country", "city", "ltv", "signed_up_at"}
	extraction := func(d connectors.Dialect, rel connectors.Relation) string {
		q := func(c string) string { return d.QuoteIdent("m") + "." + d.QuoteIdent(c) }
		key := d.(connectors.KeyOrderer).KeyTextSQL(q("id"))
		list := []string{key}
		for _, c := range cols {
			list = append(list, q(c))
		}
		return "SELECT " + strings.Join(list, ", ") + " FROM " + d.RelationSQL(rel, "m") + " WHERE 1=1 ORDER BY " + key
	}

	dbx, err := databricks.New(databricks.Options{BaseURL: f.URL()}).Open(ctx, connectors.Config{
		"host": f.Host(), "warehouse": fake.WarehouseID, "catalog": "main", "schema": "sales", "auth": databricks.AuthToken, "token": token})
	if err != nil {
		b.Fatal(err)
	}
	defer dbx.Close()
	u, _ := url.Parse(pgURL)
	pg, err := postgres.New().Open(ctx, connectors.Config{"host": u.Hostname(), "port": u.Port(), "database": strings.TrimPrefix(u.Path, "/"),
		"user": u.User.Username(), "sslmode": "disable", "schema": "main.sales"})
	if err != nil {
		b.Fatal(err)
	}
	defer pg.Close()

	for _, c := range []struct {
		name string
		src  connectors.Source
	}{{"databricks", dbx}, {"postgres", pg}} {
		b.Run(c.name, func(b *testing.B) {
			sql := extraction(c.src.Dialect(), connectors.Relation{Table: &connectors.Table{Schema: "sales", Name: "bench"}})
			if c.name == "postgres" {
				sql = extraction(c.src.Dialect(), connectors.Relation{Table: &connectors.Table{Schema: "main.sales", Name: "bench"}})
			}
			for b.Loop() {
				done := peakHeap()
				before := new(runtime.MemStats)
				runtime.ReadMemStats(before)
				n, last := 0, ""
				start := time.Now()
				err := c.src.Query(ctx, sql, nil, func(row []any) error {
					k := row[0].(string)
					if k <= last && n > 0 {
						return fmt.Errorf("key %q after %q: not in byte order", k, last)
					}
					last = k
					n++
					return nil
				})
				elapsed := time.Since(start)
				grow := done()
				if err != nil {
					b.Fatal(err)
				}
				if n != *benchRows {
					b.Fatalf("read %d rows, want %d", n, *benchRows)
				}
				var after runtime.MemStats
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(n)/elapsed.Seconds(), "rows/s")
				b.ReportMetric(grow, "peak-heap-MB")
				b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(n), "alloc-B/row")
				b.ReportMetric(maxRSS(), "maxrss-MB")
				b.Logf("%s: %d rows in %v, heap peak %.1f MB above its start", c.name, n, elapsed.Round(time.Millisecond), grow)
			}
		})
	}
}
