package engine

import (
	"context"
)

// CountSourceIssues reads the whole segment as a run would — extraction, duplicate keys,
// validation — and counts the rows queried and those a run would withhold as source
// issues. It sends nothing, reads or writes no sync state and keeps no record, so memory
// stays bounded whatever the segment's size: it is how validation tells whether a
// threshold pause can lift.
func CountSourceIssues(ctx context.Context, job Job) (queried, sourceIssues int64, err error) {
	p, ce := newPlan(job)
	if ce != nil {
		return 0, 0, ce
	}
	s := &sampler{whole: true}
	r := &run{opts: Options{}.withDefaults(), job: job, rec: s, plan: p, sampler: s}
	if ce := r.extract(ctx); ce != nil {
		return 0, 0, ce
	}
	return r.counts.Queried, r.counts.SourceIssues, nil
}
