package snowflake_test

import (
	"context"
	"maps"
	"testing"

	"sluice/connectors"
	sffake "sluice/internal/fakes/snowflake"
	"sluice/internal/testutil"
	"sluice/sources/snowflake"
)

// warehouse is a fake Snowflake account on a fresh PostgreSQL database, with a
// CUSTOMERS table, a read-only user for Sluice (SLUICE_READER, role SLUICE_ROLE,
// warehouse COMPUTE_WH) and the config of a source that passes every stage.
type warehouse struct {
	fake *sffake.Server
	cfg  connectors.Config
	conn connectors.SourceConnector
}

func newWarehouse(t testing.TB, opts ...func(*sffake.Options)) *warehouse {
	t.Helper()
	o := sffake.Options{PostgresURL: testutil.PostgresURL(t)}
	for _, f := range opts {
		f(&o)
	}
	fake, err := sffake.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	ctx := context.Background()
	for _, q := range []string{
		`CREATE SCHEMA "PUBLIC"`,
		`CREATE SCHEMA "STAGING"`,
		`CREATE TABLE "PUBLIC"."CUSTOMERS" ("ID" integer, "EMAIL" text, "PHONE" text, "NAME" text, "SCORE" numeric(10,2),
			"RATIO" double precision, "VIP" boolean, "BIRTHDAY" date, "SIGNED_UP_AT" timestamp, "SEEN_AT" timestamptz, "PROFILE" jsonb)`,
		`INSERT INTO "PUBLIC"."CUSTOMERS" SELECT i, 'c' || i || '@example.com', '06 12 34 56 ' || lpad(i::text, 2, '0'), 'Customer ' || i,
			i * 1.25, i / 4.0, i % 2 = 0, DATE '2000-01-01' + i, TIMESTAMP '2024-03-01 10:00:00.5' + i * INTERVAL '1 hour',
			TIMESTAMPTZ '2024-03-01 10:00:00+00' + i * INTERVAL '1 day', jsonb_build_object('n', i) FROM generate_series(1, 42) i`,
		`CREATE VIEW "PUBLIC"."VIP_CUSTOMERS" AS SELECT * FROM "PUBLIC"."CUSTOMERS" WHERE "VIP"`,
		`CREATE TABLE "PUBLIC"."SECRETS" ("ID" integer)`,
	} {
		if err := fake.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	keyPEM, err := fake.Provision(ctx, sffake.Reader{User: "SLUICE_READER", Role: "SLUICE_ROLE", Warehouse: "COMPUTE_WH",
		Schema: "PUBLIC", Tables: []string{"CUSTOMERS", "VIP_CUSTOMERS"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := connectors.Config{
		"account": "sluice-test", "user": "sluice_reader", "private_key": keyPEM,
		"warehouse": "compute_wh", "role": "sluice_role", "database": "analytics", "schema": "public",
	}
	return &warehouse{fake: fake, cfg: cfg, conn: snowflake.New(snowflake.Options{BaseURL: fake.URL})}
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

func with(cfg connectors.Config, kv ...string) connectors.Config {
	out := maps.Clone(cfg)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// rows runs a query and copies its rows.
func rows(t testing.TB, src connectors.Source, sql string, args ...any) [][]any {
	t.Helper()
	var out [][]any
	err := src.Query(context.Background(), sql, args, func(r []any) error {
		out = append(out, append([]any(nil), r...))
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}
