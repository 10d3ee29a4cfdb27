package jobs

import (
	"context"
	"log/slog"

	"sluice/models"
)

// flagDuplicates hands a run's duplicate keys to its model: rows withheld for a shared
// primary key flag the model; a run that read its whole segment and found none clears a
// flag an earlier run set. A run stopped before the end says nothing when it found none.
func (s *Runner) flagDuplicates(ctx context.Context, run *models.Run, act *models.Activation, o models.RunOutcome) {
	complete := o.Status == models.RunSucceeded || o.Status == models.RunWarnings ||
		(o.Status == models.RunFailed && o.ErrorSide == models.RunSideData)
	if o.DuplicateKeys == 0 && !complete {
		return
	}
	m, err := s.modelOf(ctx, run.WorkspaceID, act.SegmentID)
	if err != nil {
		s.log.Error("find the run's model", slog.Any("error", err))
		return
	}
	if _, err := s.core.RunFoundDuplicates(ctx, run.WorkspaceID, m.ID, run.ID, o.DuplicateKeys, o.Counts.Queried); err != nil {
		s.log.Error("flag the model's duplicate keys", slog.Any("error", err))
	}
}
