package googleads_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/connectors/connectortest"
	"sluice/destinations/googleads"
	fake "sluice/internal/fakes/googleads"
)

// compressed is a platform whose day lasts window: its pacing is the spec's, sped up
// by the same factor as the fake's quota window. A token bucket lets Burst + RPS·W
// through in a window W, so compressing W and multiplying RPS by one factor leaves
// every window's count unchanged: what passes in the fake's compressed day is what
// would pass in a real one.
type compressed struct {
	connectors.Destination
	factor float64
}

func (c compressed) RateLimit() (float64, int) {
	perSecond, burst := connectors.RateLimitOf(googleads.New(googleads.Options{}).Spec(), c.Destination)
	return perSecond * c.factor, burst
}

// BenchmarkPacing measures the Basic access pacing against the fake metering Basic's
// 15,000 operations a day, the day compressed to 10 seconds, over 3 such windows and a
// bit: 2 instances of 4 senders each writing audience batches with an upsert and a
// removal (the costliest Write: two jobs, 6 requests).
func BenchmarkPacing(b *testing.B) {
	const window = 10 * time.Second
	srv := fake.New(fake.Options{Limit: fake.BasicDailyOperations, Window: window})
	defer srv.Close()
	dest, err := googleads.New(googleads.Options{BaseURL: srv.URL, AllowPrivate: true}).Open(context.Background(),
		connectors.Config{"developer_token": srv.DeveloperToken(), "customer_id": "1234567890", "access_level": "basic"},
		connectors.StaticToken(srv.AccessToken()))
	if err != nil {
		b.Fatal(err)
	}
	defer dest.Close()
	paced := compressed{Destination: dest, factor: float64(24*time.Hour) / float64(window)}
	spec := googleads.New(googleads.Options{}).Spec()
	d := 3*window + 2*time.Second
	for b.Loop() {
		before, throttledBefore := len(srv.Requests()), srv.Throttled()
		res, err := connectortest.Pace(context.Background(), spec, paced, 2, 4, d, func(i int) connectors.Batch {
			return connectors.Batch{Action: googleads.ActionExportAudience, Settings: map[string]string{"user_list": "111"}, Records: []connectors.Record{
				{Key: fmt.Sprint("u", i), Op: connectors.OpUpsert, Fields: map[string]any{"email": fmt.Sprintf("u%d@example.com", i)}},
				{Key: fmt.Sprint("r", i), Op: connectors.OpRemove, Fields: map[string]any{"email": fmt.Sprintf("r%d@example.com", i)}},
			}}
		})
		if err != nil {
			b.Fatal(err)
		}
		total := len(srv.Requests()) - before
		throttled := srv.Throttled() - throttledBefore
		accepted := float64(total - throttled)
		secs := res.Elapsed.Seconds()
		limitPerSecond := float64(fake.BasicDailyOperations) / window.Seconds()
		b.ReportMetric(accepted/secs, "req/s")
		b.ReportMetric(100*accepted/secs/limitPerSecond, "%limit")
		b.ReportMetric(100*float64(throttled)/float64(max(total, 1)), "%429")
		b.ReportMetric(res.PerSecond(), "writes/s")
	}
}
