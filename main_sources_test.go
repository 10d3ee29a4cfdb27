package main

import (
	"context"
	"path/filepath"
	"testing"

	"sluice/config"
	"sluice/connectors"
	"sluice/demo"
	"sluice/sources/sqlite"
)

// The registry main builds confines SQLite sources to the data dir's warehouses
// directory and refuses Sluice's own database, also when the settings put it inside.
func TestRegistryConfinesSQLiteSources(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	warehouses := sqlite.Dir(dir)
	if err := demo.WriteWarehouse(ctx, filepath.Join(warehouses, demo.WarehouseFile), 10); err != nil {
		t.Fatal(err)
	}
	own := filepath.Join(warehouses, "sluice.db") // a database URL pointing into the directory
	if err := demo.WriteWarehouse(ctx, own, 10); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(dir, "absent.yaml"), func(k string) string {
		return map[string]string{"SLUICE_DATA_DIR": dir, "SLUICE_DATABASE_URL": "sqlite://" + own}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := registry(cfg).Source(sqlite.Kind)
	if !ok {
		t.Fatal("no sqlite source kind")
	}
	first := func(path string) connectors.Check {
		src, err := c.Open(ctx, connectors.Config{"path": path})
		if err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		defer src.Close()
		return src.Validate(ctx, nil)[0]
	}
	if got := first(demo.WarehouseFile); !got.OK {
		t.Errorf("the demo warehouse: %+v", got)
	}
	want := "Sluice can only read SQLite database files in " + warehouses + ". Put the file there and give its name."
	for _, path := range []string{"sluice.db", own, filepath.Join(dir, "secret.key"), "../secret.key"} {
		if got := first(path); got.OK || got.Message != want {
			t.Errorf("%s: %+v, want %q", path, got, want)
		}
	}
}
