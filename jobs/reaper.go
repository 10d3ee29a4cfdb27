package jobs

import (
	"context"
	"log/slog"

	"sluice/models"
)

// reap marks interrupted the runs whose lease expired: their instance died or lost the
// database. The next run of each sends whatever was not acknowledged.
func (s *Runner) reap(ctx context.Context) {
	runs, err := s.store.ReapRuns(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("reap runs", slog.Any("error", err))
		}
		return
	}
	for _, r := range runs {
		s.log.Warn("run interrupted: its lease expired", slog.String("run_id", r.ID), slog.String("activation_id", r.ActivationID))
		s.ended(ctx, &r, nil, models.RunOutcome{Status: models.RunInterrupted})
	}
}
