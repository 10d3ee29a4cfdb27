package databricks_test

import (
	"context"
	"strings"
	"testing"

	"sluice/connectors"
	fake "sluice/internal/fakes/databricks"
	"sluice/internal/testutil"
	"sluice/sources/databricks"
)

// Reader is the user the tests read as.
const Reader = "reader@example.com"

// warehouse is a fake workspace with the catalog main, the schema main.sales holding
// customers (12 rows), and a reader granted what Sluice needs on it.
type warehouse struct {
	f     *fake.Fake
	token string
	cfg   connectors.Config
	conn  connectors.SourceConnector
}

func newWarehouse(t testing.TB) *warehouse {
	t.Helper()
	ctx := context.Background()
	f, err := fake.New(ctx, testutil.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	w := &warehouse{f: f, token: f.AddUser(Reader), conn: databricks.New(databricks.Options{BaseURL: f.URL()})}
	if err := f.CreateSchema(ctx, "main", "sales"); err != nil {
		t.Fatal(err)
	}
	w.exec(t, `CREATE TABLE "main.sales".customers (id bigint, email text, score double precision, amount numeric(12,2),
		vip boolean, born date, signed_up_at timestamptz, seen_at timestamp, tags text[])`)
	w.exec(t, `INSERT INTO "main.sales".customers
		SELECT i, 'c' || i || '@example.com', i * 1.5, i * 100.25, i % 2 = 0, DATE '2000-01-01' + i,
		       TIMESTAMPTZ '2024-03-01 10:00:00+00' + i * INTERVAL '1 hour', TIMESTAMP '2024-03-01 10:00:00', ARRAY['a', 'b']
		FROM generate_series(1, 12) AS i`)
	w.grant(t, fake.UseCatalog, fake.OnCatalog, "main")
	w.grant(t, fake.UseSchema, fake.OnSchema, "main.sales")
	w.grant(t, fake.Select, fake.OnTable, "main.sales.customers")
	w.cfg = connectors.Config{"host": f.Host(), "warehouse": "/sql/1.0/warehouses/" + fake.WarehouseID,
		"catalog": "main", "schema": "sales", "auth": databricks.AuthToken, "token": w.token}
	return w
}

func (w *warehouse) exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := w.f.Pool().Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (w *warehouse) grant(t testing.TB, privilege, on, name string) {
	t.Helper()
	if err := w.f.Grant(context.Background(), Reader, privilege, on, name); err != nil {
		t.Fatal(err)
	}
}

func (w *warehouse) open(t testing.TB, cfg connectors.Config) connectors.Source {
	t.Helper()
	src, err := w.conn.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// many makes main.sales.many, ids 1 to n, readable by Reader, served in chunks of
// 1,000 rows.
func (w *warehouse) many(t testing.TB, n int) {
	t.Helper()
	w.exec(t, `CREATE TABLE "main.sales".many AS SELECT i AS id FROM generate_series(1, $1::int) AS i`, n)
	w.grant(t, fake.Select, fake.OnTable, "main.sales.many")
	w.f.SetChunkRows(1000)
}

// requested reports whether the fake received a request whose path ends with suffix.
func (w *warehouse) requested(suffix string) bool {
	for _, r := range w.f.Requests() {
		if strings.HasSuffix(r.Path, suffix) {
			return true
		}
	}
	return false
}

// with is cfg with the given key, value pairs changed.
func with(cfg connectors.Config, kv ...string) connectors.Config {
	out := connectors.Config{}
	for k, v := range cfg {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}
