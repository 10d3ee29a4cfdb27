package models

import (
	"context"
	"strings"
	"time"
)

// Workspace is the tenant: every other row belongs to exactly one.
type Workspace struct {
	ID               string
	Name             string
	SetupCompletedAt *time.Time
	// DemoSeededAt is when the demo seed filled the workspace (nil: never), and
	// DemoRemovedAt when its demo data was removed.
	DemoSeededAt  *time.Time
	DemoRemovedAt *time.Time
	CreatedAt     time.Time
}

// HoldsDemo is whether the workspace holds the demo's data.
func (w *Workspace) HoldsDemo() bool {
	return w != nil && w.DemoSeededAt != nil && w.DemoRemovedAt == nil
}

// WorkspaceByID loads one workspace.
func (s *Store) WorkspaceByID(ctx context.Context, id string) (*Workspace, error) {
	var w Workspace
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&w).Error; err != nil {
		return nil, translate(err)
	}
	return &w, nil
}

// CreateWorkspace adds a tenant. Sluice's UI runs one workspace per installation today;
// the store and every query are already multi-tenant.
func (s *Store) CreateWorkspace(ctx context.Context, name string) (*Workspace, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, invalid("name", "Give the workspace a name.")
	}
	w := Workspace{ID: newID(), Name: name, CreatedAt: s.now()}
	if err := s.db.WithContext(ctx).Create(&w).Error; err != nil {
		return nil, translate(err)
	}
	return &w, nil
}
