package klaviyo_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/connectors/connectortest"
	"sluice/destinations/klaviyo"
	fake "sluice/internal/fakes/klaviyo"
)

// BenchmarkPacing measures the spec's pace against the fake enforcing Bulk Import
// Profiles' documented limit (10/s burst, 150/m steady, fixed windows): 2 instances of 4
// senders for 190 s, more than three of the one-minute windows. Real time: run it with
// go test -run '^$' -bench Pacing -benchtime 1x ./destinations/klaviyo/
func BenchmarkPacing(b *testing.B) {
	const (
		steadyPerMinute = 150.0
		d               = 190 * time.Second
	)
	f := fake.New(testKey)
	defer f.Close()
	c := klaviyo.New(klaviyo.Options{BaseURL: f.URL, AllowPrivate: true, PollInterval: 20 * time.Millisecond})
	dest, err := c.Open(context.Background(), connectors.Config{"api_key": testKey}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer dest.Close()
	next := func(i int) connectors.Batch {
		records := make([]connectors.Record, 10)
		for j := range records {
			records[j] = connectors.Record{Key: fmt.Sprintf("%d-%d", i, j), Op: connectors.OpUpsert,
				Fields: map[string]any{"email": fmt.Sprintf("p%d-%d@example.com", i, j)}}
		}
		return connectors.Batch{Action: klaviyo.ActionSyncProfiles, Records: records}
	}
	for b.Loop() {
		res, err := connectortest.Pace(context.Background(), c.Spec(), dest, 2, 4, d, next)
		if err != nil {
			b.Fatal(err)
		}
		limit := steadyPerMinute / 60
		b.ReportMetric(res.PerSecond(), "req/s")
		b.ReportMetric(100*res.PerSecond()/limit, "%limit")
		b.ReportMetric(100*res.ThrottledShare(), "%429")
		requests, throttled := f.Counts()
		b.Logf("Pace: %d writes, %d throttled in %s; the fake answered %d requests (imports and polls), %d of them 429",
			res.Requests, res.Throttled, res.Elapsed.Round(time.Millisecond), requests, throttled)
	}
}
