package models

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"

	"sluice/connectors"
)

// Model statuses: valid; warning (e.g. a few duplicate keys); broken (schema issues).
const (
	ModelValid   = "valid"
	ModelWarning = "warning"
	ModelBroken  = "broken"
)

// Schema issue kinds, as the seed names them.
const (
	IssueMissing   = "missing"
	IssueAltered   = "altered"
	IssueWrongType = "wrong_type"
)

// ModelIssue is one schema problem of a model found by validation.
type ModelIssue struct {
	Column  string `json:"column"`
	Kind    string `json:"kind"`
	Message string `json:"message,omitempty"`
}

// DuplicateReport is the result of "Detect duplicate primary keys".
type DuplicateReport struct {
	CheckedAt     time.Time `json:"checked_at"`
	Rows          int64     `json:"rows"`
	DuplicateKeys int64     `json:"duplicate_keys"`
	DuplicateRows int64     `json:"duplicate_rows"`
	NullKeys      int64     `json:"null_keys"`
	Samples       []string  `json:"samples"`
	// RunID is the run that found these duplicates while reading its segment, "" when a
	// validation counted them over the whole model.
	RunID string `json:"run_id,omitempty"`
}

// Percent is the share of rows whose key is not unique (or is null).
func (r DuplicateReport) Percent() float64 {
	if r.Rows == 0 {
		return 0
	}
	return 100 * float64(r.DuplicateRows+r.NullKeys) / float64(r.Rows)
}

// MaxDuplicatePercent is the seed's rule: above it a model is refused.
const MaxDuplicatePercent = 5.0

// DataModel is a table or SQL query on a source with a primary key and a schema
// snapshot. (Named so it does not read as "models.Model".)
type DataModel struct {
	ID             string
	WorkspaceID    string
	SourceID       string
	Name           string
	TableSchema    string
	TableName      string
	SQLText        string `gorm:"column:sql_text"`
	PrimaryKey     string
	ColumnsJSON    string
	Status         string
	IssuesJSON     string
	DuplicatesJSON string
	ValidatedAt    *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Relation is what the model reads.
func (m *DataModel) Relation() connectors.Relation {
	if m.SQLText != "" {
		return connectors.Relation{SQL: m.SQLText}
	}
	return connectors.Relation{Table: &connectors.Table{Schema: m.TableSchema, Name: m.TableName}}
}

// Columns is the schema snapshot taken when the model was saved.
func (m *DataModel) Columns() []connectors.Column {
	var cols []connectors.Column
	_ = json.Unmarshal([]byte(m.ColumnsJSON), &cols)
	return cols
}

// Column finds a column of the snapshot by name.
func (m *DataModel) Column(name string) (connectors.Column, bool) {
	for _, c := range m.Columns() {
		if c.Name == name {
			return c, true
		}
	}
	return connectors.Column{}, false
}

// Issues are the schema problems of the last validation.
func (m *DataModel) Issues() []ModelIssue {
	var issues []ModelIssue
	_ = json.Unmarshal([]byte(m.IssuesJSON), &issues)
	return issues
}

// Duplicates is the last duplicate-key report, nil if never checked.
func (m *DataModel) Duplicates() *DuplicateReport {
	if m.DuplicatesJSON == "" {
		return nil
	}
	var r DuplicateReport
	if json.Unmarshal([]byte(m.DuplicatesJSON), &r) != nil {
		return nil
	}
	return &r
}

type modelAudit struct {
	Name       string `json:"name"`
	SourceID   string `json:"source_id"`
	Table      string `json:"table,omitempty"`
	SQL        string `json:"sql,omitempty"`
	PrimaryKey string `json:"primary_key"`
}

func (m *DataModel) audit() modelAudit {
	t := ""
	if m.TableName != "" {
		t = strings.TrimPrefix(m.TableSchema+"."+m.TableName, ".")
	}
	return modelAudit{Name: m.Name, SourceID: m.SourceID, Table: t, SQL: m.SQLText, PrimaryKey: m.PrimaryKey}
}

// ModelInput is a model as described by the warehouse: the caller (the warehouse
// service) has read its columns and checked its keys.
type ModelInput struct {
	SourceID   string
	Name       string
	Relation   connectors.Relation
	PrimaryKey string
	Columns    []connectors.Column
	Duplicates *DuplicateReport
}

func (in *ModelInput) apply(m *DataModel) error {
	name, err := validName(in.Name)
	if err != nil {
		return err
	}
	m.Name = name
	m.SourceID = in.SourceID
	if in.Relation.Table != nil {
		m.TableSchema, m.TableName, m.SQLText = in.Relation.Table.Schema, in.Relation.Table.Name, ""
	} else {
		m.TableSchema, m.TableName, m.SQLText = "", "", strings.TrimSpace(in.Relation.SQL)
	}
	found := false
	for _, c := range in.Columns {
		found = found || c.Name == in.PrimaryKey
	}
	if !found {
		return invalid("primary_key", "Choose the primary key among the model's columns.")
	}
	m.PrimaryKey = in.PrimaryKey
	cols, err := json.Marshal(in.Columns)
	if err != nil {
		return err
	}
	m.ColumnsJSON = string(cols)
	// The snapshot was just read from the warehouse: that is a validation.
	checked := time.Now().UTC()
	m.Status, m.IssuesJSON, m.ValidatedAt = ModelValid, "[]", &checked
	if in.Duplicates != nil {
		raw, err := json.Marshal(in.Duplicates)
		if err != nil {
			return err
		}
		m.DuplicatesJSON = string(raw)
		if in.Duplicates.DuplicateRows+in.Duplicates.NullKeys > 0 {
			m.Status = ModelWarning
		}
	}
	return nil
}

// CreateModel stores a model.
func (s *Store) CreateModel(ctx context.Context, a Actor, in ModelInput) (*DataModel, error) {
	now := s.now()
	m := DataModel{ID: newID(), WorkspaceID: a.WorkspaceID, CreatedAt: now, UpdatedAt: now}
	if err := in.apply(&m); err != nil {
		return nil, err
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if _, err := s.sourceIn(tx, a.WorkspaceID, in.SourceID); err != nil {
			return err
		}
		if err := translate(tx.Create(&m).Error); err != nil {
			if errors.Is(err, ErrConflict) {
				return invalid("name", "Another model already has this name.")
			}
			return err
		}
		return s.record(tx, a, change{"model.create", "model", m.ID, m.Name, nil, m.audit()})
	})
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// sourceIn checks a source belongs to the workspace; another's is a field error, not a leak.
func (s *Store) sourceIn(tx *gorm.DB, workspaceID, id string) (*Source, error) {
	var src Source
	if err := tx.Where("workspace_id = ? AND id = ?", workspaceID, id).Take(&src).Error; err != nil {
		if errors.Is(translate(err), ErrNotFound) {
			return nil, invalid("source_id", "This source does not exist.")
		}
		return nil, translate(err)
	}
	return &src, nil
}

// UpdateModel replaces a model's definition (name, relation, key, snapshot).
func (s *Store) UpdateModel(ctx context.Context, a Actor, id string, in ModelInput) (*DataModel, error) {
	var m DataModel
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("workspace_id = ? AND id = ?", a.WorkspaceID, id).Take(&m).Error; err != nil {
			return translate(err)
		}
		before := m.audit()
		if err := in.apply(&m); err != nil {
			return err
		}
		if _, err := s.sourceIn(tx, a.WorkspaceID, in.SourceID); err != nil {
			return err
		}
		m.UpdatedAt = s.now()
		if err := translate(tx.Save(&m).Error); err != nil {
			if errors.Is(err, ErrConflict) {
				return invalid("name", "Another model already has this name.")
			}
			return err
		}
		return s.record(tx, a, change{"model.update", "model", m.ID, m.Name, before, m.audit()})
	})
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// RecordModelValidation stores the schema issues and duplicate report of a validation.
func (s *Store) RecordModelValidation(ctx context.Context, workspaceID, id string, issues []ModelIssue, dups *DuplicateReport) (*DataModel, error) {
	if issues == nil {
		issues = []ModelIssue{}
	}
	status := ModelValid
	if dups != nil && dups.DuplicateRows+dups.NullKeys > 0 {
		status = ModelWarning
	}
	if len(issues) > 0 {
		status = ModelBroken
	}
	raw, err := json.Marshal(issues)
	if err != nil {
		return nil, err
	}
	updates := map[string]any{"status": status, "issues_json": string(raw), "validated_at": s.now()}
	if dups != nil {
		d, err := json.Marshal(dups)
		if err != nil {
			return nil, err
		}
		updates["duplicates_json"] = string(d)
	}
	res := s.db.WithContext(ctx).Model(&DataModel{}).Where("workspace_id = ? AND id = ?", workspaceID, id).Updates(updates)
	if res.Error != nil {
		return nil, translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, ErrNotFound
	}
	return s.ModelByID(ctx, workspaceID, id)
}

// ModelByID loads a model of a workspace.
func (s *Store) ModelByID(ctx context.Context, workspaceID, id string) (*DataModel, error) {
	return byID[DataModel](ctx, s, workspaceID, id)
}

// ListModels returns a workspace's models by name; sourceID narrows to one source.
func (s *Store) ListModels(ctx context.Context, workspaceID, sourceID string) ([]DataModel, error) {
	q := s.db.WithContext(ctx).Where("workspace_id = ?", workspaceID)
	if sourceID != "" {
		q = q.Where("source_id = ?", sourceID)
	}
	var out []DataModel
	err := q.Order("name").Find(&out).Error
	return out, translate(err)
}

// DeleteModel removes a model no segment uses.
func (s *Store) DeleteModel(ctx context.Context, a Actor, id string) error {
	return deleteUnused(ctx, s, a, id, "model_id", "segment", func(d *Segment) (string, string) { return d.ID, d.Name },
		func(m *DataModel) change { return change{"model.delete", "model", m.ID, m.Name, m.audit(), nil} })
}

// RemapInput is a column association decided by the warehouse service: the model's new
// snapshot and key, and each segment's conditions rewritten to the new column.
type RemapInput struct {
	From, To   string
	PrimaryKey string
	Columns    []connectors.Column
	Segments   map[string]string // segment id → new conditions JSON
	// Mappings is each activation's field mappings with the new column (activation id →
	// mappings JSON).
	Mappings map[string]string
}

// RemapModel applies a column association in one transaction: the model takes the
// current snapshot (its schema issues are resolved) and its segments use the new column.
func (s *Store) RemapModel(ctx context.Context, a Actor, id string, in RemapInput) (*DataModel, error) {
	var m DataModel
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("workspace_id = ? AND id = ?", a.WorkspaceID, id).Take(&m).Error; err != nil {
			return translate(err)
		}
		cols, err := json.Marshal(in.Columns)
		if err != nil {
			return err
		}
		status := ModelValid
		if d := m.Duplicates(); d != nil && d.DuplicateRows+d.NullKeys > 0 {
			status = ModelWarning
		}
		now := s.now()
		m.PrimaryKey, m.ColumnsJSON, m.IssuesJSON, m.Status, m.ValidatedAt, m.UpdatedAt = in.PrimaryKey, string(cols), "[]", status, &now, now
		if err := translate(tx.Save(&m).Error); err != nil {
			return err
		}
		for segID, conds := range in.Segments {
			res := tx.Model(&Segment{}).Where("workspace_id = ? AND model_id = ? AND id = ?", a.WorkspaceID, id, segID).
				Updates(map[string]any{"conditions_json": conds, "updated_at": now})
			if res.Error != nil {
				return translate(res.Error)
			}
		}
		for actID, mappings := range in.Mappings {
			res := tx.Model(&Activation{}).Where("workspace_id = ? AND id = ?", a.WorkspaceID, actID).
				Updates(map[string]any{"mappings_json": mappings, "updated_at": now})
			if res.Error != nil {
				return translate(res.Error)
			}
		}
		type remap struct {
			From       string   `json:"from"`
			To         string   `json:"to"`
			PrimaryKey string   `json:"primary_key,omitempty"`
			Segments   []string `json:"segments_updated"`
			Mappings   []string `json:"activations_updated,omitempty"`
		}
		keys := func(m map[string]string) []string {
			ids := make([]string, 0, len(m))
			for id := range m {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			return ids
		}
		pk := ""
		if in.PrimaryKey == in.To && in.To != in.From {
			pk = in.To
		}
		return s.record(tx, a, change{"model.remap", "model", m.ID, m.Name, nil, remap{in.From, in.To, pk, keys(in.Segments), keys(in.Mappings)}})
	})
	if err != nil {
		return nil, err
	}
	return &m, nil
}
