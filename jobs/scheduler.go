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
	"hash/fnv"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"

	"sluice/connectors"
	"sluice/models"
)

// Scheduler owns the cron and the jobs registered on it.
type Scheduler struct {
	cron      *cron.Cron
	store     *models.Store
	runner    *Runner
	log       *slog.Logger
	retention time.Duration
	// now is the scheduler's clock (UTC); tests step it.
	now func() time.Time
}

// NewScheduler registers every job. Each is safe to run on several instances at once.
func NewScheduler(store *models.Store, runner *Runner, log *slog.Logger, retentionDays int) (*Scheduler, error) {
	s := &Scheduler{cron: cron.New(cron.WithLocation(time.UTC)), store: store, runner: runner, log: log, retention: time.Duration(retentionDays) * 24 * time.Hour,
		now: func() time.Time { return time.Now().UTC() }}
	for spec, job := range map[string]func(){"@every 1h": s.pruneHourly, "@every 6h": s.PruneRunDetails, "@every 6h5m": s.PruneSentAlerts, "@every 15s": s.tick, "@every 1m": s.everyMinute} {
		if _, err := s.cron.AddFunc(spec, job); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// everyMinute starts the day's validation when it is due and records the incidents of
// runs whose end was stored without one.
func (s *Scheduler) everyMinute() {
	s.dailyValidation()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.AlertMissedRuns(ctx); err != nil {
		s.log.Error("alert missed runs", slog.Any("error", err))
	}
	if err := s.runner.core.CheckGrantEndings(ctx); err != nil {
		s.log.Error("check the authorizations about to end", slog.Any("error", err))
	}
}

// AlertMissedRuns records the incident, with its alerts, of each failed or interrupted
// run of the last day whose end was stored without one: the process died between the
// two. A minute's grace leaves the runner time to do it itself. It answers how many it
// recorded.
func (s *Scheduler) AlertMissedRuns(ctx context.Context) (int, error) {
	now := s.now()
	runs, err := s.store.UnalertedRuns(ctx, now.Add(-24*time.Hour), now.Add(-time.Minute), 100)
	if err != nil {
		return 0, err
	}
	for i := range runs {
		s.runner.core.RunEnded(ctx, &runs[i], nil, runs[i].Outcome())
	}
	return len(runs), nil
}

// SetClock makes the scheduler read the time from now (tests drive it with a fake clock).
func (s *Scheduler) SetClock(now func() time.Time) { s.now = now }

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
	if _, err := s.Tick(ctx, s.now()); err != nil {
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
	return queued, s.skipPausedTicks(ctx, now)
}

// skipPausedTicks records the due ticks of paused activations as skipped runs with the
// pause's reason, so Run History shows the gap. The same unique (activation, tick) key
// as queued runs makes several instances record each tick once.
func (s *Scheduler) skipPausedTicks(ctx context.Context, now time.Time) error {
	acts, err := s.store.PausedScheduledActivations(ctx)
	if err != nil {
		return err
	}
	for _, a := range acts {
		last, err := s.store.LastScheduledFor(ctx, a.ID)
		if err != nil {
			return err
		}
		from := a.CreatedAt
		if last != nil {
			from = *last
		}
		due, err := a.Schedule().LatestDue(from, now)
		if err != nil || due.IsZero() {
			continue
		}
		_, err = s.store.RecordSkippedTick(ctx, a.WorkspaceID, a.ID, due, string(connectors.CategoryConfiguration), "The activation is paused: "+a.PauseReason)
		if err != nil && !errors.Is(err, models.ErrConflict) {
			return err
		}
	}
	return nil
}

// The daily validation's window: every workspace starts at its own offset from 00:00
// UTC, early enough in the window that a late cron still starts it before 02:00.
const (
	validationWindow = 2 * time.Hour
	validationSpread = 110 * time.Minute
)

// ValidationOffset is when, after 00:00 UTC, a workspace's daily validation starts:
// stable per workspace (a hash of its id), so workspaces spread over the window.
func ValidationOffset(workspaceID string) time.Duration {
	h := fnv.New32a()
	_, _ = h.Write([]byte(workspaceID))
	return time.Duration(h.Sum32()%uint32(validationSpread/time.Second)) * time.Second
}

func (s *Scheduler) dailyValidation() {
	ctx, cancel := context.WithTimeout(context.Background(), validationWindow)
	defer cancel()
	if _, err := s.DailyValidation(ctx, s.now()); err != nil {
		s.log.Error("daily validation", slog.Any("error", err))
	}
}

// DailyValidation validates, at now, each workspace whose start time has come and that
// no instance has validated today: every source (the five checks), every model (schema
// against its snapshot, duplicate keys), then the automatic pauses and resumes, threshold
// pauses included. The workspace's day is claimed in the database first, so it runs once
// a day whatever the number of instances. It answers how many workspaces it validated.
func (s *Scheduler) DailyValidation(ctx context.Context, now time.Time) (int, error) {
	now = now.UTC()
	day := now.Truncate(24 * time.Hour)
	if now.Sub(day) >= validationWindow {
		return 0, nil
	}
	wss, err := s.store.ListWorkspaces(ctx)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, ws := range wss {
		if now.Before(day.Add(ValidationOffset(ws.ID))) {
			continue
		}
		claimed, err := s.store.ClaimValidationDay(ctx, ws.ID, now)
		if err != nil {
			return done, err
		}
		if !claimed {
			continue
		}
		done++
		log := s.log.With(slog.String("workspace_id", ws.ID))
		if err := s.runner.core.ValidateWorkspace(ctx, ws.ID); err != nil {
			log.Warn("daily validation: some objects could not be validated", slog.Any("error", err))
		}
		if err := s.runner.RecheckThresholds(ctx, ws.ID); err != nil {
			log.Warn("daily validation: threshold pauses could not be checked", slog.Any("error", err))
		}
	}
	return done, nil
}

// PruneSentAlerts enforces the retention of delivered alerts in the outbox.
func (s *Scheduler) PruneSentAlerts() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	n, err := s.store.PruneSentAlerts(ctx, s.now().Add(-s.retention))
	if err != nil {
		s.log.Error("prune sent alerts", slog.Any("error", err))
		return
	}
	s.log.Info("pruned sent alerts past retention", slog.Int64("rows", n))
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
