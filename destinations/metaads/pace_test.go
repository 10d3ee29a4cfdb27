package metaads_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/connectors/connectortest"
	"sluice/destinations/metaads"
	fake "sluice/internal/fakes/metaads"
)

// BenchmarkPacing measures the spec's pace against the fake enforcing the ad account's
// documented score (9,000 points decaying over 300 s, a users call scoring 3: 3,000
// calls per 300 s, 10 a second), as Sluice sends: 2 instances of 4 senders each, for
// three of the limit's 300 s windows and a little more, in real time.
func BenchmarkPacing(b *testing.B) {
	limit := fake.StandardLimit
	perSecond := limit.MaxScore / limit.WriteScore / limit.Decay.Seconds()
	d := 3*limit.Decay + 15*time.Second
	for range b.N {
		f := newFake(b)
		c := metaads.New(metaads.Options{BaseURL: f.URL, AllowPrivate: true})
		dest, err := c.Open(context.Background(), connectors.Config{"ad_account_id": accountID}, connectors.StaticToken(userToken))
		if err != nil {
			b.Fatal(err)
		}
		next := func(i int) connectors.Batch {
			recs := make([]connectors.Record, 100)
			for j := range recs {
				recs[j] = connectors.Record{Key: fmt.Sprintf("%d-%d", i, j), Op: connectors.OpUpsert,
					Fields: map[string]any{"email": fmt.Sprintf("p%d.%d@example.com", i, j)}}
			}
			return connectors.Batch{Action: metaads.ActionExportAudience, Settings: map[string]string{metaads.SettingAudience: audienceID}, Records: recs}
		}
		res, err := connectortest.Pace(context.Background(), c.Spec(), dest, 2, 4, d, next)
		dest.Close()
		if err != nil {
			b.Fatal(err)
		}
		requests, throttled := f.Counts()
		b.Logf("the fake answered %d requests, %d of them throttled; Pace counted %d and %d over %v", requests, throttled, res.Requests, res.Throttled, res.Elapsed.Round(time.Millisecond))
		b.ReportMetric(res.PerSecond(), "req/s")
		b.ReportMetric(100*res.PerSecond()/perSecond, "%limit")
		b.ReportMetric(100*res.ThrottledShare(), "%429")
	}
}
