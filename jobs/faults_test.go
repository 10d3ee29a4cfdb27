package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/engine"
	"sluice/jobs"
	"sluice/models"
)

// tally is a webhook endpoint that counts how many times it applied each key, so a
// test can tell a resend from a first delivery on the receiver's side. It applies a
// request only if the sender still waits for the answer once the delay has passed: a
// request cut short was not acknowledged, and is not applied either.
type tally struct {
	mu       sync.Mutex
	applied  map[string]int
	delay    time.Duration
	down     bool // close every connection without an answer, like a host that is gone
	requests int
}

func newTally(t *testing.T) (*tally, string) {
	tl := &tally{applied: map[string]int{}}
	srv := httptest.NewServer(tl)
	t.Cleanup(srv.Close)
	return tl, srv.URL
}

func (tl *tally) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tl.mu.Lock()
	delay, down := tl.delay, tl.down
	tl.requests++
	tl.mu.Unlock()
	if down {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
		}
		return
	}
	var body struct {
		Records []connectors.Record `json:"records"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	select {
	case <-time.After(delay):
	case <-r.Context().Done():
		return
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if r.Context().Err() != nil {
		return
	}
	for _, rec := range body.Records {
		tl.applied[rec.Key]++
	}
	_, _ = w.Write([]byte(`{"rejected":[]}`))
}

func (tl *tally) set(fn func(tl *tally)) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	fn(tl)
}

// keys is how many distinct keys were applied.
func (tl *tally) keys() int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return len(tl.applied)
}

// resent lists the keys applied more than once.
func (tl *tally) resent() []string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var out []string
	for k, n := range tl.applied {
		if n > 1 {
			out = append(out, k)
		}
	}
	return out
}

// customers replaces the warehouse's customers with n valid ones.
func (w *world) customers(n int) {
	w.t.Helper()
	w.exec(`DELETE FROM customers`)
	w.exec(`INSERT INTO customers SELECT i, 'k' || i || '@example.com', '+33612345678', 'Customer ' || i FROM generate_series(1, $1::int) AS i`, n)
}

// activationTo adds an activation of the world's segment to a webhook platform of its
// own at url, sending batches of batch records.
func (w *world) activationTo(name, url string, batch int, schedule models.Schedule) *models.Activation {
	w.t.Helper()
	p, err := w.core.CreatePlatform(w.ctx, w.admin, "webhook", models.PlatformInput{Name: name, Config: connectors.Config{
		"url": url, "batch_size": fmt.Sprint(batch)}})
	if err != nil || p.Status != models.PlatformConnected {
		w.t.Fatalf("platform %s: %+v %v", name, p, err)
	}
	a, err := w.core.CreateActivation(w.ctx, w.admin, models.ActivationInput{Name: name, SegmentID: w.act.SegmentID, PlatformID: p.ID,
		Action: "sync_records", Schedule: schedule,
		Mappings: []models.Mapping{{From: "email", To: "email", Type: "email"}, {From: "name", To: "name", Type: "string"}}})
	if err != nil {
		w.t.Fatal(err)
	}
	return a
}

// runOf runs one activation now with runner and answers the run, its counts balanced.
func (w *world) runOf(runner *jobs.Runner, activationID string) *models.Run {
	w.t.Helper()
	queued, err := runner.RunNow(w.ctx, w.admin.WorkspaceID, activationID, models.TriggerManual, false)
	if err != nil {
		w.t.Fatal(err)
	}
	if !runner.RunOne(w.ctx) {
		w.t.Fatal("no run was claimed")
	}
	return w.balanced(queued.ID)
}

// balanced is a stored run whose counts must satisfy both accounting equations.
func (w *world) balanced(runID string) *models.Run {
	w.t.Helper()
	r, err := w.store.RunByID(w.ctx, w.admin.WorkspaceID, runID)
	if err != nil {
		w.t.Fatal(err)
	}
	c := engine.Counts{Queried: r.Queried, Added: r.Added, Changed: r.Changed, Removed: r.Removed, Unchanged: r.Unchanged,
		Sent: r.Sent, Rejected: r.Rejected, Unsent: r.Unsent, SourceIssues: r.SourceIssues}
	if !c.Balanced() {
		w.t.Fatalf("run %s (%s): counts do not balance: %+v", r.ID, r.Status, c)
	}
	return r
}

// waitFor polls cond until it holds, failing after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Sluice's own PostgreSQL restarts in the middle of a run: every connection it holds is
// cut. The run ends interrupted or failed with a message in plain words (the driver's
// error stays in the detail), or succeeds if the pool rode it out; its counts balance,
// and the next run succeeds and delivers the rest.
func TestSluiceDatabaseRestartMidRun(t *testing.T) {
	w := newWorld(t)
	const n = 1000
	w.customers(n)
	tl, hook := newTally(t)
	tl.set(func(tl *tally) { tl.delay = 10 * time.Millisecond })
	act := w.activationTo("Restart", hook, 20, models.Schedule{Kind: "manual"})
	const lease = 3 * time.Second
	runner := jobs.NewRunner(w.store, w.core, slog.New(slog.DiscardHandler), jobs.Options{Lease: lease})

	queued, err := runner.RunNow(w.ctx, w.admin.WorkspaceID, act.ID, models.TriggerManual, false)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool, 1)
	go func() { done <- runner.RunOne(w.ctx) }()
	waitFor(t, 30*time.Second, "the run delivered nothing", func() bool { return tl.keys() >= 200 })

	u, err := url.Parse(w.storeURL)
	if err != nil {
		t.Fatal(err)
	}
	// What a restart does to Sluice: every backend of its database goes, and those it
	// opens again go too while the server is "down" (300 ms). Idle connections alone
	// would be replaced unnoticed: the pool checks them before reuse.
	cut := 0
	for down := time.Now().Add(300 * time.Millisecond); time.Now().Before(down); time.Sleep(5 * time.Millisecond) {
		var n int
		if err := w.dw.QueryRow(w.ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
			strings.TrimPrefix(u.Path, "/")).Scan(&n); err != nil {
			t.Fatal(err)
		}
		cut += n
	}
	if cut == 0 {
		t.Fatal("no connection of Sluice's was cut; nothing was tested")
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the run did not end within 60 s of the restart")
	}

	r := w.balanced(queued.ID)
	if r.Status == models.RunRunning {
		t.Fatalf("the run's end was lost with the database: the runner must store it once the database is back (%+v)", r.RunCounts)
	}
	switch r.Status {
	case models.RunInterrupted, models.RunFailed:
	case models.RunSucceeded:
		if r.Sent != n || tl.keys() != n {
			t.Fatalf("the run succeeded with %+v, the destination holds %d of %d", r.RunCounts, tl.keys(), n)
		}
		t.Logf("cut %d connections; the run rode it out (the pool replaced them): %+v", cut, r.RunCounts)
		return
	default:
		t.Fatalf("after the restart the run is %s (%s), want interrupted, failed or succeeded", r.Status, r.ErrorMessage)
	}
	for _, raw := range []string{"SQLSTATE", "57P01", "terminating connection", "pgx", "pgconn", "unexpected EOF", "conn closed"} {
		if strings.Contains(r.ErrorMessage, raw) {
			t.Fatalf("the run's message shows the driver's error (%q): %s", raw, r.ErrorMessage)
		}
	}
	if !strings.Contains(r.ErrorMessage, "own database") && !strings.Contains(r.ErrorMessage, "was stopped") {
		t.Fatalf("the run's message does not say Sluice's database failed: %q", r.ErrorMessage)
	}
	t.Logf("cut %d connections; the run ended %s (%s) after %d sent: %q, detail %q", cut, r.Status, r.ErrorCategory, r.Sent, r.ErrorMessage, r.ErrorDetail)

	delivered := tl.keys()
	tl.set(func(tl *tally) { tl.delay = 0 })
	next := w.runOf(runner, act.ID)
	if next.Status != models.RunSucceeded || tl.keys() != n {
		t.Fatalf("the next run: %s %q, the destination holds %d of %d", next.Status, next.ErrorMessage, tl.keys(), n)
	}
	// The state holds as acknowledged only what was delivered; what was delivered but
	// could not be committed while the database was gone is sent again (at least once).
	if next.Unchanged > int64(delivered) || next.Added+next.Unchanged != n {
		t.Fatalf("the next run: %+v after %d were delivered", next.RunCounts, delivered)
	}
	t.Logf("the next run sent %d, %d unchanged; %d records applied twice", next.Sent, next.Unchanged, len(tl.resent()))
}

// A destination down for an hour, on a fake clock: each run of the hour fails with
// category connection and the activation has one open incident counting them, not one
// per run; the first run after the destination is back succeeds and resolves it.
func TestDestinationDownForAnHour(t *testing.T) {
	w := newWorld(t)
	w.customers(50)
	tl, hook := newTally(t)
	act := w.activationTo("Down", hook, 20, models.Schedule{Kind: "interval", Every: "15m"})

	// Retries wait on the fake clock: the hour passes in no time.
	var slept time.Duration
	var sleepMu sync.Mutex
	runner := jobs.NewRunner(w.store, w.core, slog.New(slog.DiscardHandler), jobs.Options{Engine: engine.Options{
		Sleep: func(ctx context.Context, d time.Duration) error {
			sleepMu.Lock()
			slept += d
			sleepMu.Unlock()
			return ctx.Err()
		}}})
	sched, err := jobs.NewScheduler(w.store, runner, slog.New(slog.DiscardHandler), 30)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().UTC().Truncate(15 * time.Minute).Add(15 * time.Minute)
	now := start
	sched.SetClock(func() time.Time { return now })
	tick := func() *models.Run {
		t.Helper()
		if n, err := sched.Tick(w.ctx, now); err != nil || n != 1 {
			t.Fatalf("tick at %s queued %d runs: %v", now.Format(time.TimeOnly), n, err)
		}
		if !runner.RunOne(w.ctx) {
			t.Fatalf("tick at %s: no run was claimed", now.Format(time.TimeOnly))
		}
		runs, err := w.store.ListRuns(w.ctx, w.admin.WorkspaceID, act.ID, 1)
		if err != nil || len(runs) != 1 || runs[0].ScheduledFor == nil || !runs[0].ScheduledFor.Equal(now) {
			t.Fatalf("the tick's run at %s: %+v %v", now.Format(time.TimeOnly), runs, err)
		}
		return w.balanced(runs[0].ID)
	}

	tl.set(func(tl *tally) { tl.down = true })
	var failed int
	for ; now.Before(start.Add(time.Hour)); now = now.Add(15 * time.Minute) {
		r := tick()
		if r.Status != models.RunFailed || r.ErrorCategory != string(connectors.CategoryConnection) || r.ErrorSide != models.RunSideDestination {
			t.Fatalf("run at %s while the destination is down: %s %s %s %q", now.Format(time.TimeOnly), r.Status, r.ErrorCategory, r.ErrorSide, r.ErrorMessage)
		}
		if r.Sent != 0 || r.Unsent != 50 {
			t.Fatalf("run at %s: %+v", now.Format(time.TimeOnly), r.RunCounts)
		}
		failed++
		open, _, err := w.store.Incidents(w.ctx, w.admin.WorkspaceID, models.IncidentFilter{Status: models.IncidentsOpen})
		if err != nil || len(open) != 1 || open[0].ObjectID != act.ID || open[0].Occurrences != failed || open[0].Category != string(connectors.CategoryConnection) {
			t.Fatalf("after %d failed runs, open incidents: %+v %v", failed, open, err)
		}
	}
	if failed != 4 {
		t.Fatalf("%d runs in the hour, want 4", failed)
	}
	sleepMu.Lock()
	if slept == 0 {
		t.Error("no retry waited: the runs gave up without retrying")
	}
	sleepMu.Unlock()
	p, _ := w.store.PlatformByID(w.ctx, w.admin.WorkspaceID, act.PlatformID)
	a, _ := w.store.ActivationByID(w.ctx, w.admin.WorkspaceID, act.ID)
	if p.Status != models.PlatformConnected || a.Status != models.ActivationActive {
		t.Fatalf("an unreachable destination is not broken credentials: platform %s, activation %s", p.Status, a.Status)
	}

	// Back: the next tick's run delivers everything and closes the incident.
	tl.set(func(tl *tally) { tl.down = false })
	r := tick()
	if r.Status != models.RunSucceeded || r.Sent != 50 || tl.keys() != 50 {
		t.Fatalf("the first run after recovery: %s %+v, destination holds %d", r.Status, r.RunCounts, tl.keys())
	}
	open, _, err := w.store.Incidents(w.ctx, w.admin.WorkspaceID, models.IncidentFilter{Status: models.IncidentsOpen})
	if err != nil || len(open) != 0 {
		t.Fatalf("open incidents after recovery: %+v %v", open, err)
	}
	resolved, _, err := w.store.Incidents(w.ctx, w.admin.WorkspaceID, models.IncidentFilter{Status: models.IncidentsResolved})
	if err != nil || len(resolved) != 1 || resolved[0].Occurrences != 4 || resolved[0].ResolvedAt == nil {
		t.Fatalf("resolved incidents: %+v %v", resolved, err)
	}
}
