// Package jobs owns the run's whole life outside the engine: the cron (schedule ticks,
// retention, housekeeping), the queue (run now, wake), the workers (claim, platform
// slots, rate limiters), the reaper, and the runner, which opens the source and the
// platform, hands them to the engine and records the outcome; every run, finished or
// reaped, ends in one function (Runner.ended).
// It is the only package where the engine's types and the stored ones meet.
package jobs

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"

	"sluice/models"
)

// Scheduler owns the cron and the jobs registered on it.
type Scheduler struct {
	cron      *cron.Cron
	store     *models.Store
	runner    *Runner
	log       *slog.Logger
	retention time.Duration
}

// NewScheduler registers every job. Each is safe to run on several instances at once.
func NewScheduler(store *models.Store, runner *Runner, log *slog.Logger, retentionDays int) (*Scheduler, error) {
	s := &Scheduler{cron: cron.New(cron.WithLocation(time.UTC)), store: store, runner: runner, log: log, retention: time.Duration(retentionDays) * 24 * time.Hour}
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
	if _, err := s.Tick(ctx, time.Now().UTC()); err != nil {
		s.log.Error("schedule tick", slog.Any("error", err))
	}
}

// Tick enqueues the runs that are due at now: for each active scheduled activation, the
// latest tick since its last scheduled run. Ticks missed while every instance was down
// run once, not once per tick. The run's unique (activation, scheduled_for) key makes
// ticks of several instances collapse into one run.
func (s *Scheduler) Tick(ctx context.Context, now time.Time) (int, error) {
	acts, err := s.store.ScheduledActivations(ctx)
	if err != nil {
		return 0, err
	}
	queued := 0
	for _, a := range acts {
		sc := a.Schedule()
		last, err := s.store.LastScheduledFor(ctx, a.ID)
		if err != nil {
			return queued, err
		}
		from := a.CreatedAt
		if last != nil {
			from = *last
		}
		due, err := sc.LatestDue(from, now)
		if err != nil {
			s.log.Warn("bad schedule", slog.String("activation_id", a.ID), slog.Any("error", err))
			continue
		}
		if due.IsZero() {
			continue
		}
		if _, err := s.store.EnqueueRun(ctx, a.WorkspaceID, a.ID, models.TriggerSchedule, &due, false); err != nil {
			if errors.Is(err, models.ErrConflict) {
				continue // another instance queued this tick
			}
			return queued, err
		}
		queued++
	}
	if queued > 0 {
		s.runner.Wake()
	}
	return queued, nil
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
