package postgres_test

import (
	"context"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/sources/postgres"
	"sluice/sources/redshift"
)

// The attacks a model's SQL (or an editor's preview) can try on a warehouse session.
// Each must fail, except where noted, and none may leave anything behind.
var writeAttempts = []struct {
	name, sql string
	// mayRun: the server does not refuse it in a read-only transaction; the rollback
	// must remove what it made. PostgreSQL 15 lets lo_create through.
	mayRun bool
}{
	{"large object", "select lo_create(0)::text as id", true},
	{"insert through a CTE", "with x as (insert into public.victim values (1) returning a) select a from x", false},
	{"create table", "create table public.evil (a int)", false},
	{"sequence", "select nextval('public.victim_seq')", false},
	{"transaction made writable mid-query", "select set_config('transaction_read_only', 'off', false), nextval('public.victim_seq')", false},
	{"set transaction", "set transaction read write", false},
	{"several statements", "select 1; commit; select nextval('public.victim_seq')", false},
}

// largeObjects counts the large objects in the warehouse, as its admin sees them.
func (w *warehouse) largeObjects(t *testing.T) int64 {
	t.Helper()
	var n int64
	if err := w.admin.QueryRow(context.Background(), "SELECT count(*) FROM pg_largeobject_metadata").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// expectUntouched checks that none of writeAttempts left a trace.
func (w *warehouse) expectUntouched(t *testing.T, largeObjectsBefore int64) {
	t.Helper()
	ctx := context.Background()
	if n := w.largeObjects(t); n != largeObjectsBefore {
		t.Errorf("large objects: %d, want %d", n, largeObjectsBefore)
	}
	var rows, evil, next int64
	if err := w.admin.QueryRow(ctx, "SELECT count(*) FROM public.victim").Scan(&rows); err != nil || rows != 0 {
		t.Errorf("victim has %d rows (%v), want 0", rows, err)
	}
	if err := w.admin.QueryRow(ctx, "SELECT count(*) FROM pg_class WHERE relname = 'evil'").Scan(&evil); err != nil || evil != 0 {
		t.Errorf("table evil was created (%v)", err)
	}
	if err := w.admin.QueryRow(ctx, "SELECT nextval('public.victim_seq')").Scan(&next); err != nil || next != 1 {
		t.Errorf("the sequence moved: next value %d (%v), want 1", next, err)
	}
}

func queryOne(ctx context.Context, src connectors.Source, sql string) (any, error) {
	var got any
	err := src.Query(ctx, sql, nil, func(row []any) error {
		got = row[0]
		return nil
	})
	return got, err
}

func testReadOnlyQueries(t *testing.T, c connectors.SourceConnector) {
	w := newWarehouse(t)
	w.exec(t, `CREATE TABLE public.victim (a int)`, `CREATE SEQUENCE public.victim_seq`)
	before := w.largeObjects(t)
	src := open(t, c, w.cfg)
	ctx := context.Background()
	for _, a := range writeAttempts {
		t.Run(a.name, func(t *testing.T) {
			if _, err := queryOne(ctx, src, a.sql); err == nil && !a.mayRun {
				t.Fatalf("%s: ran on a read-only session", a.sql)
			}
			if n := w.largeObjects(t); n != before {
				t.Fatalf("%s: %d large objects, want %d", a.sql, n, before)
			}
		})
	}
	// A model that reads is still fine, and the session is still read-only.
	if got, err := queryOne(ctx, src, "SELECT count(*) FROM public.victim"); err != nil || got != int64(0) {
		t.Fatalf("read = %v, %v", got, err)
	}
	w.expectUntouched(t, before)
}

func TestQueryIsReadOnly(t *testing.T) {
	testReadOnlyQueries(t, postgres.New())
}

// Redshift takes no default_transaction_read_only at login: the READ ONLY transaction
// around each query is what holds there. Its flavor runs here against PostgreSQL.
func TestQueryIsReadOnlyWithRedshiftFlavor(t *testing.T) {
	testReadOnlyQueries(t, redshift.New())
}

func TestWriteIsReportedInWords(t *testing.T) {
	w := newWarehouse(t)
	src := open(t, postgres.New(), w.cfg)
	w.exec(t, `CREATE SEQUENCE public.s`)
	_, err := queryOne(context.Background(), src, "select nextval('public.s')")
	ce, ok := connectors.AsError(err)
	if !ok || ce.Category != connectors.CategoryConfiguration || ce.Message != "Sluice only reads the warehouse, and the query tried to change it: cannot execute nextval() in a read-only transaction. Keep models to SELECT queries." {
		t.Fatalf("err = %v", err)
	}
}

// The bypass: a query may change a setting of its session with set_config(), and the
// pool hands that session to the next query. The rollback at the end of each query
// undoes it, so the next query on the same session is as read-only and time-limited as
// the first.
func TestSessionSettingsDoNotOutliveAQuery(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    connectors.SourceConnector
	}{
		{"postgres", postgres.NewWithQueryTimeout(postgres.PostgreSQL(), 300*time.Millisecond)},
		{"redshift flavor", postgres.NewWithQueryTimeout(redshift.Flavor(), 300*time.Millisecond)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWarehouse(t)
			w.exec(t, `CREATE TABLE public.victim (a int)`, `CREATE SEQUENCE public.victim_seq`)
			before := w.largeObjects(t)
			src := open(t, tc.c, w.cfg)
			ctx := context.Background()
			pid, err := queryOne(ctx, src, `SELECT pg_backend_pid()::bigint
				FROM (SELECT set_config('default_transaction_read_only', 'off', false),
				             set_config('statement_timeout', '0', false)) AS s`)
			if err != nil {
				t.Fatalf("set_config: %v", err)
			}
			if got, _ := queryOne(ctx, src, "SELECT pg_backend_pid()::bigint"); got != pid {
				t.Fatalf("the next query ran on session %v, not %v: the test proves nothing", got, pid)
			}
			if got, err := queryOne(ctx, src, "SELECT current_setting('statement_timeout')"); err != nil || got != "300ms" {
				t.Errorf("statement_timeout after the bypass = %v, %v; want 300ms", got, err)
			}
			if _, err := queryOne(ctx, src, "select nextval('public.victim_seq')"); err == nil {
				t.Error("nextval ran after set_config turned read-only off")
			}
			if _, err := queryOne(ctx, src, "with x as (insert into public.victim values (1) returning a) select a from x"); err == nil {
				t.Error("insert ran after set_config turned read-only off")
			}
			start := time.Now()
			_, err = queryOne(ctx, src, "SELECT pg_sleep(5)")
			ce, ok := connectors.AsError(err)
			if !ok || ce.Category != connectors.CategoryTimeout {
				t.Errorf("pg_sleep(5) after set_config turned the timeout off: %v, want a timeout", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("pg_sleep(5) ran %s: the statement timeout did not apply", d)
			}
			w.expectUntouched(t, before)
		})
	}
}

func TestStatementTimeout(t *testing.T) {
	w := newWarehouse(t)
	src := open(t, postgres.NewWithQueryTimeout(postgres.PostgreSQL(), 200*time.Millisecond), w.cfg)
	start := time.Now()
	// No deadline on the context: the server stops the statement by itself.
	_, err := queryOne(context.Background(), src, "SELECT pg_sleep(5)")
	ce, ok := connectors.AsError(err)
	if !ok || ce.Category != connectors.CategoryTimeout || ce.Message != "The warehouse cancelled the query: it ran longer than allowed." {
		t.Fatalf("err = %v, want the warehouse's statement timeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s", d)
	}
	// The default is long enough for a sync's extraction, and holds in every query.
	src = open(t, postgres.New(), w.cfg)
	if got, err := queryOne(context.Background(), src, "SELECT current_setting('statement_timeout')"); err != nil || got != "1h" {
		t.Errorf("default statement_timeout = %v, %v; want 1h", got, err)
	}
}

// Validation runs a model's SQL too (prepared, probed as a temporary view, or run with
// LIMIT 0): none of that may write either.
func TestValidationDoesNotWrite(t *testing.T) {
	w := newWarehouse(t)
	w.exec(t, `CREATE TABLE public.victim (a int)`, `CREATE SEQUENCE public.victim_seq`)
	before := w.largeObjects(t)
	var models []connectors.ModelRef
	for _, a := range writeAttempts {
		models = append(models, connectors.ModelRef{Name: a.name, Relation: connectors.Relation{SQL: a.sql}})
	}
	models = append(models,
		connectors.ModelRef{Name: "view escape", Relation: connectors.Relation{SQL: "select 1 as a; commit; set default_transaction_read_only = off; select lo_create(0)"}},
		connectors.ModelRef{Name: "scalar", Relation: connectors.Relation{SQL: "select lo_create(0) as id, nextval('public.victim_seq') as n"}},
	)
	for _, c := range []connectors.SourceConnector{postgres.New(), redshift.New()} {
		src := open(t, c, w.cfg)
		// Redshift's catalogue views do not exist here, so its grants stage may fail;
		// what matters is that nothing ran.
		validate(t, src, models)
	}
	w.expectUntouched(t, before)
}
