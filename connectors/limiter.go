package connectors

import (
	"context"
	"math"
	"sync"
	"time"
)

// Limiter paces one platform's requests: a token bucket at the platform's rate
// (RateLimitOf), shared by every activation sending to it. Each instance of Sluice paces
// its share of the rate (SetShare), so that together they keep under the platform's
// limit; and when the platform answers 429 with Retry-After, every sender waits it out
// (Backoff), not only the one that was refused.
type Limiter struct {
	mu     sync.Mutex
	rate   float64 // requests per second for the whole platform; 0 is unlimited
	burst  int
	share  float64 // this instance's part of rate, in (0, 1]
	tokens float64
	last   time.Time
	until  time.Time // no request before: the platform asked to wait
	now    func() time.Time
}

// NewLimiter paces perSecond requests with bursts of burst (at least 1); perSecond 0 or
// less paces nothing but still waits out Backoff.
func NewLimiter(perSecond float64, burst int) *Limiter {
	burst = max(burst, 1)
	return &Limiter{rate: max(perSecond, 0), burst: burst, share: 1, tokens: float64(burst), now: time.Now}
}

// Limit is the platform's rate and burst the limiter was made with.
func (l *Limiter) Limit() (perSecond float64, burst int) { return l.rate, l.burst }

// SetShare sets this instance's part of the rate, between 0 (exclusive) and 1: 1/n when
// n instances send to the platform at once.
func (l *Limiter) SetShare(share float64) {
	if share <= 0 || share > 1 || math.IsNaN(share) {
		share = 1
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refill(l.now())
	l.share = share
	l.tokens = math.Min(l.tokens, l.capacity())
}

// Share is this instance's part of the rate.
func (l *Limiter) Share() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.share
}

// Backoff holds every request for d: the platform asked to wait (429, Retry-After).
// Tokens saved up meanwhile are dropped, so sending resumes at the paced rate.
func (l *Limiter) Backoff(d time.Duration) {
	if d <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if until := now.Add(d); until.After(l.until) {
		l.until = until
	}
	l.refill(now)
	l.tokens = math.Min(l.tokens, 0)
}

// Wait blocks until one request may go, or ctx ends.
func (l *Limiter) Wait(ctx context.Context) error {
	for {
		l.mu.Lock()
		now := l.now()
		at := now
		if l.until.After(at) {
			at = l.until
		}
		reserved := false
		if l.rate > 0 && !at.After(now) {
			l.refill(now)
			l.tokens--
			reserved = true
			if l.tokens < 0 {
				at = now.Add(time.Duration(-l.tokens / l.perSecond() * float64(time.Second)))
			}
		}
		l.mu.Unlock()
		if !at.After(now) {
			return nil
		}
		t := time.NewTimer(at.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			if reserved {
				l.mu.Lock()
				l.tokens++
				l.mu.Unlock()
			}
			return ctx.Err()
		case <-t.C:
		}
		if reserved && !l.held() {
			return nil
		}
		// Held by a Backoff meanwhile, or waiting for one to end: reserve again after it.
		if reserved {
			l.mu.Lock()
			l.tokens++
			l.mu.Unlock()
		}
	}
}

func (l *Limiter) held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.until.After(l.now())
}

func (l *Limiter) perSecond() float64 { return l.rate * l.share }

// capacity is the bucket's size at this share: the burst scaled down with the rate, at
// least one request.
func (l *Limiter) capacity() float64 { return math.Max(1, math.Floor(float64(l.burst)*l.share)) }

func (l *Limiter) refill(now time.Time) {
	if !l.last.IsZero() && l.rate > 0 {
		l.tokens = math.Min(l.capacity(), l.tokens+now.Sub(l.last).Seconds()*l.perSecond())
	}
	l.last = now
}
