package models

import (
	"context"
	"maps"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// The kinds of object the demo seed makes, in the order they can be deleted (what uses
// an object before it).
const (
	DemoActivation = "activation"
	DemoSegment    = "segment"
	DemoModel      = "model"
	DemoPlatform   = "platform"
	DemoSource     = "source"
)

// DemoKinds are the demo's object kinds in deletion order.
var DemoKinds = []string{DemoActivation, DemoSegment, DemoModel, DemoPlatform, DemoSource}

// DemoObject is one object the demo seed made.
type DemoObject struct {
	WorkspaceID string `gorm:"primaryKey"`
	ObjectType  string `gorm:"primaryKey"`
	ObjectID    string `gorm:"primaryKey"`
}

func (DemoObject) TableName() string { return "demo_objects" }

// MarkDemo records objects of a kind as the demo's, and the workspace as holding demo
// data.
func (s *Store) MarkDemo(ctx context.Context, workspaceID, kind string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	rows := make([]DemoObject, len(ids))
	for i, id := range ids {
		rows[i] = DemoObject{WorkspaceID: workspaceID, ObjectType: kind, ObjectID: id}
	}
	return translate(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error; err != nil {
			return err
		}
		return tx.Model(&Workspace{}).Where("id = ? AND demo_seeded_at IS NULL", workspaceID).Update("demo_seeded_at", s.now()).Error
	}))
}

// DemoObjects lists the ids of the workspace's demo objects by kind.
func (s *Store) DemoObjects(ctx context.Context, workspaceID string) (map[string][]string, error) {
	var rows []DemoObject
	if err := s.db.WithContext(ctx).Where("workspace_id = ?", workspaceID).Order("object_type, object_id").Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := map[string][]string{}
	for _, r := range rows {
		out[r.ObjectType] = append(out[r.ObjectType], r.ObjectID)
	}
	return out, nil
}

// ForgetDemo records that the workspace holds no demo data any more (and is not to be
// seeded again), once its objects are deleted: the incidents and validation issues
// about them go too, so nothing is left pointing at demo objects gone. The audit log
// keeps what happened.
func (s *Store) ForgetDemo(ctx context.Context, workspaceID string) error {
	return translate(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		demoIDs := tx.Model(&DemoObject{}).Select("object_id").Where("workspace_id = ?", workspaceID)
		if err := tx.Where("workspace_id = ? AND object_id IN (?)", workspaceID, demoIDs).Delete(&Incident{}).Error; err != nil {
			return err
		}
		if err := tx.Where("workspace_id = ? AND object_id IN (?)", workspaceID, demoIDs).Delete(&ValidationIssue{}).Error; err != nil {
			return err
		}
		if err := tx.Where("workspace_id = ?", workspaceID).Delete(&DemoObject{}).Error; err != nil {
			return err
		}
		return tx.Model(&Workspace{}).Where("id = ?", workspaceID).Update("demo_removed_at", s.now()).Error
	}))
}

// Where a workspace's demo story stands (Workspace.DemoStory).
const (
	DemoStoryPreparing = "preparing"
	DemoStoryReady     = "ready"
	DemoStoryStopped   = "stopped"
)

// SetDemoStory records where the workspace's demo story stands.
func (s *Store) SetDemoStory(ctx context.Context, workspaceID, state string) error {
	return translate(s.db.WithContext(ctx).Model(&Workspace{}).Where("id = ?", workspaceID).Update("demo_story", state).Error)
}

// AddRunHistory stores finished runs of the workspace's activations as they were, for a
// demo's past: the same rows real runs leave, each checked to balance as theirs do.
func (s *Store) AddRunHistory(ctx context.Context, workspaceID string, runs []Run) error {
	acts := map[string]bool{}
	for i := range runs {
		r := &runs[i]
		acts[r.ActivationID] = true
		c := r.RunCounts
		if r.WorkspaceID != workspaceID || r.FinishedAt == nil || r.StartedAt == nil ||
			c.Queried != c.Added+c.Changed+c.Unchanged+c.SourceIssues || c.Added+c.Changed+c.Removed != c.Sent+c.Rejected+c.Unsent {
			return invalid("runs", "A past run must be finished, in the workspace, and its counts balance.")
		}
		if r.ID == "" {
			r.ID = newID()
		}
	}
	if len(runs) == 0 {
		return nil
	}
	var n int64
	if err := s.db.WithContext(ctx).Model(&Activation{}).Where("workspace_id = ? AND id IN ?", workspaceID, slices.Collect(maps.Keys(acts))).Count(&n).Error; err != nil {
		return translate(err)
	}
	if int(n) != len(acts) {
		return ErrNotFound
	}
	// An activation cannot have run before it was made: date it back to its first run.
	first := map[string]time.Time{}
	for _, r := range runs {
		if t, ok := first[r.ActivationID]; !ok || r.CreatedAt.Before(t) {
			first[r.ActivationID] = r.CreatedAt
		}
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for id, t := range first {
			if err := tx.Model(&Activation{}).Where("workspace_id = ? AND id = ? AND created_at > ?", workspaceID, id, t).
				Update("created_at", t).Error; err != nil {
				return translate(err)
			}
		}
		return translate(tx.CreateInBatches(&runs, 500).Error)
	})
}
