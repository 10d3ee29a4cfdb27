package jobs

import (
	"context"
	"errors"
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

func (a stateAdapter) Commit(ctx context.Context, activationID string, c engine.Commit) error {
	mc := models.StateCommit{Upserts: stateEntries(c.Upserts), Removed: c.Removed, Settled: c.Settled}
	for _, in := range c.Intents {
		mc.Intents = append(mc.Intents, models.StateIntent{Batch: in.Batch, Entries: stateEntries(in.Keys),
			Planned: stateEntries(in.Planned.Upserts), PlannedRemoved: in.Planned.Removed})
	}
	return a.store.CommitState(ctx, activationID, mc)
}

func (a stateAdapter) Answer(ctx context.Context, activationID, batch string, ans engine.Answer) error {
	if ans.AsPlanned {
		return a.store.AnswerStateAsPlanned(ctx, activationID, batch)
	}
	return a.store.AnswerState(ctx, activationID, batch, stateEntries(ans.Upserts), ans.Removed)
}

func stateEntries(khs []engine.KeyHash) []models.StateEntry {
	out := make([]models.StateEntry, len(khs))
	for i, kh := range khs {
		out[i] = models.StateEntry{Key: kh.Key, Hash: kh.Hash}
	}
	return out
}

func (a stateAdapter) Reset(ctx context.Context, activationID string) error {
	return a.store.ResetState(ctx, activationID)
}

// recorder buffers a run's outputs and writes them in batches; Progress is the heartbeat.
type recorder struct {
	store *models.Store
	run   *models.Run
	owner string
	// codes counts the run's source issues by code (issueCodes).
	codes map[string]int64
	lease time.Duration

	issues  []models.RunIssue
	changes []models.RunChange
	logs    []models.RunLog
	beat    time.Time
	// writing, when set, delivers the outcome of the write in flight: at most one
	// buffer is written in the background while the run goes on.
	writing chan written
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
	err := r.store.Heartbeat(ctx, r.run.ID, r.owner, r.lease, stage, processed)
	if err == nil || errors.Is(err, models.ErrLeaseLost) || errors.Is(err, models.ErrCancelled) || ctx.Err() != nil {
		return err
	}
	// Sluice's own database failed (restarted, unreachable): say so in plain words; the
	// driver's error is the detail.
	return &connectors.Error{Category: connectors.CategoryConnection, Retryable: true,
		Message: "Sluice lost its connection to its own database during the run. Records it had not recorded as sent are sent again by the next run.",
		Detail:  err.Error(), Err: err}
}

// Waiting stores what the run waits for, with the run (the engine reports a new wait
// at most about once a second, and clears it when the wait ends). A failure is ignored:
// the wait is a hint, not part of the outcome, and the next heartbeat finds a lost lease
// or a database gone.
func (r *recorder) Waiting(ctx context.Context, w *engine.Wait) {
	var mw *models.RunWait
	if w != nil {
		mw = &models.RunWait{Kind: waitKind(w.Kind), Object: w.Object, Since: w.Since, Until: w.Until, Timeout: w.Timeout,
			Attempt: w.Attempt, MaxAttempts: w.MaxAttempts, LastAnswer: connectors.MaskURLs(w.LastAnswer)}
	}
	_ = r.store.SetRunWait(ctx, r.run.ID, r.owner, mw)
}

// waitKind is the stored kind of the engine's wait.
func waitKind(kind string) string {
	switch kind {
	case engine.WaitRequest:
		return models.WaitRequest
	case engine.WaitBackoff:
		return models.WaitBackoff
	case engine.WaitQuery:
		return models.WaitQuery
	}
	return kind
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
		if i.Stage == engine.IssueStageSource {
			if r.codes == nil {
				r.codes = map[string]int64{}
			}
			r.codes[i.Code]++
		}
		r.issues = append(r.issues, models.RunIssue{RunID: r.run.ID, PrimaryKey: i.PrimaryKey, Stage: i.Stage, Code: i.Code, Field: i.Field, Message: i.Message})
	}
	return r.flushIfFull(ctx)
}

// issueCodes is how many source issues of each code the run recorded.
func (r *recorder) issueCodes() map[string]int64 { return r.codes }

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
	// A URL's user info and query are secrets, whatever a connector's detail quoted.
	r.logs = append(r.logs, models.RunLog{RunID: r.run.ID, At: line.At.UTC(), Level: line.Level, Message: connectors.MaskURLs(line.Message)})
	return r.flushIfFull(ctx)
}

func (r *recorder) Sample(ctx context.Context, ex connectors.Exchange) error {
	ex.URL = connectors.MaskURL(ex.URL) // connectors mask it already; a sample never keeps a URL's secrets
	return r.store.AddRunSample(ctx, r.run.ID, ex)
}

// written is the outcome of a background write: its error, and what it did not write.
type written struct {
	err     error
	issues  []models.RunIssue
	changes []models.RunChange
	logs    []models.RunLog
}

// flushIfFull starts writing the buffer in the background once it holds flushAt
// outputs, after the previous write ended: the run reads and sends meanwhile (on a
// million-record run, the timeline alone is a million rows). A failed write is
// reported at the next call, which stops the run, and its outputs go back to the buffer
// for the last flush to try again.
func (r *recorder) flushIfFull(ctx context.Context) error {
	if len(r.issues)+len(r.changes)+len(r.logs) < flushAt {
		return r.collect(false)
	}
	if err := r.collect(true); err != nil {
		return err
	}
	issues, changes, logs := r.issues, r.changes, r.logs
	r.issues, r.changes, r.logs = nil, nil, nil
	done := make(chan written, 1)
	r.writing = done
	wctx := context.WithoutCancel(ctx)
	go func() { done <- r.write(wctx, issues, changes, logs) }()
	return nil
}

// collect takes the outcome of the write in flight, waiting for it when wait, else
// only if it has ended. What a failed write did not write is buffered again, first.
func (r *recorder) collect(wait bool) error {
	if r.writing == nil {
		return nil
	}
	var w written
	if wait {
		w = <-r.writing
	} else {
		select {
		case w = <-r.writing:
		default:
			return nil
		}
	}
	r.writing = nil
	if w.err != nil {
		r.issues = append(w.issues, r.issues...)
		r.changes = append(w.changes, r.changes...)
		r.logs = append(w.logs, r.logs...)
	}
	return w.err
}

// flush writes what is buffered, after the write in flight; what that one failed to
// write is tried again with the rest.
func (r *recorder) flush(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx)
	_ = r.collect(true) // a failure was, or is now, reported by the write below
	w := r.write(ctx, r.issues, r.changes, r.logs)
	r.issues, r.changes, r.logs = w.issues, w.changes, w.logs
	return w.err
}

// write writes issues, changes and logs, in that order; on failure it answers what it
// did not write.
func (r *recorder) write(ctx context.Context, issues []models.RunIssue, changes []models.RunChange, logs []models.RunLog) written {
	if err := r.store.AddRunIssues(ctx, issues); err != nil {
		return written{err: err, issues: issues, changes: changes, logs: logs}
	}
	if err := r.store.AddRunChanges(ctx, changes); err != nil {
		return written{err: err, changes: changes, logs: logs}
	}
	if err := r.store.AddRunLogs(ctx, logs); err != nil {
		return written{err: err, logs: logs}
	}
	return written{}
}
