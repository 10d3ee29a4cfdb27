package engine

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"sluice/connectors"
)

// recordBuffer is how many issues or changes are handed to the Recorder at once.
const recordBuffer = 500

// issue buffers a record issue for the Recorder.
func (r *run) issue(ctx context.Context, is Issue) {
	r.issues = append(r.issues, is)
	if len(r.issues) >= recordBuffer {
		r.flushIssues(ctx)
	}
}

// change buffers a record's change for the Recorder.
func (r *run) change(ctx context.Context, c Change) {
	r.changes = append(r.changes, c)
	if len(r.changes) >= recordBuffer {
		r.flushChanges(ctx)
	}
}

func (r *run) flushIssues(ctx context.Context) {
	if len(r.issues) == 0 {
		return
	}
	if err := r.rec.Issues(ctx, r.issues); err != nil && r.recErr == nil {
		r.recErr = recorderError("record issues", err)
	}
	clear(r.issues)
	r.issues = r.issues[:0]
}

func (r *run) flushChanges(ctx context.Context) {
	if len(r.changes) == 0 {
		return
	}
	if err := r.rec.Changes(ctx, r.changes); err != nil && r.recErr == nil {
		r.recErr = recorderError("record changes", err)
	}
	clear(r.changes)
	r.changes = r.changes[:0]
}

// recorderError stops a run that cannot record what it did: issues and changes that
// are not kept would leave records unaccounted for.
func recorderError(what string, err error) *connectors.Error {
	if ce, ok := connectors.AsError(err); ok {
		return ce
	}
	return &connectors.Error{Category: connectors.CategoryConnection,
		Message: "Sluice could not save this run's " + what[len("record "):] + " in its own database.", Detail: err.Error(), Err: err}
}

// flushRecords hands over what is buffered, even when the run's context has ended (a
// cancelled run's last issues and changes still belong in its history), within a bound.
func (r *run) flushRecords(ctx context.Context) *connectors.Error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalWrites)
	defer cancel()
	r.flushIssues(ctx)
	r.flushChanges(ctx)
	return r.recErr
}

// finalWrites bounds the Recorder writes after a run stopped.
const finalWrites = 30 * time.Second

// logf writes a line of the run log, in plain words. A failure to log does not stop the
// run: the counts, issues and changes are what must not be lost.
func (r *run) logf(ctx context.Context, level, format string, args ...any) {
	if ctx.Err() != nil {
		ctx = context.WithoutCancel(ctx)
	}
	r.logLine(ctx, LogLine{At: r.opts.Now().UTC(), Level: level, Message: fmt.Sprintf(format, args...)})
}

func (r *run) logLine(ctx context.Context, line LogLine) {
	if ctx.Err() != nil {
		ctx = context.WithoutCancel(ctx)
	}
	_ = r.rec.Log(ctx, line)
}

// group writes n with thousands separators: 10,000.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// seconds writes a duration for people: "450 ms", "1.2 s", "2 s", "95 s".
func seconds(d time.Duration) string {
	if d < time.Second {
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	}
	if d < 10*time.Second {
		return strconv.FormatFloat(float64(d.Round(100*time.Millisecond))/float64(time.Second), 'f', -1, 64) + " s"
	}
	return strconv.FormatInt(int64(d.Round(time.Second)/time.Second), 10) + " s"
}

// plural writes a count and its noun: "1 row", "2,000 rows".
func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return group(n) + " " + many
}
