package jobs_test

import (
	"testing"
	"time"

	"sluice/models"
)

// While the platform is slow to answer, the stored run says what it waits for, naming
// the platform, with the request's timeout and try; once the run is over, it does not.
func TestSlowPlatformIsStoredAsTheRunsWait(t *testing.T) {
	w := newWorld(t)
	w.rc.set(func(rc *receiver) { rc.delay = 3 * time.Second }) // the first request is slow
	queued, err := w.runner.RunNow(w.ctx, w.admin.WorkspaceID, w.act.ID, models.TriggerManual, false)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool, 1)
	go func() { done <- w.runner.RunOne(w.ctx) }()

	var seen *models.RunWait
	waitFor(t, 15*time.Second, "the run's wait for the platform", func() bool {
		r, err := w.store.RunByID(w.ctx, w.admin.WorkspaceID, queued.ID)
		if err != nil {
			t.Fatal(err)
		}
		seen = r.Wait()
		return seen != nil
	})
	w.rc.set(func(rc *receiver) { rc.delay = 0 }) // the rest are quick
	if seen.Kind != models.WaitRequest || seen.Object != "CRM" || seen.Timeout != 30*time.Second ||
		seen.Attempt != 1 || seen.MaxAttempts != 5 || time.Since(seen.Since) < 2*time.Second {
		t.Fatalf("stored wait: %+v", *seen)
	}
	if s := seen.Sentence(time.Now()); s == "" {
		t.Fatal("no words for the wait")
	}
	if !<-done {
		t.Fatal("no run was claimed")
	}
	r, err := w.store.RunByID(w.ctx, w.admin.WorkspaceID, queued.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != models.RunWarnings || r.Sent != 40 {
		t.Fatalf("run: %s %+v", r.Status, r.RunCounts)
	}
	if r.WaitJSON != nil {
		t.Fatalf("the finished run still holds a wait: %s", *r.WaitJSON)
	}
}
