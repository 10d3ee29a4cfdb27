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

// fixOn is which object a fix page belongs to: the route's parameter.
type fixOn int

const (
	onSource fixOn = iota
	onModel
	onPlatform
	onActivation
	onRun
)

// fixPlace is one row of fixTable.
type fixPlace struct {
	label, route string
	on           fixOn
	query        string
}

// fixKey is the end an error came from and its category.
type fixKey struct {
	side     string
	category connectors.Category
}

// Where each error is fixed, by the end it came from and its category (DESIGN.md:
// every error carries a fix). Each page named here is one where the fix can be made:
// the source page shows its failing check and the statement to run, the model page
// remaps columns, the platform page edits its settings (URL, list, rate) and
// Re-authorize gives it new credentials.
var fixTable = map[fixKey]fixPlace{
	{models.RunSideSource, connectors.CategoryConnection}:    {"Open source settings", "sources.show", onSource, ""},
	{models.RunSideSource, connectors.CategoryCredentials}:   {"Fix the source's permissions", "sources.show", onSource, ""},
	{models.RunSideSource, connectors.CategoryNotFound}:      {"Open source settings", "sources.show", onSource, ""},
	{models.RunSideSource, connectors.CategoryTimeout}:       {"Open source settings", "sources.show", onSource, ""},
	{models.RunSideSource, connectors.CategoryRateLimit}:     {"Open source settings", "sources.show", onSource, ""},
	{models.RunSideSource, connectors.CategoryConfiguration}: {"Check the model", "models.show", onModel, ""},

	{models.RunSideDestination, connectors.CategoryCredentials}:   {"Re-authorize", "platforms.reauthorize", onPlatform, ""},
	{models.RunSideDestination, connectors.CategoryRateLimit}:     {"Adjust the platform's rate", "platforms.show", onPlatform, "#platform-settings"},
	{models.RunSideDestination, connectors.CategoryNotFound}:      {"Check the platform settings", "platforms.show", onPlatform, "#platform-settings"},
	{models.RunSideDestination, connectors.CategoryTimeout}:       {"Check the platform settings", "platforms.show", onPlatform, "#platform-settings"},
	{models.RunSideDestination, connectors.CategoryConnection}:    {"Check the platform settings", "platforms.show", onPlatform, "#platform-settings"},
	{models.RunSideDestination, connectors.CategoryConfiguration}: {"Edit mapping", "activations.edit", onActivation, "?step=mappings"},

	{models.RunSideActivation, connectors.CategoryConfiguration}: {"Edit mapping", "activations.edit", onActivation, "?step=mappings"},

	{models.RunSideData, connectors.CategoryConfiguration}: {"See the withheld rows", "runs.show", onRun, "#source-issues-card"},
}

// legacySide is the end a run stored before runs kept it came from, guessed from its
// category as the fixes were then chosen.
func legacySide(cat connectors.Category) string {
	switch cat {
	case connectors.CategoryConnection:
		return models.RunSideSource
	case connectors.CategoryConfiguration:
		return models.RunSideActivation
	}
	return models.RunSideDestination
}

// runFix maps a run's error — the end it came from and its category — to the exact
// place to fix it. Pages reverse it to a path; the API adds the base URL. nil when no
// page can fix it (Sluice's own failures: the run page says what happened).
func runFix(ctx context.Context, store *models.Store, r *models.Run, a *models.Activation) *fix {
	cat := connectors.Category(r.ErrorCategory)
	side := r.ErrorSide
	if side == "" {
		side = legacySide(cat)
	}
	place, ok := fixTable[fixKey{side, cat}]
	if !ok {
		return nil
	}
	return place.resolve(ctx, store, a, r.ID)
}

// resolve fills in the fix page's parameter: the activation's platform, itself, the run
// runID, or its model's source or model. nil when the model cannot be read.
func (place fixPlace) resolve(ctx context.Context, store *models.Store, a *models.Activation, runID string) *fix {
	f := &fix{Label: place.label, Route: place.route, Query: place.query}
	switch place.on {
	case onPlatform:
		f.Param = a.PlatformID
	case onActivation:
		f.Param = a.ID
	case onRun:
		f.Param = runID
	case onSource, onModel:
		seg, err := store.SegmentByID(ctx, a.WorkspaceID, a.SegmentID)
		if err != nil {
			return nil
		}
		m, err := store.ModelByID(ctx, a.WorkspaceID, seg.ModelID)
		if err != nil {
			return nil
		}
		f.Param = m.ID
		if place.on == onSource {
			f.Param = m.SourceID
		}
	}
	return f
}

// pauseFixes is where each automatic pause's cause is fixed; Sluice then resumes the
// activation by itself.
var pauseFixes = map[string]fixPlace{
	models.PauseCausePlatform:  {"Re-authorize", "platforms.reauthorize", onPlatform, ""},
	models.PauseCauseSource:    {"Fix the source", "sources.show", onSource, ""},
	models.PauseCauseSchema:    {"Fix the model's columns", "models.show", onModel, ""},
	models.PauseCauseThreshold: {"See the source issues", "runs.show", onRun, "#source-issues-card"},
}

// pauseFix is the page that fixes an automatic pause's cause; nil for a manual pause
// (resuming it is the fix) or a threshold pause with no run to show.
func pauseFix(ctx context.Context, store *models.Store, a *models.Activation) *fix {
	place, ok := pauseFixes[a.PauseCause]
	if !ok || !a.PauseAutomatic || (place.on == onRun && a.LastRunID == "") {
		return nil
	}
	return place.resolve(ctx, store, a, a.LastRunID)
}
