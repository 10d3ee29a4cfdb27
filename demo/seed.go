package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"sluice/connectors"
	"sluice/core"
	"sluice/models"
	"sluice/segments"
	"sluice/sources/sqlite"
)

// WarehouseFile is the demo warehouse's name in the warehouses directory (sqlite.Dir of
// the data dir), the only place SQLite sources read from. Its source names it by this
// name alone, relative to that directory.
const WarehouseFile = "demo-warehouse.db"

// demoCustomers is the size of the demo warehouse: big enough to look real, small
// enough to build in a blink.
const demoCustomers = 2000

// Seed fills the first workspace of a new installation with the demo: a SQLite
// warehouse, a connected source on it, two models (one with a few duplicate keys, to
// show the warning) and a segment. It runs once: when the demo warehouse file exists,
// or the workspace already has a source, it does nothing.
func Seed(ctx context.Context, store *models.Store, wh *core.Service, dataDir string) (bool, error) {
	path := filepath.Join(sqlite.Dir(dataDir), WarehouseFile)
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	existing, err := store.ListSources(ctx, models.DefaultWorkspaceID)
	if err != nil || len(existing) > 0 {
		return false, err
	}
	if err := WriteWarehouse(ctx, path, demoCustomers); err != nil {
		return false, fmt.Errorf("demo: write warehouse: %w", err)
	}
	a := models.Actor{WorkspaceID: models.DefaultWorkspaceID, Type: models.ActorSystem, Name: "demo data", Role: models.RoleAdmin}
	spec, err := wh.SourceSpec("sqlite")
	if err != nil {
		return false, err
	}
	src, err := store.CreateSource(ctx, a, spec, models.SourceInput{Name: "Demo warehouse", Config: connectors.Config{"path": WarehouseFile}})
	if err != nil {
		return false, fmt.Errorf("demo: source: %w", err)
	}
	if _, err := wh.ValidateSource(ctx, a.WorkspaceID, src.ID); err != nil {
		return false, fmt.Errorf("demo: validate source: %w", err)
	}
	customers, err := wh.CreateModel(ctx, a, core.ModelRequest{SourceID: src.ID, Name: "Customers", Table: &connectors.Table{Name: "customers"}, PrimaryKey: "id"})
	if err != nil {
		return false, fmt.Errorf("demo: customers model: %w", err)
	}
	signups := core.ModelRequest{SourceID: src.ID, Name: "Newsletter signups", Table: &connectors.Table{Name: "newsletter_signups"}, PrimaryKey: "email"}
	if _, err := wh.CreateModel(ctx, a, signups); err != nil {
		return false, fmt.Errorf("demo: signups model: %w", err)
	}
	french := segments.All(segments.Leaf("country", segments.OpEq, "FR"), segments.Leaf("vip", segments.OpEq, true))
	if _, err := wh.SaveSegment(ctx, a, "", core.SegmentRequest{ModelID: customers.ID, Name: "French VIP customers", Conditions: french}); err != nil {
		return false, fmt.Errorf("demo: segment: %w", err)
	}
	return true, nil
}

// MoveWarehouse moves the demo warehouse an earlier version wrote at the data dir's root
// into the warehouses directory, where SQLite sources may read it, and points the first
// workspace's SQLite sources that named the old place at the new one (validated again,
// so they show connected). Nothing to move, or a file already at the new place, leaves
// the files as they are. It answers how many sources it repointed.
func MoveWarehouse(ctx context.Context, store *models.Store, wh *core.Service, dataDir string) (int, error) {
	old, err := filepath.Abs(filepath.Join(dataDir, WarehouseFile))
	if err != nil {
		return 0, err
	}
	moved := filepath.Join(sqlite.Dir(dataDir), WarehouseFile)
	if _, err := os.Stat(moved); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(moved), 0o700); err != nil {
			return 0, err
		}
		// Another instance sharing the data dir may have moved it first.
		if err := os.Rename(old, moved); err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("demo: move warehouse: %w", err)
		}
	}
	if _, err := os.Stat(moved); err != nil {
		return 0, nil
	}
	srcs, err := store.ListSources(ctx, models.DefaultWorkspaceID)
	if err != nil {
		return 0, err
	}
	spec, err := wh.SourceSpec(sqlite.Kind)
	if err != nil {
		return 0, err
	}
	a := models.Actor{WorkspaceID: models.DefaultWorkspaceID, Type: models.ActorSystem, Name: "demo data", Role: models.RoleAdmin}
	n := 0
	for _, src := range srcs {
		if src.Kind != sqlite.Kind || filepath.Clean(src.PublicConfig()["path"]) != old {
			continue
		}
		if _, err := store.UpdateSource(ctx, a, src.ID, spec, models.SourceInput{Config: connectors.Config{"path": WarehouseFile}}); err != nil {
			return n, fmt.Errorf("demo: repoint source: %w", err)
		}
		if _, err := wh.ValidateSource(ctx, a.WorkspaceID, src.ID); err != nil {
			return n, fmt.Errorf("demo: validate source: %w", err)
		}
		n++
	}
	return n, nil
}
