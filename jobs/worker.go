package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"sluice/connectors"
	"sluice/core"
	"sluice/engine"
	"sluice/models"
)

// Options tune the workers.
type Options struct {
	// Workers is how many runs this instance executes at once.
	Workers int
	// PerPlatform is how many of them may send to one platform at once.
	PerPlatform int
	// Lease is how long a claimed run stays this instance's without a heartbeat.
	Lease time.Duration
	// Poll is how often idle workers look for queued runs.
	Poll time.Duration
	// Engine tunes runs (retry attempts and delays); zero values take its defaults.
	Engine engine.Options
}

// Runner owns the run queue of this instance: it claims queued runs, executes them
// and records how each ended.
type Runner struct {
	store *models.Store
	core  *core.Service
	log   *slog.Logger
	opts  Options
	owner string

	mu       sync.Mutex
	limiters map[string]*connectors.Limiter // per platform, shared by its activations
	slots    map[string]chan struct{}       // per platform: runs sending to it at once
	wake     chan struct{}
	// pace is this instance's share of each platform's rate, counted with the others.
	pace sharedPace
}

// NewRunner returns the run queue and its workers, not started.
func NewRunner(store *models.Store, c *core.Service, log *slog.Logger, opts Options) *Runner {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.PerPlatform <= 0 {
		opts.PerPlatform = 2
	}
	if opts.Lease <= 0 {
		opts.Lease = 30 * time.Second
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	host, _ := os.Hostname()
	return &Runner{store: store, core: c, log: log, opts: opts,
		owner:    fmt.Sprintf("%s/%d/%d", host, os.Getpid(), time.Now().UnixNano()),
		limiters: map[string]*connectors.Limiter{}, slots: map[string]chan struct{}{}, wake: make(chan struct{}, 1)}
}

// limiter is the platform's rate limiter, shared by its activations on this instance.
// The platform's configured rate outranks its kind's documented one
// (connectors.RateLimitOf); a changed rate replaces the limiter. It paces this
// instance's share of the rate, counted with the other instances sending to the
// platform (sending).
func (s *Runner) limiter(platformID string, spec connectors.DestinationSpec, dest connectors.Destination) *connectors.Limiter {
	perSecond, burst := connectors.RateLimitOf(spec, dest)
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.limiters[platformID]
	if ok {
		if ps, b := l.Limit(); ps == perSecond && b == burst {
			return l
		}
	}
	l = connectors.NewLimiter(perSecond, burst)
	l.SetShare(s.pace.share(platformID))
	s.limiters[platformID] = l
	return l
}

// platformSlot takes one of the platform's run slots, waiting while all are in use and
// calling beat meanwhile (the run's lease must not expire while it waits), and counts
// the run among the instance's senders to the platform (sending); the answer gives
// both back.
func (s *Runner) platformSlot(ctx context.Context, platformID string, beat func() error) (func(), error) {
	s.mu.Lock()
	slot, ok := s.slots[platformID]
	if !ok {
		slot = make(chan struct{}, s.opts.PerPlatform)
		s.slots[platformID] = slot
	}
	s.mu.Unlock()
	tick := time.NewTicker(s.opts.Lease / 3)
	defer tick.Stop()
	for {
		select {
		case slot <- struct{}{}:
			done := s.sending(platformID)
			return func() { done(); <-slot }, nil
		case <-tick.C:
			if err := beat(); err != nil {
				return nil, err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Start runs the workers and the reaper until ctx ends. Runs left running by a process
// that died are marked interrupted first.
func (s *Runner) Start(ctx context.Context) *sync.WaitGroup {
	var wg sync.WaitGroup
	s.reap(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(s.opts.Lease / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.reap(ctx)
			}
		}
	}()
	for range s.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if ran := s.RunOne(ctx); ran {
					continue
				}
				select {
				case <-ctx.Done():
					return
				case <-s.wake:
				case <-time.After(s.opts.Poll):
				}
			}
		}()
	}
	return &wg
}

// RunOne claims one queued run and executes it; it answers whether there was one.
func (s *Runner) RunOne(ctx context.Context) bool {
	run, err := s.store.ClaimRun(ctx, s.owner, s.opts.Lease)
	if errors.Is(err, models.ErrNotFound) {
		return false
	}
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("claim run", slog.Any("error", err))
		}
		return false
	}
	s.execute(ctx, run)
	return true
}
