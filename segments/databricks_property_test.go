package segments

import (
	"context"
	"fmt"
	"testing"

	"sluice/connectors"
	fake "sluice/internal/fakes/databricks"
	"sluice/internal/testutil"
	"sluice/sources/databricks"
)

// openDatabricks loads the rows into a fake Databricks workspace (catalog main, schema
// crm; signed_up_at a TIMESTAMP, as Databricks tables hold instants) and queries it
// through the Databricks connector: the compiled SQL travels as Databricks SQL with
// :pN parameters over the Statement Execution API, and the fake runs it on PostgreSQL.
func openDatabricks(t *testing.T, rows []customer) db {
	ctx := context.Background()
	f, err := fake.New(ctx, testutil.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	if err := f.CreateSchema(ctx, "main", "crm"); err != nil {
		t.Fatal(err)
	}
	pg := f.Pool()
	schema := `"` + fake.PGSchema("main", "crm") + `"`
	for _, sql := range []string{fmt.Sprintf(customersDDL, schema, "double precision"),
		`ALTER TABLE ` + schema + `.customers ALTER COLUMN signed_up_at TYPE timestamptz USING signed_up_at AT TIME ZONE 'UTC'`} {
		if _, err := pg.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range rows {
		if _, err := pg.Exec(ctx, `INSERT INTO `+schema+`.customers VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			r.id, r.email, r.country, r.age, r.score, r.vip, r.signedUp, r.birthday, r.nick); err != nil {
			t.Fatal(err)
		}
	}
	token := f.AddUser("segments@example.com")
	for _, g := range [][3]string{{fake.UseCatalog, fake.OnCatalog, "main"}, {fake.UseSchema, fake.OnSchema, "main.crm"}, {fake.Select, fake.OnTable, "main.crm.customers"}} {
		if err := f.Grant(ctx, "segments@example.com", g[0], g[1], g[2]); err != nil {
			t.Fatal(err)
		}
	}
	src, err := databricks.New(databricks.Options{BaseURL: f.URL()}).Open(ctx, connectors.Config{
		"host": f.Host(), "warehouse": fake.WarehouseID, "catalog": "main", "schema": "crm", "auth": databricks.AuthToken, "token": token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	rel := connectors.Relation{Table: &connectors.Table{Schema: "crm", Name: "customers"}}
	return db{d: src.Dialect(), rel: rel, query: func(q string, args []any) ([][]any, error) {
		var out [][]any
		err := src.Query(ctx, q, args, func(row []any) error {
			out = append(out, append([]any(nil), row...))
			return nil
		})
		return out, err
	}}
}

// TestSegmentsOnDatabricks is the acceptance test of the compiler on Databricks' dialect:
// the same seeded trees over the same rows as TestSegmentsOnDatabases, counted through
// the connector and the fake workspace, must agree with the Go evaluator (and so with
// PostgreSQL and SQLite), tree by tree and row by row.
func TestSegmentsOnDatabricks(t *testing.T) {
	now := awayFromMidnight()
	rows := fixture(now)
	checkEngine(t, []db{openDatabricks(t, rows)}, rows, now)
}
