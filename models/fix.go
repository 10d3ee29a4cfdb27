package models

import (
	"strings"

	"sluice/connectors"
)

// FixOn is which object a fix page belongs to: the object whose id fills its path.
type FixOn int

// The objects a fix page belongs to.
const (
	FixOnSource FixOn = iota
	FixOnModel
	FixOnPlatform
	FixOnActivation
	FixOnRun
)

// FixPlace is where an error is fixed: the button's label, the page's route name and
// its path pattern (the same route: handlers reverse the name, alerts fill the path),
// the object whose id the path takes, and what follows the path (a query or an anchor).
type FixPlace struct {
	Label, Route, Path string
	On                 FixOn
	Query              string
}

// PathFor is the place's app path for the object id, with its query or anchor.
func (p FixPlace) PathFor(id string) string {
	return strings.Replace(p.Path, ":id", id, 1) + p.Query
}

type fixKey struct {
	side     string
	category connectors.Category
}

// Where each error is fixed, by the end it came from and its category (DESIGN.md:
// every error carries a fix). Each page named here is one where the fix can be made:
// the source page shows its failing check and the statement to run, the model page
// remaps columns, the platform page edits its settings (URL, list, rate) and
// Re-authorize gives it new credentials. The pages and the alerts use this one table.
var fixTable = map[fixKey]FixPlace{
	{RunSideSource, connectors.CategoryConnection}:    {"Open source settings", "sources.show", "/sources/:id", FixOnSource, ""},
	{RunSideSource, connectors.CategoryCredentials}:   {"Fix the source's permissions", "sources.show", "/sources/:id", FixOnSource, ""},
	{RunSideSource, connectors.CategoryNotFound}:      {"Open source settings", "sources.show", "/sources/:id", FixOnSource, ""},
	{RunSideSource, connectors.CategoryTimeout}:       {"Open source settings", "sources.show", "/sources/:id", FixOnSource, ""},
	{RunSideSource, connectors.CategoryRateLimit}:     {"Open source settings", "sources.show", "/sources/:id", FixOnSource, ""},
	{RunSideSource, connectors.CategoryConfiguration}: {"Check the model", "models.show", "/models/:id", FixOnModel, ""},

	{RunSideDestination, connectors.CategoryCredentials}:   {"Re-authorize", "platforms.reauthorize", "/settings/platforms/:id/reauthorize", FixOnPlatform, ""},
	{RunSideDestination, connectors.CategoryRateLimit}:     {"Adjust the platform's rate", "platforms.show", "/settings/platforms/:id", FixOnPlatform, "#platform-settings"},
	{RunSideDestination, connectors.CategoryNotFound}:      {"Check the platform settings", "platforms.show", "/settings/platforms/:id", FixOnPlatform, "#platform-settings"},
	{RunSideDestination, connectors.CategoryTimeout}:       {"Check the platform settings", "platforms.show", "/settings/platforms/:id", FixOnPlatform, "#platform-settings"},
	{RunSideDestination, connectors.CategoryConnection}:    {"Check the platform settings", "platforms.show", "/settings/platforms/:id", FixOnPlatform, "#platform-settings"},
	{RunSideDestination, connectors.CategoryConfiguration}: {"Edit mapping", "activations.edit", "/activations/:id/edit", FixOnActivation, "?step=mappings"},

	// The activation's own errors: a mapping or an action no longer valid, or a setting of
	// its action the platform refused as invalid (the wizard opens the step that fails
	// its checks today, with the error beside the field, else its settings); a list that
	// was deleted or that the account may not write to is chosen again on the Settings
	// tab, among the lists the platform offers.
	{RunSideActivation, connectors.CategoryConfiguration}: {"Edit the activation", "activations.edit", "/activations/:id/edit", FixOnActivation, "?step=settings"},
	{RunSideActivation, connectors.CategoryNotFound}:      {"Choose the activation's settings", "activations.show", "/activations/:id", FixOnActivation, "?tab=settings#action-settings"},
	{RunSideActivation, connectors.CategoryCredentials}:   {"Choose the activation's settings", "activations.show", "/activations/:id", FixOnActivation, "?tab=settings#action-settings"},

	{RunSideData, connectors.CategoryConfiguration}: {"See the withheld rows", "runs.show", "/runs/:id", FixOnRun, "#source-issues-card"},
}

// legacySide is the end a run stored before runs kept it came from, guessed from its
// category as the fixes were then chosen.
func legacySide(cat connectors.Category) string {
	switch cat {
	case connectors.CategoryConnection:
		return RunSideSource
	case connectors.CategoryConfiguration:
		return RunSideActivation
	}
	return RunSideDestination
}

// RunFixPlace is where a run's error — the end it came from ("" for runs stored before
// the side was kept) and its category — is fixed; false when no page can fix it
// (Sluice's own failures: the run page says what happened).
func RunFixPlace(side, category string) (FixPlace, bool) {
	cat := connectors.Category(category)
	if side == "" {
		side = legacySide(cat)
	}
	p, ok := fixTable[fixKey{side, cat}]
	return p, ok
}

// pauseFixes is where each automatic pause's cause is fixed; Sluice then resumes the
// activation by itself.
var pauseFixes = map[string]FixPlace{
	PauseCausePlatform:  {"Re-authorize", "platforms.reauthorize", "/settings/platforms/:id/reauthorize", FixOnPlatform, ""},
	PauseCauseSource:    {"Fix the source", "sources.show", "/sources/:id", FixOnSource, ""},
	PauseCauseSchema:    {"Fix the model's columns", "models.show", "/models/:id", FixOnModel, ""},
	PauseCauseThreshold: {"See the source issues", "runs.show", "/runs/:id", FixOnRun, "#source-issues-card"},
}

// PauseFixPlace is where an automatic pause's cause is fixed; false for none.
func PauseFixPlace(cause string) (FixPlace, bool) {
	p, ok := pauseFixes[cause]
	return p, ok
}
