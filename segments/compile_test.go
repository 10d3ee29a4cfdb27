package segments

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/sources/postgres"
	"sluice/sources/redshift"
	"sluice/sources/sqlite"
)

var customersTable = connectors.Relation{Table: &connectors.Table{Schema: "public", Name: "customers"}}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// TestCompileLeaves pins the SQL of every operator on PostgreSQL, and the arguments.
func TestCompileLeaves(t *testing.T) {
	const c = `"m"."country"`
	tests := []struct {
		name  string
		cond  Condition
		where string
		args  []any
	}{
		{"eq", Leaf("country", OpEq, "FR"), c + ` = $1`, []any{"FR"}},
		{"neq keeps nulls", Leaf("country", OpNeq, "FR"), `(` + c + ` <> $1 OR ` + c + ` IS NULL)`, []any{"FR"}},
		{"gt", Leaf("age", OpGt, "30"), `"m"."age" > $1`, []any{int64(30)}},
		{"gte", Leaf("score", OpGte, 2.5), `"m"."score" >= $1`, []any{2.5}},
		{"lt", Leaf("age", OpLt, 1e3), `"m"."age" < $1`, []any{int64(1000)}},
		{"lte", Leaf("score", OpLte, "-1"), `"m"."score" <= $1`, []any{-1.0}},
		{"in", Leaf("country", OpIn, []string{"FR", "DE"}), c + ` IN ($1, $2)`, []any{"FR", "DE"}},
		{"not_in keeps nulls", Leaf("age", OpNotIn, []any{1, "2"}), `("m"."age" NOT IN ($1, $2) OR "m"."age" IS NULL)`, []any{int64(1), int64(2)}},
		{"contains escapes", Leaf("email", OpContains, `50%_off\`), `"m"."email" ILIKE $1 ESCAPE '\'`, []any{`%50\%\_off\\%`}},
		{"starts_with", Leaf("email", OpStartsWith, "o'Brien"), `"m"."email" ILIKE $1 ESCAPE '\'`, []any{`o'Brien%`}},
		{"is_null", Leaf("country", OpIsNull, nil), c + ` IS NULL`, nil},
		{"is_not_null", Leaf("payload", OpIsNotNull, nil), `"m"."payload" IS NOT NULL`, nil},
		{"between", Leaf("age", OpBetween, []any{18, 30}), `("m"."age" >= $1 AND "m"."age" <= $2)`, []any{int64(18), int64(30)}},
		{"boolean", Leaf("vip", OpEq, true), `"m"."vip" = $1`, []any{true}},
		{"within_last_days", Leaf("signed_up_at", OpWithinLastDays, 7),
			`("m"."signed_up_at" >= (now() - make_interval(days => $1)) AND "m"."signed_up_at" <= (now() - make_interval(days => $2)))`,
			[]any{int64(7), int64(0)}},
		{"date eq", Leaf("birthday", OpEq, "2000-02-29"), `"m"."birthday" = $1`, []any{day(2000, 2, 29)}},
		{"date from a time keeps the written day", Leaf("birthday", OpEq, "2000-02-29T23:30:00-05:00"), `"m"."birthday" = $1`, []any{day(2000, 2, 29)}},
		{"timestamp instant in UTC", Leaf("signed_up_at", OpGt, "2024-03-01T10:00:00+02:00"), `"m"."signed_up_at" > $1`, []any{time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)}},
		{"timestamp without offset is UTC", Leaf("signed_up_at", OpLt, "2024-03-01T10:00"), `"m"."signed_up_at" < $1`, []any{time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)}},
		{"timestamp is a day", Leaf("signed_up_at", OpEq, "2024-03-01"), `("m"."signed_up_at" >= $1 AND "m"."signed_up_at" < $2)`, []any{day(2024, 3, 1), day(2024, 3, 2)}},
		{"timestamp is not a day", Leaf("signed_up_at", OpNeq, "2024-03-01"), `("m"."signed_up_at" < $1 OR "m"."signed_up_at" >= $2 OR "m"."signed_up_at" IS NULL)`, []any{day(2024, 3, 1), day(2024, 3, 2)}},
		{"timestamp after a day", Leaf("signed_up_at", OpGt, "2024-02-29"), `"m"."signed_up_at" >= $1`, []any{day(2024, 3, 1)}},
		{"timestamp on or after a day", Leaf("signed_up_at", OpGte, "2024-02-29"), `"m"."signed_up_at" >= $1`, []any{day(2024, 2, 29)}},
		{"timestamp before a day", Leaf("signed_up_at", OpLt, "2024-02-29"), `"m"."signed_up_at" < $1`, []any{day(2024, 2, 29)}},
		{"timestamp on or before a day", Leaf("signed_up_at", OpLte, "2024-12-31"), `"m"."signed_up_at" < $1`, []any{day(2025, 1, 1)}},
		{"timestamp between days", Leaf("signed_up_at", OpBetween, []any{"2024-01-01", "2024-01-31"}), `("m"."signed_up_at" >= $1 AND "m"."signed_up_at" < $2)`, []any{day(2024, 1, 1), day(2024, 2, 1)}},
		{"timestamp between instants", Leaf("signed_up_at", OpBetween, []any{"2024-01-01", "2024-01-31T12:00:00Z"}), `("m"."signed_up_at" >= $1 AND "m"."signed_up_at" <= $2)`, []any{day(2024, 1, 1), time.Date(2024, 1, 31, 12, 0, 0, 0, time.UTC)}},
		{"empty all", All(), `1=1`, nil},
		{"empty any", Any(), `1=0`, nil},
		{"one child needs no parentheses", All(Any(Leaf("vip", OpEq, false))), `"m"."vip" = $1`, []any{false}},
		{"or inside and", All(Leaf("vip", OpEq, true), Any(Leaf("age", OpGt, 1), Leaf("age", OpIsNull, nil))),
			`("m"."vip" = $1 AND ("m"."age" > $2 OR "m"."age" IS NULL))`, []any{true, int64(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			where, args, err := Compile(postgres.Dialect{}, customersTable, tt.cond, modelColumns)
			if err != nil {
				t.Fatal(err)
			}
			if where != tt.where {
				t.Errorf("where\n got %s\nwant %s", where, tt.where)
			}
			if !reflect.DeepEqual(args, tt.args) {
				t.Errorf("args\n got %#v\nwant %#v", args, tt.args)
			}
		})
	}
}

// TestCompileDialects pins one tree using every construct on each dialect.
func TestCompileDialects(t *testing.T) {
	cond := All(
		Leaf("country", OpNeq, "FR"),
		Any(
			Leaf("email", OpContains, `50%_off\`),
			Leaf("signed_up_at", OpWithinLastDays, 7),
			Leaf("signed_up_at", OpEq, "2024-03-01"),
		),
		Leaf("age", OpNotIn, []any{1, "2"}),
		Any(),
		Leaf("birthday", OpBetween, []any{"2000-01-01", "2000-12-31T10:00:00Z"}),
		Leaf("signed_up_at", OpLt, "2024-03-01T10:00:00.5Z"),
	)
	tests := []struct {
		d     connectors.Dialect
		where string
		args  []any
	}{
		{postgres.Dialect{},
			`(("m"."country" <> $1 OR "m"."country" IS NULL) AND ("m"."email" ILIKE $2 ESCAPE '\' OR ("m"."signed_up_at" >= (now() - make_interval(days => $3)) AND "m"."signed_up_at" <= (now() - make_interval(days => $4))) OR ("m"."signed_up_at" >= $5 AND "m"."signed_up_at" < $6)) AND ("m"."age" NOT IN ($7, $8) OR "m"."age" IS NULL) AND 1=0 AND ("m"."birthday" >= $9 AND "m"."birthday" <= $10) AND "m"."signed_up_at" < $11)`,
			[]any{"FR", `%50\%\_off\\%`, int64(7), int64(0), day(2024, 3, 1), day(2024, 3, 2), int64(1), int64(2), day(2000, 1, 1), day(2000, 12, 31), time.Date(2024, 3, 1, 10, 0, 0, 5e8, time.UTC)}},
		{redshift.Dialect{},
			`(("m"."country" <> $1 OR "m"."country" IS NULL) AND ("m"."email" ILIKE $2 OR ("m"."signed_up_at" >= DATEADD(day, -CAST($3 AS INTEGER), GETDATE()) AND "m"."signed_up_at" <= DATEADD(day, -CAST($4 AS INTEGER), GETDATE())) OR ("m"."signed_up_at" >= $5 AND "m"."signed_up_at" < $6)) AND ("m"."age" NOT IN ($7, $8) OR "m"."age" IS NULL) AND 1=0 AND ("m"."birthday" >= $9 AND "m"."birthday" <= $10) AND "m"."signed_up_at" < $11)`,
			[]any{"FR", `%50\%\_off\\%`, int64(7), int64(0), day(2024, 3, 1), day(2024, 3, 2), int64(1), int64(2), day(2000, 1, 1), day(2000, 12, 31), time.Date(2024, 3, 1, 10, 0, 0, 5e8, time.UTC)}},
		{sqlite.Dialect{},
			`(("m"."country" <> ? OR "m"."country" IS NULL) AND ("m"."email" LIKE ? ESCAPE '\' OR ("m"."signed_up_at" >= datetime('now', '-' || ? || ' days') AND "m"."signed_up_at" <= datetime('now', '-' || ? || ' days')) OR ("m"."signed_up_at" >= ? AND "m"."signed_up_at" < ?)) AND ("m"."age" NOT IN (?, ?) OR "m"."age" IS NULL) AND 1=0 AND ("m"."birthday" >= ? AND "m"."birthday" <= ?) AND "m"."signed_up_at" < ?)`,
			[]any{"FR", `%50\%\_off\\%`, int64(7), int64(0), "2024-03-01 00:00:00", "2024-03-02 00:00:00", int64(1), int64(2), "2000-01-01", "2000-12-31", "2024-03-01 10:00:00.5"}},
	}
	for _, tt := range tests {
		t.Run(tt.d.Name(), func(t *testing.T) {
			where, args, err := Compile(tt.d, customersTable, cond, modelColumns)
			if err != nil {
				t.Fatal(err)
			}
			if where != tt.where {
				t.Errorf("where\n got %s\nwant %s", where, tt.where)
			}
			if !reflect.DeepEqual(args, tt.args) {
				t.Errorf("args\n got %#v\nwant %#v", args, tt.args)
			}
		})
	}
}

func TestDialectBasics(t *testing.T) {
	for _, d := range []connectors.Dialect{postgres.Dialect{}, redshift.Dialect{}, sqlite.Dialect{}} {
		if got := d.QuoteIdent(`we"ird name`); got != `"we""ird name"` {
			t.Errorf("%s: QuoteIdent = %s", d.Name(), got)
		}
		table := connectors.Relation{Table: &connectors.Table{Name: "customers"}}
		if got := d.RelationSQL(table, "m"); got != `"customers" AS "m"` {
			t.Errorf("%s: RelationSQL(table without schema) = %s", d.Name(), got)
		}
		if got := d.RelationSQL(customersTable, "m"); got != `"public"."customers" AS "m"` {
			t.Errorf("%s: RelationSQL(table) = %s", d.Name(), got)
		}
		query := connectors.Relation{SQL: "  select * from customers -- everyone\n ;; "}
		if got := d.RelationSQL(query, "m"); got != "(\nselect * from customers -- everyone\n) AS \"m\"" {
			t.Errorf("%s: RelationSQL(sql) = %q", d.Name(), got)
		}
	}
	if (postgres.Dialect{}).Placeholder(12) != "$12" || (redshift.Dialect{}).Placeholder(3) != "$3" || (sqlite.Dialect{}).Placeholder(3) != "?" {
		t.Error("placeholders changed")
	}
	if (postgres.Dialect{}).Name() != "postgres" || (redshift.Dialect{}).Name() != "redshift" || (sqlite.Dialect{}).Name() != "sqlite" {
		t.Error("names changed")
	}
	if (postgres.Dialect{}).CaseInsensitiveLike() != "ILIKE" || (redshift.Dialect{}).CaseInsensitiveLike() != "ILIKE" || (sqlite.Dialect{}).CaseInsensitiveLike() != "LIKE" {
		t.Error("like operators changed")
	}
}

// plainDialect implements only connectors.Dialect: the compiler must fall back to the
// standard ESCAPE clause and bind time.Time.
type plainDialect struct{ postgres.Dialect }

func (plainDialect) Name() string { return "plain" }

func TestCompileWithoutOptionalMethods(t *testing.T) {
	var d connectors.Dialect = struct{ connectors.Dialect }{plainDialect{}}
	if _, ok := d.(connectors.LikeEscaper); ok {
		t.Fatal("test dialect should hide LikeEscape")
	}
	where, args, err := Compile(d, customersTable, All(Leaf("email", OpStartsWith, "a"), Leaf("birthday", OpEq, "2000-01-01")), modelColumns)
	if err != nil {
		t.Fatal(err)
	}
	if want := `("m"."email" ILIKE $1 ESCAPE '\' AND "m"."birthday" = $2)`; where != want {
		t.Errorf("where = %s, want %s", where, want)
	}
	if !reflect.DeepEqual(args, []any{"a%", day(2000, 1, 1)}) {
		t.Errorf("args = %#v", args)
	}
}

func TestStatements(t *testing.T) {
	cond := Leaf("country", OpEq, "FR")
	sql, args, err := CountSQL(sqlite.Dialect{}, customersTable, cond, modelColumns)
	if err != nil {
		t.Fatal(err)
	}
	if want := `SELECT COUNT(*) FROM "public"."customers" AS "m" WHERE "m"."country" = ?`; sql != want {
		t.Errorf("CountSQL = %s", sql)
	}
	if !reflect.DeepEqual(args, []any{"FR"}) {
		t.Errorf("CountSQL args = %#v", args)
	}

	sql, args, err = BreakdownSQL(postgres.Dialect{}, connectors.Relation{SQL: "select * from c"}, cond, modelColumns, "age", 10)
	if err != nil {
		t.Fatal(err)
	}
	want := "SELECT \"m\".\"age\" AS \"value\", COUNT(*) AS \"count\" FROM (\nselect * from c\n) AS \"m\" WHERE \"m\".\"country\" = $1" +
		` GROUP BY "m"."age" ORDER BY COUNT(*) DESC, CASE WHEN "m"."age" IS NULL THEN 1 ELSE 0 END, "m"."age" LIMIT 10`
	if sql != want {
		t.Errorf("BreakdownSQL\n got %s\nwant %s", sql, want)
	}
	if !reflect.DeepEqual(args, []any{"FR"}) {
		t.Errorf("BreakdownSQL args = %#v", args)
	}

	sql, args, err = SelectSQL(postgres.Dialect{}, customersTable, cond, modelColumns, []string{"id", "email"}, "id")
	if err != nil {
		t.Fatal(err)
	}
	if want := `SELECT "m"."id", "m"."email" FROM "public"."customers" AS "m" WHERE "m"."country" = $1 ORDER BY "m"."id"`; sql != want {
		t.Errorf("SelectSQL = %s", sql)
	}
	if !reflect.DeepEqual(args, []any{"FR"}) {
		t.Errorf("SelectSQL args = %#v", args)
	}
}

func TestStatementsRefuse(t *testing.T) {
	ok := Leaf("country", OpEq, "FR")
	bad := Leaf("nope", OpEq, "FR")
	fieldPath := func(err error) string {
		var fe *FieldError
		if errors.As(err, &fe) {
			return fe.Path
		}
		return "(not a FieldError: " + errString(err) + ")"
	}
	tests := []struct {
		name string
		err  func() error
		path string
	}{
		{"breakdown by unknown column", func() error {
			_, _, err := BreakdownSQL(postgres.Dialect{}, customersTable, ok, modelColumns, `age" FROM x; --`, 10)
			return err
		}, "by"},
		{"breakdown by json", func() error {
			_, _, err := BreakdownSQL(postgres.Dialect{}, customersTable, ok, modelColumns, "payload", 10)
			return err
		}, "by"},
		{"breakdown limit zero", func() error {
			_, _, err := BreakdownSQL(postgres.Dialect{}, customersTable, ok, modelColumns, "age", 0)
			return err
		}, "limit"},
		{"breakdown limit too high", func() error {
			_, _, err := BreakdownSQL(postgres.Dialect{}, customersTable, ok, modelColumns, "age", MaxBreakdown+1)
			return err
		}, "limit"},
		{"breakdown bad condition", func() error {
			_, _, err := BreakdownSQL(postgres.Dialect{}, customersTable, bad, modelColumns, "age", 10)
			return err
		}, "conditions.column"},
		{"select nothing", func() error {
			_, _, err := SelectSQL(postgres.Dialect{}, customersTable, ok, modelColumns, nil, "id")
			return err
		}, "columns"},
		{"select unknown column", func() error {
			_, _, err := SelectSQL(postgres.Dialect{}, customersTable, ok, modelColumns, []string{"id", "*"}, "id")
			return err
		}, "columns[1]"},
		{"select unknown key", func() error {
			_, _, err := SelectSQL(postgres.Dialect{}, customersTable, ok, modelColumns, []string{"id"}, "id DESC")
			return err
		}, "order_by"},
		{"select bad condition", func() error {
			_, _, err := SelectSQL(postgres.Dialect{}, customersTable, bad, modelColumns, []string{"id"}, "id")
			return err
		}, "conditions.column"},
		{"count bad condition", func() error {
			_, _, err := CountSQL(postgres.Dialect{}, customersTable, bad, modelColumns)
			return err
		}, "conditions.column"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fieldPath(tt.err()); got != tt.path {
				t.Errorf("path = %s, want %s", got, tt.path)
			}
		})
	}

	for _, rel := range []connectors.Relation{
		{},
		{SQL: "   "},
		{Table: &connectors.Table{Schema: "public"}},
		{Table: &connectors.Table{Name: "c"}, SQL: "select 1"},
	} {
		if _, _, err := Compile(postgres.Dialect{}, rel, ok, modelColumns); err == nil {
			t.Errorf("Compile accepted relation %+v", rel)
		}
	}
	if _, _, err := Compile(nil, customersTable, ok, modelColumns); err == nil {
		t.Error("Compile accepted a nil dialect")
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

// TestUnknownColumnsCannotInject: identifiers come only from the model, so a rule naming
// anything else — an injection attempt included — is refused before any SQL is written,
// and a model column with a hostile name is still one quoted identifier.
func TestUnknownColumnsCannotInject(t *testing.T) {
	for _, name := range []string{
		`country" = 'x' OR "1"="1`,
		`country = country --`,
		`m.country`,
		`"country"`,
		"country\x00",
		`country `,
	} {
		for _, d := range []connectors.Dialect{postgres.Dialect{}, redshift.Dialect{}, sqlite.Dialect{}} {
			where, args, err := Compile(d, customersTable, All(Leaf(name, OpEq, "FR")), modelColumns)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Path != "conditions.all[0].column" || where != "" || args != nil {
				t.Errorf("%s: column %q: Compile = %q, %v, %v; want a FieldError on the column", d.Name(), name, where, args, err)
			}
		}
	}
	hostile := []connectors.Column{{Name: `a" = 'x' OR "1"="1`, Type: connectors.TypeString}}
	where, _, err := Compile(postgres.Dialect{}, customersTable, Leaf(hostile[0].Name, OpEq, "x"), hostile)
	if err != nil {
		t.Fatal(err)
	}
	if want := `"m"."a"" = 'x' OR ""1""=""1" = $1`; where != want {
		t.Errorf("hostile model column quoted as %s, want %s", where, want)
	}
	if !strings.HasPrefix(where, `"m".`) {
		t.Error("column not qualified")
	}
}
