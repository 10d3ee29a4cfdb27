package sqlite_test

import (
	"path/filepath"
	"testing"

	"sluice/connectors"
	"sluice/connectors/connectortest"
	"sluice/sources/sqlite"
)

// TestConformance runs the connector kit on a demo file in the connector's directory.
// The failing config names a file that is not there; the keys are in a NOCASE column,
// whose collation a CAST keeps unless the dialect's key order overrides it.
func TestConformance(t *testing.T) {
	path, db := demo(t, "warehouse.db")
	connectortest.Source(t, sqlite.New(filepath.Dir(path)), connectortest.SourceEnv{
		Config:  connectors.Config{"path": filepath.Base(path)},
		Failing: connectors.Config{"path": "missing.db"},
		Keys: func(t *testing.T, keys []string) connectors.Relation {
			if _, err := db.Exec(`CREATE TABLE kit_keys (key TEXT COLLATE NOCASE)`); err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				if _, err := db.Exec(`INSERT INTO kit_keys VALUES (?)`, k); err != nil {
					t.Fatal(err)
				}
			}
			return connectors.Relation{Table: &connectors.Table{Schema: sqlite.Schema, Name: "kit_keys"}}
		},
	})
}
