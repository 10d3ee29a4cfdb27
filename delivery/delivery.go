// Package delivery is the app's side of sending audiences: platforms and activations as
// users define them, the run queue and its workers, and what a run's outcome does to
// the activation and the platform. The run itself is package engine's.
package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"sluice/connectors"
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

// Service owns platforms, activations and runs.
type Service struct {
	store    *models.Store
	registry *connectors.Registry
	log      *slog.Logger
	opts     Options
	owner    string

	mu       sync.Mutex
	limiters map[string]*rate.Limiter // per platform, shared by its activations
	slots    map[string]chan struct{} // per platform: runs sending to it at once
	wake     chan struct{}
}

// New returns the delivery service.
func New(store *models.Store, registry *connectors.Registry, log *slog.Logger, opts Options) *Service {
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
	return &Service{store: store, registry: registry, log: log, opts: opts,
		owner:    fmt.Sprintf("%s/%d/%d", host, os.Getpid(), time.Now().UnixNano()),
		limiters: map[string]*rate.Limiter{}, slots: map[string]chan struct{}{}, wake: make(chan struct{}, 1)}
}

// Registry lists the destination kinds.
func (s *Service) Registry() *connectors.Registry { return s.registry }

// limiter is the platform's rate limiter, shared by its activations on this instance.
// An opened destination that knows its configured rate (RateLimit) overrides the
// spec's documented default; a changed rate replaces the limiter.
func (s *Service) limiter(platformID string, spec connectors.DestinationSpec, dest connectors.Destination) *rate.Limiter {
	limit, burst := rate.Inf, 1
	if spec.RequestsPerSecond > 0 {
		limit, burst = rate.Limit(spec.RequestsPerSecond), max(spec.Burst, 1)
	}
	if rl, ok := dest.(interface{ RateLimit() (float64, int) }); ok {
		if perSecond, b := rl.RateLimit(); perSecond > 0 {
			limit, burst = rate.Limit(perSecond), max(b, 1)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.limiters[platformID]
	if !ok || l.Limit() != limit || l.Burst() != burst {
		l = rate.NewLimiter(limit, burst)
		s.limiters[platformID] = l
	}
	return l
}

// platformSlot takes one of the platform's run slots, waiting while all are in use and
// calling beat meanwhile (the run's lease must not expire while it waits); the answer
// gives the slot back.
func (s *Service) platformSlot(ctx context.Context, platformID string, beat func() error) (func(), error) {
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
			return func() { <-slot }, nil
		case <-tick.C:
			if err := beat(); err != nil {
				return nil, err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// DestinationSpec returns a destination kind's spec; an unknown kind is a field error.
func (s *Service) DestinationSpec(kind string) (connectors.DestinationSpec, error) {
	c, ok := s.registry.Destination(kind)
	if !ok {
		return connectors.DestinationSpec{}, &models.FieldError{Field: "kind", Message: fmt.Sprintf("Unknown platform kind %q.", kind)}
	}
	return c.Spec(), nil
}

// openPlatform connects to a saved platform.
func (s *Service) openPlatform(ctx context.Context, p *models.Platform) (connectors.Destination, connectors.DestinationSpec, error) {
	c, ok := s.registry.Destination(p.Kind)
	if !ok {
		return nil, connectors.DestinationSpec{}, fmt.Errorf("delivery: platform kind %q is not available in this build", p.Kind)
	}
	cfg, err := s.store.PlatformConfig(p)
	if err != nil {
		return nil, c.Spec(), err
	}
	d, err := c.Open(ctx, cfg)
	return d, c.Spec(), err
}

// asFieldError turns a connector's config error into a form field error.
func asFieldError(err error) error {
	if ce, ok := connectors.AsError(err); ok && ce.Field != "" {
		return &models.FieldError{Field: "config." + ce.Field, Message: ce.Message}
	}
	return err
}

// systemActor is who Sluice itself acts as (automatic pauses, platform status).
func systemActor(workspaceID string) models.Actor {
	return models.Actor{WorkspaceID: workspaceID, Type: models.ActorSystem, Name: "Sluice", Role: models.RoleAdmin}
}
