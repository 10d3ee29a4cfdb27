package demo_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"sluice/connectors"
	"sluice/core"
	"sluice/demo"
	"sluice/internal/testutil"
	"sluice/models"
	"sluice/segments"
	"sluice/sources/sqlite"
)

func TestSeedBuildsAWorkingDemoOnce(t *testing.T) {
	ctx := context.Background()
	testutil.EachStore(t, func(t *testing.T, store *models.Store) {
		reg := connectors.NewRegistry()
		dir := t.TempDir()
		reg.RegisterSource(sqlite.New(sqlite.Dir(dir)))
		wh := core.New(store, reg)

		seeded, err := demo.Seed(ctx, store, wh, dir)
		if err != nil || !seeded {
			t.Fatalf("Seed = %v, %v", seeded, err)
		}
		srcs, _ := store.ListSources(ctx, models.DefaultWorkspaceID)
		if len(srcs) != 1 || srcs[0].Status != models.SourceConnected || srcs[0].PublicConfig()["path"] != demo.WarehouseFile {
			t.Fatalf("demo source: %+v", srcs)
		}
		if _, err := os.Stat(filepath.Join(dir, "warehouses", demo.WarehouseFile)); err != nil {
			t.Fatalf("the demo warehouse is not in the warehouses directory: %v", err)
		}
		dms, _ := store.ListModels(ctx, models.DefaultWorkspaceID, "")
		status := map[string]string{}
		for _, m := range dms {
			status[m.Name] = m.Status
		}
		if len(status) != 5 || status["Customers"] != models.ModelValid || status["Newsletter signups"] != models.ModelWarning ||
			status["Customer activity"] != models.ModelValid || status["Loyalty members"] != models.ModelValid {
			t.Fatalf("demo models: %v (the signups model shows the duplicate-key warning)", status)
		}
		if src, _ := store.SourceByID(ctx, models.DefaultWorkspaceID, srcs[0].ID); !checkOK(src, "lineage") {
			t.Errorf("the source's lineage check does not cover its models: %+v", src.Checks())
		}
		segs, _ := store.ListSegments(ctx, models.DefaultWorkspaceID, "")
		if len(segs) != 5 {
			t.Fatalf("demo segments: %+v", segs)
		}
		for _, g := range segs {
			cond, err := segments.Parse(g.ConditionsJSON)
			if err != nil {
				t.Fatal(err)
			}
			// Every segment holds some of its model's rows, not all of them (but for
			// the newsletter's readers, all of them).
			est, err := wh.Count(ctx, models.DefaultWorkspaceID, g.ModelID, cond)
			all, _ := wh.Count(ctx, models.DefaultWorkspaceID, g.ModelID, segments.All())
			if err != nil || est.Count == 0 || (est.Count >= all.Count && g.Name != "Newsletter readers") {
				t.Errorf("segment %s count = %+v, %v", g.Name, est, err)
			}
		}
		objs, err := store.DemoObjects(ctx, models.DefaultWorkspaceID)
		if err != nil || len(objs[models.DemoSource]) != 1 || len(objs[models.DemoModel]) != 5 || len(objs[models.DemoSegment]) != 5 {
			t.Errorf("demo objects = %v, %v", objs, err)
		}
		if ws, _ := store.WorkspaceByID(ctx, models.DefaultWorkspaceID); ws.DemoSeededAt == nil {
			t.Error("the workspace does not say it holds demo data")
		}

		again, err := demo.Seed(ctx, store, wh, dir)
		if err != nil || again {
			t.Fatalf("second Seed = %v, %v; want a no-op", again, err)
		}
	})
}

func checkOK(src *models.Source, stage string) bool {
	for _, c := range src.Checks() {
		if string(c.Stage) == stage {
			return c.OK
		}
	}
	return false
}

// An installation from before the warehouses directory has its demo warehouse at the
// data dir's root and a source naming it there, which SQLite sources may no longer
// read: the file moves, the source follows and connects again.
func TestMoveWarehouseFromTheDataDirRoot(t *testing.T) {
	ctx := context.Background()
	testutil.EachStore(t, func(t *testing.T, store *models.Store) {
		dir := t.TempDir()
		reg := connectors.NewRegistry()
		reg.RegisterSource(sqlite.New(sqlite.Dir(dir)))
		wh := core.New(store, reg)
		old := filepath.Join(dir, demo.WarehouseFile)
		if err := demo.WriteWarehouse(ctx, old, 50); err != nil {
			t.Fatal(err)
		}
		spec, _ := wh.SourceSpec(sqlite.Kind)
		a := models.Actor{WorkspaceID: models.DefaultWorkspaceID, Type: models.ActorSystem, Name: "test", Role: models.RoleAdmin}
		src, err := store.CreateSource(ctx, a, spec, models.SourceInput{Name: "Demo warehouse", Config: connectors.Config{"path": old}})
		if err != nil {
			t.Fatal(err)
		}
		other, err := store.CreateSource(ctx, a, spec, models.SourceInput{Name: "Other", Config: connectors.Config{"path": "/elsewhere/x.db"}})
		if err != nil {
			t.Fatal(err)
		}
		if src, _ = wh.ValidateSource(ctx, a.WorkspaceID, src.ID); src.Status != models.SourceBroken {
			t.Fatalf("the old path should be refused: %+v", src)
		}

		n, err := demo.MoveWarehouse(ctx, store, wh, dir)
		if err != nil || n != 1 {
			t.Fatalf("MoveWarehouse = %d, %v", n, err)
		}
		if _, err := os.Stat(old); !os.IsNotExist(err) {
			t.Errorf("the old file is still there: %v", err)
		}
		src, _ = store.SourceByID(ctx, a.WorkspaceID, src.ID)
		if src.PublicConfig()["path"] != demo.WarehouseFile || src.Status != models.SourceConnected {
			t.Errorf("source after the move: %+v", src)
		}
		if o, _ := store.SourceByID(ctx, a.WorkspaceID, other.ID); o.PublicConfig()["path"] != "/elsewhere/x.db" {
			t.Errorf("another source was changed: %+v", o)
		}
		// Booting again finds nothing to do, and the seed sees the demo is there.
		if n, err := demo.MoveWarehouse(ctx, store, wh, dir); err != nil || n != 0 {
			t.Errorf("second MoveWarehouse = %d, %v", n, err)
		}
		if seeded, err := demo.Seed(ctx, store, wh, dir); err != nil || seeded {
			t.Errorf("Seed after the move = %v, %v; want a no-op", seeded, err)
		}
	})
}
