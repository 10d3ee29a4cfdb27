package jobs

import (
	"context"
	"errors"
	"fmt"

	"sluice/models"
)

// BusyError refuses a run while another of the activation is queued or running.
type BusyError struct{ Run *models.Run }

func (e *BusyError) Error() string {
	return fmt.Sprintf("This activation already has a run %s (%s). Wait for it to finish, or cancel it, then start another.", e.Run.Status, e.Run.ID)
}

// ErrPaused refuses a run of a paused activation.
var ErrPaused = errors.New("jobs: the activation is paused")

// RunNow queues a run and wakes a worker. A paused activation (ErrPaused) or one with a
// run queued or running (*BusyError) is refused.
func (s *Runner) RunNow(ctx context.Context, workspaceID, activationID, trigger string, fullResync bool) (*models.Run, error) {
	act, err := s.store.ActivationByID(ctx, workspaceID, activationID)
	if err != nil {
		return nil, err
	}
	if act.Status == models.ActivationPaused {
		return nil, ErrPaused
	}
	if active, err := s.store.ActiveRun(ctx, activationID); err == nil {
		return nil, &BusyError{Run: active}
	} else if !models.IsNotFound(err) {
		return nil, err
	}
	r, err := s.store.EnqueueRun(ctx, workspaceID, activationID, trigger, nil, fullResync)
	if err != nil {
		return nil, err
	}
	s.Wake()
	return r, nil
}

// Wake tells an idle worker to look for queued runs now.
func (s *Runner) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
