package jobs_test

import (
	"log/slog"
	"strings"
	"sync"
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

// twoInstances are two schedulers on one PostgreSQL database, each with its own store
// handle, runner and core, as two app processes would have.
func twoInstances(t *testing.T, w *world) []*jobs.Scheduler {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	second := testutil.Store(t, w.storeURL)
	reg := connectors.NewRegistry()
	reg.RegisterSource(postgres.New())
	reg.RegisterDestination(webhook.New(true))
	var out []*jobs.Scheduler
	for _, in := range []struct {
		store  *models.Store
		runner *jobs.Runner
	}{{w.store, w.runner}, {second, jobs.NewRunner(second, core.New(second, reg), log, jobs.Options{})}} {
		sc, err := jobs.NewScheduler(in.store, in.runner, log, 30)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sc)
	}
	return out
}

// Acceptance 2: driven minute by minute with a fake clock across several days, two
// instances validate each workspace once a day, at its own time inside 00:00–02:00 UTC,
// never twice; and the validation does pause what a broken column touches.
func TestDailyValidationOncePerWorkspaceAcrossInstances(t *testing.T) {
	w := newWorld(t)
	workspaces := []string{w.admin.WorkspaceID}
	for _, name := range []string{"Globex", "Initech", "Umbrella"} {
		ws, err := w.store.CreateWorkspace(w.ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		workspaces = append(workspaces, ws.ID)
	}
	instances := twoInstances(t, w)
	// The phone column is renamed before the first night: the activation maps it.
	w.exec(`ALTER TABLE customers RENAME COLUMN phone TO mobile`)

	const days = 3
	first := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	validated := 0
	for now := first.Add(-time.Hour); now.Before(first.Add(days*24*time.Hour - time.Hour)); now = now.Add(time.Minute) {
		if h := now.Hour(); h >= 3 && h < 23 {
			now = now.Truncate(24 * time.Hour).Add(23 * time.Hour) // nothing happens by day
		}
		var wg sync.WaitGroup
		for _, in := range instances {
			in.SetClock(func() time.Time { return now })
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := in.DailyValidation(w.ctx, now)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				validated += n
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	if validated != days*len(workspaces) {
		t.Errorf("%d validations, want %d (%d workspaces × %d days)", validated, days*len(workspaces), len(workspaces), days)
	}
	starts := map[time.Duration]bool{}
	for _, ws := range workspaces {
		got, err := w.store.ValidationDays(w.ctx, ws)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != days {
			t.Errorf("workspace %s validated on %d days, want %d: %v", ws, len(got), days, got)
		}
		offset := jobs.ValidationOffset(ws)
		starts[offset] = true
		for d := range days {
			day := first.Add(time.Duration(d) * 24 * time.Hour)
			at, ok := got[day.Format(time.DateOnly)]
			want := day.Add(offset).Truncate(time.Minute)
			if want.Before(day.Add(offset)) {
				want = want.Add(time.Minute)
			}
			if !ok || !at.Equal(want) || at.Sub(day) >= 2*time.Hour {
				t.Errorf("workspace %s on %s validated at %v, want %v (inside 00:00–02:00)", ws, day.Format(time.DateOnly), at, want)
			}
		}
	}
	if len(starts) < 2 {
		t.Errorf("every workspace starts at the same offset: %v", starts)
	}
	act, err := w.store.ActivationByID(w.ctx, w.admin.WorkspaceID, w.act.ID)
	if err != nil {
		t.Fatal(err)
	}
	if act.Status != models.ActivationPaused || act.PauseCause != models.PauseCauseSchema || !strings.Contains(act.PauseReason, "column phone is missing from model Customers") {
		t.Errorf("after the night: %s %s %q, want paused for column phone", act.Status, act.PauseCause, act.PauseReason)
	}
}

// A paused activation's ticks are kept as skipped runs with the reason, once per tick
// across instances; once resumed, its ticks queue runs again.
func TestPausedTicksAreSkippedRuns(t *testing.T) {
	w := newWorld(t)
	in := models.ActivationInput{Name: "Every minute", SegmentID: w.act.SegmentID, PlatformID: w.platform.ID, Action: "sync_records",
		Mappings: w.act.Mappings(), Schedule: models.Schedule{Kind: "cron", Expr: "* * * * *", Timezone: "UTC"}}
	a, err := w.core.CreateActivation(w.ctx, w.admin, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.core.Pause(w.ctx, w.admin, a.ID, "waiting for the new list"); err != nil {
		t.Fatal(err)
	}
	instances := twoInstances(t, w)
	start := time.Now().UTC().Truncate(time.Minute).Add(time.Minute)
	tick := func(minutes int) {
		for m := range minutes {
			for _, sc := range instances {
				for _, off := range []time.Duration{0, 20 * time.Second} {
					if _, err := sc.Tick(w.ctx, start.Add(time.Duration(m)*time.Minute+off)); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	tick(3)
	runs, err := w.store.ListRuns(w.ctx, w.admin.WorkspaceID, a.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 {
		t.Fatalf("%d runs over 3 paused minutes, want 3 skipped", len(runs))
	}
	for _, r := range runs {
		if r.Status != models.RunSkipped || r.ScheduledFor == nil || !strings.Contains(r.ErrorMessage, "waiting for the new list") {
			t.Errorf("run %s %v %q, want skipped with the pause's reason", r.Status, r.ScheduledFor, r.ErrorMessage)
		}
	}
	if _, err := w.core.Resume(w.ctx, w.admin, a.ID); err != nil {
		t.Fatal(err)
	}
	start = start.Add(3 * time.Minute)
	tick(1)
	runs, _ = w.store.ListRuns(w.ctx, w.admin.WorkspaceID, a.ID, 100)
	if len(runs) != 4 || runs[0].Status != models.RunQueued {
		t.Fatalf("after resuming: %d runs, newest %s; want a queued one", len(runs), runs[0].Status)
	}
}

// A threshold pause lifts when validation finds the segment's source issues back under
// the threshold, counted over the whole segment without sending; not before.
func TestThresholdPauseLiftsUnderThreshold(t *testing.T) {
	w := newWorld(t)
	in := models.ActivationInput{Name: w.act.Name, SegmentID: w.act.SegmentID, PlatformID: w.platform.ID, Action: "sync_records",
		Mappings: w.act.Mappings(), Schedule: models.Schedule{Kind: "manual"},
		Settings: models.ActivationSettings{DefaultPhoneRegion: "FR", SendRemovals: true, SourceIssueThreshold: 5}}
	if _, err := w.core.UpdateActivation(w.ctx, w.admin, w.act.ID, in); err != nil {
		t.Fatal(err)
	}
	w.run()
	paused := func() *models.Activation {
		a, err := w.store.ActivationByID(w.ctx, w.admin.WorkspaceID, w.act.ID)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if a := paused(); a.Status != models.ActivationPaused || a.PauseCause != models.PauseCauseThreshold {
		t.Fatalf("after the run: %s %s, want a threshold pause", a.Status, a.PauseCause)
	}
	sent := w.rc.count()
	if err := w.runner.RecheckThresholds(w.ctx, w.admin.WorkspaceID); err != nil {
		t.Fatal(err)
	}
	if a := paused(); a.Status != models.ActivationPaused {
		t.Fatalf("still over the threshold but %s", a.Status)
	}
	w.exec(`UPDATE customers SET email = 'fixed' || id || '@example.com', phone = '06 12 34 56 78'`)
	w.exec(`DELETE FROM customers WHERE id = 43 AND name = 'Second copy'`)
	if err := w.runner.RecheckThresholds(w.ctx, w.admin.WorkspaceID); err != nil {
		t.Fatal(err)
	}
	if a := paused(); a.Status != models.ActivationActive {
		t.Fatalf("under the threshold but %s (%s)", a.Status, a.PauseReason)
	}
	if w.rc.count() != sent {
		t.Errorf("the re-check sent %d records", w.rc.count()-sent)
	}
}
