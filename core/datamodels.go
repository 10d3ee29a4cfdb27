package core

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"sluice/connectors"
	"sluice/models"
	"sluice/segments"
)

// DuplicateSamples is how many duplicate keys a report shows.
const DuplicateSamples = 10

// detectDuplicates counts, exactly, the rows whose primary key is shared or null, and
// samples the most repeated keys.
func detectDuplicates(ctx context.Context, conn connectors.Source, rel connectors.Relation, pk string) (*models.DuplicateReport, error) {
	d := conn.Dialect()
	from := d.RelationSQL(rel, segments.Alias)
	// The alias quoted as RelationSQL declares it: unquoted, Snowflake would fold m to M.
	key := d.QuoteIdent(segments.Alias) + "." + d.QuoteIdent(pk)
	r := &models.DuplicateReport{CheckedAt: time.Now().UTC(), Samples: []string{}}

	var nonNull int64
	err := one(ctx, conn, "SELECT COUNT(*), COUNT("+key+") FROM "+from, nil, func(row []any) (err error) {
		if r.Rows, err = toInt(row[0]); err != nil {
			return err
		}
		nonNull, err = toInt(row[1])
		return err
	})
	if err != nil {
		return nil, err
	}
	r.NullKeys = r.Rows - nonNull
	grouped := "SELECT " + key + " AS k, COUNT(*) AS c FROM " + from + " WHERE " + key + " IS NOT NULL GROUP BY " + key + " HAVING COUNT(*) > 1"
	err = one(ctx, conn, "SELECT COUNT(*), SUM(d.c) FROM ("+grouped+") d", nil, func(row []any) (err error) {
		if r.DuplicateKeys, err = toInt(row[0]); err != nil {
			return err
		}
		r.DuplicateRows, err = toInt(row[1])
		return err
	})
	if err != nil {
		return nil, err
	}
	if r.DuplicateKeys > 0 {
		q := "SELECT d.k, d.c FROM (" + grouped + ") d ORDER BY d.c DESC, d.k LIMIT " + strconv.Itoa(DuplicateSamples)
		err = conn.Query(ctx, q, nil, func(row []any) error {
			n, err := toInt(row[1])
			if err != nil {
				return err
			}
			r.Samples = append(r.Samples, fmt.Sprintf("%s (%d rows)", Text(row[0]), n))
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}

// one runs a query that answers exactly one row.
func one(ctx context.Context, conn connectors.Source, q string, args []any, fn func(row []any) error) error {
	seen := false
	err := conn.Query(ctx, q, args, func(row []any) error {
		seen = true
		return fn(row)
	})
	if err == nil && !seen {
		return errNoRow
	}
	return err
}

// DuplicatesRefused is the refusal of a model whose keys are too often duplicated.
type DuplicatesRefused struct{ Report *models.DuplicateReport }

func (e *DuplicatesRefused) Error() string {
	return fmt.Sprintf("%.1f%% of rows share their primary key or have none (more than %.0f%%)", e.Report.Percent(), models.MaxDuplicatePercent)
}

// Unwrap makes the refusal a field error on primary_key, with samples in its message.
func (e *DuplicatesRefused) Unwrap() error {
	msg := fmt.Sprintf("%.1f%% of rows (%d of %d) share their primary key or have none; a model allows at most %.0f%%. Choose a unique column.",
		e.Report.Percent(), e.Report.DuplicateRows+e.Report.NullKeys, e.Report.Rows, models.MaxDuplicatePercent)
	if len(e.Report.Samples) > 0 {
		msg += " For example: " + strings.Join(e.Report.Samples, ", ") + "."
	}
	return &models.FieldError{Field: "primary_key", Message: msg}
}

// ModelRequest is a model as the user describes it: a table or SQL, and a key.
type ModelRequest struct {
	SourceID   string
	Name       string
	Table      *connectors.Table
	SQL        string
	PrimaryKey string
}

func (r ModelRequest) relation() (connectors.Relation, error) {
	sql := strings.TrimSpace(r.SQL)
	switch {
	case r.Table != nil && r.Table.Name != "" && sql != "":
		return connectors.Relation{}, &models.FieldError{Field: "sql", Message: "Give a table or a SQL query, not both."}
	case r.Table != nil && r.Table.Name != "":
		return connectors.Relation{Table: r.Table}, nil
	case sql != "":
		return connectors.Relation{SQL: strings.TrimRight(sql, "; \n\t")}, nil
	}
	return connectors.Relation{}, &models.FieldError{Field: "table", Message: "Pick a table, or write a SQL query."}
}

// describe reads a requested model from the warehouse: its columns and its key quality.
// More than 5% duplicate or null keys refuses the model (DuplicatesRefused).
func (s *Service) describe(ctx context.Context, workspaceID string, req ModelRequest) (models.ModelInput, error) {
	in := models.ModelInput{SourceID: req.SourceID, Name: req.Name, PrimaryKey: req.PrimaryKey}
	rel, err := req.relation()
	if err != nil {
		return in, err
	}
	in.Relation = rel
	_, conn, err := s.openByID(ctx, workspaceID, req.SourceID)
	if models.IsNotFound(err) {
		return in, &models.FieldError{Field: "source_id", Message: "This source does not exist."}
	}
	if err != nil {
		return in, err
	}
	defer conn.Close()
	if in.Columns, err = conn.Columns(ctx, rel); err != nil {
		return in, relationError(rel, err)
	}
	found := false
	for _, c := range in.Columns {
		found = found || c.Name == req.PrimaryKey
	}
	if !found {
		return in, &models.FieldError{Field: "primary_key", Message: "Choose the primary key among the model's columns."}
	}
	if in.Duplicates, err = detectDuplicates(ctx, conn, rel, req.PrimaryKey); err != nil {
		return in, relationError(rel, err)
	}
	if in.Duplicates.Percent() > models.MaxDuplicatePercent {
		return in, &DuplicatesRefused{Report: in.Duplicates}
	}
	return in, nil
}

// CreateModel describes the request in the warehouse and saves the model: no duplicate
// keys saves it valid, up to 5% saves it with a warning, more refuses it.
func (s *Service) CreateModel(ctx context.Context, a models.Actor, req ModelRequest) (*models.DataModel, error) {
	in, err := s.describe(ctx, a.WorkspaceID, req)
	if err != nil {
		return nil, err
	}
	m, err := s.store.CreateModel(ctx, a, in)
	if err != nil {
		return nil, err
	}
	return s.lineageRechecked(ctx, m)
}

// lineageRechecked validates the saved model's source again, so its lineage check
// covers the model as soon as it exists instead of at the next nightly validation.
func (s *Service) lineageRechecked(ctx context.Context, m *models.DataModel) (*models.DataModel, error) {
	if _, err := s.ValidateSource(ctx, m.WorkspaceID, m.SourceID); err != nil {
		return m, fmt.Errorf("core: model %s saved, its source not validated again: %w", m.ID, err)
	}
	return m, nil
}

// UpdateModel re-describes and saves a changed model under the same rules.
func (s *Service) UpdateModel(ctx context.Context, a models.Actor, id string, req ModelRequest) (*models.DataModel, error) {
	if _, err := s.store.ModelByID(ctx, a.WorkspaceID, id); err != nil {
		return nil, err
	}
	in, err := s.describe(ctx, a.WorkspaceID, req)
	if err != nil {
		return nil, err
	}
	m, err := s.store.UpdateModel(ctx, a, id, in)
	if err != nil {
		return nil, err
	}
	return s.lineageRechecked(ctx, m)
}

// ValidateModel compares a model with the warehouse: the relation still resolves, the
// key and every column still exist with their types; and it counts duplicate keys again.
// It keeps the issues found and pauses exactly the activations using a column at fault
// (resuming those whose columns are fine again).
func (s *Service) ValidateModel(ctx context.Context, workspaceID, id string) (*models.DataModel, error) {
	m, err := s.store.ModelByID(ctx, workspaceID, id)
	if err != nil {
		return nil, err
	}
	_, conn, err := s.openByID(ctx, workspaceID, m.SourceID)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	current, err := conn.Columns(ctx, m.Relation())
	if err != nil && !relationGone(err) {
		return nil, err // the source is down or misconfigured: that says nothing about the model
	}
	var issues []models.ModelIssue
	var dups *models.DuplicateReport
	if err != nil {
		issues = []models.ModelIssue{{Kind: models.IssueMissing, Message: "The model's table or query no longer resolves: " + errorText(err)}}
	} else {
		issues = SchemaIssues(m.Columns(), current, m.PrimaryKey)
		if !hasColumnIssue(issues, m.PrimaryKey) {
			if dups, err = detectDuplicates(ctx, conn, m.Relation(), m.PrimaryKey); err != nil {
				return nil, err
			}
		}
	}
	m, err = s.store.RecordModelValidation(ctx, workspaceID, id, issues, dups)
	if err != nil {
		return nil, err
	}
	if err := s.afterModelValidation(ctx, m, dups); err != nil {
		return nil, err
	}
	return m, nil
}

// DetectDuplicates counts a saved model's duplicate keys again ("Detect duplicate
// primary keys" on demand) and records the report.
func (s *Service) DetectDuplicates(ctx context.Context, workspaceID, id string) (*models.DataModel, error) {
	m, err := s.store.ModelByID(ctx, workspaceID, id)
	if err != nil {
		return nil, err
	}
	_, conn, err := s.openByID(ctx, workspaceID, m.SourceID)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	dups, err := detectDuplicates(ctx, conn, m.Relation(), m.PrimaryKey)
	if err != nil && relationGone(err) {
		return nil, relationError(m.Relation(), err)
	}
	if err != nil {
		return nil, err
	}
	m, err = s.store.RecordModelValidation(ctx, workspaceID, id, m.Issues(), dups)
	if err != nil {
		return nil, err
	}
	if _, err := s.store.RecordIssues(ctx, workspaceID, models.IssueObjectModel, id, modelIssueInputs(m, nil, dups), []string{models.IssueDuplicateKeys}); err != nil {
		return nil, err
	}
	return m, nil
}

// relationGone tells an error about the relation itself (a table dropped, a query that
// no longer runs) from one about reaching the source: an error naming a source setting
// (database, schema, path, host…) is the source's problem, not the model's.
func relationGone(err error) bool {
	ce, ok := connectors.AsError(err)
	if !ok || ce.Field != "" {
		return false
	}
	return ce.Category == connectors.CategoryNotFound || ce.Category == connectors.CategoryConfiguration
}

func errorText(err error) string {
	return connectors.UserMessage(err, "The warehouse could not be read.")
}

func hasColumnIssue(issues []models.ModelIssue, col string) bool {
	for _, i := range issues {
		if i.Column == col {
			return true
		}
	}
	return false
}

// SchemaIssues compares a snapshot with the columns now in the warehouse, in the seed's
// words: the primary key gone is Missing, another column gone is Altered (renamed or
// dropped), a changed type is Wrong Type. New columns are not issues.
func SchemaIssues(snapshot, current []connectors.Column, primaryKey string) []models.ModelIssue {
	now := map[string]connectors.Column{}
	for _, c := range current {
		now[c.Name] = c
	}
	var issues []models.ModelIssue
	for _, c := range snapshot {
		got, ok := now[c.Name]
		switch {
		case !ok && c.Name == primaryKey:
			issues = append(issues, models.ModelIssue{Column: c.Name, Kind: models.IssueMissing, Message: "The primary key column is not found."})
		case !ok:
			issues = append(issues, models.ModelIssue{Column: c.Name, Kind: models.IssueAltered, Message: "The column was renamed or dropped."})
		case got.Type != c.Type:
			issues = append(issues, models.ModelIssue{Column: c.Name, Kind: models.IssueWrongType, Message: fmt.Sprintf("The type changed from %s to %s.", c.Type, got.Type)})
		}
	}
	return issues
}

// RemapColumn associates a new column with an old one (a column renamed in the
// warehouse): `to` must exist now; the model takes the current snapshot, and its key,
// every segment condition and every activation mapping using `from` use `to`, in one
// transaction.
func (s *Service) RemapColumn(ctx context.Context, a models.Actor, id, from, to string) (*models.DataModel, error) {
	r, err := s.Remap(ctx, a, id, from, to)
	if err != nil {
		return nil, err
	}
	return r.Model, nil
}

// RemapPlan is what associating column To with the old column From changes: the
// segments whose conditions read From, the activations whose mappings read it, and the
// primary key. RemapPlan (the dry run) and Remap (the change) both compute it with
// planRemap, so what the wizard shows is what is applied.
type RemapPlan struct {
	From, To string
	// PrimaryKey is true when the model's primary key moves from From to To.
	PrimaryKey  bool
	Segments    []RemapSegment
	Activations []RemapActivation
	// Input is exactly what the store writes.
	Input models.RemapInput
}

// RemapSegment is a segment whose conditions read the old column.
type RemapSegment struct{ ID, Name string }

// RemapActivation is an activation whose mappings read the old column, with the
// destination fields those mappings feed.
type RemapActivation struct {
	ID, Name string
	Fields   []string
}

// RemapResult is a remap done: the model, the plan applied, and the activations that
// were paused automatically for the model's schema and resumed.
type RemapResult struct {
	Model   *models.DataModel
	Plan    *RemapPlan
	Resumed []RemapActivation
}

// RemapPlan is the dry run of RemapColumn: it checks the same things and lists what
// would change, writing nothing.
func (s *Service) RemapPlan(ctx context.Context, workspaceID, id, from, to string) (*RemapPlan, error) {
	_, plan, err := s.planRemap(ctx, workspaceID, id, from, to)
	return plan, err
}

// Remap applies the plan in one transaction, validates the model again, and says which
// automatically paused activations resumed.
func (s *Service) Remap(ctx context.Context, a models.Actor, id, from, to string) (*RemapResult, error) {
	m, plan, err := s.planRemap(ctx, a.WorkspaceID, id, from, to)
	if err != nil {
		return nil, err
	}
	acts, err := s.store.ActivationsOnModels(ctx, a.WorkspaceID, []string{m.ID})
	if err != nil {
		return nil, err
	}
	var paused []models.Activation
	for _, am := range acts {
		if am.Activation.Status == models.ActivationPaused && am.Activation.PauseAutomatic && am.Activation.PauseCause == models.PauseCauseSchema {
			paused = append(paused, am.Activation)
		}
	}
	m, err = s.store.RemapModel(ctx, a, m.ID, plan.Input)
	if m, err = s.remapped(ctx, m, err); err != nil {
		return nil, err
	}
	r := &RemapResult{Model: m, Plan: plan}
	for _, p := range paused {
		now, err := s.store.ActivationByID(ctx, a.WorkspaceID, p.ID)
		if err != nil {
			return nil, err
		}
		if now.Status != models.ActivationPaused {
			r.Resumed = append(r.Resumed, RemapActivation{ID: p.ID, Name: p.Name})
		}
	}
	return r, nil
}

// planRemap checks an association and works out every change it makes.
func (s *Service) planRemap(ctx context.Context, workspaceID, id, from, to string) (*models.DataModel, *RemapPlan, error) {
	m, err := s.store.ModelByID(ctx, workspaceID, id)
	if err != nil {
		return nil, nil, err
	}
	if from == "" {
		return nil, nil, &models.FieldError{Field: "from", Message: "Name the old column."}
	}
	if _, ok := m.Column(from); !ok {
		return nil, nil, &models.FieldError{Field: "from", Message: fmt.Sprintf("The model has no column %q in its snapshot.", from)}
	}
	_, conn, err := s.openByID(ctx, workspaceID, m.SourceID)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	current, err := conn.Columns(ctx, m.Relation())
	if err != nil {
		return nil, nil, relationError(m.Relation(), err)
	}
	var target *connectors.Column
	for i := range current {
		if current[i].Name == to {
			target = &current[i]
		}
	}
	if target == nil {
		return nil, nil, &models.FieldError{Field: "to", Message: fmt.Sprintf("Column %q is not in the model's table or query.", to)}
	}
	plan := &RemapPlan{From: from, To: to}
	in := models.RemapInput{From: from, To: to, PrimaryKey: m.PrimaryKey, Columns: remappedSnapshot(m.Columns(), from, *target), Segments: map[string]string{}}
	if in.PrimaryKey == from {
		in.PrimaryKey, plan.PrimaryKey = to, from != to
	}
	segs, err := s.store.ListSegments(ctx, workspaceID, m.ID)
	if err != nil {
		return nil, nil, err
	}
	for _, g := range segs {
		cond, err := segments.Parse(g.ConditionsJSON)
		if err != nil {
			return nil, nil, fmt.Errorf("core: segment %s: %w", g.ID, err)
		}
		if !slices.Contains(cond.Columns(), from) {
			continue
		}
		renamed := cond.RenameColumn(from, to)
		if err := segments.Validate(renamed, current); err != nil {
			return nil, nil, &models.FieldError{Field: "to", Message: fmt.Sprintf("Segment %q cannot use %q: %s", g.Name, to, errorText(err))}
		}
		raw, err := json.Marshal(renamed)
		if err != nil {
			return nil, nil, err
		}
		in.Segments[g.ID] = string(raw)
		plan.Segments = append(plan.Segments, RemapSegment{ID: g.ID, Name: g.Name})
	}
	if in.Mappings, plan.Activations, err = s.remapMappings(ctx, workspaceID, m.ID, from, to); err != nil {
		return nil, nil, err
	}
	slices.SortFunc(plan.Segments, func(a, b RemapSegment) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(plan.Activations, func(a, b RemapActivation) int { return strings.Compare(a.Name, b.Name) })
	plan.Input = in
	return m, plan, nil
}

// remappedSnapshot is the model's snapshot with the old column replaced by the new one,
// and nothing else changed: another column still lost or retyped stays an issue for the
// validation that follows, and other new columns stay candidates for its remap.
func remappedSnapshot(snapshot []connectors.Column, from string, to connectors.Column) []connectors.Column {
	out := make([]connectors.Column, 0, len(snapshot))
	for _, c := range snapshot {
		switch c.Name {
		case from:
			out = append(out, to)
		case to.Name:
			// already known under the new name: it takes the old column's place
		default:
			out = append(out, c)
		}
	}
	return out
}

// remapMappings is the mappings of the model's activations that read `from`, rewritten to
// read `to` (activation id → mappings JSON), and those activations with the fields fed.
func (s *Service) remapMappings(ctx context.Context, workspaceID, modelID, from, to string) (map[string]string, []RemapActivation, error) {
	acts, err := s.store.ActivationsOnModels(ctx, workspaceID, []string{modelID})
	if err != nil {
		return nil, nil, err
	}
	out := map[string]string{}
	var changes []RemapActivation
	for _, am := range acts {
		mappings := am.Activation.Mappings()
		var fields []string
		for i := range mappings {
			if mappings[i].From == from {
				mappings[i].From = to
				fields = append(fields, mappings[i].To)
			}
		}
		if len(fields) == 0 {
			continue
		}
		raw, err := json.Marshal(mappings)
		if err != nil {
			return nil, nil, err
		}
		out[am.Activation.ID] = string(raw)
		changes = append(changes, RemapActivation{ID: am.Activation.ID, Name: am.Activation.Name, Fields: fields})
	}
	return out, changes, nil
}

// CurrentColumns reads the model's columns as the warehouse has them now (to offer new
// columns for association with old ones).
func (s *Service) CurrentColumns(ctx context.Context, workspaceID string, m *models.DataModel) ([]connectors.Column, error) {
	_, conn, err := s.openByID(ctx, workspaceID, m.SourceID)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.Columns(ctx, m.Relation())
}

// DeleteModel removes a model no segment uses.
func (s *Service) DeleteModel(ctx context.Context, a models.Actor, id string) error {
	return s.store.DeleteModel(ctx, a, id)
}
