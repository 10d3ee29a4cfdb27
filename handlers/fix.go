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
// sm remembers the models of segments already looked up (nil: nothing remembered).
func runFix(ctx context.Context, store *models.Store, r *models.Run, a models.ActivationRef, sm segmentModels) *fix {
	place, ok := models.RunFixPlace(r.ErrorSide, r.ErrorCategory)
	if !ok {
		return nil
	}
	return fixPlace(place).resolve(ctx, store, a, r.ID, sm)
}

// segmentModels remembers the model (and its source) of each segment looked up, by
// segment id, so a list whose errors point at the same model reads it once. A nil one
// remembers nothing.
type segmentModels map[string]models.SegmentModel

// of is the model segmentID reads, remembered or read now (one query).
func (sm segmentModels) of(ctx context.Context, store *models.Store, workspaceID, segmentID string) (models.SegmentModel, error) {
	if m, ok := sm[segmentID]; ok {
		return m, nil
	}
	m, err := store.SegmentModelOf(ctx, workspaceID, segmentID)
	if err == nil && sm != nil {
		sm[segmentID] = m
	}
	return m, err
}

// resolve fills in the fix page's parameter: the activation's platform, itself, the run
// runID, or its model's source or model. nil when the model cannot be read.
func (place fixPlace) resolve(ctx context.Context, store *models.Store, a models.ActivationRef, runID string, sm segmentModels) *fix {
	f := &fix{Label: place.Label, Route: place.Route, Query: place.Query}
	switch place.On {
	case models.FixOnPlatform:
		f.Param = a.PlatformID
	case models.FixOnActivation:
		f.Param = a.ID
	case models.FixOnRun:
		f.Param = runID
	case models.FixOnSource, models.FixOnModel:
		m, err := sm.of(ctx, store, a.WorkspaceID, a.SegmentID)
		if err != nil {
			return nil
		}
		f.Param = m.ModelID
		if place.On == models.FixOnSource {
			f.Param = m.SourceID
		}
	}
	return f
}

// pauseFix is the page that fixes an automatic pause's cause; nil for a manual pause
// (resuming it is the fix) or a threshold pause with no run to show.
func pauseFix(ctx context.Context, store *models.Store, a *models.Activation, sm segmentModels) *fix {
	place, ok := models.PauseFixPlace(a.PauseCause)
	if !ok || !a.PauseAutomatic || (place.On == models.FixOnRun && a.LastRunID == "") {
		return nil
	}
	return fixPlace(place).resolve(ctx, store, a.Ref(), a.LastRunID, sm)
}
