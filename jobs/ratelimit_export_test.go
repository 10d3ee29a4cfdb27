package jobs

import (
	"context"

	"sluice/connectors"
)

// Sending takes a run slot of the platform (rated perSecond) as a run does before it
// sends, and answers the function that gives it back.
func (s *Runner) Sending(ctx context.Context, platformID string, perSecond float64) (func(), error) {
	s.limiter(platformID, connectors.DestinationSpec{RequestsPerSecond: perSecond}, nil)
	return s.platformSlot(ctx, platformID, func() error { return nil })
}

// PlatformShare is the part of the platform's rate its limiter paces on this instance;
// 0 when the instance has none.
func (s *Runner) PlatformShare(platformID string) float64 {
	s.mu.Lock()
	l := s.limiters[platformID]
	s.mu.Unlock()
	if l == nil {
		return 0
	}
	return l.Share()
}
