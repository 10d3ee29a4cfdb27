package demo_test

import (
	"context"
	"testing"

	"sluice/connectors"
	"sluice/demo"
	"sluice/internal/testutil"
	"sluice/models"
	"sluice/sources/sqlite"
	"sluice/warehouse"
)

func TestSeedBuildsAWorkingDemoOnce(t *testing.T) {
	ctx := context.Background()
	testutil.EachStore(t, func(t *testing.T, store *models.Store) {
		reg := connectors.NewRegistry()
		reg.RegisterSource(sqlite.New())
		wh := warehouse.New(store, reg)
		dir := t.TempDir()

		seeded, err := demo.Seed(ctx, store, wh, dir)
		if err != nil || !seeded {
			t.Fatalf("Seed = %v, %v", seeded, err)
		}
		srcs, _ := store.ListSources(ctx, models.DefaultWorkspaceID)
		if len(srcs) != 1 || srcs[0].Status != models.SourceConnected {
			t.Fatalf("demo source: %+v", srcs)
		}
		dms, _ := store.ListModels(ctx, models.DefaultWorkspaceID, "")
		status := map[string]string{}
		for _, m := range dms {
			status[m.Name] = m.Status
		}
		if status["Customers"] != models.ModelValid || status["Newsletter signups"] != models.ModelWarning {
			t.Fatalf("demo models: %v (the signups model shows the duplicate-key warning)", status)
		}
		segs, _ := store.ListSegments(ctx, models.DefaultWorkspaceID, "")
		if len(segs) != 1 {
			t.Fatalf("demo segments: %+v", segs)
		}
		cond, err := warehouse.Conditions(&segs[0])
		if err != nil {
			t.Fatal(err)
		}
		est, err := wh.Count(ctx, models.DefaultWorkspaceID, segs[0].ModelID, cond)
		if err != nil || est.Count == 0 || est.Count >= 2000 {
			t.Fatalf("demo segment count = %+v, %v", est, err)
		}

		again, err := demo.Seed(ctx, store, wh, dir)
		if err != nil || again {
			t.Fatalf("second Seed = %v, %v; want a no-op", again, err)
		}
	})
}
