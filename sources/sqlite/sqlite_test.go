package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/glebarez/go-sqlite"

	"sluice/connectors"
	"sluice/sources/sqlite"
)

// demo writes a small warehouse file (two tables and a view) and returns its path and a
// writable handle to change it between checks.
func demo(t *testing.T, name string) (string, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, s := range []string{
		`CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR(255), name TEXT, vip BOOLEAN, score REAL,
			amount NUMERIC(10,2), birthday DATE, signed_up DATETIME, seen TIMESTAMP, meta JSON, photo BLOB, misc)`,
		`CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INT, total DECIMAL(12,2), placed_at TEXT)`,
		`CREATE VIEW big_spenders AS SELECT c.id, c.email, sum(o.total) AS spent FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id`,
		`INSERT INTO customers VALUES (1, 'Ada@Example.com', 'Ada', 1, 0.5, 12.5, '1990-12-10', '2024-05-01 10:00:00', NULL, '{"plan":"pro"}', x'00ff', 'x'),
		                             (2, 'bob@example.com', 'Bob', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
		`INSERT INTO orders VALUES (10, 1, 99.9, datetime('now', '-2 days')), (11, 1, 5, datetime('now', '-40 days'))`,
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return path, db
}

func open(t *testing.T, path string) connectors.Source {
	t.Helper()
	src, err := sqlite.New(filepath.Dir(path)).Open(context.Background(), connectors.Config{"path": path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func validate(t *testing.T, src connectors.Source, models []connectors.ModelRef) []connectors.Check {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	checks := src.Validate(ctx, models)
	if len(checks) != len(connectors.Stages) {
		t.Fatalf("checks = %+v", checks)
	}
	for i, st := range connectors.Stages {
		if checks[i].Stage != st {
			t.Fatalf("check %d is %s, want %s", i, checks[i].Stage, st)
		}
	}
	return checks
}

func TestSpec(t *testing.T) {
	dir := t.TempDir()
	spec := sqlite.New(dir).Spec()
	if spec.Kind != "sqlite" || spec.Label != "SQLite (demo warehouse)" || len(spec.Fields) != 1 {
		t.Fatalf("spec = %+v", spec)
	}
	if f := spec.Fields[0]; f.Name != "path" || !f.Required || !strings.Contains(f.Help, "in "+dir+" on the Sluice server") {
		t.Errorf("path field = %+v", f)
	}
	_, err := sqlite.New(dir).Open(context.Background(), connectors.Config{})
	if ce, ok := connectors.AsError(err); !ok || ce.Category != connectors.CategoryConfiguration || ce.Field != "path" {
		t.Errorf("open without a path: %v", err)
	}
}

func TestValidateFiveStages(t *testing.T) {
	made, db := demo(t, "demo.db")
	db.Close()
	path := filepath.Join(filepath.Dir(made), "demo warehouse?#%20.db") // characters a URI filename must escape
	if err := os.Rename(made, path); err != nil {
		t.Fatal(err)
	}
	src := open(t, path)
	checks := validate(t, src, []connectors.ModelRef{
		{Name: "customers", Relation: connectors.Relation{Table: &connectors.Table{Name: "customers"}}},
		{Name: "spenders", Relation: connectors.Relation{Table: &connectors.Table{Schema: "main", Name: "BIG_SPENDERS"}}},
		{Name: "recent", Relation: connectors.Relation{SQL: "SELECT o.id, c.email FROM orders o JOIN customers c ON c.id = o.customer_id;"}},
	})
	want := []string{
		"Opened " + path + " read-only.",
		"Queries run.",
		"Schema main is readable (3 tables and views).",
		"SQLite has no grants: the file is readable.",
		"All 3 models resolve.",
	}
	for i, c := range checks {
		if !c.OK || c.Skipped || c.Message != want[i] {
			t.Errorf("stage %s = %+v, want ok %q", c.Stage, c, want[i])
		}
	}
}

func TestFileRemovedAfterOpenFailsConnection(t *testing.T) {
	path, db := demo(t, "demo.db")
	db.Close()
	src := open(t, path)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	checks := validate(t, src, nil)
	if checks[0].OK || checks[0].Message != refusal(filepath.Dir(path)) {
		t.Errorf("connection = %+v", checks[0])
	}
	for _, c := range checks[1:] {
		if c.OK || !c.Skipped || c.Message != "Skipped: fix the connection first." {
			t.Errorf("stage %s should be skipped: %+v", c.Stage, c)
		}
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Error("a read-only open must not create the file")
	}
}

func TestNotADatabaseFailsConnection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("this is not a database\n", 200)), 0o600); err != nil {
		t.Fatal(err)
	}
	checks := validate(t, open(t, path), nil)
	if checks[0].OK || checks[0].Message != refusal(filepath.Dir(path)) {
		t.Errorf("connection = %+v", checks[0])
	}
	if !checks[1].Skipped {
		t.Errorf("access should be skipped: %+v", checks[1])
	}
}

func TestLineage(t *testing.T) {
	path, db := demo(t, "demo.db")
	if _, err := db.Exec(`CREATE TABLE archive (id INTEGER)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`ALTER TABLE customers ADD COLUMN legacy_score INTEGER`); err != nil {
		t.Fatal(err)
	}
	src := open(t, path)
	models := []connectors.ModelRef{
		{Name: "customers", Relation: connectors.Relation{Table: &connectors.Table{Name: "customers"}}},
		{Name: "archive", Relation: connectors.Relation{Table: &connectors.Table{Name: "archive"}}},
		{Name: "scores", Relation: connectors.Relation{SQL: "SELECT id, legacy_score FROM customers"}},
	}
	if c := validate(t, src, models)[4]; !c.OK {
		t.Fatalf("lineage before the change = %+v", c)
	}
	for _, s := range []string{`DROP TABLE archive`, `ALTER TABLE customers DROP COLUMN legacy_score`} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	checks := validate(t, src, models)
	for _, c := range checks[:4] {
		if !c.OK {
			t.Errorf("stage %s = %+v", c.Stage, c)
		}
	}
	want := "Model archive: the table archive no longer exists. Model scores: its SQL no longer runs: no such column: legacy_score."
	if checks[4].OK || checks[4].Message != want {
		t.Errorf("lineage = %+v, want %q", checks[4], want)
	}
}

func TestTablesAndColumns(t *testing.T) {
	path, _ := demo(t, "demo.db")
	src := open(t, path)
	ctx := context.Background()

	tables, err := src.Tables(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []connectors.Table{{Schema: "main", Name: "big_spenders"}, {Schema: "main", Name: "customers"}, {Schema: "main", Name: "orders"}}
	if !slices.Equal(tables, want) {
		t.Errorf("tables = %v", tables)
	}
	if _, err := src.Tables(ctx, "sales"); err == nil {
		t.Error("a SQLite file has no schema sales")
	}
	if s, _ := src.Schemas(ctx); !slices.Equal(s, []string{"main"}) {
		t.Errorf("schemas = %v", s)
	}

	S, I, N, B, D, TS, J, U := connectors.TypeString, connectors.TypeInteger, connectors.TypeNumber, connectors.TypeBoolean,
		connectors.TypeDate, connectors.TypeTimestamp, connectors.TypeJSON, connectors.TypeUnknown
	col := func(name string, typ connectors.ColumnType, raw string) connectors.Column {
		return connectors.Column{Name: name, Type: typ, Raw: raw}
	}
	cols, err := src.Columns(ctx, connectors.Relation{Table: &connectors.Table{Name: "customers"}})
	if err != nil {
		t.Fatal(err)
	}
	wantCols := []connectors.Column{
		col("id", I, "INTEGER"), col("email", S, "VARCHAR(255)"), col("name", S, "TEXT"), col("vip", B, "BOOLEAN"),
		col("score", N, "REAL"), col("amount", N, "NUMERIC(10,2)"), col("birthday", D, "DATE"), col("signed_up", TS, "DATETIME"),
		col("seen", TS, "TIMESTAMP"), col("meta", J, "JSON"), col("photo", U, "BLOB"), col("misc", U, ""),
	}
	if !slices.Equal(cols, wantCols) {
		t.Errorf("table columns =\n%v\nwant\n%v", cols, wantCols)
	}

	cols, err = src.Columns(ctx, connectors.Relation{SQL: "SELECT c.id, c.email, c.vip, o.total, o.placed_at, count(*) AS n FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id"})
	if err != nil {
		t.Fatal(err)
	}
	wantCols = []connectors.Column{col("id", I, "INTEGER"), col("email", S, "VARCHAR(255)"), col("vip", B, "BOOLEAN"),
		col("total", N, "DECIMAL(12,2)"), col("placed_at", S, "TEXT"), col("n", U, "")}
	if !slices.Equal(cols, wantCols) {
		t.Errorf("sql columns =\n%v\nwant\n%v", cols, wantCols)
	}

	if _, err := src.Columns(ctx, connectors.Relation{Table: &connectors.Table{Name: "nope"}}); err == nil {
		t.Error("a missing table has no columns")
	} else if ce, ok := connectors.AsError(err); !ok || ce.Category != connectors.CategoryNotFound {
		t.Errorf("missing table: %v", err)
	}
}

func TestQuery(t *testing.T) {
	path, _ := demo(t, "demo.db")
	src := open(t, path)
	ctx := context.Background()

	var got [][]any
	err := src.Query(ctx, "SELECT id, email, vip, score, birthday, signed_up, photo FROM customers WHERE id >= ? ORDER BY id", []any{1},
		func(row []any) error { got = append(got, slices.Clone(row)); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("rows = %v", got)
	}
	want := []string{"int64 1", "string Ada@Example.com", "bool true", "float64 0.5", "time.Time 1990-12-10", "time.Time 2024-05-01 10:00:00", "[]uint8 [0 255]"}
	for i, v := range got[0] {
		if s := fmt.Sprintf("%T %v", v, v); !strings.HasPrefix(s, want[i]) {
			t.Errorf("column %d = %s, want %s", i, s, want[i])
		}
	}
	if got[1][2] != false || got[1][3] != nil {
		t.Errorf("second row = %v", got[1])
	}

	// Streams with one reused slice, and stops at fn's error.
	stop := errors.New("stop")
	var first *any
	n := 0
	err = src.Query(ctx, "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g) SELECT i FROM g", nil, func(row []any) error {
		if first == nil {
			first = &row[0]
		} else if first != &row[0] {
			return errors.New("slice not reused")
		}
		if n++; n == 50000 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 50000 {
		t.Fatalf("err = %v after %d rows", err, n)
	}

	// An endless query stops when ctx is cancelled.
	cctx, cancel := context.WithCancel(ctx)
	start := time.Now()
	n = 0
	err = src.Query(cctx, "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g) SELECT i FROM g", nil, func([]any) error {
		if n++; n == 1000 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
		t.Fatalf("err = %v after %s", err, time.Since(start))
	}

	// The file is opened read-only: a source is never written to.
	err = src.Query(ctx, "WITH x AS (SELECT 12, 2, 1, NULL) INSERT INTO orders SELECT * FROM x", nil, func([]any) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "readonly") {
		t.Errorf("write through a source: %v", err)
	}
}

func TestDialect(t *testing.T) {
	d := sqlite.Dialect{}
	if d.Name() != "sqlite" || d.Placeholder(3) != "?" || d.CaseInsensitiveLike() != "LIKE" || d.QuoteIdent(`a"b`) != `"a""b"` {
		t.Fatalf("dialect basics")
	}
	if got := d.DaysAgo("?"); got != "datetime('now', '-' || ? || ' days')" {
		t.Errorf("DaysAgo = %s", got)
	}
	path, _ := demo(t, "demo.db")
	src := open(t, path)
	count := func(q string, args ...any) int64 {
		t.Helper()
		var n int64
		if err := src.Query(context.Background(), q, args, func(row []any) error { n = row[0].(int64); return nil }); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	orders := d.RelationSQL(connectors.Relation{Table: &connectors.Table{Schema: "main", Name: "orders"}}, "o")
	if n := count("SELECT count(*) FROM "+orders+" WHERE o.placed_at >= "+d.DaysAgo(d.Placeholder(1)), 7); n != 1 {
		t.Errorf("orders in the last 7 days = %d, want 1", n)
	}
	model := d.RelationSQL(connectors.Relation{SQL: "SELECT * FROM customers -- all\n;"}, "m")
	if n := count("SELECT count(*) FROM "+model+" WHERE m.email "+d.CaseInsensitiveLike()+" ?", "%EXAMPLE.COM"); n != 2 {
		t.Errorf("case-insensitive match = %d, want 2", n)
	}
}

// TestBindTime: SQLite keeps dates and times as text, so operands are bound in that text
// form, in UTC, and compare correctly with what the demo warehouse stores.
func TestBindTime(t *testing.T) {
	var d connectors.Dialect = sqlite.Dialect{}
	tb, ok := d.(connectors.TimeBinder)
	if !ok {
		t.Fatal("the SQLite dialect must bind times as text")
	}
	if _, ok := d.(connectors.LikeEscaper); ok {
		t.Error("SQLite needs the compiler's default ESCAPE clause")
	}
	east := time.FixedZone("", 2*3600)
	for _, tt := range []struct {
		t    time.Time
		typ  connectors.ColumnType
		want string
	}{
		{time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), connectors.TypeDate, "2024-03-01"},
		{time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), connectors.TypeTimestamp, "2024-03-01 00:00:00"},
		{time.Date(2024, 3, 1, 10, 0, 0, 5e8, time.UTC), connectors.TypeTimestamp, "2024-03-01 10:00:00.5"},
		{time.Date(2024, 3, 1, 1, 30, 0, 0, east), connectors.TypeTimestamp, "2024-02-29 23:30:00"},
	} {
		if got := tb.BindTime(tt.t, tt.typ); got != tt.want {
			t.Errorf("BindTime(%s, %s) = %#v, want %q", tt.t, tt.typ, got, tt.want)
		}
	}

	// Bound so, they compare with the stored text: birthday '1990-12-10', signed_up
	// '2024-05-01 10:00:00'.
	path, _ := demo(t, "demo.db")
	src := open(t, path)
	count := func(q string, args ...any) int64 {
		t.Helper()
		var n int64
		if err := src.Query(context.Background(), q, args, func(row []any) error { n = row[0].(int64); return nil }); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	day := time.Date(1990, 12, 10, 0, 0, 0, 0, time.UTC)
	if n := count("SELECT count(*) FROM customers WHERE birthday = ?", tb.BindTime(day, connectors.TypeDate)); n != 1 {
		t.Errorf("birthday = 1990-12-10 matched %d rows, want 1", n)
	}
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	if n := count("SELECT count(*) FROM customers WHERE signed_up >= ? AND signed_up < ?",
		tb.BindTime(at, connectors.TypeTimestamp), tb.BindTime(at.Add(time.Second), connectors.TypeTimestamp)); n != 1 {
		t.Errorf("signed_up in [10:00:00, 10:00:01) matched %d rows, want 1", n)
	}
}

func TestNormalizeType(t *testing.T) {
	cases := map[string]connectors.ColumnType{
		"INTEGER": connectors.TypeInteger, "int": connectors.TypeInteger, "BIGINT": connectors.TypeInteger,
		"REAL": connectors.TypeNumber, "FLOAT": connectors.TypeNumber, "DOUBLE PRECISION": connectors.TypeNumber,
		"NUMERIC": connectors.TypeNumber, "DECIMAL(10,2)": connectors.TypeNumber,
		"TEXT": connectors.TypeString, "VARCHAR(20)": connectors.TypeString, "CHAR(2)": connectors.TypeString, "CLOB": connectors.TypeString,
		"BOOLEAN": connectors.TypeBoolean, "bool": connectors.TypeBoolean,
		"DATE": connectors.TypeDate, "DATETIME": connectors.TypeTimestamp, "TIMESTAMP": connectors.TypeTimestamp,
		"BLOB": connectors.TypeUnknown, "": connectors.TypeUnknown,
	}
	for in, want := range cases {
		if got := sqlite.NormalizeType(in); got != want {
			t.Errorf("NormalizeType(%q) = %s, want %s", in, got, want)
		}
	}
}
