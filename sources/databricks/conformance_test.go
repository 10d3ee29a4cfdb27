package databricks_test

import (
	"context"
	"testing"

	"sluice/connectors"
	"sluice/connectors/connectortest"
	fake "sluice/internal/fakes/databricks"
	"sluice/sources/databricks"
)

// TestConformance runs the connector kit against the fake workspace. The failing config
// carries a token the workspace does not know; the keys are in a text column of an
// English collation, which the dialect's key order must not follow.
func TestConformance(t *testing.T) {
	w := newWarehouse(t)
	connectortest.Source(t, w.conn, connectortest.SourceEnv{
		Config:  w.cfg,
		Failing: with(w.cfg, "token", "dapi00000000000000000000000000000000"),
		Invalid: []connectortest.Invalid{
			{Name: "a host with a path", Config: with(w.cfg, "host", "example.cloud.databricks.com/sql"), Field: "host"},
			{Name: "a warehouse that is no ID", Config: with(w.cfg, "warehouse", "my warehouse"), Field: "warehouse"},
			{Name: "a catalog with a dot", Config: with(w.cfg, "catalog", "main.sales"), Field: "catalog"},
			{Name: "a token method without a token", Config: with(w.cfg, "token", ""), Field: "token"},
			{Name: "oauth without a client ID", Config: with(w.cfg, "auth", databricks.AuthOAuth, "client_secret", "x"), Field: "client_id"},
			{Name: "oauth without a secret", Config: with(w.cfg, "auth", databricks.AuthOAuth, "client_id", "x"), Field: "client_secret"},
		},
		Keys: func(t *testing.T, keys []string) connectors.Relation {
			collate := ""
			var icu bool
			if err := w.f.Pool().QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'en-x-icu')`).Scan(&icu); err == nil && icu {
				collate = ` COLLATE "en-x-icu"`
			}
			w.exec(t, `CREATE TABLE "main.sales".kit_keys (key text`+collate+`)`)
			for _, k := range keys {
				w.exec(t, `INSERT INTO "main.sales".kit_keys VALUES ($1)`, k)
			}
			w.grant(t, fake.Select, fake.OnTable, "main.sales.kit_keys")
			return connectors.Relation{Table: &connectors.Table{Schema: "sales", Name: "kit_keys"}}
		},
	})
}
