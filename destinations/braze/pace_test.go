package braze_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/connectors/connectortest"
	"sluice/destinations/braze"
	fakebraze "sluice/internal/fakes/braze"
)

// BenchmarkPacing measures the spec's rate against the fake enforcing Braze's documented
// limit (3,000 requests to /users/track per three-second window): two instances of four
// senders each write for 10 s, more than three windows. It reports the accepted requests
// per second, that rate as a share of the documented 1,000 a second, and the share of
// requests answered 429. Real time: run it with -benchtime 1x.
func BenchmarkPacing(b *testing.B) {
	const (
		limit  = float64(fakebraze.RateLimit) / 3 // requests a second
		period = 10 * time.Second
	)
	f := fakebraze.New(b, testKey)
	c := braze.New(braze.Options{AllowPrivate: true, RootCAs: f.RootCAs()})
	dest, err := c.Open(context.Background(), connectors.Config{"rest_endpoint": f.URL, "api_key": testKey}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer dest.Close()
	// Small batches: the limit counts requests, and the machine's cores go to pacing,
	// not to encoding records.
	next := func(i int) connectors.Batch {
		recs := make([]connectors.Record, 1)
		for j := range recs {
			id := fmt.Sprintf("u-%d-%d", i, j)
			recs[j] = upsert(id, map[string]any{"external_id": id, "n": i})
		}
		return connectors.Batch{Action: braze.ActionSyncUsers, Records: recs}
	}
	var res connectortest.PaceResult
	for b.Loop() {
		res, err = connectortest.Pace(context.Background(), c.Spec(), dest, 2, 4, period, next)
		if err != nil {
			b.Fatal(err)
		}
	}
	if n, throttled := f.Counts(); n < res.Requests || throttled < res.Throttled {
		b.Fatalf("the fake answered %d requests (%d throttled), fewer than Pace counted (%d, %d)", n, throttled, res.Requests, res.Throttled)
	}
	b.ReportMetric(res.PerSecond(), "req/s")
	b.ReportMetric(100*res.PerSecond()/limit, "%limit")
	b.ReportMetric(100*res.ThrottledShare(), "%429")
}
