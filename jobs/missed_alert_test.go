package jobs_test

import (
	"log/slog"
	"testing"
	"time"

	"sluice/jobs"
	"sluice/models"
)

// A run whose failure was stored but whose incident was not (Sluice died between the
// two) is alerted by the next minute's sweep, once; a run the runner ended itself is
// left alone.
func TestSweepAlertsARunFailedBeforeItsIncident(t *testing.T) {
	w := newWorld(t)
	if _, err := w.store.PutAlertSettings(w.ctx, w.admin, models.AlertSettings{
		Recipients: []string{"ops@example.com"}, Events: []string{models.EventRunFailed}}, false); err != nil {
		t.Fatal(err)
	}
	sc, err := jobs.NewScheduler(w.store, w.runner, slog.New(slog.DiscardHandler), 30)
	if err != nil {
		t.Fatal(err)
	}
	sc.SetClock(func() time.Time { return time.Now().UTC().Add(2 * time.Minute) })
	queued := func() int {
		t.Helper()
		msgs, err := w.store.ClaimAlerts(w.ctx, 100, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return len(msgs)
	}

	// The failure is stored as the runner stores it, and then the process is gone.
	if _, err := w.store.EnqueueRun(w.ctx, w.admin.WorkspaceID, w.act.ID, models.TriggerManual, nil, false); err != nil {
		t.Fatal(err)
	}
	run, err := w.store.ClaimRun(w.ctx, "dead-instance", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.store.FinishRun(w.ctx, run.ID, "dead-instance", models.RunOutcome{Status: models.RunFailed,
		ErrorCategory: "connection", ErrorSide: models.RunSideDestination, ErrorMessage: "The webhook answered 500 Internal Server Error: it failed on its side."}); err != nil {
		t.Fatal(err)
	}
	if n := queued(); n != 0 {
		t.Fatalf("%d alerts queued before the sweep", n)
	}

	if n, err := sc.AlertMissedRuns(w.ctx); err != nil || n != 1 {
		t.Fatalf("sweep recorded %d runs (%v), want 1", n, err)
	}
	list, _, err := w.store.Incidents(w.ctx, w.admin.WorkspaceID, models.IncidentFilter{Status: models.IncidentsOpen})
	if err != nil || len(list) != 1 || list[0].RunID != run.ID || list[0].Event != models.EventRunFailed {
		t.Fatalf("incidents after the sweep: %+v %v", list, err)
	}
	if n := queued(); n != 1 {
		t.Fatalf("%d alerts queued by the sweep, want 1", n)
	}
	if n, err := sc.AlertMissedRuns(w.ctx); err != nil || n != 0 {
		t.Fatalf("a second sweep recorded %d runs (%v), want 0", n, err)
	}

	// A run the runner ended itself already has its incident: the sweep skips it.
	w.rc.set(func(rc *receiver) { rc.status = 500 })
	if r, _ := w.run(); r.Status != models.RunFailed || r.AlertedAt == nil {
		t.Fatalf("run %s, alerted at %v: want failed and alerted", r.Status, r.AlertedAt)
	}
	if n, err := sc.AlertMissedRuns(w.ctx); err != nil || n != 0 {
		t.Fatalf("the sweep recorded %d runs the runner had ended (%v)", n, err)
	}
}
