package engine

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sluice/connectors"
)

// bigWarehouse holds n active customers with text keys k0000000… (byte order is numeric
// order) and a 200-character name each, so holding the rows would take real memory.
func bigWarehouse(tb testing.TB, n int) *warehouse {
	tb.Helper()
	w := newWarehouse(tb, `CREATE TABLE customers (id TEXT, email TEXT, phone TEXT, name TEXT, age TEXT, vip BOOLEAN, signed_up DATETIME, active INTEGER)`)
	w.exec(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO customers (id, email, phone, name, age, vip, signed_up, active)
		SELECT printf('k%07d', i), 'Customer' || i || '@Example.com', NULL, hex(randomblob(100)), i % 90, i % 2, '2024-05-01 10:00:00', 1 FROM n`, n-1)
	return w
}

// streamState is a State that stores nothing: Scan yields count keys, k0000000… with a
// hash no payload has, and Commit only counts. It keeps the test's own memory flat, so
// what is measured is the engine's.
type streamState struct {
	count   int
	commits atomic.Int64
}

func (s *streamState) Scan(ctx context.Context, _ string, fn func(KeyHash) error) error {
	for i := range s.count {
		if err := fn(KeyHash{Key: fmt.Sprintf("k%07d", i), Hash: 2}); err != nil {
			return err
		}
	}
	return nil
}

func (s *streamState) Commit(context.Context, string, Commit) error {
	s.commits.Add(1)
	return nil
}

func (s *streamState) Answer(context.Context, string, string, Answer) error { return nil }

func (s *streamState) Reset(context.Context, string) error { return nil }

// quietRecorder drops what it is given, counting it.
type quietRecorder struct{ issues, changes atomic.Int64 }

func (r *quietRecorder) Progress(context.Context, string, int64) error { return nil }
func (r *quietRecorder) Issues(_ context.Context, is []Issue) error {
	r.issues.Add(int64(len(is)))
	return nil
}
func (r *quietRecorder) Changes(_ context.Context, cs []Change) error {
	r.changes.Add(int64(len(cs)))
	return nil
}
func (r *quietRecorder) Log(context.Context, LogLine) error                { return nil }
func (r *quietRecorder) Waiting(context.Context, *Wait)                    {}
func (r *quietRecorder) Sample(context.Context, connectors.Exchange) error { return nil }

// TestRunMemoryIsBounded syncs 200,000 rows (each with a 200-character name: ~60 MB as
// Go strings alone, several times that as the records sent) twice — all new, then all
// changed against a state of 200,000 keys, merged as a stream — and samples the live
// heap (what the last garbage collection found reachable) while it runs: it must stay
// within a few MB of where it started. The live heap, not the heap in use: the latter
// also counts garbage not collected yet, which grows when the machine is busy and the
// collector runs late, and says nothing about what the run holds.
func TestRunMemoryIsBounded(t *testing.T) {
	n := 200_000
	if testing.Short() {
		n = 20_000
	}
	w := bigWarehouse(t, n)
	dest := newFakeDest()
	dest.keep, dest.discard = false, true
	job := w.job(dest)
	job.Action.BatchSize = 100
	job.Mappings = job.Mappings[:4] // e-mail, phone, name, age

	// What a bounded run may hold: the read-ahead (the queued and free chunks, each at
	// most chunkBytes), plus 8 MB for a batch, its request and the recorder's buffers.
	// It does not depend on the number of rows; holding them would take about 200 MB
	// here.
	const bound = (chunkQueue+chunkFree+2)*chunkBytes + 8<<20
	for _, tc := range []struct {
		name  string
		state *streamState
		want  Counts
	}{
		{"all new", &streamState{}, Counts{Queried: int64(n), Added: int64(n), Sent: int64(n)}},
		{"all changed", &streamState{count: n}, Counts{Queried: int64(n), Changed: int64(n), Sent: int64(n)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runtime.GC()
			base := liveHeap()

			var peak atomic.Uint64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() {
				tick := time.NewTicker(5 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						if live := liveHeap(); live > peak.Load() {
							peak.Store(live)
						}
					}
				}
			})
			start := time.Now()
			res := Options{}.Run(context.Background(), job, tc.state, &quietRecorder{})
			elapsed := time.Since(start)
			close(stop)
			wg.Wait()

			checkBalanced(t, res)
			if res.Err != nil || res.Counts != tc.want {
				t.Fatalf("counts %+v err %v, want %+v", res.Counts, res.Err, tc.want)
			}
			runtime.GC() // the live heap at the end counts too
			grew := int64(max(peak.Load(), liveHeap())) - int64(base)
			t.Logf("%d rows in %s (%.0f rows/s); live heap grew by at most %.1f MB (bound %d MB); %d state commits",
				n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), float64(grew)/(1<<20), bound>>20, tc.state.commits.Load())
			if grew > bound {
				t.Fatalf("live heap grew by %.1f MB syncing %d rows; bounded memory allows %d MB", float64(grew)/(1<<20), n, bound>>20)
			}
		})
	}
}

// liveHeap is the heap the last garbage collection found reachable.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// BenchmarkRun syncs 100,000 rows from SQLite: "new" sends them all (state empty),
// "unchanged" compares them with a state holding all their hashes and sends nothing.
func BenchmarkRun(b *testing.B) {
	const n = 100_000
	w := bigWarehouse(b, n)
	dest := newFakeDest()
	dest.keep, dest.discard = false, true
	job := w.job(dest)
	job.Action.BatchSize = 100
	job.Mappings = job.Mappings[:4]

	b.Run("new", func(b *testing.B) {
		for b.Loop() {
			res := Options{}.Run(context.Background(), job, &streamState{}, &quietRecorder{})
			if res.Err != nil || res.Counts.Sent != n {
				b.Fatalf("counts %+v err %v", res.Counts, res.Err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("unchanged", func(b *testing.B) {
		state := newMemState()
		if res := (Options{}).Run(context.Background(), job, state, &quietRecorder{}); res.Err != nil {
			b.Fatal(res.Err)
		}
		for b.Loop() {
			res := Options{}.Run(context.Background(), job, state, &quietRecorder{})
			if res.Err != nil || res.Counts.Unchanged != n {
				b.Fatalf("counts %+v err %v", res.Counts, res.Err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}
