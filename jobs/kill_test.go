package jobs_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
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

// killTrial is one worker process killed mid-run, and the run after it.
type killTrial struct {
	tl        *tally
	killedAt  int // records the receiver held when the kill was sent
	delivered int // and once the process was gone
	next      *models.Run
}

// killTrials kills a worker process at a random point of a run, trials times: once it
// claimed the run, when the receiver holds a random share of the n records, at a
// random moment within a request (so in the preflight, the extract, between or inside
// batches). A live instance then reaps each run, which must be interrupted, and runs
// the activation again; that run must deliver every record.
func killTrials(t *testing.T, n, batch, trials int) []killTrial {
	w := newWorld(t)
	w.customers(n)
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("seed %d", seed)
	const delay = 25 * time.Millisecond // a fast platform's answer

	type killed struct {
		killTrial
		act *models.Activation
		run string
	}
	var all []killed
	for i := range trials {
		tl, hook := newTally(t)
		tl.set(func(tl *tally) { tl.delay = delay })
		act := w.activationTo(fmt.Sprintf("Kill %d", i), hook, batch, models.Schedule{Kind: "manual"})
		queued, err := w.store.EnqueueRun(w.ctx, w.admin.WorkspaceID, act.ID, models.TriggerManual, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		child := exec.Command(os.Args[0], "-test.run=^TestKillHelper$", "-test.count=1")
		child.Env = append(os.Environ(), "SLUICE_KILL_STORE="+w.storeURL)
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		kill := func() {
			_ = child.Process.Kill() // SIGKILL: no chance to clean up
			_ = child.Wait()
		}
		waitFor(t, 30*time.Second, "the worker process did not claim the run", func() bool {
			r, err := w.store.RunByID(w.ctx, w.admin.WorkspaceID, queued.ID)
			return err == nil && r.Status != models.RunQueued
		})
		target := rng.IntN(n - 4*batch) // four batches left: the kill lands before the end even on a loaded machine
		deadline := time.Now().Add(30 * time.Second)
		for tl.keys() < target {
			if time.Now().After(deadline) {
				kill()
				t.Fatalf("trial %d: the worker process delivered only %d records in 30 s", i, tl.keys())
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Duration(rng.Int64N(int64(delay))))
		at := tl.keys()
		kill()
		if tl.keys() >= n {
			t.Fatalf("trial %d: the run finished before the kill; nothing was tested", i)
		}
		all = append(all, killed{killTrial: killTrial{tl: tl, killedAt: at, delivered: tl.keys()}, act: act, run: queued.ID})
	}

	// A live instance's reaper finds every run whose lease expired (2 s in the helper).
	time.Sleep(2500 * time.Millisecond)
	reaped, err := w.store.ReapRuns(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(reaped) != trials {
		t.Fatalf("%d runs reaped, want %d", len(reaped), trials)
	}
	out := make([]killTrial, len(all))
	for i, k := range all {
		if r, _ := w.store.RunByID(w.ctx, w.admin.WorkspaceID, k.run); r.Status != models.RunInterrupted {
			t.Fatalf("trial %d: the killed run is %s, want interrupted", i, r.Status)
		}
		k.tl.set(func(tl *tally) { tl.delay = 0 })
		k.next = w.runOf(w.runner, k.act.ID)
		if k.next.Status != models.RunSucceeded || k.tl.keys() != n {
			t.Fatalf("trial %d (killed at %d records): the next run is %s, the destination holds %d of %d", i, k.killedAt, k.next.Status, k.tl.keys(), n)
		}
		t.Logf("trial %2d: killed at %3d of %d delivered; the next run added %3d, unchanged %3d; %2d applied twice",
			i, k.killedAt, n, k.next.Added, k.next.Unchanged, len(k.tl.resent()))
		out[i] = k.killTrial
	}
	return out
}

// SIGKILL at random points of a run, 20 times: nothing acknowledged is lost. Every
// killed run is found interrupted, the next run delivers every record, and what the
// stored state holds as acknowledged had reached the receiver before the kill.
func TestSIGKILLAtRandomPoints(t *testing.T) {
	const n = 200
	for i, tr := range killTrials(t, n, 20, 20) {
		if tr.next.Unchanged > int64(tr.delivered) {
			t.Errorf("trial %d: %d records held as acknowledged, but the receiver had only %d", i, tr.next.Unchanged, tr.delivered)
		}
		if tr.next.Added+tr.next.Unchanged != n {
			t.Errorf("trial %d: the next run planned %d and left %d of %d", i, tr.next.Added, tr.next.Unchanged, n)
		}
	}
}

// The same kills, held to the crash-safety bound: no record applied twice beyond one
// batch per run (the run's one sender: the batch in flight when the process died, sent
// and its answer not yet stored).
func TestSIGKILLResendsAtMostOneBatch(t *testing.T) {
	const batch = 20
	for i, tr := range killTrials(t, 200, batch, 20) {
		if resent := tr.tl.resent(); len(resent) > batch {
			t.Errorf("trial %d (killed at %d records): %d records applied twice, more than one batch of %d", i, tr.killedAt, len(resent), batch)
		}
		if tr.next.Unchanged < int64(tr.delivered-batch) {
			t.Errorf("trial %d: %d held as acknowledged after %d were delivered", i, tr.next.Unchanged, tr.delivered)
		}
	}
}

func mustSpec(t *testing.T, w *world) connectors.DestinationSpec {
	t.Helper()
	spec, err := w.core.DestinationSpec("webhook")
	if err != nil {
		t.Fatal(err)
	}
	return spec
}
