package snowflake_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"sluice/models"
	"sluice/segments"
)

// benchRows is how many rows the benchmarks seed: SLUICE_BENCH_ROWS, 1,000,000 by default.
func benchRows(b *testing.B) int {
	if v := os.Getenv("SLUICE_BENCH_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("SLUICE_BENCH_ROWS=%q", v)
		}
		return n
	}
	return 1_000_000
}

// bulkWarehouse is the fake with n customers in PUBLIC.BULK, shaped like the postgres
// benchmark's: id, e-mail, phone, name, country, a decimal and a timestamp.
func bulkWarehouse(b *testing.B, n int) *warehouse {
	w := newWarehouse(b)
	ctx := context.Background()
	for _, q := range []string{
		`CREATE TABLE "PUBLIC"."BULK" ("ID" bigint PRIMARY KEY, "EMAIL" text, "PHONE" text, "NAME" text, "COUNTRY" text, "LTV" numeric(12,2), "SIGNED_UP_AT" timestamp)`,
		fmt.Sprintf(`INSERT INTO "PUBLIC"."BULK" SELECT i, 'customer' || i || '@example.com', '+3361' || lpad((i %% 10000000)::text, 7, '0'), 'Customer ' || i,
			(ARRAY['FR','DE','US','GB'])[1 + i %% 4], (i %% 100000) / 100.0, TIMESTAMP '2024-01-01' + i * INTERVAL '1 second' FROM generate_series(1, %d) i`, n),
		`VACUUM ANALYZE "PUBLIC"."BULK"`,
	} {
		if err := w.fake.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.fake.GrantSelect(ctx, "SLUICE_ROLE", "PUBLIC", "BULK", true); err != nil {
		b.Fatal(err)
	}
	return w
}

// heapPeak samples the live heap every 5 ms until stopped: the most the process held
// (the fake's and the store's share included, so a bound on Sluice's own).
type heapPeak struct {
	peak atomic.Uint64
	done chan struct{}
}

func watchHeap() *heapPeak {
	runtime.GC()
	h := &heapPeak{done: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > h.peak.Load() {
				h.peak.Store(v)
			}
			select {
			case <-h.done:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *heapPeak) stop() float64 {
	close(h.done)
	return float64(h.peak.Load()) / (1 << 20)
}

func maxRSS() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Maxrss) / 1024 // kB on Linux
}

// BenchmarkExtract reads every row of PUBLIC.BULK through the connector as the engine's
// extraction does (the key's text in byte order, the mapped columns, ORDER BY the key),
// partition by partition. Run it alone, once:
//
//	go test ./sources/snowflake -run '^$' -bench Extract -benchtime 1x
func BenchmarkExtract(b *testing.B) {
	n := benchRows(b)
	w := bulkWarehouse(b, n)
	src := w.open(b, w.cfg)
	sql := `SELECT COLLATE(TO_VARCHAR("m"."ID"), 'utf8'), "m"."EMAIL", "m"."PHONE", "m"."NAME", "m"."COUNTRY", "m"."LTV", "m"."SIGNED_UP_AT"
FROM "PUBLIC"."BULK" AS "m" WHERE 1=1 ORDER BY COLLATE(TO_VARCHAR("m"."ID"), 'utf8')`
	b.ResetTimer()
	for range b.N {
		h := watchHeap()
		start := time.Now()
		rows := 0
		if err := src.Query(context.Background(), sql, nil, func([]any) error { rows++; return nil }); err != nil {
			b.Fatal(err)
		}
		secs := time.Since(start).Seconds()
		peak := h.stop()
		if rows != n {
			b.Fatalf("%d rows read, want %d", rows, n)
		}
		b.ReportMetric(secs, "s/extract")
		b.ReportMetric(float64(n)/secs, "rows/s")
		b.ReportMetric(peak, "peak-heap-MB")
		b.ReportMetric(maxRSS(), "maxRSS-MB")
	}
}

// BenchmarkRun is a full first sync of PUBLIC.BULK through jobs and the engine to a
// webhook (batches of 1,000), with Sluice's store on PostgreSQL, all in this process:
//
//	go test ./sources/snowflake -run '^$' -bench 'Run$' -benchtime 1x
func BenchmarkRun(b *testing.B) {
	n := benchRows(b)
	w := bulkWarehouse(b, n)
	// The six fields of cmd/sluice-bench's activation, as the postgres benchmark maps them.
	run, in := activate(b, w, "BULK", segments.All(), 1000, true,
		models.Mapping{From: "EMAIL", To: "email", Type: "email"}, models.Mapping{From: "NAME", To: "name", Type: "string"},
		models.Mapping{From: "PHONE", To: "phone_text", Type: "string"}, models.Mapping{From: "COUNTRY", To: "country", Type: "string"},
		models.Mapping{From: "LTV", To: "ltv", Type: "number"}, models.Mapping{From: "SIGNED_UP_AT", To: "signed_up_at", Type: "datetime"})
	b.ResetTimer()
	for range b.N {
		h := watchHeap()
		start := time.Now()
		r := run()
		secs := time.Since(start).Seconds()
		peak := h.stop()
		if r.Queried != int64(n) || r.Sent != int64(n) || in.received != n {
			b.Fatalf("run: %s %+v, %d received (%s %s)", r.Status, r.RunCounts, in.received, r.ErrorMessage, r.ErrorDetail)
		}
		b.ReportMetric(secs, "s/run")
		b.ReportMetric(float64(n)/secs, "rows/s")
		b.ReportMetric(peak, "peak-heap-MB")
		b.ReportMetric(maxRSS(), "maxRSS-MB")
	}
}
