package bigquery_test

import (
	"context"
	"encoding/json"
	"testing"

	"sluice/connectors"
	"sluice/connectors/connectortest"
)

// TestConformance runs the connector kit against the fake. The failing config holds the
// key of a service account whose key was deleted (Google then refuses every sign-in);
// the keys are read from a text column of an English collation, which the dialect's
// key order must not follow.
func TestConformance(t *testing.T) {
	e := newEnv(t)
	email, deleted := e.fake.ServiceAccount("deleted-key")
	e.fake.GrantProject(email, "roles/bigquery.admin")
	e.fake.DeleteKey(email)
	connectortest.Source(t, e.conn, connectortest.SourceEnv{
		Config:  e.cfg,
		Failing: with(e.cfg, "service_account_key", string(deleted)),
		Invalid: []connectortest.Invalid{
			{Name: "key not JSON", Config: with(e.cfg, "service_account_key", "not json"), Field: "service_account_key"},
			{Name: "key of a user", Config: with(e.cfg, "service_account_key", `{"type":"authorized_user","client_id":"x"}`), Field: "service_account_key"},
			{Name: "project name", Config: with(e.cfg, "project_id", "My Project"), Field: "project_id"},
			{Name: "dataset with its project", Config: with(e.cfg, "dataset", "sluice-fake.marketing"), Field: "dataset"},
		},
		// The secret goes where a key file can hold it and stay valid JSON.
		Secret: func(field, token string) string {
			var k map[string]any
			if err := json.Unmarshal(e.key, &k); err != nil {
				t.Fatal(err)
			}
			k["private_key_id"] = token
			out, _ := json.Marshal(k)
			return string(out)
		},
		Keys: func(t *testing.T, keys []string) connectors.Relation {
			ctx := context.Background()
			collate := ""
			var icu bool
			if err := e.fake.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'en-x-icu')`).Scan(&icu); err == nil && icu {
				collate = ` COLLATE "en-x-icu"`
			}
			if err := e.fake.Exec(ctx, `CREATE TABLE marketing.kit_keys (key text`+collate+`)`); err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				if err := e.fake.Exec(ctx, `INSERT INTO marketing.kit_keys VALUES ($1)`, k); err != nil {
					t.Fatal(err)
				}
			}
			return connectors.Relation{Table: &connectors.Table{Schema: "marketing", Name: "kit_keys"}}
		},
	})
}
