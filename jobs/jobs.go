// Package jobs runs Sluice's in-process cron: schedule ticks, retention and
// housekeeping (nightly validation joins it). The run reaper lives with the workers.
package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"

	"sluice/delivery"
	"sluice/models"
)

// Scheduler owns the cron and the jobs registered on it.
type Scheduler struct {
	cron      *cron.Cron
	store     *models.Store
	delivery  *delivery.Service
	log       *slog.Logger
	retention time.Duration
}

// New registers every job. Each is safe to run on several instances at once.
func New(store *models.Store, dl *delivery.Service, log *slog.Logger, retentionDays int) (*Scheduler, error) {
	s := &Scheduler{cron: cron.New(cron.WithLocation(time.UTC)), store: store, delivery: dl, log: log, retention: time.Duration(retentionDays) * 24 * time.Hour}
	for spec, job := range map[string]func(){"@every 1h": s.pruneHourly, "@every 6h": s.PruneRunDetails, "@every 15s": s.tick} {
		if _, err := s.cron.AddFunc(spec, job); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Start runs the jobs in the background.
func (s *Scheduler) Start() { s.cron.Start() }

// Stop waits for running jobs to finish, up to ctx's deadline.
func (s *Scheduler) Stop(ctx context.Context) {
	select {
	case <-s.cron.Stop().Done():
	case <-ctx.Done():
	}
}

// pruneHourly forgets what sign-in keeps only for a while: throttle counts a day old and
// expired sessions.
func (s *Scheduler) pruneHourly() {
	s.pruneThrottles()
	s.pruneSessions()
}

func (s *Scheduler) pruneSessions() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := s.store.PruneSessions(ctx)
	if err != nil {
		s.log.Error("prune sessions", slog.Any("error", err))
		return
	}
	s.log.Debug("pruned expired sessions", slog.Int64("deleted", n))
}

func (s *Scheduler) pruneThrottles() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := s.store.PruneThrottles(ctx)
	if err != nil {
		s.log.Error("prune sign-in throttles", slog.Any("error", err))
		return
	}
	s.log.Debug("pruned sign-in throttles", slog.Int64("deleted", n))
}

// tick queues the scheduled runs that are due. Every instance ticks: the runs' unique
// (activation, tick) key makes their ticks collapse into one run.
func (s *Scheduler) tick() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.delivery.Tick(ctx, time.Now().UTC()); err != nil {
		s.log.Error("schedule tick", slog.Any("error", err))
	}
}

// PruneRunDetails enforces the retention of run logs, issues, change logs and samples.
func (s *Scheduler) PruneRunDetails() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	n, err := s.store.PruneRunDetails(ctx, time.Now().Add(-s.retention))
	if err != nil {
		s.log.Error("prune run details", slog.Any("error", err))
		return
	}
	s.log.Info("pruned run details past retention", slog.Int64("rows", n))
}
