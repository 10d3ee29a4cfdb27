package jobs_test

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/core"
	"sluice/destinations/webhook"
	"sluice/internal/testutil"
	"sluice/jobs"
	"sluice/models"
	"sluice/sources/postgres"
)

// TestKillHelper is not a test on its own: TestSIGKILLMidRun starts the test binary
// again with SLUICE_KILL_STORE set, and this worker process runs the queued run until
// it is killed.
func TestKillHelper(t *testing.T) {
	url := os.Getenv("SLUICE_KILL_STORE")
	if url == "" {
		t.Skip("run by TestSIGKILLMidRun only")
	}
	store, err := models.Open(url, testutil.Secrets(t))
	if err != nil {
		t.Fatal(err)
	}
	reg := connectors.NewRegistry()
	reg.RegisterSource(postgres.New())
	reg.RegisterDestination(webhook.New(true))
	runner := jobs.NewRunner(store, core.New(store, reg), slog.New(slog.DiscardHandler), jobs.Options{Lease: 2 * time.Second})
	runner.RunOne(context.Background())
	t.Fatal("the run finished before the process was killed")
}

// A process killed (SIGKILL) in the middle of a run: the run is found interrupted, and
// the next run delivers every record not yet acknowledged, and only those.
func TestSIGKILLMidRun(t *testing.T) {
	w := newWorld(t)
	w.exec(`DELETE FROM customers`)
	w.exec(`INSERT INTO customers SELECT i, 'k' || i || '@example.com', '+33612345678', 'Customer ' || i FROM generate_series(1, 3000) AS i`)
	// Batches of 100, each answered slowly, so the kill lands mid-run.
	if _, err := w.store.UpdatePlatform(w.ctx, w.admin, w.platform.ID, mustSpec(t, w), models.PlatformInput{Config: connectors.Config{"batch_size": "100"}}); err != nil {
		t.Fatal(err)
	}
	w.rc.set(func(rc *receiver) { rc.delay = 100 * time.Millisecond })
	queued, err := w.store.EnqueueRun(w.ctx, w.admin.WorkspaceID, w.act.ID, models.TriggerManual, nil, false)
	if err != nil {
		t.Fatal(err)
	}

	child := exec.Command(os.Args[0], "-test.run=^TestKillHelper$", "-test.count=1")
	child.Env = append(os.Environ(), "SLUICE_KILL_STORE="+w.storeURL)
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for w.rc.count() < 500 {
		if time.Now().After(deadline) {
			_ = child.Process.Kill()
			t.Fatalf("the worker process delivered only %d records in 30 s", w.rc.count())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := child.Process.Kill(); err != nil { // SIGKILL: no chance to clean up
		t.Fatal(err)
	}
	_ = child.Wait()
	acknowledged := w.rc.count()
	if acknowledged >= 3000 {
		t.Fatal("the run finished before the kill; nothing was tested")
	}

	// Another instance starts: its reaper finds the run whose lease expired.
	time.Sleep(2500 * time.Millisecond)
	reaped, err := w.store.ReapRuns(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := w.store.RunByID(w.ctx, w.admin.WorkspaceID, queued.ID)
	if len(reaped) != 1 || r.Status != models.RunInterrupted {
		t.Fatalf("after the kill the run is %s (%d reaped), want interrupted", r.Status, len(reaped))
	}

	w.rc.set(func(rc *receiver) { rc.delay = 0 })
	next, _ := w.run()
	if w.rc.count() != 3000 {
		t.Fatalf("after the next run the destination holds %d of 3000 records", w.rc.count())
	}
	// Everything acknowledged before the kill was committed: the next run resends little.
	// The batch in flight when the process died (applied by the webhook, not yet
	// committed) is sent again: at-least-once, at most one batch of 100.
	const batch = 100
	if next.Added > int64(3000-acknowledged+batch) || next.Unchanged < int64(acknowledged-batch) {
		t.Fatalf("the next run resent too much: %+v after %d were acknowledged", next.RunCounts, acknowledged)
	}
	t.Logf("killed after %d acknowledged; the next run added %d, unchanged %d", acknowledged, next.Added, next.Unchanged)
}

func mustSpec(t *testing.T, w *world) connectors.DestinationSpec {
	t.Helper()
	spec, err := w.core.DestinationSpec("webhook")
	if err != nil {
		t.Fatal(err)
	}
	return spec
}
