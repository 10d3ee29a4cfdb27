package connectors

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock is the limiter's clock in these tests. In auto mode a timer moves the time
// to its deadline at once, so one goroutine steps through any wait instantly; otherwise
// timers fire only when advance reaches them, so a test can hold waiters where it wants.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	auto   bool
	timers []*fakeTimer
}

type fakeTimer struct {
	at time.Time
	c  chan time.Time
}

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// newFakeLimiter is a limiter on a fake clock set at epoch.
func newFakeLimiter(perSecond float64, burst int, auto bool) (*Limiter, *fakeClock) {
	c := &fakeClock{t: epoch, auto: auto}
	l := NewLimiter(perSecond, burst)
	l.now, l.timer = c.now, c.timer
	return l, c
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// since is the fake time gone since epoch.
func (c *fakeClock) since() time.Duration { return c.now().Sub(epoch) }

func (c *fakeClock) timer(d time.Duration) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ft := &fakeTimer{at: c.t.Add(d), c: make(chan time.Time, 1)}
	if c.auto {
		c.t = ft.at
		ft.c <- c.t
		return ft.c, func() bool { return false }
	}
	c.timers = append(c.timers, ft)
	return ft.c, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		n := len(c.timers)
		c.timers = slices.DeleteFunc(c.timers, func(o *fakeTimer) bool { return o == ft })
		return len(c.timers) < n
	}
}

// advance moves the time on by d and fires the timers due.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.timers = slices.DeleteFunc(c.timers, func(ft *fakeTimer) bool {
		if ft.at.After(c.t) {
			return false
		}
		ft.c <- c.t
		return true
	})
}

// waitTimers waits (in real time) until n timers are pending and answers their
// deadlines from epoch, earliest first.
func (c *fakeClock) waitTimers(t *testing.T, n int) []time.Duration {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		var at []time.Duration
		for _, ft := range c.timers {
			at = append(at, ft.at.Sub(epoch))
		}
		c.mu.Unlock()
		if len(at) == n {
			slices.Sort(at)
			return at
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d timers pending, want %d", len(at), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// sent counts the requests l lets go within d of fake time, from now on.
func sent(t *testing.T, l *Limiter, c *fakeClock, d time.Duration) int {
	t.Helper()
	end := c.now().Add(d)
	n := 0
	for {
		if err := l.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if c.now().After(end) {
			return n
		}
		n++
	}
}

func near(got, want time.Duration) bool { return (got - want).Abs() <= time.Millisecond }

func TestLimiterPacesItsRate(t *testing.T) {
	l, c := newFakeLimiter(10, 5, true)
	// The bucket starts full: the burst, then one request every 100ms.
	if n := sent(t, l, c, 10*time.Second); n < 104 || n > 106 {
		t.Fatalf("%d requests in 10s at 10/s with a burst of 5, want 105", n)
	}
	// A long idle saves up no more than the burst.
	c.advance(time.Hour)
	start := c.since()
	for i := range 5 {
		if err := l.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if c.since() != start {
			t.Fatalf("request %d of the burst waited %s", i+1, c.since()-start)
		}
	}
	if err := l.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := c.since() - start; !near(got, 100*time.Millisecond) {
		t.Fatalf("the request after the burst waited %s, want 100ms", got)
	}
	if ps, b := l.Limit(); ps != 10 || b != 5 {
		t.Fatalf("Limit() = %v, %d", ps, b)
	}
}

func TestLimiterShare(t *testing.T) {
	l, c := newFakeLimiter(10, 4, true)
	l.SetShare(0.5)
	if l.Share() != 0.5 {
		t.Fatalf("share %v", l.Share())
	}
	// Half the rate, and half the burst.
	if n := sent(t, l, c, 10*time.Second); n < 51 || n > 53 {
		t.Fatalf("%d requests in 10s at half of 10/s with half of a burst of 4, want 52", n)
	}
	l.SetShare(1)
	if n := sent(t, l, c, 10*time.Second); n < 99 || n > 101 {
		t.Fatalf("%d requests in 10s back at the whole rate, want 100", n)
	}
	// A tiny share still lets one request go at a time.
	l.SetShare(0.01)
	c.advance(time.Hour)
	if err := l.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	start := c.since()
	if err := l.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := c.since() - start; !near(got, 10*time.Second) {
		t.Fatalf("at 1%% of 10/s the next request waited %s, want 10s", got)
	}
	for _, bad := range []float64{0, -1, 1.5, math.NaN()} {
		l.SetShare(bad)
		if l.Share() != 1 {
			t.Errorf("SetShare(%v) left share %v, want 1", bad, l.Share())
		}
	}
}

func TestLimiterBackoffHoldsWaitersAlreadyWaiting(t *testing.T) {
	l, c := newFakeLimiter(10, 1, false)
	ctx := context.Background()
	if err := l.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	// Three senders wait their turn: 100, 200 and 300ms.
	went := make(chan time.Duration, 3)
	for range 3 {
		go func() {
			if err := l.Wait(ctx); err != nil {
				t.Error(err)
			}
			went <- c.since()
		}()
	}
	if at := c.waitTimers(t, 3); !near(at[0], 100*time.Millisecond) || !near(at[2], 300*time.Millisecond) {
		t.Fatalf("waiters due at %v", at)
	}
	// The platform answers 429 and asks for a second: nobody goes before it is over,
	// not even those already due earlier.
	l.Backoff(time.Second)
	c.advance(300 * time.Millisecond)
	if at := c.waitTimers(t, 3); !near(at[0], time.Second) || !near(at[2], time.Second) {
		t.Fatalf("after the Backoff waiters are due at %v, want all at 1s", at)
	}
	select {
	case at := <-went:
		t.Fatalf("a request went at %s, during the Backoff", at)
	default:
	}
	// When it is, they go at the paced rate, one every 100ms, not all at once.
	c.advance(700 * time.Millisecond)
	if at := c.waitTimers(t, 3); !near(at[0], 1100*time.Millisecond) || !near(at[1], 1200*time.Millisecond) || !near(at[2], 1300*time.Millisecond) {
		t.Fatalf("after the Backoff waiters are due at %v, want 1.1s, 1.2s and 1.3s", at)
	}
	c.advance(300 * time.Millisecond)
	for range 3 {
		if at := <-went; !near(at, 1300*time.Millisecond) {
			t.Fatalf("a request went at %s", at)
		}
	}
}

func TestLimiterBackoffDropsSavedTokens(t *testing.T) {
	l, c := newFakeLimiter(10, 10, true)
	l.Backoff(5 * time.Second)
	l.Backoff(time.Second) // a shorter wait does not cut a longer one
	l.Backoff(0)
	// The bucket was full, and the hold saves nothing up: one request every 100ms from
	// the end of the hold, no burst the platform would refuse again.
	for i := range 10 {
		if err := l.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if want := 5*time.Second + time.Duration(i+1)*100*time.Millisecond; !near(c.since(), want) {
			t.Fatalf("request %d went at %s, want %s", i+1, c.since(), want)
		}
	}
}

func TestLimiterCancelGivesTheTokenBack(t *testing.T) {
	l, c := newFakeLimiter(1, 1, false)
	if err := l.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Wait(ctx) }()
	c.waitTimers(t, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Wait answered %v", err)
	}
	c.waitTimers(t, 0)
	// The next sender takes the token the cancelled one reserved: due at 1s, not 2s.
	go func() { done <- l.Wait(context.Background()) }()
	if at := c.waitTimers(t, 1); !near(at[0], time.Second) {
		t.Fatalf("the next request is due at %s, want 1s", at[0])
	}
	c.advance(time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// An ended context lets no request go, even with tokens to spare.
	c.advance(time.Hour)
	if err := l.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with an ended context answered %v", err)
	}
	go func() { done <- l.Wait(context.Background()) }()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(c.waitTimers(t, 0)); n != 0 {
		t.Fatalf("%d timers after the token was taken", n)
	}
	// A sender cancelled while a Backoff holds it gives nothing back it did not take.
	l.Backoff(time.Minute)
	ctx, cancel = context.WithCancel(context.Background())
	go func() { done <- l.Wait(ctx) }()
	c.waitTimers(t, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Wait during a Backoff answered %v", err)
	}
	if l.tokens > 0 {
		t.Fatalf("%v tokens after a Backoff, want none", l.tokens)
	}
}

func TestLimiterUnlimited(t *testing.T) {
	for _, rate := range []float64{0, -5} {
		l, c := newFakeLimiter(rate, 0, true)
		if ps, b := l.Limit(); ps != 0 || b != 1 {
			t.Fatalf("NewLimiter(%v, 0).Limit() = %v, %d, want 0, 1", rate, ps, b)
		}
		for range 1000 {
			if err := l.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if c.since() != 0 {
			t.Fatalf("an unlimited limiter waited %s", c.since())
		}
		// A platform without a documented rate can still answer 429.
		l.Backoff(2 * time.Second)
		if err := l.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !near(c.since(), 2*time.Second) {
			t.Fatalf("after Backoff(2s) the request went at %s", c.since())
		}
		if err := l.Wait(context.Background()); err != nil || !near(c.since(), 2*time.Second) {
			t.Fatalf("after the hold the next request waited until %s (%v)", c.since(), err)
		}
	}
}

// On the real clock: many senders at once keep to the rate, and none is left waiting.
func TestLimiterRealClock(t *testing.T) {
	l := NewLimiter(200, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var mu sync.Mutex
	n := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for l.Wait(ctx) == nil {
				mu.Lock()
				n++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// 10 at once, then 200/s for 0.5s: 110. Below 80 the limiter starves its senders.
	if n > 112 || n < 80 {
		t.Fatalf("%d requests in 500ms at 200/s with a burst of 10, want about 110", n)
	}
}

func BenchmarkLimiterWait(b *testing.B) {
	ctx := context.Background()
	b.Run("unlimited", func(b *testing.B) {
		l := NewLimiter(0, 1)
		for b.Loop() {
			_ = l.Wait(ctx)
		}
	})
	b.Run("under_rate", func(b *testing.B) {
		l := NewLimiter(1e9, 1e6)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = l.Wait(ctx)
			}
		})
	})
}
