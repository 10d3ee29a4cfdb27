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
	"sluice/sources/databricks"
	"sluice/sources/postgres"
)

var benchRows = flag.Int("databricks.rows", 1_000_000, "rows BenchmarkExtract seeds and reads")

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
	seed := fmt.Sprintf(`CREATE TABLE "main.sales".bench AS
SELECT i::bigint AS id, 'customer' || i || '@example.com' AS email, 'First' || (i %% 1000) AS first_name,
       'Last' || (i %% 5000) AS last_name, (ARRAY['FR','DE','US','GB','ES'])[1 + i %% 5] AS country,
       'City ' || (i %% 300) AS city, (i %% 100000) / 100.0 :: numeric(12,2) AS ltv,
       TIMESTAMPTZ '2024-01-01 00:00:00+00' + i * INTERVAL '1 second' AS signed_up_at
FROM generate_series(1, %d) AS i`, *benchRows)
	start := time.Now()
	if _, err := f.Pool().Exec(ctx, seed); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d rows in %v", *benchRows, time.Since(start).Round(time.Millisecond))
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
				close(stop)
				wg.Wait()
				if err != nil {
					b.Fatal(err)
				}
				if n != *benchRows {
					b.Fatalf("read %d rows, want %d", n, *benchRows)
				}
				var after runtime.MemStats
				runtime.ReadMemStats(&after)
				var ru syscall.Rusage
				_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
				grow := float64(0)
				if p := peak.Load(); p > before.HeapInuse {
					grow = float64(p-before.HeapInuse) / (1 << 20)
				}
				b.ReportMetric(float64(n)/elapsed.Seconds(), "rows/s")
				b.ReportMetric(grow, "peak-heap-MB")
				b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(n), "alloc-B/row")
				b.ReportMetric(float64(ru.Maxrss)/1024, "maxrss-MB")
				b.Logf("%s: %d rows in %v, heap in use %.1f MB before, peak %.1f MB above it", c.name, n, elapsed.Round(time.Millisecond),
					float64(before.HeapInuse)/(1<<20), grow)
			}
		})
	}
}
