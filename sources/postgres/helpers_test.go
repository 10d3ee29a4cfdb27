package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"sluice/connectors"
	"sluice/internal/testutil"
)

// warehouse is a fresh PostgreSQL database for one test, with an admin connection to
// shape it and the source config that reaches it.
type warehouse struct {
	url   string
	admin *pgx.Conn
	cfg   connectors.Config
}

func newWarehouse(t *testing.T) *warehouse {
	t.Helper()
	u := testutil.PostgresURL(t)
	admin, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatalf("connect as admin: %v", err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	return &warehouse{url: u, admin: admin, cfg: configFromURL(t, u)}
}

// configFromURL turns a test database URL into the source form's fields.
func configFromURL(t *testing.T, raw string) connectors.Config {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	sslmode := u.Query().Get("sslmode")
	if sslmode == "" || sslmode == "prefer" || sslmode == "allow" {
		sslmode = "disable"
	}
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	return connectors.Config{
		"host": u.Hostname(), "port": port, "database": strings.TrimPrefix(u.Path, "/"),
		"user": u.User.Username(), "password": pw, "sslmode": sslmode, "schema": "public",
	}
}

// with returns a copy of the config with some fields changed.
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

func (w *warehouse) exec(t *testing.T, sqls ...string) {
	t.Helper()
	for _, s := range sqls {
		if _, err := w.admin.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// seed creates the sales schema most tests read: two tables, a view, a materialized view
// and a partitioned table with one partition (which Tables must not list).
func (w *warehouse) seed(t *testing.T) {
	t.Helper()
	w.exec(t,
		`CREATE EXTENSION IF NOT EXISTS citext`,
		`CREATE SCHEMA sales`,
		`CREATE TABLE sales.customers (
			id integer PRIMARY KEY, email citext, name varchar(50), code char(3), ext uuid,
			signed_up timestamptz, seen timestamp, birthday date, vip boolean,
			score numeric(18,2), ratio float8, visits int8, rank int2, meta jsonb, tags text[], photo bytea)`,
		`CREATE TABLE sales.orders (id bigint PRIMARY KEY, customer_id integer, total numeric(12,2), placed_at timestamptz)`,
		`CREATE VIEW sales.big_spenders AS SELECT c.id, c.email, sum(o.total) AS spent
			FROM sales.customers c JOIN sales.orders o ON o.customer_id = c.id GROUP BY c.id, c.email`,
		`CREATE MATERIALIZED VIEW sales.daily AS SELECT date_trunc('day', placed_at) AS day, count(*) AS n FROM sales.orders GROUP BY 1`,
		`CREATE TABLE sales.events (id bigint, at date) PARTITION BY RANGE (at)`,
		`CREATE TABLE sales.events_2024 PARTITION OF sales.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')`,
		`INSERT INTO sales.customers (id, email, name, code, ext, signed_up, seen, birthday, vip, score, ratio, visits, rank, meta, tags)
			VALUES (1, 'Ada@Example.com', 'Ada', 'ABC', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-05-01 10:00:00+00',
			        '2024-05-01 10:00:00', '1990-12-10', true, 12345678901234.56, 0.5, 42, 3, '{"plan":"pro"}', '{a,b}'),
			       (2, 'bob@example.com', 'Bob', NULL, NULL, NULL, NULL, NULL, false, NULL, NULL, NULL, NULL, NULL, NULL)`,
		`INSERT INTO sales.orders VALUES (10, 1, 99.90, now() - interval '2 days'), (11, 1, 5.00, now() - interval '40 days')`,
	)
}

// open opens a source and closes it when the test ends.
func open(t *testing.T, c connectors.SourceConnector, cfg connectors.Config) connectors.Source {
	t.Helper()
	src, err := c.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// validate runs Validate with a generous deadline and checks the stages came in order.
func validate(t *testing.T, src connectors.Source, models []connectors.ModelRef) []connectors.Check {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	checks := src.Validate(ctx, models)
	if len(checks) != len(connectors.Stages) {
		t.Fatalf("got %d checks, want %d: %+v", len(checks), len(connectors.Stages), checks)
	}
	for i, st := range connectors.Stages {
		if checks[i].Stage != st {
			t.Fatalf("check %d is %q, want %q", i, checks[i].Stage, st)
		}
	}
	return checks
}

// expectFailure asserts the stage failed with a message containing want, earlier stages
// passed and later ones were skipped with the given reason.
func expectFailure(t *testing.T, checks []connectors.Check, stage connectors.Stage, want, skipped string) {
	t.Helper()
	failedAt := -1
	for i, c := range checks {
		if c.Stage == stage {
			failedAt = i
		}
	}
	for i, c := range checks {
		switch {
		case i < failedAt && (!c.OK || c.Skipped):
			t.Errorf("stage %s should have passed: %+v", c.Stage, c)
		case i == failedAt:
			if c.OK || c.Skipped {
				t.Errorf("stage %s should have failed: %+v", c.Stage, c)
			}
			if !strings.Contains(c.Message, want) {
				t.Errorf("stage %s message = %q, want it to contain %q", c.Stage, c.Message, want)
			}
		case i > failedAt:
			if c.OK || !c.Skipped || c.Message != skipped {
				t.Errorf("stage %s should be skipped with %q: %+v", c.Stage, skipped, c)
			}
		}
	}
}

func expectAllOK(t *testing.T, checks []connectors.Check) {
	t.Helper()
	for _, c := range checks {
		if !c.OK || c.Skipped || c.Message == "" {
			t.Errorf("stage %s: %+v", c.Stage, c)
		}
	}
}

func randomName(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// newRole creates a login role (no password needed where the server trusts loopback)
// and drops it, with what it was granted, when the test ends.
func (w *warehouse) newRole(t *testing.T, prefix string) string {
	t.Helper()
	role := randomName(prefix)
	w.exec(t, "CREATE ROLE "+role+" LOGIN")
	t.Cleanup(func() {
		ctx := context.Background()
		_, _ = w.admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role)
		_, _ = w.admin.Exec(ctx, "DROP OWNED BY "+role)
		_, _ = w.admin.Exec(ctx, "DROP ROLE IF EXISTS "+role)
	})
	return role
}
