package jobs_test

import (
	"log/slog"
	"sync"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/core"
	"sluice/destinations/webhook"
	"sluice/jobs"
	"sluice/models"
	"sluice/sources/postgres"
)

// Two instances on one PostgreSQL tick every-minute schedules of several activations
// for three minutes, each ticking several times a minute and at the same moments: every
// tick becomes exactly one run. Ticks missed while both were down run once.
func TestTicksRunOnceAcrossInstances(t *testing.T) {
	w := newWorld(t)
	var acts []string
	for _, name := range []string{"Every minute A", "Every minute B", "Every minute C"} {
		a, err := w.core.CreateActivation(w.ctx, w.admin, models.ActivationInput{Name: name, SegmentID: w.act.SegmentID, PlatformID: w.platform.ID,
			Action: "sync_records", Mappings: w.act.Mappings(), Schedule: models.Schedule{Kind: "cron", Expr: "* * * * *", Timezone: "UTC"}})
		if err != nil {
			t.Fatal(err)
		}
		acts = append(acts, a.ID)
	}
	reg := connectors.NewRegistry()
	reg.RegisterSource(postgres.New())
	reg.RegisterDestination(webhook.New(true))
	log := slog.New(slog.DiscardHandler)
	var instances []*jobs.Scheduler
	for _, runner := range []*jobs.Runner{w.runner, jobs.NewRunner(w.store, core.New(w.store, reg), log, jobs.Options{})} {
		sc, err := jobs.NewScheduler(w.store, runner, log, 30)
		if err != nil {
			t.Fatal(err)
		}
		instances = append(instances, sc)
	}

	start := time.Now().UTC().Truncate(time.Minute).Add(time.Minute)
	for minute := range 3 {
		for _, offset := range []time.Duration{0, 15 * time.Second, 30 * time.Second, 45 * time.Second} {
			now := start.Add(time.Duration(minute)*time.Minute + offset)
			var wg sync.WaitGroup
			for _, in := range instances {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := in.Tick(w.ctx, now); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
		}
	}
	for _, id := range acts {
		runs, err := w.store.ListRuns(w.ctx, w.admin.WorkspaceID, id, 100)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[time.Time]bool{}
		for _, r := range runs {
			if r.ScheduledFor == nil || r.Trigger != models.TriggerSchedule || seen[*r.ScheduledFor] {
				t.Fatalf("run %+v is not one scheduled run per tick", r)
			}
			seen[*r.ScheduledFor] = true
		}
		// The first tick of each activation is its first minute after creation.
		if len(runs) != 3 {
			t.Fatalf("activation %s has %d runs over 3 minutes of ticks, want 3", id, len(runs))
		}
	}

	// Both instances were down for an hour: the missed ticks run once, at the latest one.
	later := start.Add(63 * time.Minute)
	for _, in := range instances {
		if _, err := in.Tick(w.ctx, later); err != nil {
			t.Fatal(err)
		}
	}
	runs, _ := w.store.ListRuns(w.ctx, w.admin.WorkspaceID, acts[0], 100)
	if len(runs) != 4 || !runs[0].ScheduledFor.Equal(later.Truncate(time.Minute)) {
		t.Fatalf("after an hour down: %d runs, newest for %v", len(runs), runs[0].ScheduledFor)
	}
}
