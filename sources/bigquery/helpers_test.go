package bigquery_test

import (
	"context"
	"testing"
	"time"

	"sluice/connectors"
	fake "sluice/internal/fakes/bigquery"
	"sluice/internal/testutil"
	"sluice/sources/bigquery"
)

// env is a fake BigQuery with one dataset, "marketing" in the US, a customers table,
// and a service account that may run jobs and read the dataset.
type env struct {
	fake  *fake.Server
	email string
	key   []byte
	cfg   connectors.Config
	conn  connectors.SourceConnector
}

func newEnv(t testing.TB) *env {
	t.Helper()
	f, err := fake.New(fake.Options{PostgresURL: testutil.PostgresURL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	ctx := context.Background()
	if err := f.CreateDataset(ctx, "marketing", "US"); err != nil {
		t.Fatal(err)
	}
	if err := f.Exec(ctx, `CREATE TABLE marketing.customers (
		id bigint PRIMARY KEY, email text, country text, score numeric(10,2), vip boolean,
		signed_up_at timestamptz, last_seen timestamp, birthday date, payload jsonb, avatar bytea)`); err != nil {
		t.Fatal(err)
	}
	if err := f.Exec(ctx, `INSERT INTO marketing.customers VALUES
		(1, 'ada@example.com', 'FR', 12.50, true, '2024-03-01 10:00:00.5+00', '2024-03-01 10:00:00', '1990-02-03', '{"a": 1}', '\x0102'),
		(2, 'bob@example.com', 'DE', NULL, false, NULL, NULL, NULL, NULL, NULL),
		(3, NULL, NULL, -3, NULL, '2023-01-01 00:00:00+00', '2023-01-01 00:00:00', '2000-01-01', '[1, "x"]', NULL)`); err != nil {
		t.Fatal(err)
	}
	email, key := f.ServiceAccount("sluice-reader")
	f.GrantProject(email, fake.RoleJobUser)
	f.GrantDataset(email, "marketing", fake.RoleDataViewer)
	return &env{fake: f, email: email, key: key,
		cfg:  connectors.Config{"project_id": f.Project(), "dataset": "marketing", "location": "US", "service_account_key": string(key)},
		conn: bigquery.New(bigquery.Options{BaseURL: f.URL})}
}

func (e *env) open(t testing.TB, cfg connectors.Config) connectors.Source {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src, err := e.conn.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

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

// fakeURL is a fresh PostgreSQL database for a second fake.
func (e *env) fakeURL(t testing.TB) string { return testutil.PostgresURL(t) }
