package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sluice/connectors"
)

// planned is one change to deliver: the record, its payload hash (committed once
// acknowledged) and its kind for the record timeline.
type planned struct {
	rec  connectors.Record
	hash uint64
	kind string
	size int
	// settled: acknowledged or rejected; what is not settled when the run stops is unsent.
	settled bool
	// maybeApplied: a Write carrying the record failed in a way that does not say whether
	// the destination applied it (timeout, 5xx…), so its intent must stay.
	maybeApplied bool
	// answered: the destination took or refused the record (set by the sending goroutine).
	answered bool
}

// pendingMark is the hash that marks p as sent with its outcome unknown.
func pendingMark(p *planned) uint64 {
	if p.kind == ChangeChanged {
		return PendingChanged
	}
	return PendingAdded
}

// schedule adds a change to the batch being filled, sending the batch when it is full
// (Action.BatchSize records, or Action.MaxBatchBytes of JSON).
func (r *run) schedule(ctx context.Context, p planned) *connectors.Error {
	if r.sampler != nil {
		r.sampler.add(p.rec)
		return nil
	}
	if r.plan.maxBytes > 0 {
		p.size = recordSize(p.rec)
		if len(r.batch) > 0 && r.batchBytes+p.size > r.plan.maxBytes {
			if ce := r.flush(ctx); ce != nil {
				r.batch = append(r.batch, p) // counted unsent with the rest
				return ce
			}
		}
	}
	r.batch = append(r.batch, p)
	r.batchBytes += p.size
	if len(r.batch) >= r.plan.batchSize {
		return r.flush(ctx)
	}
	if r.recErr != nil {
		return r.recErr
	}
	return nil
}

// recordSize is a record's size in a JSON request, for MaxBatchBytes.
func recordSize(rec connectors.Record) int {
	b, err := json.Marshal(rec)
	if err != nil {
		return 0
	}
	return len(b) + 1
}

// deliver sends recs, in the background. A batch refused whole as configuration
// (400/422) is split in halves until the records at fault are alone; each of those is
// a rejection, in the destination's words.
func (r *run) deliver(ctx context.Context, d *delivery, label string, recs []planned) *connectors.Error {
	res, ce := r.write(ctx, d, label, recs)
	if ce == nil {
		d.answer(piece{label: label, recs: recs, res: res})
		return nil
	}
	if ce.Category != connectors.CategoryConfiguration || ce.Retryable || r.sideOf(ce) == SideActivation {
		// A refused setting of the activation is no record's fault: splitting would
		// only send it again and again.
		return ce
	}
	if len(recs) > 1 {
		mid := len(recs) / 2
		d.logf(r, "warn", "Batch %s (%d records) %s and was refused whole; splitting it in two (%d and %d records) to find the records at fault.",
			label, len(recs), answer(ce), mid, len(recs)-mid)
		if ce := r.deliver(ctx, d, label+".1", recs[:mid]); ce != nil {
			return ce
		}
		return r.deliver(ctx, d, label+".2", recs[mid:])
	}
	msg := ce.Detail
	if msg == "" {
		msg = ce.Message
	}
	d.logf(r, "warn", "Batch %s: the destination refused the record %s alone: %s", label, quote(recs[0].rec.Key), msg)
	d.answer(piece{label: label, recs: recs, refused: msg})
	return nil
}

// write sends one batch, retrying what can be retried: 429 (waiting what Retry-After
// says), 5xx, timeouts and connection failures, with exponential backoff and full
// jitter, at most Options.MaxAttempts times.
func (r *run) write(ctx context.Context, d *delivery, label string, recs []planned) (*connectors.WriteResult, *connectors.Error) {
	records := make([]connectors.Record, len(recs))
	for i := range recs {
		records[i] = recs[i].rec
	}
	batch := connectors.Batch{ActivationID: r.job.ActivationID, RunID: r.job.RunID, Action: r.job.Action.Name,
		Settings: r.job.Settings.Action, Records: records}
	var timeout time.Duration
	if t, ok := r.job.Destination.(connectors.RequestTimeouter); ok {
		timeout = t.RequestTimeout()
	}
	defer r.setSending(nil)
	last := "" // the destination's last answer to this batch, for the run's wait
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, stopError(err)
		}
		if l := r.job.Limiter; l != nil {
			if err := l.Wait(ctx); err != nil {
				if ctx.Err() != nil {
					return nil, stopError(ctx.Err())
				}
				return nil, r.blame(SideDestination, &connectors.Error{Category: connectors.CategoryRateLimit,
					Message: "The platform's rate limit allows no request at all.", Detail: err.Error(), Err: err})
			}
		}
		d.requests++
		r.setSending(&Wait{Kind: WaitRequest, Object: r.job.DestinationName, Since: r.opts.Now(), Timeout: timeout,
			Attempt: attempt, MaxAttempts: r.opts.MaxAttempts, LastAnswer: last})
		res, err := r.job.Destination.Write(ctx, batch)
		r.setSending(nil)
		if err == nil {
			if res == nil {
				res = &connectors.WriteResult{}
			}
			d.events = append(d.events, event{ex: res.Exchange, failing: len(res.Rejected) > 0})
			return res, nil
		}
		ce := classifyWrite(err)
		if ce.Retryable || ctx.Err() != nil {
			// The request may have been applied before it failed.
			for i := range recs {
				recs[i].maybeApplied = true
			}
		}
		if ctx.Err() != nil {
			return nil, stopError(ctx.Err())
		}
		d.events = append(d.events, event{ex: ce.Exchange, failing: true})
		if !ce.Retryable {
			return nil, r.blame(SideDestination, ce)
		}
		if attempt >= r.opts.MaxAttempts {
			d.logf(r, "error", "Batch %s %s; giving up after %d attempts.", label, answer(ce), attempt)
			return nil, r.blame(SideDestination, gaveUp(ce, fmt.Sprintf("Sluice tried %d times, then stopped.", attempt)))
		}
		wait := r.backoff(attempt)
		if ce.RetryAfter > 0 {
			if ce.RetryAfter > r.opts.MaxDelay {
				d.logf(r, "error", "Batch %s %s and asked to wait %s, longer than Sluice waits within a run (%s); stopping.",
					label, answer(ce), seconds(ce.RetryAfter), seconds(r.opts.MaxDelay))
				return nil, r.blame(SideDestination, gaveUp(ce, fmt.Sprintf("The platform asked to wait %s before trying again.", seconds(ce.RetryAfter))))
			}
			wait = ce.RetryAfter
		}
		if ce.Category == connectors.CategoryRateLimit && r.job.Limiter != nil {
			r.job.Limiter.Backoff(wait) // the platform's other senders wait too
		}
		d.logf(r, "warn", "Batch %s %s; retrying in %s (attempt %d of %d).", label, answer(ce), seconds(wait), attempt+1, r.opts.MaxAttempts)
		last = lastAnswer(ce)
		now := r.opts.Now()
		r.setSending(&Wait{Kind: WaitBackoff, Object: r.job.DestinationName, Since: now, Until: now.Add(wait),
			Attempt: attempt + 1, MaxAttempts: r.opts.MaxAttempts, LastAnswer: last})
		if err := r.opts.Sleep(ctx, wait); err != nil {
			return nil, stopError(err)
		}
	}
}

// backoff is the wait before attempt+1: full jitter below BaseDelay·2^(attempt-1),
// capped at MaxDelay.
func (r *run) backoff(attempt int) time.Duration {
	ceiling := r.opts.MaxDelay
	if attempt-1 < 32 {
		if c := r.opts.BaseDelay << (attempt - 1); c > 0 && c < ceiling {
			ceiling = c
		}
	}
	return r.opts.Jitter(ceiling)
}

// classifyWrite reads a Write error: connectors' errors as they are (a 429 is always a
// retryable rate_limit), anything else as a timeout or a connection failure, retryable.
func classifyWrite(err error) *connectors.Error {
	if ce, ok := connectors.AsError(err); ok {
		if ce.Exchange != nil && ce.Exchange.StatusCode == 429 && (ce.Category != connectors.CategoryRateLimit || !ce.Retryable) {
			c := *ce
			c.Category, c.Retryable = connectors.CategoryRateLimit, true
			return &c
		}
		return ce
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &connectors.Error{Category: connectors.CategoryTimeout, Retryable: true,
			Message: "The platform did not answer in time.", Detail: err.Error(), Err: err}
	}
	return &connectors.Error{Category: connectors.CategoryConnection, Retryable: true,
		Message: "The platform could not be reached.", Detail: err.Error(), Err: err}
}

// gaveUp is the run's error when retries are spent: the last answer's category (429 →
// rate_limit, 5xx → connection, timeouts → timeout), saying nothing is lost.
func gaveUp(ce *connectors.Error, why string) *connectors.Error {
	c := *ce
	c.Retryable = false
	msg := c.Message
	if msg == "" {
		msg = c.Category.Label() + "."
	}
	c.Message = msg + " " + why + " What was not delivered is sent again next run."
	c.Err = ce
	return &c
}

// answer words what a failed request got, for the log: "answered 429", "timed out".
func answer(ce *connectors.Error) string {
	if ce.Exchange != nil && ce.Exchange.StatusCode != 0 {
		return "answered " + strconv.Itoa(ce.Exchange.StatusCode)
	}
	switch ce.Category {
	case connectors.CategoryTimeout:
		return "timed out"
	case connectors.CategoryConnection:
		return "could not reach the platform"
	case connectors.CategoryRateLimit:
		return "hit the rate limit"
	}
	return "failed (" + ce.Category.Label() + ")"
}

// lastAnswer words a failed request's answer for a run's wait: "503 Service
// Unavailable", "timed out".
func lastAnswer(ce *connectors.Error) string {
	if ce.Exchange != nil && ce.Exchange.StatusCode != 0 {
		code := ce.Exchange.StatusCode
		if text := http.StatusText(code); text != "" {
			return strconv.Itoa(code) + " " + text
		}
		return strconv.Itoa(code)
	}
	return strings.TrimPrefix(answer(ce), "answered ")
}

// settle records the destination's answer to a batch it took: rejected records become
// destination issues; the others are acknowledged (the sending goroutine has queued
// their commit: see acknowledged).
func (r *run) settle(ctx context.Context, label string, recs []planned, res *connectors.WriteResult) {
	rejected := rejections(res)
	matched := 0
	for i := range recs {
		p := &recs[i]
		if msg, ok := rejected[p.rec.Key]; ok {
			matched++
			r.reject(ctx, p, msg)
			continue
		}
		p.settled = true
		r.counts.Sent++
		r.change(ctx, Change{PrimaryKey: p.rec.Key, Kind: p.kind})
	}
	if matched > 0 {
		r.logf(ctx, "warn", "Batch %s: the destination rejected %d of %d records.", label, matched, len(recs))
	}
	if matched < len(rejected) {
		r.logf(ctx, "warn", "Batch %s: the destination rejected %d keys that were not in the batch; ignored.", label, len(rejected)-matched)
	}
}

// rejections are the records a Write refused, by key, in the destination's words (the
// first message of a key given twice).
func rejections(res *connectors.WriteResult) map[string]string {
	var rejected map[string]string
	for _, rj := range res.Rejected {
		if rejected == nil {
			rejected = make(map[string]string, len(res.Rejected))
		}
		if _, dup := rejected[rj.Key]; !dup {
			rejected[rj.Key] = rj.Message
		}
	}
	return rejected
}

// acknowledged is what a delivery's answers commit to the state, with its intents
// dropped: the acknowledged records' hashes (or their removal), and the pending marks
// of records whose fate stays unknown (refused or unanswered after a Write that may
// have been applied). Records refused, or not sent, for sure keep their stored state.
// all is true when every record was acknowledged: the answer is the intent's Planned.
func acknowledged(d *delivery) (upserts []KeyHash, removed []string, all bool) {
	all = true
	acked := func(p *planned) {
		if p.rec.Op == connectors.OpRemove {
			removed = append(removed, p.rec.Key)
		} else {
			upserts = append(upserts, KeyHash{Key: p.rec.Key, Hash: p.hash})
		}
	}
	unknown := func(p *planned) {
		all = false
		if p.maybeApplied {
			upserts = append(upserts, KeyHash{Key: p.rec.Key, Hash: pendingMark(p)})
		}
	}
	for _, pc := range d.pieces {
		if pc.res == nil { // refused alone
			unknown(&pc.recs[0])
			continue
		}
		rejected := rejections(pc.res)
		for i := range pc.recs {
			if _, refused := rejected[pc.recs[i].rec.Key]; refused {
				unknown(&pc.recs[i])
			} else {
				acked(&pc.recs[i])
			}
		}
	}
	for i := range d.recs {
		if !d.recs[i].answered {
			unknown(&d.recs[i])
		}
	}
	return upserts, removed, all
}

// reject records one record the destination refused, in its words; it is not committed,
// so the next run sends it again.
func (r *run) reject(ctx context.Context, p *planned, msg string) {
	if msg == "" {
		msg = "The destination refused this record without saying why."
	}
	p.settled = true
	r.counts.Rejected++
	r.issue(ctx, Issue{PrimaryKey: p.rec.Key, Stage: IssueStageDestination, Code: CodeRejected, Message: msg})
	r.change(ctx, Change{PrimaryKey: p.rec.Key, Kind: ChangeRejected, Detail: msg})
}

// sample keeps the first exchanges of a run and every failing one, for the debugger.
func (r *run) sample(ctx context.Context, ex *connectors.Exchange, failing bool) {
	if ex == nil {
		return
	}
	r.exchanges++
	if r.exchanges <= sampleFirst || failing {
		_ = r.rec.Sample(ctx, *ex)
	}
}

const sampleFirst = 3
