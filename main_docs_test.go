package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"sluice/config"
	"sluice/connectors"
	"sluice/sources/sqlite"
)

var update = flag.Bool("update", false, "rewrite the generated documents")

// docs/connectors.md is what the registered connectors' specs say: a kind added or a
// field changed without regenerating it fails here.
func TestConnectorsReference(t *testing.T) {
	// The default settings: the reference shows the default data dir, wherever it runs.
	cfg, err := config.Load(filepath.Join(t.TempDir(), "absent.yaml"), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	reg := registry(cfg)
	var out bytes.Buffer
	if err := connectors.WriteReference(&out, reg.SourceSpecs(), reg.DestinationSpecs()); err != nil {
		t.Fatal(err)
	}
	// The SQLite source's help names its folder as an absolute path: say it as the setting.
	folder, err := filepath.Abs(sqlite.Dir(cfg.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	got := bytes.NewBuffer(bytes.ReplaceAll(out.Bytes(), []byte(folder), []byte("SLUICE_DATA_DIR/warehouses")))
	const path = "docs/connectors.md"
	if *update {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("%s is out of date with the connectors' specs: run go test . -run TestConnectorsReference -update", path)
	}
}
