package engine

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"sluice/connectors"
)

// Batches go through a pipeline of three goroutines, so that reading and comparing
// rows, storing intents and acknowledgements, and waiting for the destination happen at
// the same time rather than one after the other:
//
//   - the run's goroutine plans batches and hands them over (at most pipelineDepth
//     under way), then settles their answers in order: counts, issues, timeline;
//   - the committer commits, in one transaction, the intents of every batch handed
//     over and the acknowledgements of every batch answered since its last commit (a
//     busy store thus commits several batches at once), then passes the batches on;
//   - the sender writes each batch to the destination, in order, only once its intents
//     are stored; it stores each answer beside its batch's intents (State.Answer, one
//     small write) before it sends the next batch, and queues the acknowledgements for
//     the committer, which folds them into the state with its next commit.
//
// So a crash resends at most one batch: the one in flight, whose intents are stored and
// whose answer is not. The next run reads its records as pending (PendingAdded) and
// sends them again; a batch whose answer was stored counts as answered. When a batch
// fails, nothing after it is sent: the batches already planned are counted unsent (their
// intents dropped), like the failed batch's records the destination did not answer.
type pipeline struct {
	planned chan *delivery // run → committer
	toSend  chan *delivery // committer → sender
	results chan *delivery // sender → run, every batch, in order
	// stop says to send nothing more: a batch failed, or the run stops; cancel also
	// cuts short a Write under way (retries can wait long).
	stop   atomic.Bool
	cancel context.CancelFunc

	mu       sync.Mutex
	acks     Commit        // answers queued for the committer (never Intents)
	ackReady chan struct{} // signals that some are queued

	committed chan struct{}     // closed when the committer is done
	finalErr  *connectors.Error // the committer's last failure, read once committed is closed

	// The run's goroutine only:
	outstanding int  // batches handed over and not settled
	closed      bool // planned is closed
}

const (
	// pipelineDepth is how many batches may be under way: planned, committed or sent,
	// and not settled by the run yet.
	pipelineDepth = 8
	// awaitBeat is how often the run renews its lease while it waits for an answer.
	awaitBeat = time.Second
)

// delivery is one batch in the pipeline. The committer and the sender write its
// fields, and the batch's records (maybeApplied, answered), before passing it on; the
// run reads them once it receives it from results.
type delivery struct {
	id    string // the batch's, for its intents: unique across runs
	label string // its number in the run, for the log
	recs  []planned

	intended bool // its intents are committed
	skipped  bool // not sent: the pipeline stopped before

	pieces   []piece // what the destination took or refused, in order
	ce       *connectors.Error
	events   []event // log lines and exchanges, in order
	requests int
	elapsed  time.Duration
}

// piece is part of a batch the destination answered: res for a Write it took, or
// refused for a record it refused alone (after halving a batch refused whole).
type piece struct {
	label   string
	recs    []planned
	res     *connectors.WriteResult
	refused string
}

func (d *delivery) answer(pc piece) {
	for i := range pc.recs {
		pc.recs[i].answered = true
	}
	d.pieces = append(d.pieces, pc)
}

// event is a log line or an exchange of a delivery, replayed by the run in order.
type event struct {
	line    *LogLine
	ex      *connectors.Exchange
	failing bool
}

func (d *delivery) logf(r *run, level, format string, args ...any) {
	d.events = append(d.events, event{line: &LogLine{At: r.opts.Now().UTC(), Level: level, Message: fmt.Sprintf(format, args...)}})
}

// flush hands the batch being filled to the pipeline, after settling the answers that
// came back (waiting for one while pipelineDepth batches are under way). On error, the
// batch stays in r.batch: stopped counts it unsent.
func (r *run) flush(ctx context.Context) *connectors.Error {
	if len(r.batch) == 0 {
		return nil
	}
	if r.pipe == nil {
		r.pipe = r.startPipeline(ctx)
	}
	if ce := r.settleAnswers(ctx, pipelineDepth-1); ce != nil {
		return ce
	}
	if r.recErr != nil {
		return r.recErr
	}
	r.batchNo++
	r.pipe.planned <- &delivery{id: fmt.Sprintf("%s:%08d", r.job.RunID, r.batchNo), label: strconv.Itoa(r.batchNo), recs: r.batch}
	r.pipe.outstanding++
	r.batch = nil
	if n := len(r.free); n > 0 {
		r.batch, r.free = r.free[n-1][:0], r.free[:n-1]
	}
	r.batchBytes = 0
	return nil
}

// finishLoad sends the last batch and settles every answer; the last acknowledgements
// are committed before it returns.
func (r *run) finishLoad(ctx context.Context) *connectors.Error {
	if ce := r.flush(ctx); ce != nil {
		return ce
	}
	return r.closePipeline(ctx)
}

// closePipeline stops taking batches, settles every batch still under way and waits for
// the committer's last commit. It returns the first failure among them.
func (r *run) closePipeline(ctx context.Context) *connectors.Error {
	pl := r.pipe
	if pl == nil {
		return nil
	}
	if !pl.closed {
		pl.closed = true
		close(pl.planned)
	}
	var first *connectors.Error
	for pl.outstanding > 0 {
		if ce := r.settleAnswers(ctx, pl.outstanding-1); ce != nil && first == nil {
			first = ce
			pl.stop.Store(true)
		}
	}
	<-pl.committed
	pl.cancel()
	r.pipe = nil
	if first == nil {
		first = pl.finalErr
	}
	return first
}

// settleAnswers settles the answers that came back, waiting until at most keep batches
// are under way; it returns the first failure. While it waits it renews the lease
// (retries can wait long); if the run must stop, the pipeline is told to stop.
func (r *run) settleAnswers(ctx context.Context, keep int) *connectors.Error {
	pl := r.pipe
	var first *connectors.Error
	var beat *time.Ticker
	defer func() {
		if beat != nil {
			beat.Stop()
		}
	}()
	for pl.outstanding > 0 {
		var d *delivery
		select {
		case d = <-pl.results:
		default:
			if pl.outstanding <= keep {
				return first
			}
			if beat == nil {
				beat = time.NewTicker(awaitBeat)
			}
			select {
			case d = <-pl.results:
			case <-beat.C:
				if ce := r.progress(ctx); ce != nil {
					pl.stop.Store(true)
					pl.cancel()
					if first == nil {
						first = ce
					}
				}
				continue
			}
		}
		pl.outstanding--
		if ce := r.settleDelivery(ctx, d); ce != nil && first == nil {
			first = ce
		}
	}
	return first
}

// settleDelivery applies what a batch's goroutines did, on the run's goroutine: its log
// lines and exchanges, its answers, and what it did not deliver, counted unsent.
func (r *run) settleDelivery(ctx context.Context, d *delivery) *connectors.Error {
	r.requests += d.requests
	r.loadTime += d.elapsed
	for _, e := range d.events {
		if e.line != nil {
			r.logLine(ctx, *e.line)
		} else {
			r.sample(ctx, e.ex, e.failing)
		}
	}
	for _, pc := range d.pieces {
		if pc.res != nil {
			r.settle(ctx, pc.label, pc.recs, pc.res)
		} else {
			r.reject(ctx, &pc.recs[0], pc.refused)
		}
	}
	r.unsend(ctx, d.recs)
	clear(d.recs)
	r.free = append(r.free, d.recs[:0])
	return d.ce
}

// unsend counts the records of recs not settled as unsent: the run stopped before the
// destination answered for them, and the next run plans them again.
func (r *run) unsend(ctx context.Context, recs []planned) {
	for i := range recs {
		p := &recs[i]
		if p.settled {
			continue
		}
		p.settled = true
		r.counts.Unsent++
		r.change(ctx, Change{PrimaryKey: p.rec.Key, Kind: p.kind,
			Detail: "Not sent: the run stopped before the destination acknowledged it. It is sent again next run."})
	}
}

func (r *run) startPipeline(ctx context.Context) *pipeline {
	pl := &pipeline{
		planned:   make(chan *delivery, pipelineDepth),
		toSend:    make(chan *delivery, pipelineDepth),
		results:   make(chan *delivery, pipelineDepth),
		ackReady:  make(chan struct{}, 1),
		committed: make(chan struct{}),
	}
	ctx, pl.cancel = context.WithCancel(ctx)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		r.sendLoop(ctx, pl)
	}()
	go func() {
		defer close(pl.committed)
		r.commitLoop(ctx, pl, sent)
	}()
	return pl
}

// commitLoop is the committer (see pipeline).
func (r *run) commitLoop(ctx context.Context, pl *pipeline, sent <-chan struct{}) {
	open := true
	for open {
		var batch []*delivery
		select {
		case d, ok := <-pl.planned:
			if !ok {
				open = false
				break
			}
			batch = append(batch, d)
			for more := true; more && len(batch) < maxCommitBatches; { // what else is queued
				select {
				case d, ok := <-pl.planned:
					if !ok {
						open, more = false, false
						break
					}
					batch = append(batch, d)
				default:
					more = false
				}
			}
		case <-pl.ackReady:
		}
		if pl.stop.Load() {
			for _, d := range batch {
				d.skipped = true
				pl.toSend <- d
			}
			continue // answers wait for the last commit
		}
		c := pl.takeAcks()
		for _, d := range batch {
			c.Intents = append(c.Intents, Intent{Batch: d.id, Keys: intents(d.recs), Planned: plannedAnswer(d.recs)})
		}
		if len(c.Intents)+len(c.Upserts)+len(c.Removed)+len(c.Settled) > 0 {
			if err := r.state.Commit(ctx, r.job.ActivationID, c); err != nil {
				pl.stop.Store(true)
				ce := r.internalStateError(ctx, "record", err)
				for _, d := range batch {
					d.skipped, d.ce = true, ce
					pl.toSend <- d
				}
				c.Intents = nil // the answers taken are tried again by the last commit
				pl.addAcks(c)
				continue
			}
		}
		for _, d := range batch {
			d.intended = true
			pl.toSend <- d
		}
	}
	close(pl.toSend)
	// The last batches' answers are committed as they come, like the others': a crash
	// while they are sent must not resend every batch answered since the extract ended.
	for done := false; !done; {
		select {
		case <-sent:
			done = true
		case <-pl.ackReady:
			if pl.stop.Load() {
				continue // answers wait for the last commit
			}
			c := pl.takeAcks()
			if len(c.Upserts)+len(c.Removed)+len(c.Settled) == 0 {
				continue
			}
			if err := r.state.Commit(ctx, r.job.ActivationID, c); err != nil {
				pl.stop.Store(true)
				pl.addAcks(c) // tried again by the last commit
			}
		}
	}
	// The last commit: the answers to the last batches.
	c := pl.takeAcks()
	if len(c.Upserts)+len(c.Removed)+len(c.Settled) == 0 {
		return
	}
	if err := r.state.Commit(context.WithoutCancel(ctx), r.job.ActivationID, c); err != nil {
		pl.finalErr = r.internalStateError(ctx, "record", err)
	}
}

// maxCommitBatches bounds how many batches' intents one transaction stores.
const maxCommitBatches = pipelineDepth

// intents are recs with their pending marks (see PendingAdded).
func intents(recs []planned) []KeyHash {
	out := make([]KeyHash, len(recs))
	for i := range recs {
		out[i] = KeyHash{Key: recs[i].rec.Key, Hash: pendingMark(&recs[i])}
	}
	return out
}

// plannedAnswer is what acknowledging every record of recs stores.
func plannedAnswer(recs []planned) Answer {
	a := Answer{AsPlanned: true}
	for i := range recs {
		if recs[i].rec.Op == connectors.OpRemove {
			a.Removed = append(a.Removed, recs[i].rec.Key)
		} else {
			a.Upserts = append(a.Upserts, KeyHash{Key: recs[i].rec.Key, Hash: recs[i].hash})
		}
	}
	return a
}

// sendLoop is the sender (see pipeline).
func (r *run) sendLoop(ctx context.Context, pl *pipeline) {
	defer close(pl.results)
	for d := range pl.toSend {
		if !d.skipped && pl.stop.Load() {
			d.skipped = true
		}
		if d.skipped {
			if d.intended { // not sent, for sure: its intents go
				pl.addAcks(Commit{Settled: []string{d.id}})
			}
			pl.results <- d
			continue
		}
		start := r.opts.Now()
		d.ce = r.deliver(ctx, d, d.label, d.recs)
		d.elapsed = r.opts.Now().Sub(start)
		if d.ce != nil {
			pl.stop.Store(true)
		}
		upserts, removed, all := acknowledged(d)
		answer := Answer{AsPlanned: all, Upserts: upserts, Removed: removed}
		if err := r.state.Answer(ctx, r.job.ActivationID, d.id, answer); err != nil {
			pl.stop.Store(true) // the next batch would not be bounded: send nothing more
			if d.ce == nil {
				d.ce = r.internalStateError(ctx, "record", err)
			}
		}
		pl.addAcks(Commit{Upserts: upserts, Removed: removed, Settled: []string{d.id}})
		pl.results <- d
	}
}

func (pl *pipeline) addAcks(c Commit) {
	pl.mu.Lock()
	pl.acks.Upserts = append(pl.acks.Upserts, c.Upserts...)
	pl.acks.Removed = append(pl.acks.Removed, c.Removed...)
	pl.acks.Settled = append(pl.acks.Settled, c.Settled...)
	pl.mu.Unlock()
	select {
	case pl.ackReady <- struct{}{}:
	default:
	}
}

func (pl *pipeline) takeAcks() Commit {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	c := pl.acks
	pl.acks = Commit{}
	return c
}
