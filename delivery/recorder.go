package delivery

import (
	"context"
	"slices"
	"time"

	"sluice/connectors"
	"sluice/engine"
	"sluice/models"
)

// stateAdapter lets the engine read and commit an activation's diff state in the store.
type stateAdapter struct{ store *models.Store }

func (a stateAdapter) Scan(ctx context.Context, activationID string, fn func(engine.KeyHash) error) error {
	return a.store.ScanState(ctx, activationID, func(e models.StateEntry) error { return fn(engine.KeyHash{Key: e.Key, Hash: e.Hash}) })
}

func (a stateAdapter) Commit(ctx context.Context, activationID string, upserts []engine.KeyHash, removed []string) error {
	entries := make([]models.StateEntry, len(upserts))
	for i, u := range upserts {
		entries[i] = models.StateEntry{Key: u.Key, Hash: u.Hash}
	}
	return a.store.CommitState(ctx, activationID, entries, removed)
}

func (a stateAdapter) Reset(ctx context.Context, activationID string) error {
	return a.store.ResetState(ctx, activationID)
}

// recorder buffers a run's outputs and writes them in batches; Progress is the heartbeat.
type recorder struct {
	store *models.Store
	run   *models.Run
	owner string
	lease time.Duration

	issues  []models.RunIssue
	changes []models.RunChange
	logs    []models.RunLog
	beat    time.Time
	// stages is when each stage began and ended, for the run page's timing.
	stages []models.RunStage
}

func newRecorder(store *models.Store, run *models.Run, owner string, lease time.Duration) *recorder {
	return &recorder{store: store, run: run, owner: owner, lease: lease}
}

// flushAt is how many buffered outputs trigger a write.
const flushAt = 2000

func (r *recorder) Progress(ctx context.Context, stage string, processed int64) error {
	if err := r.flushIfFull(ctx); err != nil {
		return err
	}
	// Renew the lease at most a few times per lease period, and at each new stage, so
	// the run page shows the stage as it changes.
	if !r.markStage(stage, processed) && time.Since(r.beat) < r.lease/6 && stage != engine.StageFinish {
		return nil
	}
	r.beat = time.Now()
	return r.store.Heartbeat(ctx, r.run.ID, r.owner, r.lease, stage, processed)
}

// markStage notes the stage reported, and reports whether it is a new one: the stage
// before it ends now.
func (r *recorder) markStage(stage string, processed int64) bool {
	now := time.Now().UTC()
	if n := len(r.stages); n > 0 {
		last := &r.stages[n-1]
		if !last.FinishedAt.IsZero() { // the run is over
			return false
		}
		last.Processed = processed
		if last.Stage == stage {
			return false
		}
		last.FinishedAt = now
	}
	if stage != engine.StageFinish { // finish is the end of the last stage, not one of its own
		r.stages = append(r.stages, models.RunStage{Stage: stage, StartedAt: now, Processed: processed})
	}
	return true
}

// stageTimes is when each stage began and ended; a stage still open (the run stopped
// in it) ends now.
func (r *recorder) stageTimes() []models.RunStage {
	out := slices.Clone(r.stages)
	if n := len(out); n > 0 && out[n-1].FinishedAt.IsZero() {
		out[n-1].FinishedAt = time.Now().UTC()
	}
	return out
}

func (r *recorder) Issues(ctx context.Context, issues []engine.Issue) error {
	for _, i := range issues {
		r.issues = append(r.issues, models.RunIssue{RunID: r.run.ID, PrimaryKey: i.PrimaryKey, Stage: i.Stage, Code: i.Code, Field: i.Field, Message: i.Message})
	}
	return r.flushIfFull(ctx)
}

func (r *recorder) Changes(ctx context.Context, changes []engine.Change) error {
	for _, c := range changes {
		r.changes = append(r.changes, models.RunChange{RunID: r.run.ID, ActivationID: r.run.ActivationID, PrimaryKey: c.PrimaryKey, Kind: c.Kind, Detail: c.Detail})
	}
	return r.flushIfFull(ctx)
}

func (r *recorder) Log(ctx context.Context, line engine.LogLine) error {
	if line.At.IsZero() {
		line.At = time.Now()
	}
	r.logs = append(r.logs, models.RunLog{RunID: r.run.ID, At: line.At.UTC(), Level: line.Level, Message: line.Message})
	return r.flushIfFull(ctx)
}

func (r *recorder) Sample(ctx context.Context, ex connectors.Exchange) error {
	return r.store.AddRunSample(ctx, r.run.ID, ex)
}

func (r *recorder) flushIfFull(ctx context.Context) error {
	if len(r.issues)+len(r.changes)+len(r.logs) < flushAt {
		return nil
	}
	return r.flush(ctx)
}

// flush writes what is buffered.
func (r *recorder) flush(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx)
	if err := r.store.AddRunIssues(ctx, r.issues); err != nil {
		return err
	}
	if err := r.store.AddRunChanges(ctx, r.changes); err != nil {
		return err
	}
	if err := r.store.AddRunLogs(ctx, r.logs); err != nil {
		return err
	}
	r.issues, r.changes, r.logs = nil, nil, nil
	return nil
}
