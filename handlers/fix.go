package handlers

import (
	"context"

	"sluice/models"
)

// fix is where a run's error is fixed: a named route with its parameter.
type fix struct {
	Label, Route, Param, Query string
}

// fixPlace is one row of the fix table (models.RunFixPlace, models.PauseFixPlace).
type fixPlace models.FixPlace

// runFix maps a run's error — the end it came from and its category — to the exact
// place to fix it. Pages reverse it to a path; the API adds the base URL. nil when no
// page can fix it (Sluice's own failures: the run page says what happened).
func runFix(ctx context.Context, store *models.Store, r *models.Run, a *models.Activation) *fix {
	place, ok := models.RunFixPlace(r.ErrorSide, r.ErrorCategory)
	if !ok {
		return nil
	}
	return fixPlace(place).resolve(ctx, store, a, r.ID)
}

// resolve fills in the fix page's parameter: the activation's platform, itself, the run
// runID, or its model's source or model. nil when the model cannot be read.
func (place fixPlace) resolve(ctx context.Context, store *models.Store, a *models.Activation, runID string) *fix {
	f := &fix{Label: place.Label, Route: place.Route, Query: place.Query}
	switch place.On {
	case models.FixOnPlatform:
		f.Param = a.PlatformID
	case models.FixOnActivation:
		f.Param = a.ID
	case models.FixOnRun:
		f.Param = runID
	case models.FixOnSource, models.FixOnModel:
		seg, err := store.SegmentByID(ctx, a.WorkspaceID, a.SegmentID)
		if err != nil {
			return nil
		}
		m, err := store.ModelByID(ctx, a.WorkspaceID, seg.ModelID)
		if err != nil {
			return nil
		}
		f.Param = m.ID
		if place.On == models.FixOnSource {
			f.Param = m.SourceID
		}
	}
	return f
}

// pauseFix is the page that fixes an automatic pause's cause; nil for a manual pause
// (resuming it is the fix) or a threshold pause with no run to show.
func pauseFix(ctx context.Context, store *models.Store, a *models.Activation) *fix {
	place, ok := models.PauseFixPlace(a.PauseCause)
	if !ok || !a.PauseAutomatic || (place.On == models.FixOnRun && a.LastRunID == "") {
		return nil
	}
	return fixPlace(place).resolve(ctx, store, a, a.LastRunID)
}
