package connectors_test

import (
	"context"
	"testing"

	"sluice/connectors"
)

// plain is a destination with no optional capability.
type plain struct{}

func (plain) Check(context.Context) error { return nil }
func (plain) Write(context.Context, connectors.Batch) (*connectors.WriteResult, error) {
	return &connectors.WriteResult{}, nil
}
func (plain) Close() error { return nil }

// configured knows its own batch size and rate.
type configured struct {
	plain
	rate float64
}

func (configured) Action(name string) (connectors.Action, bool) {
	if name != "sync" {
		return connectors.Action{}, false
	}
	return connectors.Action{Name: "sync", BatchSize: 7}, true
}

func (c configured) RateLimit() (float64, int) { return c.rate, 0 }

func TestActionOf(t *testing.T) {
	spec := connectors.DestinationSpec{Actions: []connectors.Action{{Name: "sync", BatchSize: 500}, {Name: "remove", BatchSize: 100}}}
	for _, tc := range []struct {
		dest  connectors.Destination
		name  string
		batch int
		ok    bool
	}{
		{plain{}, "sync", 500, true},
		{configured{}, "sync", 7, true},     // the platform's own
		{configured{}, "remove", 100, true}, // unknown to it: the spec's
		{configured{}, "nope", 0, false},
	} {
		a, ok := connectors.ActionOf(spec, tc.dest, tc.name)
		if ok != tc.ok || a.BatchSize != tc.batch {
			t.Errorf("ActionOf(%T, %s) = %+v, %v; want batch %d, %v", tc.dest, tc.name, a, ok, tc.batch, tc.ok)
		}
	}
}

func TestRateLimitOf(t *testing.T) {
	documented := connectors.DestinationSpec{RequestsPerSecond: 10, Burst: 10}
	for _, tc := range []struct {
		spec      connectors.DestinationSpec
		dest      connectors.Destination
		perSecond float64
		burst     int
	}{
		{documented, plain{}, 10, 10},
		{documented, configured{rate: 3}, 3, 1}, // the platform's own, burst at least 1
		{documented, configured{rate: 0}, 10, 10},
		{connectors.DestinationSpec{}, plain{}, 0, 1}, // no limit
	} {
		ps, b := connectors.RateLimitOf(tc.spec, tc.dest)
		if ps != tc.perSecond || b != tc.burst {
			t.Errorf("RateLimitOf(%+v, %T) = %v, %d; want %v, %d", tc.spec, tc.dest, ps, b, tc.perSecond, tc.burst)
		}
	}
}
