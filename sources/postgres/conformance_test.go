package postgres_test

import (
	"context"
	"net"
	"strconv"
	"testing"

	"sluice/connectors"
	"sluice/connectors/connectortest"
	"sluice/sources/postgres"
)

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return strconv.Itoa(port)
}

// TestConformance runs the connector kit on a fresh database. The failing config points
// at a closed port; the keys are in a text column of a language's collation, which the
// dialect's key order must not follow.
func TestConformance(t *testing.T) {
	w := newWarehouse(t)
	connectortest.Source(t, postgres.New(), connectortest.SourceEnv{
		Config:  w.cfg,
		Failing: with(w.cfg, "host", "127.0.0.1", "port", closedPort(t)),
		Invalid: []connectortest.Invalid{
			{Name: "port 0", Config: with(w.cfg, "port", "0"), Field: "port"},
			{Name: "port 65536", Config: with(w.cfg, "port", "65536"), Field: "port"},
		},
		Keys: func(t *testing.T, keys []string) connectors.Relation {
			// An English collation where the server has ICU: the test server's default
			// (C.UTF-8) is byte order already, and would hide a key order that trusts it.
			collate := ""
			var icu bool
			if err := w.admin.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'en-x-icu')`).Scan(&icu); err == nil && icu {
				collate = ` COLLATE "en-x-icu"`
			}
			w.exec(t, `CREATE TABLE public.kit_keys (key text`+collate+`)`)
			for _, k := range keys {
				if _, err := w.admin.Exec(context.Background(), `INSERT INTO public.kit_keys VALUES ($1)`, k); err != nil {
					t.Fatal(err)
				}
			}
			return connectors.Relation{Table: &connectors.Table{Schema: "public", Name: "kit_keys"}}
		},
	})
}
