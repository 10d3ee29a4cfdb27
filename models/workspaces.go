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
	// DemoStory is where the demo's story stands (DemoStory…): its platforms,
	// activations and runs are made after Sluice listens.
	DemoStory string
	CreatedAt time.Time
}

// HoldsDemo is whether the workspace holds the demo's data.
func (w *Workspace) HoldsDemo() bool {
	return w != nil && w.DemoSeededAt != nil && w.DemoRemovedAt == nil
}

// PreparingDemo is whether the demo's platforms, activations and runs are still being
// made.
func (w *Workspace) PreparingDemo() bool {
	return w.HoldsDemo() && w.DemoStory == DemoStoryPreparing
}

// DemoStopped is whether making the demo's story stopped part way (the next start
// with the story on carries on).
func (w *Workspace) DemoStopped() bool {
	return w.HoldsDemo() && w.DemoStory == DemoStoryStopped
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
