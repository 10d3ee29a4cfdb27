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
	// timer fires after d; tests step a fake clock through it.
	timer func(d time.Duration) (fired <-chan time.Time, stop func() bool)
}

func realTimer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// NewLimiter paces perSecond requests with bursts of burst (at least 1); perSecond 0 or
// less paces nothing but still waits out Backoff.
func NewLimiter(perSecond float64, burst int) *Limiter {
	burst = max(burst, 1)
	return &Limiter{rate: max(perSecond, 0), burst: burst, share: 1, tokens: float64(burst), now: time.Now, timer: realTimer}
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

// Backoff holds every request for d, those already waiting too: the platform asked to
// wait (429, Retry-After). Tokens saved up before and none accrue meanwhile, so sending
// resumes at the paced rate rather than with a burst the platform would refuse again.
func (l *Limiter) Backoff(d time.Duration) {
	if d <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.refill(now)
	if until := now.Add(d); until.After(l.until) {
		l.until = until
	}
	l.tokens = math.Min(l.tokens, 0)
}

// Wait blocks until one request may go, or ctx ends; an ended ctx lets none go.
func (l *Limiter) Wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
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
		fired, stop := l.timer(at.Sub(now))
		select {
		case <-ctx.Done():
			stop()
			if reserved {
				l.giveBack()
			}
			return ctx.Err()
		case <-fired:
		}
		if !reserved {
			continue // the hold is over: reserve now
		}
		if !l.held() {
			return nil
		}
		// Held by a Backoff meanwhile: give the token back and reserve again after it.
		l.giveBack()
	}
}

// giveBack returns the token of a request that did not go.
func (l *Limiter) giveBack() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refill(l.now())
	l.tokens = math.Min(l.tokens+1, l.capacity())
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

// refill adds the tokens accrued since the last refill, none for the time held by a
// Backoff.
func (l *Limiter) refill(now time.Time) {
	from := l.last
	if l.until.After(from) {
		from = l.until
	}
	if !l.last.IsZero() && l.rate > 0 && now.After(from) {
		l.tokens = math.Min(l.capacity(), l.tokens+now.Sub(from).Seconds()*l.perSecond())
	}
	if now.After(l.last) {
		l.last = now
	}
}
