package hubspot_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/connectors/connectortest"
	"sluice/destinations/hubspot"
	fake "sluice/internal/fakes/hubspot"
)

// BenchmarkPacing sends batches of 100 contacts for 35 s (three and a half of the
// documented 10 s windows) from 2 instances of 4 senders each against the fake
// enforcing 100 requests per rolling 10 s, and reports the accepted rate, its share
// of the limit and the share of requests answered 429.
func BenchmarkPacing(b *testing.B) {
	srv := fake.New(fake.Options{})
	defer srv.Close()
	c := hubspot.New(hubspot.Options{BaseURL: srv.URL, AllowPrivate: true})
	dest, err := c.Open(context.Background(), connectors.Config{}, connectors.StaticToken(fake.Token))
	if err != nil {
		b.Fatal(err)
	}
	defer dest.Close()
	next := func(i int) connectors.Batch {
		batch := connectors.Batch{Action: hubspot.ActionSyncContacts, Settings: map[string]string{hubspot.SettingIDProperty: "email"}}
		for j := range hubspot.MaxInputs {
			batch.Records = append(batch.Records, connectors.Record{Key: fmt.Sprintf("%d-%d", i, j), Op: connectors.OpUpsert,
				Fields: map[string]any{"email": fmt.Sprintf("p%d-%d@example.com", i, j), "firstname": "P"}})
		}
		return batch
	}
	limit := float64(fake.Limit) / fake.Window.Seconds()
	for b.Loop() {
		res, err := connectortest.Pace(context.Background(), c.Spec(), dest, 2, 4, 35*time.Second, next)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(res.PerSecond(), "req/s")
		b.ReportMetric(100*res.PerSecond()/limit, "%limit")
		b.ReportMetric(100*res.ThrottledShare(), "%429")
	}
}
