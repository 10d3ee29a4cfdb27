package segments

import (
	"context"
	"testing"

	"sluice/connectors"
	sffake "sluice/internal/fakes/snowflake"
	"sluice/internal/testutil"
	"sluice/sources/snowflake"
)

// openSnowflake loads the rows into a fake Snowflake account and queries them through
// the snowflake source: the dialect's SQL (? bindings, ILIKE … ESCAPE '\\', DATEADD on
// SYSDATE(), dates and times bound as text) travels the SQL API and runs on PostgreSQL
// after the fake's translation, on a SQL model (SELECT * FROM customers, resolved in
// the session's schema).
func openSnowflake(t *testing.T, rows []customer) db {
	ctx := context.Background()
	fake, err := sffake.New(sffake.Options{PostgresURL: testutil.PostgresURL(t), PartitionRows: 64})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	if err := fake.Exec(ctx, `CREATE SCHEMA "PUBLIC"`); err != nil {
		t.Fatal(err)
	}
	if err := fake.Exec(ctx, `CREATE TABLE "PUBLIC"."CUSTOMERS" (id integer PRIMARY KEY, email text, country text, age integer,
		score double precision, vip boolean, signed_up_at timestamp, birthday date, "Nick ""Name's""" text)`); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := fake.Exec(ctx, `INSERT INTO "PUBLIC"."CUSTOMERS" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			r.id, r.email, r.country, r.age, r.score, r.vip, r.signedUp, r.birthday, r.nick); err != nil {
			t.Fatal(err)
		}
	}
	key, err := fake.Provision(ctx, sffake.Reader{User: "SEGMENTS", Role: "READER", Warehouse: "WH", Schema: "PUBLIC", Tables: []string{"CUSTOMERS"}})
	if err != nil {
		t.Fatal(err)
	}
	src, err := snowflake.New(snowflake.Options{BaseURL: fake.URL}).Open(ctx, connectors.Config{
		"account": sffake.Account, "user": "SEGMENTS", "private_key": key, "warehouse": "WH", "role": "READER",
		"database": sffake.Database, "schema": "PUBLIC"})
	if err != nil {
		t.Fatal(err)
	}
	rel := connectors.Relation{SQL: "SELECT * FROM customers -- the whole table"}
	return db{d: src.Dialect(), rel: rel, query: func(q string, args []any) ([][]any, error) {
		var out [][]any
		err := src.Query(ctx, q, args, func(r []any) error {
			out = append(out, append([]any(nil), r...))
			return nil
		})
		return out, err
	}}
}

// TestSegmentsOnSnowflake runs the 200 random trees, every operator alone and the
// breakdowns on the Snowflake dialect through the fake, beside PostgreSQL queried
// directly: both must give the Go evaluator's rows, tree by tree.
func TestSegmentsOnSnowflake(t *testing.T) {
	now := awayFromMidnight()
	rows := fixture(now)
	checkEngine(t, []db{openSnowflake(t, rows), openPostgres(t, rows)}, rows, now)
}
