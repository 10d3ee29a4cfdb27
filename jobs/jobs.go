// Package jobs runs Sluice's in-process cron: housekeeping now; schedule ticks,
// nightly validation and the run reaper join it as they arrive.
package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"

	"sluice/models"
)

// Scheduler owns the cron and the jobs registered on it.
type Scheduler struct {
	cron      *cron.Cron
	store     *models.Store
	log       *slog.Logger
	retention time.Duration
}

// New registers every job. Each is safe to run on several instances at once.
func New(store *models.Store, log *slog.Logger, retentionDays int) (*Scheduler, error) {
	s := &Scheduler{cron: cron.New(cron.WithLocation(time.UTC)), store: store, log: log, retention: time.Duration(retentionDays) * 24 * time.Hour}
	for spec, job := range map[string]func(){"@every 1h": s.pruneLoginAttempts, "@every 6h": s.PruneRunDetails} {
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

func (s *Scheduler) pruneLoginAttempts() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := s.store.PruneLoginAttempts(ctx)
	if err != nil {
		s.log.Error("prune login attempts", slog.Any("error", err))
		return
	}
	s.log.Debug("pruned login attempts", slog.Int64("deleted", n))
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
