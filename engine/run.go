package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"sluice/connectors"
)

// Options tune runs. The zero value takes the defaults; main builds one from config, and
// tests shrink the delays and replace the clock.
type Options struct {
	// MaxAttempts is how many times one batch is tried before the run gives up on it
	// (default 5).
	MaxAttempts int
	// BaseDelay is the ceiling of the first wait between attempts; it doubles at each
	// attempt (default 500 ms). Each wait is drawn at random below the ceiling (full
	// jitter), so activations sharing a platform do not retry in step.
	BaseDelay time.Duration
	// MaxDelay caps the ceiling (default 30 s). A destination asking (Retry-After) to
	// wait longer than MaxDelay stops the run instead: the next run will resend.
	MaxDelay time.Duration
	// Now is the clock of log lines and timings (default time.Now).
	Now func() time.Time
	// Sleep waits d, or returns ctx's error if ctx ends first (default: a timer).
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter draws a wait in [0, ceiling) (default math/rand/v2).
	Jitter func(ceiling time.Duration) time.Duration
}

// Defaults of Options.
const (
	DefaultMaxAttempts = 5
	DefaultBaseDelay   = 500 * time.Millisecond
	DefaultMaxDelay    = 30 * time.Second
	// DefaultBatchSize is used when an action does not say how many records a Write takes.
	DefaultBatchSize = 100
)

func (o Options) withDefaults() Options {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = DefaultBaseDelay
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = DefaultMaxDelay
	}
	if o.MaxDelay < o.BaseDelay {
		o.MaxDelay = o.BaseDelay
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Jitter == nil {
		o.Jitter = func(ceiling time.Duration) time.Duration {
			if ceiling <= 0 {
				return 0
			}
			return rand.N(ceiling)
		}
	}
	return o
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Run executes one run with the default Options. See Options.Run.
func Run(ctx context.Context, job Job, state State, rec Recorder) Result {
	return Options{}.Run(ctx, job, state, rec)
}

// Run executes one run of job: extract → duplicate keys → validate → diff → load →
// commit (DESIGN.md "A run, step by step"), streaming, so memory is bounded by the
// batches under way (the one being filled, and pipelineDepth being committed, sent or
// settled) and the rows read ahead (at most 32,768, some 8 MB) whatever the segment's
// size. It
// never returns without accounting for every row and every planned change: the
// returned Counts balance, or Err says (in category internal) that they did not.
func (o Options) Run(ctx context.Context, job Job, state State, rec Recorder) Result {
	r := &run{opts: o.withDefaults(), job: job, state: state, rec: rec}
	start := r.opts.Now()
	ce := r.run(ctx)
	if ce != nil {
		r.stopped(ctx, ce)
	}
	if r.shown != nil { // the run waits for nothing any more
		r.shown = nil
		r.rec.Waiting(context.WithoutCancel(ctx), nil)
	}
	if err := r.flushRecords(ctx); err != nil && ce == nil {
		ce = err
	}
	res := Result{Counts: r.counts, Err: ce, DuplicateKeys: r.dups, Side: r.sideOf(ce)}
	if !res.Counts.Balanced() {
		res.Side = SideSluice
		c := res.Counts
		res.Err = &connectors.Error{Category: CategoryInternal,
			Message: "Sluice lost track of some records in this run; it was stopped so nothing is reported wrong. Please report this.",
			Detail: fmt.Sprintf("counts do not balance: queried %d vs added %d + changed %d + unchanged %d + source issues %d; planned %d vs sent %d + rejected %d + unsent %d",
				c.Queried, c.Added, c.Changed, c.Unchanged, c.SourceIssues, c.Added+c.Changed+c.Removed, c.Sent, c.Rejected, c.Unsent),
			Err: ce}
		r.logf(ctx, "error", "Internal error: %s.", res.Err.Detail)
		return res
	}
	if res.Err == nil {
		r.logf(ctx, "info", "Run finished in %s: %s queried, %s sent, %s rejected, %s source issues.",
			seconds(r.opts.Now().Sub(start)), group(r.counts.Queried), group(r.counts.Sent), group(r.counts.Rejected), group(r.counts.SourceIssues))
		_ = r.rec.Progress(ctx, StageFinish, r.processed)
	}
	return res
}

// run is one run's working state.
type run struct {
	opts  Options
	job   Job
	state State
	rec   Recorder
	plan  *plan
	// sampler, set by Sample, collects the records instead of sending them.
	sampler *sampler

	counts Counts
	dups   int64
	dupKey int64 // distinct keys shared by several rows

	// the merge with the stored state
	stateNext func() (KeyHash, error, bool)
	head      KeyHash
	headOK    bool
	lastState string
	scanned   int64
	leftAlone int64

	// the group of rows sharing the current key
	cur    extracted
	curN   int64
	curHas bool
	held   []any    // cur's values
	norm   []nval   // normalized values of the row being checked
	arena  []byte   // the text of those formatted for it (dates, numbers as text)
	extra  []any    // and those of no type a nval holds
	enc    []byte   // its canonical encoding
	names  [][]byte // each field's name as the encoding writes it

	// load
	batch      []planned   // being filled
	free       [][]planned // buffers of batches settled, to fill again
	pipe       *pipeline   // the batches planned, being committed and sent
	batchBytes int
	batchNo    int
	requests   int
	exchanges  int
	loadTime   time.Duration

	// recorder buffers and progress
	issues  []Issue
	changes []Change
	recErr  *connectors.Error // the first failure to record issues or changes
	stage   string
	// sides is which end each error that may stop the run came from (see blame); the
	// sender goroutine writes it too.
	sideMu    sync.Mutex
	sides     map[*connectors.Error]string
	processed int64
	reported  int64

	// waits: what the sender waits for (a request under way, a retry's pause) and what
	// the run's goroutine waits for (the segment's first rows); reportWait tells the
	// recorder. Each Wait set is new and never changed, so a pointer tells it apart.
	waitMu   sync.Mutex
	sending  *Wait
	querying *Wait
	shown    *Wait     // the run's goroutine only: what the recorder was last told
	shownAt  time.Time // and when
}

// run is the body of Run: it returns the error that stops the run, if any; whatever is
// still planned when it returns is counted unsent by stopped.
func (r *run) run(ctx context.Context) *connectors.Error {
	if ce := r.progressStage(ctx, StagePreflight); ce != nil {
		return ce
	}
	p, ce := newPlan(r.job)
	if ce != nil {
		return r.blame(SideActivation, ce)
	}
	r.plan = p
	r.logf(ctx, "info", "Extracting the segment ordered by primary key %s: %s", r.job.PrimaryKey, p.sql)
	if p.sendRemovals {
		r.logf(ctx, "info", "Records that left the segment are removed at the destination.")
	} else if r.job.Action.Removals {
		r.logf(ctx, "info", "Records that left the segment are left at the destination: this activation does not send removals.")
	} else {
		r.logf(ctx, "info", "Records that left the segment are left at the destination: the action %s cannot remove records.", r.job.Action.Name)
	}

	if r.job.Settings.FullResync {
		if err := r.state.Reset(ctx, r.job.ActivationID); err != nil {
			return r.internalStateError(ctx, "reset", err)
		}
		r.logf(ctx, "info", "Full resync: the stored state was reset, so every record in the segment is sent again.")
	} else {
		next, stop := r.readState(ctx)
		defer stop()
		r.stateNext = next
		if ce := r.advance(ctx); ce != nil {
			return ce
		}
	}

	if ce := r.progressStage(ctx, StageExtract); ce != nil {
		return ce
	}
	start := r.opts.Now()
	if ce := r.extract(ctx); ce != nil {
		return ce
	}
	// The stream is complete: every stored key not seen has left the segment.
	for r.headOK {
		if ce := r.gone(ctx, r.head); ce != nil {
			return ce
		}
		if ce := r.advance(ctx); ce != nil {
			return ce
		}
	}
	r.logf(ctx, "info", "Extracted %s rows in %s (including the time spent sending).", group(r.counts.Queried), seconds(r.opts.Now().Sub(start)))
	r.logDiff(ctx)

	if ce := r.progressStage(ctx, StageLoad); ce != nil {
		return ce
	}
	if ce := r.finishLoad(ctx); ce != nil {
		return ce
	}
	r.logf(ctx, "info", "Loaded %s in %s (%d requests): %s acknowledged, %s rejected.",
		plural(r.counts.Sent+r.counts.Rejected, "record", "records"), seconds(r.loadTime), r.requests, group(r.counts.Sent), group(r.counts.Rejected))
	return nil
}

func (r *run) logDiff(ctx context.Context) {
	c := r.counts
	base := "Compared with the last acknowledged state"
	if !r.job.Settings.FullResync {
		base = fmt.Sprintf("Compared with the %s in the sync state", plural(r.scanned, "record", "records"))
	}
	r.logf(ctx, "info", "%s: %s added, %s changed, %s unchanged, %s to remove; %s rows withheld as source issues.",
		base, group(c.Added), group(c.Changed), group(c.Unchanged), group(c.Removed), group(c.SourceIssues))
	if r.dups > 0 {
		r.logf(ctx, "warn", "%s share %s: those rows are not sent, since which copy is right cannot be known. Fix the model so its primary key is unique.",
			plural(r.dups, "row", "rows"), plural(r.dupKey, "primary key", "primary keys"))
	}
	if r.leftAlone > 0 {
		r.logf(ctx, "info", "%s left the segment and stayed at the destination (removals are not sent).", plural(r.leftAlone, "record", "records"))
	}
}

// advance moves the state stream to its next key, checking it comes in byte order.
func (r *run) advance(ctx context.Context) *connectors.Error {
	r.headOK = false
	if r.stateNext == nil {
		return nil
	}
	kh, err, ok := r.stateNext()
	if !ok {
		r.stateNext = nil
		return nil
	}
	if err != nil {
		r.stateNext = nil
		return r.internalStateError(ctx, "read", err)
	}
	if r.scanned > 0 && kh.Key <= r.lastState {
		return r.internal("The stored sync state came out of order.",
			fmt.Sprintf("state key %q after %q: State.Scan must yield keys in strictly increasing byte order", kh.Key, r.lastState))
	}
	r.scanned++
	r.lastState = kh.Key
	r.head, r.headOK = kh, true
	return nil
}

// merge moves the state stream up to key: stored keys before it have left the segment.
// It reports whether key is stored, and its acknowledged hash.
func (r *run) merge(ctx context.Context, key string) (present bool, hash uint64, ce *connectors.Error) {
	for r.headOK && r.head.Key < key {
		if ce := r.gone(ctx, r.head); ce != nil {
			return false, 0, ce
		}
		if ce := r.advance(ctx); ce != nil {
			return false, 0, ce
		}
	}
	if r.headOK && r.head.Key == key {
		hash = r.head.Hash
		if ce := r.advance(ctx); ce != nil {
			return false, 0, ce
		}
		return true, hash, nil
	}
	return false, 0, nil
}

// gone handles a stored key the segment no longer has.
func (r *run) gone(ctx context.Context, kh KeyHash) *connectors.Error {
	if !r.plan.sendRemovals {
		r.leftAlone++
		return nil
	}
	r.counts.Removed++
	return r.schedule(ctx, planned{rec: connectors.Record{Key: kh.Key, Op: connectors.OpRemove}, kind: ChangeRemoved})
}

// stopped accounts for a run that stops early: every planned change not acknowledged is
// unsent (the next run plans it again, since it was not committed).
func (r *run) stopped(ctx context.Context, ce *connectors.Error) {
	// The batches under way are settled first: what they delivered counts as sent.
	r.closePipeline(ctx)
	ctx = context.WithoutCancel(ctx)
	r.unsend(ctx, r.batch)
	clear(r.batch)
	r.batch = r.batch[:0]
	unsent := r.counts.Unsent
	label := ce.Category.Label()
	r.logf(ctx, "error", "The run stopped (%s): %s", label, ce.Message)
	if ce.Detail != "" {
		r.logf(ctx, "error", "Detail: %s", ce.Detail)
	}
	if unsent > 0 {
		r.logf(ctx, "warn", "%s not sent; nothing is lost: they are planned again next run.", plural(unsent, "planned change was", "planned changes were"))
	}
}

// progressStage reports a stage change.
func (r *run) progressStage(ctx context.Context, stage string) *connectors.Error {
	r.stage = stage
	return r.progress(ctx)
}

// tick counts processed rows and reports progress every 1,000.
func (r *run) tick(ctx context.Context, n int64) *connectors.Error {
	r.processed += n
	if r.sampler != nil && r.sampler.enough(n, r.counts.SourceIssues) {
		return errSampled
	}
	if r.recErr != nil {
		return r.recErr
	}
	if r.processed-r.reported >= progressEvery {
		return r.progress(ctx)
	}
	return nil
}

const progressEvery = 1000

func (r *run) progress(ctx context.Context) *connectors.Error {
	r.reported = r.processed
	r.reportWait(ctx)
	if err := r.rec.Progress(ctx, r.stage, r.processed); err != nil {
		return stopError(err)
	}
	return nil
}

// setSending notes what the sender waits for (nil: nothing).
func (r *run) setSending(w *Wait) {
	r.waitMu.Lock()
	r.sending = w
	r.waitMu.Unlock()
}

// setQuerying notes that the run waits for the segment's first rows (nil: no more).
func (r *run) setQuerying(w *Wait) {
	r.waitMu.Lock()
	r.querying = w
	r.waitMu.Unlock()
}

// reportWait tells the recorder what the run waits for, when that changed: a request or
// a query once it has lasted WaitThreshold, a retry's pause at once; a new wait at most
// once a second (waitReportEvery), the end of a wait at once. It runs on the run's
// goroutine (with each progress report and heartbeat).
func (r *run) reportWait(ctx context.Context) {
	now := r.opts.Now()
	r.waitMu.Lock()
	w := r.sending
	if w == nil {
		w = r.querying
	}
	r.waitMu.Unlock()
	if w != nil && w.Kind != WaitBackoff && now.Sub(w.Since) < WaitThreshold {
		w = nil
	}
	if w == r.shown || (w != nil && r.shown != nil && now.Sub(r.shownAt) < waitReportEvery) {
		return
	}
	r.shown, r.shownAt = w, now
	if w == nil {
		r.rec.Waiting(ctx, nil)
		return
	}
	c := *w
	r.rec.Waiting(ctx, &c)
}

// waitReportEvery is how often, at most, a new wait replaces the one reported.
const waitReportEvery = time.Second

// stopError is the run's error when ctx ended or Progress said to stop.
func stopError(err error) *connectors.Error {
	if ce, ok := connectors.AsError(err); ok {
		return ce
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &connectors.Error{Category: connectors.CategoryTimeout, Message: "The run ran out of time.", Detail: err.Error(), Err: err}
	case errors.Is(err, context.Canceled):
		return &connectors.Error{Category: connectors.CategoryConnection, Message: "The run was cancelled.", Detail: err.Error(), Err: err}
	}
	return &connectors.Error{Category: connectors.CategoryConnection, Message: "The run was stopped.", Detail: err.Error(), Err: err}
}

func (r *run) internalStateError(ctx context.Context, what string, err error) *connectors.Error {
	if ctx.Err() != nil {
		return stopError(ctx.Err())
	}
	return r.blame(SideSluice, &connectors.Error{Category: connectors.CategoryConnection,
		Message: fmt.Sprintf("Sluice could not %s this activation's sync state in its own database.", what),
		Detail:  err.Error(), Retryable: true, Err: err})
}

// blame notes that ce came from side, and answers ce. An error of the platform that
// names one of the action's settings in its Field is the activation's to fix: the
// setting is chosen there (this is the one place that rule lives).
func (r *run) blame(side string, ce *connectors.Error) *connectors.Error {
	if ce == nil {
		return nil
	}
	if side == SideDestination && ce.Field != "" && slices.ContainsFunc(r.job.Action.Settings, func(f connectors.FieldSpec) bool { return f.Name == ce.Field }) {
		side = SideActivation
	}
	r.sideMu.Lock()
	defer r.sideMu.Unlock()
	if r.sides == nil {
		r.sides = map[*connectors.Error]string{}
	}
	if _, ok := r.sides[ce]; !ok {
		r.sides[ce] = side
	}
	return ce
}

// sideOf is which end ce came from: as blamed, else Sluice for what stopped the run
// from within (its own database, a lost lease, its accounting), else empty.
func (r *run) sideOf(ce *connectors.Error) string {
	if ce == nil {
		return ""
	}
	r.sideMu.Lock()
	side, ok := r.sides[ce]
	r.sideMu.Unlock()
	if ok {
		return side
	}
	if ce.Category == CategoryInternal {
		return SideSluice
	}
	return ""
}

func (r *run) internal(msg, detail string) *connectors.Error {
	return &connectors.Error{Category: CategoryInternal, Message: msg, Detail: detail}
}
