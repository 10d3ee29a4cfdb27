package core

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"sluice/connectors"
	"sluice/models"
	"sluice/segments"
)

// How an activation or a segment uses a model's column.
const (
	UsePrimaryKey = "primary key"
	UseCondition  = "segment condition"
	UseMapping    = "mapping"
)

// ColumnUse is one use of a model's column: by a segment's conditions, or by an
// activation through its segment's conditions, its mappings or the model's primary key
// (which every activation of the model reads). ActivationID is "" for a segment no
// activation sends.
type ColumnUse struct {
	Column         string
	Via            string
	SegmentID      string
	SegmentName    string
	ActivationID   string
	ActivationName string
}

// Lineage lists every use of the model's columns: which segments, mappings and primary
// keys read each column. Automatic pauses, and the warnings shown beside what depends on
// a column, are worked out from it.
func (s *Service) Lineage(ctx context.Context, workspaceID string, m *models.DataModel) ([]ColumnUse, error) {
	segs, err := s.store.ListSegments(ctx, workspaceID, m.ID)
	if err != nil {
		return nil, err
	}
	condCols := map[string][]string{}
	for _, g := range segs {
		cond, err := segments.Parse(g.ConditionsJSON)
		if err != nil {
			return nil, fmt.Errorf("core: segment %s: %w", g.ID, err)
		}
		condCols[g.ID] = cond.Columns()
	}
	acts, err := s.store.ActivationsOnModels(ctx, workspaceID, []string{m.ID})
	if err != nil {
		return nil, err
	}
	var uses []ColumnUse
	sent := map[string]bool{}
	for _, am := range acts {
		a, g := am.Activation, am.Segment
		sent[g.ID] = true
		use := func(col, via string) {
			uses = append(uses, ColumnUse{Column: col, Via: via, SegmentID: g.ID, SegmentName: g.Name, ActivationID: a.ID, ActivationName: a.Name})
		}
		use(m.PrimaryKey, UsePrimaryKey)
		for _, c := range condCols[g.ID] {
			use(c, UseCondition)
		}
		for _, mp := range a.Mappings() {
			use(mp.From, UseMapping)
		}
	}
	for _, g := range segs {
		if sent[g.ID] {
			continue
		}
		for _, c := range condCols[g.ID] {
			uses = append(uses, ColumnUse{Column: c, Via: UseCondition, SegmentID: g.ID, SegmentName: g.Name})
		}
	}
	return uses, nil
}

// sourceIssues are a source's failing checks, as issues kept over time.
func sourceIssues(src *models.Source, checks []connectors.Check) []models.IssueInput {
	var out []models.IssueInput
	for _, c := range checks {
		if c.OK || c.Skipped {
			continue
		}
		out = append(out, models.IssueInput{Kind: string(c.Stage),
			Message: fmt.Sprintf("Source %s fails its %s check: %s", src.Name, c.Stage, c.Message)})
	}
	return out
}

// modelIssueInputs are a model's schema issues and duplicate keys in plain words naming
// the model and the column.
func modelIssueInputs(m *models.DataModel, issues []models.ModelIssue, dups *models.DuplicateReport) []models.IssueInput {
	var out []models.IssueInput
	for _, i := range issues {
		out = append(out, models.IssueInput{Column: i.Column, Kind: i.Kind, Message: upperFirst(schemaProblem(m, i)) + "."})
	}
	if dups != nil && dups.DuplicateRows+dups.NullKeys > 0 {
		out = append(out, models.IssueInput{Column: m.PrimaryKey, Kind: models.IssueDuplicateKeys,
			Message: fmt.Sprintf("Model %s has %.1f%% of rows (%d of %d) sharing their primary key %s or without one; they are not sent.",
				m.Name, dups.Percent(), dups.DuplicateRows+dups.NullKeys, dups.Rows, m.PrimaryKey)})
	}
	return out
}

// upperFirst starts a sentence.
func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// schemaProblem says what is wrong, naming the model and the column.
func schemaProblem(m *models.DataModel, i models.ModelIssue) string {
	switch {
	case i.Column == "":
		return "the table or query of model " + m.Name + " no longer resolves"
	case i.Kind == models.IssueMissing:
		return "primary key " + i.Column + " is missing from model " + m.Name
	case i.Kind == models.IssueWrongType:
		msg := "column " + i.Column + " of model " + m.Name + " changed type"
		if c, ok := m.Column(i.Column); ok {
			msg += " (it was " + string(c.Type) + ")"
		}
		return msg
	}
	return "column " + i.Column + " is missing from model " + m.Name + " (renamed or dropped)"
}

// afterSourceValidation keeps the source's issues, then pauses the activations reading
// its models while it is broken, and resumes those its breakage paused once it
// validates.
func (s *Service) afterSourceValidation(ctx context.Context, src *models.Source) error {
	checks := src.Checks()
	s.sourceChecked(ctx, src) // the source's incident, opened or resolved
	if _, err := s.store.RecordIssues(ctx, src.WorkspaceID, models.IssueObjectSource, src.ID, sourceIssues(src, checks), nil); err != nil {
		return err
	}
	dms, err := s.store.ListModels(ctx, src.WorkspaceID, src.ID)
	if err != nil {
		return err
	}
	ids := make([]string, len(dms))
	for i, m := range dms {
		ids[i] = m.ID
	}
	acts, err := s.store.ActivationsOnModels(ctx, src.WorkspaceID, ids)
	if err != nil {
		return err
	}
	sys := systemActor(src.WorkspaceID)
	failed := src.FailedCheck()
	for _, am := range acts {
		if failed == nil {
			if _, err := s.resumeAuto(ctx, sys.WorkspaceID, am.Activation.ID, models.PauseCauseSource); err != nil {
				return err
			}
			continue
		}
		reason := fmt.Sprintf("paused automatically: source %s is broken (%s). Fix it in Sources → %s.", src.Name, failed.Message, src.Name)
		if _, err := s.pauseAuto(ctx, sys.WorkspaceID, am.Activation.ID, models.PauseCauseSource, reason); err != nil {
			return err
		}
	}
	return nil
}

// schemaKinds are the kinds a schema validation looks for.
var schemaKinds = []string{models.IssueMissing, models.IssueAltered, models.IssueWrongType}

// afterModelValidation keeps the model's issues, then pauses exactly the activations
// that use a column with a schema issue (all of them when the table or primary key is
// gone) and resumes those whose columns are fine again. dups is nil when duplicate keys
// were not counted this time.
func (s *Service) afterModelValidation(ctx context.Context, m *models.DataModel, dups *models.DuplicateReport) error {
	issues := m.Issues()
	checked := schemaKinds
	if dups != nil {
		checked = append(slices.Clone(schemaKinds), models.IssueDuplicateKeys)
	}
	if _, err := s.store.RecordIssues(ctx, m.WorkspaceID, models.IssueObjectModel, m.ID, modelIssueInputs(m, issues, dups), checked); err != nil {
		return err
	}
	s.schemaChecked(ctx, m, issues) // the model's schema incident, opened or resolved
	return s.applySchemaPauses(ctx, m, issues)
}

// applySchemaPauses pauses and resumes the model's activations for its schema issues.
func (s *Service) applySchemaPauses(ctx context.Context, m *models.DataModel, issues []models.ModelIssue) error {
	uses, err := s.Lineage(ctx, m.WorkspaceID, m)
	if err != nil {
		return err
	}
	// The first problem each activation meets, in the order issues are listed; then a
	// column it uses that the model no longer has at all (a remap that left it behind).
	reasons := map[string]string{}
	issues = slices.Clone(issues)
	for _, u := range uses {
		if _, ok := m.Column(u.Column); !ok && u.ActivationID != "" && u.Via != UsePrimaryKey {
			issues = append(issues, models.ModelIssue{Column: u.Column, Kind: models.IssueAltered})
		}
	}
	for _, i := range issues {
		for _, u := range uses {
			if u.ActivationID == "" || reasons[u.ActivationID] != "" {
				continue
			}
			if i.Column == "" || i.Column == u.Column {
				reasons[u.ActivationID] = "paused automatically: " + schemaProblem(m, i) + ". Fix it in Models → " + m.Name + "."
			}
		}
	}
	sys := systemActor(m.WorkspaceID)
	done := map[string]bool{}
	for _, u := range uses {
		if u.ActivationID == "" || done[u.ActivationID] {
			continue
		}
		done[u.ActivationID] = true
		if reason, ok := reasons[u.ActivationID]; ok {
			if _, err := s.pauseAuto(ctx, sys.WorkspaceID, u.ActivationID, models.PauseCauseSchema, reason); err != nil {
				return err
			}
			continue
		}
		if _, err := s.resumeAuto(ctx, sys.WorkspaceID, u.ActivationID, models.PauseCauseSchema); err != nil {
			return err
		}
	}
	return nil
}

// ValidateWorkspace validates every source of a workspace (the five checks), then every
// model of the sources that validated (schema against the snapshot, duplicate keys),
// applying automatic pauses and resumes as it goes: the daily validation. It carries on
// past one object's failure and answers the first.
func (s *Service) ValidateWorkspace(ctx context.Context, workspaceID string) error {
	srcs, err := s.store.ListSources(ctx, workspaceID)
	if err != nil {
		return err
	}
	var first error
	keep := func(err error) {
		if first == nil && err != nil {
			first = err
		}
	}
	for _, src := range srcs {
		v, err := s.ValidateSource(ctx, workspaceID, src.ID)
		if err != nil {
			keep(fmt.Errorf("core: validate source %s: %w", src.ID, err))
			continue
		}
		if f := v.FailedCheck(); f != nil && f.Stage == connectors.StageConnection {
			continue // its models cannot be read: the source's issue says why
		}
		dms, err := s.store.ListModels(ctx, workspaceID, src.ID)
		if err != nil {
			keep(err)
			continue
		}
		for _, m := range dms {
			if _, err := s.ValidateModel(ctx, workspaceID, m.ID); err != nil {
				keep(fmt.Errorf("core: validate model %s: %w", m.ID, err))
			}
		}
	}
	return first
}

// remapped follows a column association by validating the model again against the
// warehouse: what the remap fixed resumes, while a column still lost or retyped keeps its
// issue and its pauses (several columns renamed at once are remapped one by one).
func (s *Service) remapped(ctx context.Context, m *models.DataModel, err error) (*models.DataModel, error) {
	if err != nil {
		return nil, err
	}
	return s.ValidateModel(ctx, m.WorkspaceID, m.ID)
}

// ResumeAutomatically lifts an activation's automatic pause of this cause, as Sluice,
// once validation found the cause gone; any other pause stays.
func (s *Service) ResumeAutomatically(ctx context.Context, workspaceID, id, cause string) (*models.Activation, error) {
	return s.resumeAuto(ctx, workspaceID, id, cause)
}
