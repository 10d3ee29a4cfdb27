package core

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"sluice/connectors"
	"sluice/models"
	"sluice/segments"
)

// SegmentRequest is a segment as the builder or the API sends it.
type SegmentRequest struct {
	ModelID    string
	Name       string
	Conditions segments.Condition
}

// asModelFieldError gives a condition error the API's field path.
func asModelFieldError(err error) error {
	var fe *segments.FieldError
	if errors.As(err, &fe) {
		return &models.FieldError{Field: "conditions" + strings.TrimPrefix(fe.Path, "conditions"), Message: fe.Message}
	}
	return err
}

func (s *Service) modelFor(ctx context.Context, workspaceID, modelID string) (*models.DataModel, error) {
	m, err := s.store.ModelByID(ctx, workspaceID, modelID)
	if models.IsNotFound(err) {
		return nil, &models.FieldError{Field: "model_id", Message: "This model does not exist."}
	}
	return m, err
}

// SaveSegment checks the conditions against the model's columns and stores the
// segment: a new one when id is empty.
func (s *Service) SaveSegment(ctx context.Context, a models.Actor, id string, req SegmentRequest) (*models.Segment, error) {
	m, err := s.modelFor(ctx, a.WorkspaceID, req.ModelID)
	if err != nil {
		return nil, err
	}
	if err := segments.Validate(req.Conditions, m.Columns()); err != nil {
		return nil, asModelFieldError(err)
	}
	raw, err := json.Marshal(req.Conditions)
	if err != nil {
		return nil, err
	}
	in := models.SegmentInput{ModelID: req.ModelID, Name: req.Name, ConditionsJSON: string(raw)}
	if id == "" {
		return s.store.CreateSegment(ctx, a, in)
	}
	return s.store.UpdateSegment(ctx, a, id, in)
}

// Estimate is what the builder shows as the user clicks: the count and the SQL.
type Estimate struct {
	Count int64
	SQL   string
	Args  []any
	// ScanBytes is what a run of the segment reads at most, for warehouses that bill
	// by bytes read (connectors.Estimator): the rows that match, every column of the
	// model. 0 when the warehouse does not say.
	ScanBytes int64
}

// Count compiles the conditions for the model's source and counts matching rows.
func (s *Service) Count(ctx context.Context, workspaceID, modelID string, cond segments.Condition) (*Estimate, error) {
	m, err := s.modelFor(ctx, workspaceID, modelID)
	if err != nil {
		return nil, err
	}
	_, conn, err := s.openByID(ctx, workspaceID, m.SourceID)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	q, args, err := segments.CountSQL(conn.Dialect(), m.Relation(), cond, m.Columns())
	if err != nil {
		return nil, asModelFieldError(err)
	}
	e := &Estimate{SQL: q, Args: args}
	err = one(ctx, conn, q, args, func(row []any) (err error) {
		e.Count, err = toInt(row[0])
		return err
	})
	if err != nil {
		return nil, err
	}
	e.ScanBytes = scanBytes(ctx, conn, m, cond)
	return e, nil
}

// scanBytes asks a warehouse that bills by bytes read what a run of the segment would
// read: its dry run of the extraction with every column of the model (a run reads only
// the mapped ones, so this is the most it costs). 0 when it cannot say; an estimate
// that fails never blocks the count.
func scanBytes(ctx context.Context, conn connectors.Source, m *models.DataModel, cond segments.Condition) int64 {
	est, ok := conn.(connectors.Estimator)
	if !ok {
		return 0
	}
	cols := m.Columns()
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	q, args, err := segments.SelectSQL(conn.Dialect(), m.Relation(), cond, cols, names, m.PrimaryKey)
	if err != nil {
		return 0
	}
	n, err := est.EstimateBytes(ctx, q, args)
	if err != nil {
		return 0
	}
	return n
}

// Bucket is one value of a breakdown and how many matching rows have it.
type Bucket struct {
	Value string
	Null  bool
	Count int64
}

// BreakdownBuckets is how many values a breakdown shows.
const BreakdownBuckets = 10

// Breakdown splits the segment's count by one column's most frequent values.
func (s *Service) Breakdown(ctx context.Context, workspaceID, modelID string, cond segments.Condition, by string) ([]Bucket, error) {
	m, err := s.modelFor(ctx, workspaceID, modelID)
	if err != nil {
		return nil, err
	}
	if _, ok := m.Column(by); !ok {
		return nil, &models.FieldError{Field: "breakdown", Message: "Choose a column of the model."}
	}
	_, conn, err := s.openByID(ctx, workspaceID, m.SourceID)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	q, args, err := segments.BreakdownSQL(conn.Dialect(), m.Relation(), cond, m.Columns(), by, BreakdownBuckets)
	if err != nil {
		return nil, asModelFieldError(err)
	}
	var out []Bucket
	err = conn.Query(ctx, q, args, func(row []any) error {
		n, err := toInt(row[1])
		if err != nil {
			return err
		}
		out = append(out, Bucket{Value: Text(row[0]), Null: row[0] == nil, Count: n})
		return nil
	})
	return out, err
}

// DeleteSegment removes a segment no activation uses.
func (s *Service) DeleteSegment(ctx context.Context, a models.Actor, id string) error {
	return s.store.DeleteSegment(ctx, a, id)
}
