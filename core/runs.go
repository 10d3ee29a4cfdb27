package core

import (
	"context"

	"sluice/models"
)

// CancelRun stops a queued or running run: a queued one never starts, a running one
// stops at its next batch and keeps what was acknowledged.
func (s *Service) CancelRun(ctx context.Context, workspaceID, id string) (*models.Run, error) {
	return s.store.CancelRun(ctx, workspaceID, id)
}
