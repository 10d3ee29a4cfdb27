package handlers

import (
	"context"

	"sluice/connectors"
	"sluice/models"
)

// fix is where a run's error is fixed: a named route with its parameter.
type fix struct {
	Label, Route, Param, Query string
}

// runFix maps an error category to the exact place to fix it (DESIGN.md: every error
// carries a fix). Pages reverse it to a path; the API adds the base URL.
func runFix(ctx context.Context, store *models.Store, r *models.Run, a *models.Activation) *fix {
	switch connectors.Category(r.ErrorCategory) {
	case connectors.CategoryCredentials:
		return &fix{"Re-authorize", "platforms.reauthorize", a.PlatformID, ""}
	case connectors.CategoryNotFound:
		return &fix{"Check the platform", "platforms.show", a.PlatformID, ""}
	case connectors.CategoryConfiguration:
		return &fix{"Edit mapping", "activations.edit", a.ID, "?step=mappings"}
	case connectors.CategoryRateLimit, connectors.CategoryTimeout:
		return &fix{"View run history", "activations.show", a.ID, "?tab=runs"}
	case connectors.CategoryConnection:
		seg, err := store.SegmentByID(ctx, a.WorkspaceID, a.SegmentID)
		if err != nil {
			return nil
		}
		m, err := store.ModelByID(ctx, a.WorkspaceID, seg.ModelID)
		if err != nil {
			return nil
		}
		return &fix{"Open source settings", "sources.show", m.SourceID, ""}
	}
	return nil
}
