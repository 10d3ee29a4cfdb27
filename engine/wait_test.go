package engine

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"sluice/connectors"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// timedDest is fakeDest with a request timeout (connectors.RequestTimeouter).
type timedDest struct{ *fakeDest }

func (timedDest) RequestTimeout() time.Duration { return 30 * time.Second }

// waitFor blocks until ch is closed or a few seconds passed.
func waitFor(ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-time.After(5 * time.Second):
		return errors.New("the wait was never reported")
	}
}

// reportedOnce closes the channel the first time onWait sees a wait of kind.
func reportedOnce(rec *memRecorder, kind string) <-chan struct{} {
	ch := make(chan struct{})
	var once sync.Once
	rec.onWait = func(w *Wait) {
		if w != nil && w.Kind == kind {
			once.Do(func() { close(ch) })
		}
	}
	return ch
}

// onlyWait is the one wait of kind reported, failing unless there is exactly one and
// the last report cleared it.
func onlyWait(t *testing.T, rec *memRecorder, kind string) Wait {
	t.Helper()
	waits := rec.reportedWaits()
	var found []*Wait
	for _, w := range waits {
		if w != nil && w.Kind == kind {
			found = append(found, w)
		}
	}
	if len(found) != 1 {
		t.Fatalf("waits of kind %s reported: %d, want 1 (all: %v)", kind, len(found), waits)
	}
	if last := waits[len(waits)-1]; last != nil {
		t.Fatalf("the last wait reported is %+v, want it cleared", *last)
	}
	return *found[0]
}

func TestSlowRequestIsReportedAsAWaitThenCleared(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	w.insert(customer{id: 1, email: "a@example.com", name: "Ann", active: 1}, customer{id: 2, email: "b@example.com", name: "Bob", active: 1})
	clock := &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	rec := &memRecorder{}
	shown := reportedOnce(rec, WaitRequest)
	dest := newFakeDest()
	dest.script = func(call int, _ connectors.Batch) ([]connectors.Rejection, error) {
		clock.advance(3 * time.Second) // the platform takes 3 s to answer
		return nil, waitFor(shown)
	}
	job := w.job(timedDest{dest})
	job.DestinationName = "Acme CRM"
	opts := fastOptions(nil)
	opts.Now = clock.now
	res := opts.Run(context.Background(), job, newMemState(), rec)
	checkBalanced(t, res)
	if res.Err != nil {
		t.Fatalf("run failed: %v", res.Err)
	}
	got := onlyWait(t, rec, WaitRequest)
	want := Wait{Kind: WaitRequest, Object: "Acme CRM", Since: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
		Timeout: 30 * time.Second, Attempt: 1, MaxAttempts: DefaultMaxAttempts}
	if got != want {
		t.Fatalf("wait reported:\n got %+v\nwant %+v", got, want)
	}
}

func TestQuickRequestIsNotReportedAsAWait(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	w.insert(customer{id: 1, email: "a@example.com", name: "Ann", active: 1})
	rec := &memRecorder{}
	dest := newFakeDest()
	dest.script = func(int, connectors.Batch) ([]connectors.Rejection, error) {
		time.Sleep(1200 * time.Millisecond) // past a heartbeat, below WaitThreshold
		return nil, nil
	}
	res := fastOptions(nil).Run(context.Background(), w.job(dest), newMemState(), rec)
	if res.Err != nil {
		t.Fatalf("run failed: %v", res.Err)
	}
	if waits := rec.reportedWaits(); len(waits) != 0 {
		t.Fatalf("waits reported for a request of 1.2 s: %v", waits)
	}
}

func TestRetryBackoffIsReportedWithTheLastAnswer(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	w.insert(customer{id: 1, email: "a@example.com", name: "Ann", active: 1})
	clock := &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	rec := &memRecorder{}
	shown := reportedOnce(rec, WaitBackoff)
	dest := newFakeDest()
	dest.script = func(call int, _ connectors.Batch) ([]connectors.Rejection, error) {
		if call == 1 {
			return nil, httpError(503, connectors.CategoryConnection, true, 4*time.Second, "busy")
		}
		return nil, nil
	}
	job := w.job(dest)
	job.DestinationName = "Acme CRM"
	opts := fastOptions(nil)
	opts.Now = clock.now
	opts.Sleep = func(ctx context.Context, d time.Duration) error {
		if err := waitFor(shown); err != nil {
			return err
		}
		clock.advance(d)
		return ctx.Err()
	}
	res := opts.Run(context.Background(), job, newMemState(), rec)
	checkBalanced(t, res)
	if res.Err != nil || res.Counts.Sent != 1 {
		t.Fatalf("run: %v, sent %d, want 1 sent", res.Err, res.Counts.Sent)
	}
	got := onlyWait(t, rec, WaitBackoff)
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	want := Wait{Kind: WaitBackoff, Object: "Acme CRM", Since: start, Until: start.Add(4 * time.Second),
		Attempt: 2, MaxAttempts: DefaultMaxAttempts, LastAnswer: "503 Service Unavailable"}
	if got != want {
		t.Fatalf("wait reported:\n got %+v\nwant %+v", got, want)
	}
}

// slowSource holds the segment's query back until release is closed (or its context
// ends), then answers it.
type slowSource struct {
	connectors.Source
	started func()
	release chan struct{}
}

func (s *slowSource) Query(ctx context.Context, sql string, args []any, fn func(row []any) error) error {
	s.started()
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Source.Query(ctx, sql, args, fn)
}

func TestWaitForTheWarehouseRenewsTheLeaseAndIsReported(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	w.insert(customer{id: 1, email: "a@example.com", name: "Ann", active: 1})
	clock := &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	rec := &memRecorder{}
	src := &slowSource{Source: w.src, release: make(chan struct{}),
		started: func() { clock.advance(5 * time.Second) }} // the warehouse is slow to start
	var beats int
	var once sync.Once
	rec.failProgress = func(stage string, _ int64) error {
		if stage == StageExtract {
			beats++
			if beats >= 3 { // the stage's start, then two heartbeats during the query
				once.Do(func() { close(src.release) })
			}
		}
		return nil
	}
	job := w.job(newFakeDest())
	job.Source, job.SourceName = src, "Sales warehouse"
	opts := fastOptions(nil)
	opts.Now = clock.now
	res := opts.Run(context.Background(), job, newMemState(), rec)
	checkBalanced(t, res)
	if res.Err != nil || res.Counts.Sent != 1 {
		t.Fatalf("run: %v, sent %d, want 1 sent", res.Err, res.Counts.Sent)
	}
	got := onlyWait(t, rec, WaitQuery)
	if got.Object != "Sales warehouse" || !got.Since.Equal(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("wait reported: %+v", got)
	}
}

func TestLeaseLostWhileTheWarehouseIsSlowStopsTheRun(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	w.insert(customer{id: 1, email: "a@example.com", name: "Ann", active: 1})
	rec := &memRecorder{}
	src := &slowSource{Source: w.src, release: make(chan struct{}), started: func() {}} // never released
	lost := errors.New("lease lost")
	var calls int
	rec.failProgress = func(stage string, _ int64) error {
		if stage == StageExtract {
			calls++
			if calls == 2 { // the first heartbeat during the query: another worker took the run
				return lost
			}
		}
		return nil
	}
	job := w.job(newFakeDest())
	job.Source = src
	done := make(chan Result, 1)
	go func() { done <- fastOptions(nil).Run(context.Background(), job, newMemState(), rec) }()
	select {
	case res := <-done:
		checkBalanced(t, res)
		if res.Err == nil || !errors.Is(res.Err, lost) {
			t.Fatalf("run error %v, want the lost lease", res.Err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the run kept waiting for the warehouse after its lease was lost")
	}
}
