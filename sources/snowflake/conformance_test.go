package snowflake_test

import (
	"context"
	"testing"

	"sluice/connectors"
	"sluice/connectors/connectortest"
	sffake "sluice/internal/fakes/snowflake"
)

// TestConformance runs the connector kit against the fake. The failing config signs
// with a key Snowflake does not know for the user; the keys are in a text column of an
// English collation (where the server has ICU), which the key order must not follow.
func TestConformance(t *testing.T) {
	w := newWarehouse(t)
	_, otherKey, err := sffake.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	connectortest.Source(t, w.conn, connectortest.SourceEnv{
		Config:  w.cfg,
		Failing: with(w.cfg, "private_key", otherKey),
		Invalid: []connectortest.Invalid{
			{Name: "an account with a space", Config: with(w.cfg, "account", "my account"), Field: "account"},
			{Name: "a key that is not PEM", Config: with(w.cfg, "private_key", "not a key"), Field: "private_key"},
		},
		Keys: func(t *testing.T, keys []string) connectors.Relation {
			ctx := context.Background()
			collate := ""
			var icu bool
			if err := w.fake.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'en-x-icu')`).Scan(&icu); err == nil && icu {
				collate = ` COLLATE "en-x-icu"`
			}
			if err := w.fake.Exec(ctx, `CREATE TABLE "PUBLIC"."KIT_KEYS" (key text`+collate+`)`); err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				if err := w.fake.Exec(ctx, `INSERT INTO "PUBLIC"."KIT_KEYS" VALUES ($1)`, k); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.fake.GrantSelect(ctx, "SLUICE_ROLE", "PUBLIC", "KIT_KEYS", true); err != nil {
				t.Fatal(err)
			}
			return connectors.Relation{Table: &connectors.Table{Schema: "PUBLIC", Name: "KIT_KEYS"}}
		},
	})
}
