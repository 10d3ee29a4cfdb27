package databricks_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"sluice/connectors"
	fake "sluice/internal/fakes/databricks"
	"sluice/sources/databricks"
)

func TestQueryDecodesEveryType(t *testing.T) {
	w := newWarehouse(t)
	src := w.open(t, w.cfg)
	var rows [][]any
	err := src.Query(context.Background(), "SELECT id, email, score, amount, vip, born, signed_up_at, seen_at, tags FROM `main`.`sales`.`customers` WHERE id = :p1 OR email = :p2 ORDER BY id",
		[]any{int64(2), "c3@example.com"}, func(row []any) error {
			rows = append(rows, append([]any(nil), row...))
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]any{
		{int64(2), "c2@example.com", 3.0, "200.50", true, time.Date(2000, 1, 3, 0, 0, 0, 0, time.UTC),
			time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC), time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), []any{"a", "b"}},
		{int64(3), "c3@example.com", 4.5, "300.75", false, time.Date(2000, 1, 4, 0, 0, 0, 0, time.UTC),
			time.Date(2024, 3, 1, 13, 0, 0, 0, time.UTC), time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), []any{"a", "b"}},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows:\n%#v\nwant\n%#v", rows, want)
	}
}

func TestQueryReadsChunksFromLinksWithoutAuthorization(t *testing.T) {
	w := newWarehouse(t)
	w.many(t, 2500)
	src := w.open(t, w.cfg)
	var got []int64
	err := src.Query(context.Background(), "SELECT id FROM main.sales.many ORDER BY id", nil, func(row []any) error {
		got = append(got, row[0].(int64))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2500 || got[0] != 1 || got[2499] != 2500 {
		t.Fatalf("read %d rows (%v … %v)", len(got), got[:1], got[len(got)-1:])
	}
	links, chunkCalls := 0, 0
	for _, r := range w.f.Requests() {
		switch {
		case strings.HasPrefix(r.Path, "/_results/"):
			links++
			if r.Authorization != "" {
				t.Errorf("a result link was fetched with an Authorization header")
			}
		case strings.Contains(r.Path, "/result/chunks/"):
			chunkCalls++
		case strings.HasPrefix(r.Path, "/api/") && !strings.HasPrefix(r.Authorization, "Bearer "+w.token):
			t.Errorf("%s %s went without the token", r.Method, r.Path)
		}
	}
	if links != 3 || chunkCalls != 2 {
		t.Fatalf("%d links and %d chunk requests, want 3 and 2", links, chunkCalls)
	}
}

func TestQueryStopsAndCancels(t *testing.T) {
	w := newWarehouse(t)
	w.many(t, 3000)
	src := w.open(t, w.cfg)

	// fn's error comes back as it is, and no more rows are read.
	stop := errors.New("enough")
	n := 0
	err := src.Query(context.Background(), "SELECT id FROM main.sales.many", nil, func([]any) error {
		n++
		if n == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 10 {
		t.Fatalf("after fn's error: %v, %d rows", err, n)
	}

	// A context cancelled while the statement waits for a stopped warehouse cancels it.
	w.f.StopWarehouse(fake.WarehouseID)
	w.f.SetStartDelay(5 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = src.Query(ctx, "SELECT id FROM main.sales.many", nil, func([]any) error { return nil })
	ce, ok := connectors.AsError(err)
	if !ok || ce.Category != connectors.CategoryTimeout || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a query past its deadline: %v", err)
	}
	if !w.requested("/cancel") {
		t.Fatal("the statement was not cancelled on the warehouse")
	}
}

func TestQueryErrorsInWords(t *testing.T) {
	w := newWarehouse(t)
	w.exec(t, `CREATE TABLE "main.sales".secret (id bigint)`)
	src := w.open(t, w.cfg)
	for _, tc := range []struct {
		sql      string
		category connectors.Category
		words    string
	}{
		{"SELECT * FROM main.sales.secret", connectors.CategoryCredentials,
			"The token's user does not have SELECT on table main.sales.secret. Ask its owner to run: GRANT SELECT ON TABLE main.sales.secret TO <the principal>;"},
		{"SELECT * FROM main.sales.nope", connectors.CategoryNotFound, "A table the query reads does not exist: The table or view `main`.`sales`.`nope` cannot be found."},
		{"SELECT nope FROM main.sales.customers", connectors.CategoryConfiguration, "Databricks rejected the query: A column, variable, or function parameter with name"},
		{`SELECT id FROM main.sales.customers WHERE email = "c1@example.com" AND id = $1`, connectors.CategoryConfiguration, "Databricks rejected the query: Syntax error at or near '$'."},
	} {
		err := src.Query(context.Background(), tc.sql, nil, func([]any) error { return nil })
		ce, ok := connectors.AsError(err)
		if !ok || ce.Category != tc.category || !strings.Contains(ce.Message, tc.words) {
			t.Errorf("%s: %v; want %s saying %q", tc.sql, err, tc.category, tc.words)
		}
	}
}

func TestCatalogue(t *testing.T) {
	w := newWarehouse(t)
	w.exec(t, `CREATE VIEW "main.sales".vips AS SELECT id, email FROM "main.sales".customers WHERE vip`)
	src := w.open(t, w.cfg)
	ctx := context.Background()
	schemas, err := src.Schemas(ctx)
	if err != nil || !reflect.DeepEqual(schemas, []string{"default", "sales"}) {
		t.Fatalf("schemas: %v %v", schemas, err)
	}
	tables, err := src.Tables(ctx, "")
	if err != nil || len(tables) != 2 || tables[0] != (connectors.Table{Schema: "sales", Name: "customers"}) || tables[1].Name != "vips" {
		t.Fatalf("tables: %v %v", tables, err)
	}
	if _, err := src.Tables(ctx, "nope"); err == nil || !strings.Contains(err.Error(), `Schema "nope" does not exist in catalog main.`) {
		t.Fatalf("tables of a missing schema: %v", err)
	}
	cols, err := src.Columns(ctx, connectors.Relation{Table: &connectors.Table{Schema: "sales", Name: "customers"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []connectors.Column{{Name: "id", Type: "integer", Raw: "bigint"}, {Name: "email", Type: "string", Raw: "string"},
		{Name: "score", Type: "number", Raw: "double"}, {Name: "amount", Type: "number", Raw: "decimal(12,2)"},
		{Name: "vip", Type: "boolean", Raw: "boolean"}, {Name: "born", Type: "date", Raw: "date"},
		{Name: "signed_up_at", Type: "timestamp", Raw: "timestamp"}, {Name: "seen_at", Type: "timestamp", Raw: "timestamp_ntz"},
		{Name: "tags", Type: "unknown", Raw: "array<string>"}}
	if !reflect.DeepEqual(cols, want) {
		t.Fatalf("columns:\n%v\nwant\n%v", cols, want)
	}
	cols, err = src.Columns(ctx, connectors.Relation{SQL: "SELECT id, amount, born FROM main.sales.customers -- all of them\n;"})
	if err != nil || len(cols) != 3 || cols[0].Type != connectors.TypeInteger || cols[1].Raw != "decimal(12,2)" || cols[2].Type != connectors.TypeDate {
		t.Fatalf("columns of SQL: %v %v", cols, err)
	}
}

func TestOAuthMachineToMachine(t *testing.T) {
	w := newWarehouse(t)
	id, secret := w.f.AddServicePrincipal()
	ctx := context.Background()
	for _, p := range []struct{ priv, on, name string }{{fake.UseCatalog, fake.OnCatalog, "main"}, {fake.UseSchema, fake.OnSchema, "main.sales"}, {fake.Select, fake.OnTable, "main.sales.customers"}} {
		if err := w.f.Grant(ctx, id, p.priv, p.on, p.name); err != nil {
			t.Fatal(err)
		}
	}
	src := w.open(t, with(w.cfg, "auth", databricks.AuthOAuth, "token", "", "client_id", id, "client_secret", secret))
	for _, ch := range validate(t, src) {
		if !ch.OK {
			t.Fatalf("stage %s: %s", ch.Stage, ch.Message)
		}
	}
	n := 0
	if err := src.Query(ctx, "SELECT id FROM main.sales.customers", nil, func([]any) error { n++; return nil }); err != nil || n != 12 {
		t.Fatalf("query as the service principal: %d rows, %v", n, err)
	}
	// One token serves every call until it expires.
	if got := w.f.TokensIssued(); got != 1 {
		t.Fatalf("%d tokens issued, want 1", got)
	}
}

func TestDialectSQL(t *testing.T) {
	d := databricks.Dialect{Catalog: "main"}
	for _, c := range []struct{ got, want string }{
		{d.QuoteIdent("Nick `x`"), "`Nick ``x```"},
		{d.Placeholder(3), ":p3"},
		{d.RelationSQL(connectors.Relation{Table: &connectors.Table{Schema: "sales", Name: "customers"}}, "m"), "`main`.`sales`.`customers` AS `m`"},
		{d.RelationSQL(connectors.Relation{SQL: "SELECT 1 -- x\n;"}, "m"), "(\nSELECT 1 -- x\n) AS `m`"},
		{d.KeyTextSQL("`m`.`id`"), "CAST(`m`.`id` AS STRING) COLLATE UTF8_BINARY"},
		{d.DaysAgo(":p1"), "(current_timestamp() - make_dt_interval(CAST(:p1 AS INT)))"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if v, ok := d.BindTime(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), connectors.TypeDate).(databricks.Date); !ok || v.Day() != 1 {
		t.Errorf("a date binds as %T", v)
	}
}

func TestQueryOnlyReads(t *testing.T) {
	w := newWarehouse(t)
	src := w.open(t, w.cfg)
	for _, sql := range []string{"DROP TABLE main.sales.customers", "  -- SELECT\nDELETE FROM main.sales.customers", "SELECTED", "/* SELECT */ INSERT INTO x VALUES (1)"} {
		err := src.Query(context.Background(), sql, nil, func([]any) error { return nil })
		if ce, ok := connectors.AsError(err); !ok || ce.Category != connectors.CategoryConfiguration || !strings.Contains(ce.Message, "Sluice only reads") {
			t.Errorf("%q: %v", sql, err)
		}
	}
	for _, sql := range []string{"select 1", "-- a comment\n(SELECT 1)", "/* x */ WITH a AS (SELECT 1 AS n) SELECT n FROM a"} {
		if err := src.Query(context.Background(), sql, nil, func([]any) error { return nil }); err != nil {
			t.Errorf("%q: %v", sql, err)
		}
	}
	for _, r := range w.f.Requests() {
		if strings.Contains(r.Body, "DROP") || strings.Contains(r.Body, "DELETE") || strings.Contains(r.Body, "INSERT") {
			t.Errorf("a write reached the workspace: %s", r.Body)
		}
	}
}

// A chunk's link that expired before it was read is asked for again.
func TestQueryRenewsAnExpiredLink(t *testing.T) {
	w := newWarehouse(t)
	w.f.ExpireNextLinks(1)
	src := w.open(t, w.cfg)
	n := 0
	if err := src.Query(context.Background(), "SELECT id FROM main.sales.customers", nil, func([]any) error { n++; return nil }); err != nil || n != 12 {
		t.Fatalf("%d rows, %v", n, err)
	}
	if !w.requested("/result/chunks/0") {
		t.Fatal("the expired link was not renewed through result/chunks/0")
	}
	// Links that never come back valid fail the query in words.
	w.f.ExpireNextLinks(2)
	err := src.Query(context.Background(), "SELECT id FROM main.sales.customers", nil, func([]any) error { return nil })
	if ce, ok := connectors.AsError(err); !ok || !strings.Contains(ce.Message, "download link was refused") {
		t.Fatalf("two expired links: %v", err)
	}
}
