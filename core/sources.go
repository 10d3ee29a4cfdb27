package core

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"sluice/connectors"
	"sluice/models"
	"sluice/segments"
	"sluice/sources/sshtunnel"
)

// connectionFailed is the check list of a source that could not even be opened.
func connectionFailed(err error) []connectors.Check {
	msg := connectors.UserMessage(err, "Sluice could not connect to the source.")
	checks := []connectors.Check{{Stage: connectors.StageConnection, Message: msg}}
	for _, st := range connectors.Stages[1:] {
		checks = append(checks, connectors.Check{Stage: st, Skipped: true, Message: "Skipped: fix the connection first."})
	}
	return checks
}

// TestConnection runs the five checks on settings not saved yet (the form's button).
func (s *Service) TestConnection(ctx context.Context, kind string, cfg connectors.Config) ([]connectors.Check, error) {
	spec, err := s.SourceSpec(kind)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(spec.Fields); err != nil {
		return nil, asFieldError(err)
	}
	if sshtunnel.Supports(spec.Fields) {
		if err := sshtunnel.CheckSettings(cfg); err != nil {
			return nil, asFieldError(err)
		}
	}
	src, err := s.registry.OpenSource(ctx, kind, cfg)
	if err != nil {
		return connectionFailed(err), nil
	}
	defer src.Close()
	return src.Validate(ctx, nil), nil
}

// TestSavedConnection is TestConnection for a saved source whose form left secrets
// empty: the stored secrets fill them in.
func (s *Service) TestSavedConnection(ctx context.Context, workspaceID, id string, cfg connectors.Config) ([]connectors.Check, error) {
	src, err := s.store.SourceByID(ctx, workspaceID, id)
	if err != nil {
		return nil, err
	}
	stored, err := s.store.SourceConfig(src)
	if err != nil {
		return nil, err
	}
	generated := map[string]bool{}
	if spec, err := s.SourceSpec(src.Kind); err == nil {
		for _, f := range spec.Fields {
			generated[f.Name] = f.Generated
		}
	}
	for k, v := range cfg {
		// A form never sets generated settings: the key pair and the pinned host key
		// are the stored ones.
		if v != "" && !generated[k] {
			stored[k] = v
		}
	}
	return s.TestConnection(ctx, src.Kind, stored)
}

// openByID loads and connects to a source of a workspace.
func (s *Service) openByID(ctx context.Context, workspaceID, id string) (*models.Source, connectors.Source, error) {
	src, err := s.store.SourceByID(ctx, workspaceID, id)
	if err != nil {
		return nil, nil, err
	}
	conn, err := s.OpenSource(ctx, src)
	if err != nil {
		return src, nil, err
	}
	return src, conn, nil
}

// CreateSource stores a source (checked by the caller with TestConnection first). A
// source reached through an SSH tunnel gets its key pair here.
func (s *Service) CreateSource(ctx context.Context, a models.Actor, spec connectors.SourceSpec, in models.SourceInput) (*models.Source, error) {
	in.Generated = nil
	if err := withTunnelKey(spec, in.Config, false, &in); err != nil {
		return nil, err
	}
	return s.store.CreateSource(ctx, a, spec, in)
}

// UpdateSource changes a source's name or settings; secrets left empty are kept. A
// source that now asks for an SSH tunnel and has no key yet gets its key pair here.
func (s *Service) UpdateSource(ctx context.Context, a models.Actor, id string, spec connectors.SourceSpec, in models.SourceInput) (*models.Source, error) {
	in.Generated = nil
	if in.Config != nil && sshtunnel.Supports(spec.Fields) {
		src, err := s.store.SourceByID(ctx, a.WorkspaceID, id)
		if err != nil {
			return nil, err
		}
		stored, err := s.store.SourceConfig(src)
		if err != nil {
			return nil, err
		}
		next := connectors.Config{}
		for k, v := range stored {
			next[k] = v
		}
		for k, v := range in.Config {
			next[k] = v
		}
		if err := withTunnelKey(spec, next, stored[sshtunnel.FieldPrivateKey] != "", &in); err != nil {
			return nil, err
		}
	}
	return s.store.UpdateSource(ctx, a, id, spec, in)
}

// DeleteSource removes a source no model uses.
func (s *Service) DeleteSource(ctx context.Context, a models.Actor, id string) error {
	return s.store.DeleteSource(ctx, a, id)
}

// ValidateSource runs the five checks on a saved source, its models' lineage included,
// and records the outcome (connected or broken) and its issues; a broken source pauses
// the activations reading it, one that validates again resumes them.
func (s *Service) ValidateSource(ctx context.Context, workspaceID, id string) (*models.Source, error) {
	src, err := s.store.SourceByID(ctx, workspaceID, id)
	if err != nil {
		return nil, err
	}
	dms, err := s.store.ListModels(ctx, workspaceID, id)
	if err != nil {
		return nil, err
	}
	refs := make([]connectors.ModelRef, len(dms))
	for i, m := range dms {
		refs[i] = connectors.ModelRef{Name: m.Name, Relation: m.Relation()}
	}
	var checks []connectors.Check
	conn, err := s.OpenSource(ctx, src)
	if err != nil {
		checks = connectionFailed(err)
	} else {
		defer conn.Close()
		checks = conn.Validate(ctx, refs)
		if err := s.noteHostKey(ctx, src, conn); err != nil {
			return nil, err
		}
	}
	src, err = s.store.RecordSourceValidation(ctx, workspaceID, id, checks)
	if err != nil {
		return nil, err
	}
	if err := s.afterSourceValidation(ctx, src); err != nil {
		return nil, err
	}
	return src, nil
}

// Tables lists the tables and views of a source's schemas, for the model picker.
func (s *Service) Tables(ctx context.Context, workspaceID, sourceID string) ([]connectors.Table, error) {
	_, conn, err := s.openByID(ctx, workspaceID, sourceID)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	schemas, err := conn.Schemas(ctx)
	if err != nil {
		return nil, err
	}
	var out []connectors.Table
	for _, sc := range schemas {
		ts, err := conn.Tables(ctx, sc)
		if err != nil {
			return nil, err
		}
		out = append(out, ts...)
	}
	return out, nil
}

// RelationPreview is the first rows of a relation, as text.
type RelationPreview struct {
	Columns []connectors.Column
	Rows    [][]string
	// ScanBytes is what reading the whole relation scans, from warehouses that bill by
	// bytes read (connectors.Estimator); 0 when the warehouse does not say.
	ScanBytes int64
}

// PreviewRows is how many rows the SQL editor's preview shows.
const PreviewRows = 20

// PreviewRelation describes a relation and reads its first rows (the model editor's
// preview).
func (s *Service) PreviewRelation(ctx context.Context, workspaceID, sourceID string, rel connectors.Relation) (*RelationPreview, error) {
	_, conn, err := s.openByID(ctx, workspaceID, sourceID)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	cols, err := conn.Columns(ctx, rel)
	if err != nil {
		return nil, relationError(rel, err)
	}
	p := &RelationPreview{Columns: cols}
	q := "SELECT * FROM " + conn.Dialect().RelationSQL(rel, segments.Alias) + " LIMIT " + strconv.Itoa(PreviewRows)
	err = conn.Query(ctx, q, nil, func(row []any) error {
		out := make([]string, len(row))
		for i, v := range row {
			out[i] = Text(v)
		}
		p.Rows = append(p.Rows, out)
		return nil
	})
	if err != nil {
		return nil, relationError(rel, err)
	}
	if est, ok := conn.(connectors.Estimator); ok {
		// The dry run of every row and column: what a segment of everyone costs at most.
		if n, err := est.EstimateBytes(ctx, "SELECT * FROM "+conn.Dialect().RelationSQL(rel, segments.Alias), nil); err == nil {
			p.ScanBytes = n
		}
	}
	return p, nil
}

// relationError says which input of the model form is at fault.
func relationError(rel connectors.Relation, err error) error {
	if rel.SQL != "" {
		return &models.FieldError{Field: "sql", Message: connectors.UserMessage(err, "The warehouse could not run this query.")}
	}
	return &models.FieldError{Field: "table", Message: connectors.UserMessage(err, "The warehouse could not read this table.")}
}

// Text renders a warehouse value for display; NULL shows as an empty string.
func Text(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case []byte:
		return string(t)
	case time.Time:
		if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
			return t.Format(time.DateOnly)
		}
		return t.UTC().Format(time.RFC3339)
	}
	return fmt.Sprint(v)
}

// toInt reads a count, whatever numeric type the driver returned it as.
func toInt(v any) (int64, error) {
	switch t := v.(type) {
	case int64:
		return t, nil
	case int32:
		return int64(t), nil
	case int:
		return int64(t), nil
	case float64:
		return int64(t), nil
	case nil:
		return 0, nil
	}
	n, err := strconv.ParseInt(Text(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("core: read count %v: %w", v, err)
	}
	return n, nil
}

var errNoRow = errors.New("core: query returned no row")
