package jobs

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/engine"
	"sluice/internal/testutil"
	"sluice/models"
)

// recordingRun makes a queued run (and the activation it needs) in a fresh SQLite store.
func recordingRun(t *testing.T) (*models.Store, *models.Run) {
	t.Helper()
	ctx := context.Background()
	s := testutil.Store(t, testutil.SQLiteURL(t))
	_, a := testutil.Admin(t, s)
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
	act, err := s.CreateActivation(ctx, a, models.ActivationInput{Name: "A", SegmentID: g.ID, PlatformID: p.ID, Action: "sync_records"})
	if err != nil {
		t.Fatal(err)
	}
	run, err := s.EnqueueRun(ctx, a.WorkspaceID, act.ID, models.TriggerManual, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return s, run
}

func testChanges(from, n int) []engine.Change {
	out := make([]engine.Change, n)
	for i := range out {
		out[i] = engine.Change{PrimaryKey: fmt.Sprint(from + i), Kind: engine.ChangeAdded}
	}
	return out
}

func countChanges(t *testing.T, s *models.Store, runID string) int64 {
	t.Helper()
	// Entries with a detail are a row each; the others are counted in their groups.
	var rows, grouped int64
	if err := s.DB().Model(&models.RunChange{}).Where("run_id = ?", runID).Count(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Model(&models.RunChangeGroup{}).Where("run_id = ?", runID).Select("COALESCE(SUM(entries), 0)").Scan(&grouped).Error; err != nil {
		t.Fatal(err)
	}
	return rows + grouped
}

// The recorder writes full buffers in the background, one at a time, and the last
// flush writes everything that is left.
func TestRecorderWritesEverything(t *testing.T) {
	s, run := recordingRun(t)
	ctx := context.Background()
	rec := newRecorder(s, run, "owner", time.Minute)
	for i := range 7 {
		if err := rec.Changes(ctx, testChanges(i*900, 900)); err != nil {
			t.Fatal(err)
		}
	}
	if err := rec.Log(ctx, engine.LogLine{Level: "info", Message: "done"}); err != nil {
		t.Fatal(err)
	}
	if err := rec.flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countChanges(t, s, run.ID); n != 7*900 {
		t.Fatalf("%d changes written, want %d", n, 7*900)
	}
	if rec.writing != nil || len(rec.changes)+len(rec.logs) != 0 {
		t.Fatal("the recorder still holds outputs after the last flush")
	}
}

// A background write that fails is reported at the next call (which stops the run), and
// what it did not write is written by the last flush once the store answers again.
func TestRecorderReportsAFailedBackgroundWrite(t *testing.T) {
	s, run := recordingRun(t)
	ctx := context.Background()
	rec := newRecorder(s, run, "owner", time.Minute)
	// Outputs of a run the store does not know fail to be written.
	realID := run.ID
	rec.run = &models.Run{ID: "no-such-run", ActivationID: run.ActivationID}
	if err := rec.Changes(ctx, testChanges(0, flushAt)); err != nil {
		t.Fatalf("starting the write: %v", err)
	}
	var err error
	for range 100 {
		if err = rec.Changes(ctx, nil); err != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err == nil {
		t.Fatal("the failed write was never reported")
	}
	if len(rec.changes) != flushAt {
		t.Fatalf("%d changes buffered again, want %d", len(rec.changes), flushAt)
	}
	// The store takes them once they belong to a run it knows.
	for i := range rec.changes {
		rec.changes[i].RunID = realID
	}
	if err := rec.flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countChanges(t, s, realID); n != flushAt {
		t.Fatalf("%d changes written, want %d", n, flushAt)
	}
}
