package bigquery_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"sluice/connectors"
	fake "sluice/internal/fakes/bigquery"
	"sluice/segments"
	"sluice/sources/bigquery"
)

func TestQueryValuesAndColumns(t *testing.T) {
	e := newEnv(t)
	src := e.open(t, e.cfg)
	ctx := context.Background()
	var rows [][]any
	err := src.Query(ctx, "SELECT * FROM `marketing`.`customers` AS `m` WHERE `m`.`id` <= @p1 ORDER BY `m`.`id`", []any{int64(3)}, func(row []any) error {
		rows = append(rows, append([]any(nil), row...))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]any{
		{int64(1), "ada@example.com", "FR", "12.5", true, time.Date(2024, 3, 1, 10, 0, 0, 5e8, time.UTC), time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC),
			time.Date(1990, 2, 3, 0, 0, 0, 0, time.UTC), map[string]any{"a": float64(1)}, []byte{1, 2}},
		{int64(2), "bob@example.com", "DE", nil, false, nil, nil, nil, nil, nil},
		{int64(3), nil, nil, "-3", nil, time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), []any{float64(1), "x"}, nil},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows\n got %#v\nwant %#v", rows, want)
	}

	cols, err := src.Columns(ctx, connectors.Relation{Table: &connectors.Table{Schema: "marketing", Name: "customers"}})
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(cols))
	for i, c := range cols {
		got[i] = c.Name + ":" + string(c.Type) + ":" + c.Raw
	}
	if s := strings.Join(got, " "); s != "id:integer:INTEGER email:string:STRING country:string:STRING score:number:NUMERIC vip:boolean:BOOLEAN "+
		"signed_up_at:timestamp:TIMESTAMP last_seen:timestamp:DATETIME birthday:date:DATE payload:json:JSON avatar:unknown:BYTES" {
		t.Errorf("columns: %s", s)
	}
	// A SQL model is described by a dry run.
	cols, err = src.Columns(ctx, connectors.Relation{SQL: "SELECT id, LOWER(email) AS email_lc, COUNT(*) FROM `marketing.customers` GROUP BY id, email;"})
	if err != nil || len(cols) != 3 || cols[1].Name != "email_lc" || cols[1].Type != connectors.TypeString || cols[2].Type != connectors.TypeInteger {
		t.Errorf("columns of SQL: %+v %v", cols, err)
	}
	tables, err := src.Tables(ctx, "")
	if err != nil || len(tables) != 1 || tables[0] != (connectors.Table{Schema: "marketing", Name: "customers"}) {
		t.Errorf("tables: %v %v", tables, err)
	}
	schemas, err := src.Schemas(ctx)
	if err != nil || !reflect.DeepEqual(schemas, []string{"marketing"}) {
		t.Errorf("schemas: %v %v", schemas, err)
	}
}

func TestQueryPagesCancelAndErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.fake.Exec(ctx, `CREATE TABLE marketing.big AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 25000) g`); err != nil {
		t.Fatal(err)
	}
	src := e.open(t, e.cfg)
	n := int64(0)
	err := src.Query(ctx, "SELECT `id`, `h` FROM `marketing`.`big` ORDER BY `id`", nil, func(row []any) error {
		n++
		if row[0] != n {
			return errors.New("out of order")
		}
		return nil
	})
	if err != nil || n != 25000 {
		t.Fatalf("read %d rows: %v", n, err)
	}
	pages := 0
	for _, r := range e.fake.Requests() {
		if strings.Contains(r.Path, "/queries/") && strings.Contains(r.Query, "maxResults=10000") {
			pages++
		}
	}
	if pages != 3 {
		t.Errorf("%d getQueryResults pages of %d rows, want 3", pages, bigquery.PageRows)
	}

	// Stopping early cancels the job: the fake lets its cursor go.
	stop := errors.New("enough")
	err = src.Query(ctx, "SELECT `id` FROM `marketing`.`big`", nil, func(row []any) error { return stop })
	if !errors.Is(err, stop) {
		t.Fatalf("stopping early: %v", err)
	}
	if open := e.fake.OpenJobs(); open != 0 {
		t.Errorf("%d jobs still hold results after the reader stopped", open)
	}
	cancelled := false
	for _, r := range e.fake.Requests() {
		cancelled = cancelled || strings.HasSuffix(r.Path, "/cancel")
	}
	if !cancelled {
		t.Error("the job was not cancelled")
	}

	// A context that ends while the job runs.
	e.fake.SetJobDelay(3 * time.Second)
	cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	err = src.Query(cctx, "SELECT 1", nil, func([]any) error { return nil })
	cancel()
	if ce, ok := connectors.AsError(err); !ok || ce.Category != connectors.CategoryTimeout {
		t.Errorf("a query past its deadline: %v", err)
	}
	e.fake.SetJobDelay(0)

	for _, tc := range []struct {
		name, sql string
		cat       connectors.Category
		words     string
	}{
		{"syntax", "SELECT FROM WHERE", connectors.CategoryConfiguration, "BigQuery rejected the query"},
		{"missing table", "SELECT 1 FROM `marketing.nope`", connectors.CategoryNotFound, "A table the query reads does not exist"},
		{"no access", "SELECT 1 FROM `hidden.t`", connectors.CategoryCredentials, "may not read table hidden.t"},
	} {
		if tc.name == "no access" {
			if err := e.fake.CreateDataset(ctx, "hidden", "US"); err != nil {
				t.Fatal(err)
			}
			if err := e.fake.Exec(ctx, `CREATE TABLE hidden.t (id int)`); err != nil {
				t.Fatal(err)
			}
		}
		err := src.Query(ctx, tc.sql, nil, func([]any) error { return nil })
		ce, ok := connectors.AsError(err)
		if !ok || ce.Category != tc.cat || !strings.Contains(ce.Message, tc.words) {
			t.Errorf("%s: %v, want %s saying %q", tc.name, err, tc.cat, tc.words)
		}
	}

	// Google down: the client retries, then the deadline ends it as a timeout.
	e.fake.Down()
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err = src.Query(dctx, "SELECT 1", nil, func([]any) error { return nil })
	cancel()
	e.fake.Up()
	if ce, ok := connectors.AsError(err); !ok || ce.Category != connectors.CategoryTimeout {
		t.Errorf("BigQuery down: %v", err)
	}
}

func TestEstimateBytes(t *testing.T) {
	e := newEnv(t)
	src := e.open(t, e.cfg)
	est, ok := src.(connectors.Estimator)
	if !ok {
		t.Fatal("the source is not a connectors.Estimator")
	}
	n, err := est.EstimateBytes(context.Background(), "SELECT `email` FROM `marketing`.`customers` WHERE `country` = @p1", []any{"FR"})
	if err != nil || n <= 0 {
		t.Fatalf("estimate: %d %v", n, err)
	}
	dry := false
	for _, r := range e.fake.Requests() {
		dry = dry || strings.Contains(r.Body, `"dryRun":true`)
	}
	if !dry {
		t.Error("the estimate was not a dry run")
	}
	if _, err := est.EstimateBytes(context.Background(), "SELECT nope FROM `marketing`.`customers`", nil); err == nil {
		t.Error("an invalid query was estimated")
	}
	e.fake.RevokeDataset(e.email, "marketing", fake.RoleDataViewer)
	_, err = est.EstimateBytes(context.Background(), "SELECT 1 FROM `marketing`.`customers`", nil)
	if ce, ok := connectors.AsError(err); !ok || ce.Category != connectors.CategoryCredentials {
		t.Errorf("estimate without access: %v", err)
	}
}

func TestDialect(t *testing.T) {
	d := bigquery.Dialect{}
	for _, tc := range []struct{ got, want string }{
		{d.QuoteIdent("Nick `Name`"), "`Nick \\`Name\\``"},
		{d.QuoteIdent(`a\b`), "`a\\\\b`"},
		{d.Placeholder(3), "@p3"},
		{d.RelationSQL(connectors.Relation{Table: &connectors.Table{Schema: "ds", Name: "t"}}, "m"), "`ds`.`t` AS `m`"},
		{d.RelationSQL(connectors.Relation{SQL: "SELECT 1 -- x;"}, "m"), "(\nSELECT 1 -- x\n) AS `m`"},
		{d.DaysAgoFor("@p1", connectors.Column{Name: "t", Type: connectors.TypeTimestamp, Raw: "TIMESTAMP"}), "TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL @p1 DAY)"},
		{d.DaysAgoFor("@p1", connectors.Column{Name: "t", Type: connectors.TypeTimestamp, Raw: "DATETIME"}), "DATETIME_SUB(CURRENT_DATETIME('UTC'), INTERVAL @p1 DAY)"},
		{d.DaysAgoFor("@p1", connectors.Column{Name: "d", Type: connectors.TypeDate}), "DATETIME_SUB(CURRENT_DATETIME('UTC'), INTERVAL @p1 DAY)"},
		{d.KeyTextSQL("`m`.`id`"), "CAST(CAST(`m`.`id` AS STRING) AS BYTES)"},
		{d.FoldCase("@p2"), "LOWER(@p2)"},
		{d.BindTime(time.Date(2024, 3, 1, 10, 0, 0, 5e8, time.FixedZone("", 3600)), connectors.TypeTimestamp).(string), "2024-03-01 09:00:00.5"},
		{d.BindTime(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), connectors.TypeDate).(string), "2024-03-01"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	for raw, want := range map[string]connectors.ColumnType{
		"INT64": connectors.TypeInteger, "INTEGER": connectors.TypeInteger, "NUMERIC(10, 2)": connectors.TypeNumber, "BIGNUMERIC": connectors.TypeNumber,
		"FLOAT64": connectors.TypeNumber, "BOOL": connectors.TypeBoolean, "STRING(20)": connectors.TypeString, "BYTES": connectors.TypeUnknown,
		"DATE": connectors.TypeDate, "DATETIME": connectors.TypeTimestamp, "TIMESTAMP": connectors.TypeTimestamp, "JSON": connectors.TypeJSON,
		"ARRAY<STRING>": connectors.TypeJSON, "STRUCT<a INT64>": connectors.TypeJSON, "RECORD": connectors.TypeJSON, "TIME": connectors.TypeString,
		"GEOGRAPHY": connectors.TypeString, "INTERVAL": connectors.TypeUnknown,
	} {
		if got := bigquery.NormalizeType(raw); got != want {
			t.Errorf("NormalizeType(%s) = %s, want %s", raw, got, want)
		}
	}
}

// TestDaysAgoFollowsTheColumnType: "seen in the last N days" compiles to DATETIME
// arithmetic for a DATETIME or DATE column and TIMESTAMP arithmetic for a TIMESTAMP one,
// from the column's Raw type; the fake refuses the mixed comparisons as BigQuery does.
func TestDaysAgoFollowsTheColumnType(t *testing.T) {
	e := newEnv(t)
	src := e.open(t, e.cfg)
	ctx := context.Background()
	rel := connectors.Relation{Table: &connectors.Table{Schema: "marketing", Name: "customers"}}
	cols, err := src.Columns(ctx, rel)
	if err != nil {
		t.Fatal(err)
	}
	count := func(cols []connectors.Column, column string) (int64, error) {
		q, args, err := segments.CountSQL(src.Dialect(), rel, segments.Leaf(column, segments.OpWithinLastDays, 20000), cols)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		err = src.Query(ctx, q, args, func(row []any) error { n = row[0].(int64); return nil })
		return n, err
	}
	for _, c := range []struct {
		column string
		want   int64
	}{{"signed_up_at", 2}, {"last_seen", 2}, {"birthday", 2}} {
		if n, err := count(cols, c.column); err != nil || n != c.want {
			t.Errorf("%s in the last 20,000 days: %d, %v; want %d", c.column, n, err, c.want)
		}
	}
	// A snapshot without the Raw type takes a timestamp column for a TIMESTAMP: on a
	// DATETIME column, BigQuery (and the fake) refuse it.
	bare := make([]connectors.Column, len(cols))
	for i, c := range cols {
		bare[i] = connectors.Column{Name: c.Name, Type: c.Type}
	}
	if _, err := count(bare, "last_seen"); err == nil || !strings.Contains(err.Error(), "No matching signature for operator >= for argument types: DATETIME, TIMESTAMP") {
		t.Errorf("TIMESTAMP arithmetic on a DATETIME column: %v", err)
	}
}
