package models

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
)

// Segment is a model plus a condition tree (JSON as API.md "Conditions"), compiled
// to SQL by package segments when it is counted or sent.
type Segment struct {
	ID             string
	WorkspaceID    string
	ModelID        string
	Name           string
	ConditionsJSON string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

type segmentAudit struct {
	Name       string `json:"name"`
	ModelID    string `json:"model_id"`
	Conditions string `json:"conditions"`
}

func (g *Segment) audit() segmentAudit {
	return segmentAudit{Name: g.Name, ModelID: g.ModelID, Conditions: g.ConditionsJSON}
}

// SegmentInput creates or replaces a segment; the caller has validated the conditions
// against the model's columns.
type SegmentInput struct {
	ModelID        string
	Name           string
	ConditionsJSON string
}

// CreateSegment stores a segment.
func (s *Store) CreateSegment(ctx context.Context, a Actor, in SegmentInput) (*Segment, error) {
	name, err := validName(in.Name)
	if err != nil {
		return nil, err
	}
	now := s.now()
	g := Segment{ID: newID(), WorkspaceID: a.WorkspaceID, ModelID: in.ModelID, Name: name, ConditionsJSON: in.ConditionsJSON, CreatedAt: now, UpdatedAt: now}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.modelIn(tx, a.WorkspaceID, in.ModelID); err != nil {
			return err
		}
		if err := translate(tx.Create(&g).Error); err != nil {
			if errors.Is(err, ErrConflict) {
				return invalid("name", "Another segment already has this name.")
			}
			return err
		}
		return s.record(tx, a, change{"segment.create", "segment", g.ID, g.Name, nil, g.audit()})
	})
	if err != nil {
		return nil, err
	}
	return &g, nil
}

func (s *Store) modelIn(tx *gorm.DB, workspaceID, id string) error {
	var n int64
	if err := tx.Model(&DataModel{}).Where("workspace_id = ? AND id = ?", workspaceID, id).Count(&n).Error; err != nil {
		return translate(err)
	}
	if n == 0 {
		return invalid("model_id", "This model does not exist.")
	}
	return nil
}

// UpdateSegment replaces a segment's name, model or conditions.
func (s *Store) UpdateSegment(ctx context.Context, a Actor, id string, in SegmentInput) (*Segment, error) {
	name, err := validName(in.Name)
	if err != nil {
		return nil, err
	}
	var g Segment
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("workspace_id = ? AND id = ?", a.WorkspaceID, id).Take(&g).Error; err != nil {
			return translate(err)
		}
		if err := s.modelIn(tx, a.WorkspaceID, in.ModelID); err != nil {
			return err
		}
		before := g.audit()
		g.Name, g.ModelID, g.ConditionsJSON, g.UpdatedAt = name, in.ModelID, in.ConditionsJSON, s.now()
		if err := translate(tx.Save(&g).Error); err != nil {
			if errors.Is(err, ErrConflict) {
				return invalid("name", "Another segment already has this name.")
			}
			return err
		}
		return s.record(tx, a, change{"segment.update", "segment", g.ID, g.Name, before, g.audit()})
	})
	if err != nil {
		return nil, err
	}
	return &g, nil
}

// SegmentByID loads a segment of a workspace.
func (s *Store) SegmentByID(ctx context.Context, workspaceID, id string) (*Segment, error) {
	return byID[Segment](ctx, s, workspaceID, id)
}

// SegmentModel is the model a segment reads, and that model's source.
type SegmentModel struct {
	ModelID  string
	SourceID string
}

// SegmentModelOf finds the model a segment of the workspace reads and its source in one
// query: where an error of the source or the model is fixed.
func (s *Store) SegmentModelOf(ctx context.Context, workspaceID, segmentID string) (SegmentModel, error) {
	var out SegmentModel
	err := s.db.WithContext(ctx).Table("segments").
		Select("data_models.id AS model_id, data_models.source_id AS source_id").
		Joins("JOIN data_models ON data_models.id = segments.model_id AND data_models.workspace_id = segments.workspace_id").
		Where("segments.workspace_id = ? AND segments.id = ?", workspaceID, segmentID).
		Take(&out).Error
	return out, translate(err)
}

// ListSegments returns a workspace's segments by name; modelID narrows to one model.
func (s *Store) ListSegments(ctx context.Context, workspaceID, modelID string) ([]Segment, error) {
	q := s.db.WithContext(ctx).Where("workspace_id = ?", workspaceID)
	if modelID != "" {
		q = q.Where("model_id = ?", modelID)
	}
	var out []Segment
	err := q.Order("name").Find(&out).Error
	return out, translate(err)
}

// DeleteSegment removes a segment no activation sends.
func (s *Store) DeleteSegment(ctx context.Context, a Actor, id string) error {
	return deleteUnused(ctx, s, a, id, "segment_id", "activation", func(d *Activation) (string, string) { return d.ID, d.Name },
		func(g *Segment) change { return change{"segment.delete", "segment", g.ID, g.Name, g.audit(), nil} })
}
