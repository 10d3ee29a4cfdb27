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

// Customers is the size of the demo warehouse: big enough to look real, small enough to
// build in a blink (about half a second).
const Customers = 5000

// actor is who the demo's objects are made by.
var actor = models.Actor{WorkspaceID: models.DefaultWorkspaceID, Type: models.ActorSystem, Name: "demo data", Role: models.RoleAdmin}

// seeding makes the demo's objects and records each one as the demo's.
type seeding struct {
	ctx   context.Context
	store *models.Store
	wh    *core.Service
}

func (s *seeding) mark(kind, id string) error {
	return s.store.MarkDemo(s.ctx, actor.WorkspaceID, kind, id)
}

// Seed fills the first workspace of a new installation with the demo: a SQLite
// warehouse, a connected source on it, models (one with a few duplicate keys, to show
// the warning) and segments. It runs once: when the demo warehouse file exists, the
// workspace already has a source, or was seeded before (its demo since removed), it
// does nothing.
func Seed(ctx context.Context, store *models.Store, wh *core.Service, dataDir string) (bool, error) {
	path := filepath.Join(sqlite.Dir(dataDir), WarehouseFile)
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	ws, err := store.WorkspaceByID(ctx, models.DefaultWorkspaceID)
	if err != nil || ws.DemoSeededAt != nil {
		return false, err
	}
	existing, err := store.ListSources(ctx, models.DefaultWorkspaceID)
	if err != nil || len(existing) > 0 {
		return false, err
	}
	if err := WriteWarehouse(ctx, path, Customers); err != nil {
		return false, fmt.Errorf("demo: write warehouse: %w", err)
	}
	s := &seeding{ctx: ctx, store: store, wh: wh}
	if _, err := s.data(); err != nil {
		return false, fmt.Errorf("demo: %w", err)
	}
	return true, nil
}

// data are the source, its models and the segments on them, by name.
type data struct {
	models   map[string]*models.DataModel
	segments map[string]*models.Segment
}

func (s *seeding) data() (*data, error) {
	spec, err := s.wh.SourceSpec(sqlite.Kind)
	if err != nil {
		return nil, err
	}
	src, err := s.store.CreateSource(s.ctx, actor, spec, models.SourceInput{Name: "Demo warehouse", Config: connectors.Config{"path": WarehouseFile}})
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	if err := s.mark(models.DemoSource, src.ID); err != nil {
		return nil, err
	}
	d := &data{models: map[string]*models.DataModel{}, segments: map[string]*models.Segment{}}
	for _, req := range []core.ModelRequest{
		{Name: "Customers", Table: &connectors.Table{Name: "customers"}, PrimaryKey: "id"},
		{Name: "Newsletter signups", Table: &connectors.Table{Name: "newsletter_signups"}, PrimaryKey: "email"},
		{Name: "Orders", Table: &connectors.Table{Name: "orders"}, PrimaryKey: "id"},
		{Name: "Loyalty members", Table: &connectors.Table{Name: "loyalty_members"}, PrimaryKey: "member_id"},
		{Name: "Customer activity", Table: &connectors.Table{Name: "customer_activity"}, PrimaryKey: "id"},
	} {
		req.SourceID = src.ID
		m, err := s.wh.CreateModel(s.ctx, actor, req) // validates the source again: its lineage covers the model
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", req.Name, err)
		}
		if err := s.mark(models.DemoModel, m.ID); err != nil {
			return nil, err
		}
		d.models[m.Name] = m
	}
	for _, g := range []struct {
		model, name string
		cond        segments.Condition
	}{
		{"Customers", "French VIP customers", segments.All(segments.Leaf("country", segments.OpEq, "FR"), segments.Leaf("vip", segments.OpEq, true))},
		{"Customers", "French customers, lifetime value over 500", segments.All(segments.Leaf("country", segments.OpEq, "FR"), segments.Leaf("lifetime_value", segments.OpGt, 500))},
		{"Customer activity", "Not seen for 60 days", segments.All(segments.Leaf("days_since_last_order", segments.OpGt, 60))},
		{"Newsletter signups", "Newsletter readers", segments.All()},
		{"Loyalty members", "Gold and platinum members", segments.All(segments.Leaf("tier", segments.OpIn, []any{"gold", "platinum"}))},
	} {
		seg, err := s.wh.SaveSegment(s.ctx, actor, "", core.SegmentRequest{ModelID: d.models[g.model].ID, Name: g.name, Conditions: g.cond})
		if err != nil {
			return nil, fmt.Errorf("segment %s: %w", g.name, err)
		}
		if err := s.mark(models.DemoSegment, seg.ID); err != nil {
			return nil, err
		}
		d.segments[seg.Name] = seg
	}
	return d, nil
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
	a := actor
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
