package engine

import (
	"context"

	"sluice/connectors"
)

// sampleScan is how many rows Sample reads past its n-th record while it still looks for
// examples of withheld rows: enough to meet the usual flaws of a segment, bounded so a
// clean segment of millions of rows is not read whole to find none.
const sampleScan = 10_000

// Sample returns the first n records of job exactly as its first run sends them — the
// run's own extraction, duplicate-key check, validation and normalization, in key order
// — and examples (up to n) of the rows that run withholds as source issues, each with
// its reason. It sends nothing and reads or writes no sync state: it answers as a run
// does when the destination holds none of the records (a new activation or a full
// resync). Reading stops once it has n records and n withheld examples, sampleScan rows
// after the n-th record, or at the end of the segment.
func Sample(ctx context.Context, job Job, n int) (records []connectors.Record, withheld []Issue, err error) {
	if n <= 0 {
		return nil, nil, nil
	}
	p, ce := newPlan(job)
	if ce != nil {
		return nil, nil, ce
	}
	s := &sampler{n: n}
	r := &run{opts: Options{}.withDefaults(), job: job, rec: s, plan: p, sampler: s}
	if ce := r.extract(ctx); ce != nil && ce != errSampled {
		return nil, nil, ce
	}
	r.flushIssues(ctx)
	return s.records, s.withheld, nil
}

// errSampled stops a sample's extraction once it has what it needs; it never leaves
// Sample.
var errSampled = &connectors.Error{Category: CategoryInternal, Message: "engine: sample complete"}

// sampler collects what a run would send instead of sending it. As the run's Recorder it
// keeps the first source issues and ignores the rest (progress, changes, logs).
type sampler struct {
	n        int
	records  []connectors.Record
	withheld []Issue
	past     int64 // rows read after the n-th record
	// whole reads the segment to its end (CountSourceIssues), keeping nothing.
	whole bool
}

// add takes a record the run would send.
func (s *sampler) add(rec connectors.Record) {
	if len(s.records) < s.n {
		s.records = append(s.records, rec)
	}
}

// enough is asked after each settled group of rows: withheld is the run's source-issue
// count so far (issues reach the sampler only when the run's buffer is flushed).
func (s *sampler) enough(rows, withheld int64) bool {
	if s.whole || len(s.records) < s.n {
		return false
	}
	s.past += rows
	return withheld >= int64(s.n) || s.past > sampleScan
}

func (s *sampler) Progress(context.Context, string, int64) error { return nil }
func (s *sampler) Changes(context.Context, []Change) error       { return nil }
func (s *sampler) Log(context.Context, LogLine) error            { return nil }
func (s *sampler) Waiting(context.Context, *Wait)                {}
func (s *sampler) Sample(context.Context, connectors.Exchange) error {
	return nil
}

func (s *sampler) Issues(_ context.Context, issues []Issue) error {
	for _, is := range issues {
		if len(s.withheld) >= s.n {
			break
		}
		s.withheld = append(s.withheld, is)
	}
	return nil
}
