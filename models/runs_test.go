package models_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/internal/testutil"
	"sluice/models"
)

// activations makes n activations (with the source, model, segment and platform they
// need) and answers their ids.
func activations(t testing.TB, s *models.Store, a models.Actor, n int) []string {
	t.Helper()
	ctx := context.Background()
	src, err := s.CreateSource(ctx, a, connectors.SourceSpec{Kind: "sqlite", Fields: []connectors.FieldSpec{{Name: "path", Required: true}}},
		models.SourceInput{Name: "W", Config: connectors.Config{"path": "/tmp/w.db"}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.CreateModel(ctx, a, models.ModelInput{SourceID: src.ID, Name: "M", Relation: connectors.Relation{Table: &connectors.Table{Name: "t"}},
		PrimaryKey: "id", Columns: []connectors.Column{{Name: "id", Type: connectors.TypeInteger}}})
	if err != nil {
		t.Fatal(err)
	}
	g, err := s.CreateSegment(ctx, a, models.SegmentInput{ModelID: m.ID, Name: "G", ConditionsJSON: `{"all":[]}`})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.CreatePlatform(ctx, a, connectors.DestinationSpec{Kind: "webhook"}, models.PlatformInput{Name: "P"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range n {
		act, err := s.CreateActivation(ctx, a, models.ActivationInput{Name: fmt.Sprint("A", i), SegmentID: g.ID, PlatformID: p.ID, Action: "sync_records"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, act.ID)
	}
	return ids
}

// Several workers claiming at once each get a different run, and every run is claimed
// exactly once (FOR UPDATE SKIP LOCKED on PostgreSQL, serialised writes on SQLite).
func TestClaimRunOncePerRun(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, a := testutil.Admin(t, s)
		acts := activations(t, s, a, 12)
		for _, id := range acts {
			if _, err := s.EnqueueRun(ctx, a.WorkspaceID, id, models.TriggerManual, nil, false); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		claimed := map[string]int{}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					r, err := s.ClaimRun(ctx, fmt.Sprint("worker-", w), time.Minute)
					if errors.Is(err, models.ErrNotFound) {
						return
					}
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					claimed[r.ID]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(claimed) != len(acts) {
			t.Fatalf("%d runs claimed, want %d", len(claimed), len(acts))
		}
		for id, n := range claimed {
			if n != 1 {
				t.Errorf("run %s claimed %d times", id, n)
			}
		}
	})
}

// A second run of an activation waits while one runs; a tick enqueued twice runs once;
// an expired lease is reaped as interrupted and loses its worker.
func TestRunQueueRules(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, a := testutil.Admin(t, s)
		act := activations(t, s, a, 1)[0]

		tick := time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC)
		first, err := s.EnqueueRun(ctx, a.WorkspaceID, act, models.TriggerSchedule, &tick, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.EnqueueRun(ctx, a.WorkspaceID, act, models.TriggerSchedule, &tick, false); !errors.Is(err, models.ErrConflict) {
			t.Fatalf("the same tick enqueued twice: err = %v, want ErrConflict", err)
		}
		second, err := s.EnqueueRun(ctx, a.WorkspaceID, act, models.TriggerManual, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.ClaimRun(ctx, "w1", 50*time.Millisecond)
		if err != nil || r.ID != first.ID {
			t.Fatalf("first claim = %v, %v", r, err)
		}
		if _, err := s.ClaimRun(ctx, "w2", time.Minute); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("a second run of a running activation was claimed: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
		reaped, err := s.ReapRuns(ctx)
		if err != nil || len(reaped) != 1 || reaped[0].ID != first.ID {
			t.Fatalf("reaped %v, %v", reaped, err)
		}
		if err := s.Heartbeat(ctx, first.ID, "w1", time.Minute, "load", 10); !errors.Is(err, models.ErrLeaseLost) {
			t.Fatalf("heartbeat after the reap: %v, want ErrLeaseLost", err)
		}
		got, _ := s.RunByID(ctx, a.WorkspaceID, first.ID)
		if got.Status != models.RunInterrupted {
			t.Fatalf("status %s, want interrupted", got.Status)
		}
		r, err = s.ClaimRun(ctx, "w2", time.Minute)
		if err != nil || r.ID != second.ID {
			t.Fatalf("after the reap the queued run should be claimed: %v, %v", r, err)
		}
		if _, err := s.CancelRun(ctx, a.WorkspaceID, second.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.Heartbeat(ctx, second.ID, "w2", time.Minute, "load", 1); !errors.Is(err, models.ErrCancelled) {
			t.Fatalf("heartbeat of a cancelled run: %v, want ErrCancelled", err)
		}
	})
}

// Run details past retention are deleted; the runs and their counts stay.
func TestPruneRunDetails(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, a := testutil.Admin(t, s)
		act := activations(t, s, a, 1)[0]
		r, _ := s.EnqueueRun(ctx, a.WorkspaceID, act, models.TriggerManual, nil, false)
		if _, err := s.ClaimRun(ctx, "w", time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := s.AddRunLogs(ctx, []models.RunLog{{RunID: r.ID, At: time.Now(), Level: "info", Message: "hello"}}); err != nil {
			t.Fatal(err)
		}
		if err := s.AddRunIssues(ctx, []models.RunIssue{{RunID: r.ID, PrimaryKey: "1", Stage: "source", Code: "invalid_email"}}); err != nil {
			t.Fatal(err)
		}
		// One timeline entry with a detail (a row), two without (a group's row).
		if err := s.AddRunChanges(ctx, []models.RunChange{{RunID: r.ID, ActivationID: act, PrimaryKey: "1", Kind: "withheld", Detail: "bad"},
			{RunID: r.ID, ActivationID: act, PrimaryKey: "2", Kind: "added"}, {RunID: r.ID, ActivationID: act, PrimaryKey: "3", Kind: "added"}}); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishRun(ctx, r.ID, "w", models.RunOutcome{Status: models.RunWarnings, Counts: models.RunCounts{Queried: 1, SourceIssues: 1}}); err != nil {
			t.Fatal(err)
		}
		if n, err := s.PruneRunDetails(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
			t.Fatalf("a fresh run was pruned: %d, %v", n, err)
		}
		if n, err := s.PruneRunDetails(ctx, time.Now().Add(time.Hour)); err != nil || n != 4 {
			t.Fatalf("pruned %d rows, want 4: %v", n, err)
		}
		if tl, err := s.RecordTimeline(ctx, a.WorkspaceID, act, "2"); err != nil || len(tl) != 0 {
			t.Fatalf("timeline after pruning: %+v %v", tl, err)
		}
		got, _ := s.RunByID(ctx, a.WorkspaceID, r.ID)
		if got.SourceIssues != 1 || got.Status != models.RunWarnings {
			t.Fatalf("the run itself changed: %+v", got)
		}
	})
}

// AddRunWarnings counts the warnings on their run, as the run page and the activation's
// run history read them; RunWarnings answers them in order, from the run's workspace only.
func TestRunWarningCount(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, a := testutil.Admin(t, s)
		act := activations(t, s, a, 1)[0]
		r, err := s.EnqueueRun(ctx, a.WorkspaceID, act, models.TriggerManual, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if ws, err := s.RunWarnings(ctx, r); err != nil || len(ws) != 0 {
			t.Fatalf("a new run's warnings: %v %v", ws, err)
		}
		add := func(msgs ...string) {
			var ws []models.RunWarning
			for _, m := range msgs {
				ws = append(ws, models.RunWarning{WorkspaceID: a.WorkspaceID, RunID: r.ID, Kind: models.WarnSlowRun, Message: m,
					ObjectType: models.WarnObjectRun, ObjectID: r.ID})
			}
			if err := s.AddRunWarnings(ctx, ws); err != nil {
				t.Fatal(err)
			}
		}
		add("first", "second")
		add("third")
		stored, err := s.RunByID(ctx, a.WorkspaceID, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		summaries, err := s.ListRunSummaries(ctx, a.WorkspaceID, act, 10)
		if err != nil {
			t.Fatal(err)
		}
		if stored.WarningCount != 3 || len(summaries) != 1 || summaries[0].WarningCount != 3 {
			t.Fatalf("warning count %d, in the history %v, want 3", stored.WarningCount, summaries)
		}
		ws, err := s.RunWarnings(ctx, stored)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, w := range ws {
			got = append(got, w.Message)
		}
		if fmt.Sprint(got) != "[first second third]" {
			t.Fatalf("warnings %v", got)
		}
		other := *stored
		other.WorkspaceID = "another-workspace"
		if ws, err := s.RunWarnings(ctx, &other); err != nil || len(ws) != 0 {
			t.Fatalf("another workspace's read: %v %v", ws, err)
		}
	})
}
