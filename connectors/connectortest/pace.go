package connectortest

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"sluice/connectors"
)

// PaceResult is what Pace measured.
type PaceResult struct {
	// Requests is every request the platform answered, Throttled those it answered 429.
	Requests, Throttled int
	Elapsed             time.Duration
}

// PerSecond is the accepted requests (not throttled) per second.
func (r PaceResult) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests-r.Throttled) / r.Elapsed.Seconds()
}

// ThrottledShare is the part of the requests answered 429, between 0 and 1.
func (r PaceResult) ThrottledShare() float64 {
	if r.Requests == 0 {
		return 0
	}
	return float64(r.Throttled) / float64(r.Requests)
}

// Pace sends batches to dest for d as Sluice's workers do: instances each pace their
// share of the platform's rate (connectors.RateLimitOf) with a connectors.Limiter, and
// senders of each (the platform's activations) write at once through it; a 429 holds the
// instance's limiter for its Retry-After, then the batch is sent again. next gives the
// i-th batch. Any other error stops Pace and is returned. It is the measure of the
// benchmarks that prove a connector's pacing against its fake: at least 90% of the
// documented limit, under 1% of requests throttled.
func Pace(ctx context.Context, spec connectors.DestinationSpec, dest connectors.Destination, instances, senders int, d time.Duration, next func(i int) connectors.Batch) (PaceResult, error) {
	instances, senders = max(instances, 1), max(senders, 1)
	perSecond, burst := connectors.RateLimitOf(spec, dest)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var requests, throttled, batches atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range instances {
		l := connectors.NewLimiter(perSecond, burst)
		l.SetShare(1 / float64(instances))
		for range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := next(int(batches.Add(1) - 1))
				for {
					if l.Wait(ctx) != nil {
						return
					}
					_, err := dest.Write(ctx, b)
					if ctx.Err() != nil {
						return // cut by the end of the measure: not counted
					}
					requests.Add(1)
					if err == nil {
						b = next(int(batches.Add(1) - 1))
						continue
					}
					if ce, ok := connectors.AsError(err); ok && ce.Category == connectors.CategoryRateLimit {
						throttled.Add(1)
						l.Backoff(max(ce.RetryAfter, time.Second))
						continue
					}
					once.Do(func() { firstErr = err; cancel() })
					return
				}
			}()
		}
	}
	wg.Wait()
	return PaceResult{Requests: int(requests.Load()), Throttled: int(throttled.Load()), Elapsed: time.Since(start)}, firstErr
}
