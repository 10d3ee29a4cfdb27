package redshift_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"sluice/connectors"
	"sluice/internal/testutil"
	"sluice/sources/postgres"
	"sluice/sources/redshift"
)

func TestSpec(t *testing.T) {
	spec := redshift.New().Spec()
	if spec.Kind != "redshift" || spec.Label != "Amazon Redshift" {
		t.Fatalf("kind/label = %q/%q", spec.Kind, spec.Label)
	}
	fields := map[string]connectors.FieldSpec{}
	var names []string
	for _, f := range spec.Fields {
		fields[f.Name] = f
		names = append(names, f.Name)
	}
	// The same form as PostgreSQL's, with Redshift's port.
	var pgNames []string
	for _, f := range postgres.New().Spec().Fields {
		pgNames = append(pgNames, f.Name)
	}
	if !slices.Equal(names, pgNames) {
		t.Errorf("fields = %v, want PostgreSQL's %v", names, pgNames)
	}
	if fields["port"].Default != "5439" {
		t.Errorf("port default = %q, want 5439", fields["port"].Default)
	}
	if f := fields["sslmode"]; f.Default != "require" {
		t.Errorf("sslmode default = %q, want require", f.Default)
	}
	if !fields["password"].Secret {
		t.Error("password must be secret")
	}
	if !strings.Contains(fields["host"].Help, "redshift.amazonaws.com") {
		t.Errorf("host help = %q", fields["host"].Help)
	}
}

func TestDialect(t *testing.T) {
	var d connectors.Dialect = redshift.Dialect{}
	if d.Name() != "redshift" {
		t.Errorf("Name = %q", d.Name())
	}
	if got := d.DaysAgo("$2"); got != "DATEADD(day, -CAST($2 AS INTEGER), GETDATE())" {
		t.Errorf("DaysAgo = %s", got)
	}
	if strings.Contains(d.DaysAgo("$1"), "make_interval") {
		t.Error("Redshift has no make_interval")
	}
	if d.Placeholder(1) != "$1" || d.CaseInsensitiveLike() != "ILIKE" || d.QuoteIdent(`a"b`) != `"a""b"` {
		t.Errorf("shared dialect: %s %s %s", d.Placeholder(1), d.CaseInsensitiveLike(), d.QuoteIdent(`a"b`))
	}
	if got := d.RelationSQL(connectors.Relation{SQL: "select 1;"}, "m"); got != "(\nselect 1\n) AS \"m\"" {
		t.Errorf("RelationSQL = %q", got)
	}
	// Backslash is already Redshift's LIKE escape, and ESCAPE '\' would not parse there.
	if le, ok := d.(connectors.LikeEscaper); !ok || le.LikeEscape() != "" {
		t.Errorf("Redshift must write no ESCAPE clause (LikeEscaper: %v)", ok)
	}
	if _, ok := d.(connectors.TimeBinder); ok {
		t.Error("Redshift binds time.Time as it is")
	}
	// Keys in byte order, cast to a VARCHAR long enough for any key: PostgreSQL's
	// COLLATE "C", which the embedded dialect would give, does not parse on Redshift.
	if ko, ok := d.(connectors.KeyOrderer); !ok || ko.KeyTextSQL(`"m"."id"`) != `COLLATE(CAST("m"."id" AS VARCHAR(65535)), 'case_sensitive')` {
		t.Errorf("Redshift's key order (KeyOrderer: %v)", ok)
	}
}

func TestRefusedConnectionNamesRedshiftPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	src, err := redshift.New().Open(context.Background(), connectors.Config{"host": "127.0.0.1", "port": strconv.Itoa(port),
		"database": "dev", "user": "sluice_reader", "sslmode": "disable"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	checks := src.Validate(context.Background(), nil)
	if checks[0].OK || !strings.Contains(checks[0].Message, fmt.Sprintf("Cannot reach 127.0.0.1:%d", port)) {
		t.Fatalf("connection check = %+v", checks[0])
	}
	if src.Dialect().Name() != "redshift" {
		t.Errorf("source dialect = %s", src.Dialect().Name())
	}
}

// redshiftLike is a local PostgreSQL database shaped like a Redshift one: svv_tables and
// svv_columns exist (as views with the documented columns over information_schema) and
// the tables use only types Redshift has. It runs the code Redshift shares with
// PostgreSQL, with the Redshift flavor's queries and text-format results.
type redshiftLike struct {
	admin *pgx.Conn
	cfg   connectors.Config
}

func newRedshiftLike(t *testing.T) *redshiftLike {
	t.Helper()
	raw := testutil.PostgresURL(t)
	admin, err := pgx.Connect(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	u, _ := url.Parse(raw)
	pw, _ := u.User.Password()
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	sslmode := u.Query().Get("sslmode")
	if sslmode != "require" && sslmode != "verify-ca" && sslmode != "verify-full" {
		sslmode = "disable"
	}
	r := &redshiftLike{admin: admin, cfg: connectors.Config{"host": u.Hostname(), "port": port,
		"database": strings.TrimPrefix(u.Path, "/"), "user": u.User.Username(), "password": pw, "sslmode": sslmode, "schema": "sales"}}
	r.exec(t,
		`CREATE VIEW public.svv_tables AS
			SELECT table_catalog::text, table_schema::text, table_name::text, table_type::text, NULL::text AS remarks
			FROM information_schema.tables`,
		`CREATE VIEW public.svv_columns AS
			SELECT table_catalog::text, table_schema::text, table_name::text, column_name::text, ordinal_position::int,
			       data_type::text, character_maximum_length::int, numeric_precision::int, numeric_scale::int
			FROM information_schema.columns`,
		`GRANT SELECT ON public.svv_tables, public.svv_columns TO PUBLIC`,
		`CREATE SCHEMA sales`,
		`CREATE TABLE sales.customers (id integer, email varchar(256), vip boolean, signed_up timestamp, birthday date, visits bigint, ratio double precision)`,
		`CREATE TABLE sales.orders (id bigint, customer_id integer, total numeric(12,2), placed_at timestamp)`,
		`CREATE VIEW sales.big_spenders AS SELECT customer_id, sum(total) AS spent FROM sales.orders GROUP BY customer_id`,
		`INSERT INTO sales.customers VALUES (1, 'ada@example.com', true, '2024-05-01 10:00:00', '1990-12-10', 42, 0.5)`,
		`INSERT INTO sales.orders VALUES (10, 1, 99.90, now() - interval '2 days')`,
	)
	return r
}

func (r *redshiftLike) exec(t *testing.T, sqls ...string) {
	t.Helper()
	for _, s := range sqls {
		if _, err := r.admin.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func open(t *testing.T, cfg connectors.Config) connectors.Source {
	t.Helper()
	src, err := redshift.New().Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func validate(t *testing.T, src connectors.Source, models []connectors.ModelRef) []connectors.Check {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	checks := src.Validate(ctx, models)
	if len(checks) != 5 {
		t.Fatalf("checks = %+v", checks)
	}
	return checks
}

func TestSharedPathsOnPostgres(t *testing.T) {
	r := newRedshiftLike(t)
	src := open(t, r.cfg)
	ctx := context.Background()
	models := []connectors.ModelRef{
		{Name: "customers", Relation: connectors.Relation{Table: &connectors.Table{Name: "customers"}}},
		{Name: "spenders", Relation: connectors.Relation{SQL: "SELECT * FROM sales.big_spenders"}},
	}

	t.Run("validate", func(t *testing.T) {
		for _, ms := range [][]connectors.ModelRef{nil, models} {
			checks := validate(t, src, ms)
			for _, c := range checks {
				if !c.OK {
					t.Errorf("%d models: stage %s: %+v", len(ms), c.Stage, c)
				}
			}
			// Redshift has no CONNECT privilege: the grants stage must not ask for one.
			if strings.Contains(checks[3].Message, "CONNECT") {
				t.Errorf("grants message = %q", checks[3].Message)
			}
		}
	})
	t.Run("tables from svv_tables", func(t *testing.T) {
		tables, err := src.Tables(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(tables) != 3 || tables[0].Name != "big_spenders" || tables[1].Name != "customers" || tables[2].Name != "orders" {
			t.Errorf("tables = %+v", tables)
		}
	})
	t.Run("columns from svv_columns", func(t *testing.T) {
		cols, err := src.Columns(ctx, connectors.Relation{Table: &connectors.Table{Schema: "sales", Name: "orders"}})
		if err != nil {
			t.Fatal(err)
		}
		want := []connectors.Column{
			{Name: "id", Type: connectors.TypeInteger, Raw: "bigint"},
			{Name: "customer_id", Type: connectors.TypeInteger, Raw: "integer"},
			{Name: "total", Type: connectors.TypeNumber, Raw: "numeric(12,2)"},
			{Name: "placed_at", Type: connectors.TypeTimestamp, Raw: "timestamp without time zone"},
		}
		if !slices.Equal(cols, want) {
			t.Errorf("columns = %v, want %v", cols, want)
		}
		cols, err = src.Columns(ctx, connectors.Relation{Table: &connectors.Table{Name: "customers"}})
		if err != nil || cols[1] != (connectors.Column{Name: "email", Type: connectors.TypeString, Raw: "character varying(256)"}) {
			t.Errorf("email column = %v, %v", cols, err)
		}
	})
	t.Run("columns of SQL from the statement description", func(t *testing.T) {
		cols, err := src.Columns(ctx, connectors.Relation{SQL: "SELECT customer_id, spent FROM sales.big_spenders"})
		if err != nil {
			t.Fatal(err)
		}
		if len(cols) != 2 || cols[0].Type != connectors.TypeInteger || cols[1].Type != connectors.TypeNumber {
			t.Errorf("columns = %v", cols)
		}
	})
	t.Run("query in text format", func(t *testing.T) {
		var got []any
		err := src.Query(ctx, "SELECT id, email, vip, signed_up, birthday, visits, ratio, (SELECT total FROM sales.orders) FROM sales.customers WHERE id = $1",
			[]any{1}, func(row []any) error { got = slices.Clone(row); return nil })
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"int64 1", "string ada@example.com", "bool true", "time.Time", "time.Time", "int64 42", "float64 0.5", "string 99.90"}
		for i, v := range got {
			s := fmt.Sprintf("%T %v", v, v)
			if !strings.HasPrefix(s, want[i]) {
				t.Errorf("column %d = %s, want %s", i, s, want[i])
			}
		}
	})
}

func TestGrantsAndLineageOnPostgres(t *testing.T) {
	r := newRedshiftLike(t)
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	role := "sluice_rs_" + hex.EncodeToString(b)
	r.exec(t,
		"CREATE ROLE "+role+" LOGIN",
		"GRANT USAGE ON SCHEMA sales TO "+role,
		"GRANT SELECT ON sales.customers, sales.big_spenders TO "+role,
	)
	t.Cleanup(func() {
		ctx := context.Background()
		_, _ = r.admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role)
		_, _ = r.admin.Exec(ctx, "DROP OWNED BY "+role)
		_, _ = r.admin.Exec(ctx, "DROP ROLE IF EXISTS "+role)
	})
	cfg := connectors.Config{}
	for k, v := range r.cfg {
		cfg[k] = v
	}
	cfg["user"], cfg["password"] = role, ""
	src := open(t, cfg)

	checks := validate(t, src, nil)
	want := fmt.Sprintf("Missing SELECT on sales.orders. Run: GRANT SELECT ON sales.orders TO %s;", role)
	if checks[3].OK || checks[3].Message != want || !checks[4].Skipped {
		t.Errorf("schema-wide grants = %+v, lineage = %+v", checks[3], checks[4])
	}

	// Without reference probing, a SQL model over an ungranted table is caught by running it.
	checks = validate(t, src, []connectors.ModelRef{
		{Name: "orders", Relation: connectors.Relation{SQL: "SELECT id FROM sales.orders"}},
		{Name: "spenders", Relation: connectors.Relation{SQL: "SELECT * FROM sales.big_spenders"}},
	})
	if checks[3].OK || checks[3].Message != "Model orders: permission denied for table orders." {
		t.Errorf("grants with a SQL model = %+v", checks[3])
	}

	// Lineage finds a dropped table through svv_tables.
	r.exec(t, "CREATE TABLE sales.archive (id int)", "DROP TABLE sales.archive")
	checks = validate(t, src, []connectors.ModelRef{
		{Name: "archive", Relation: connectors.Relation{Table: &connectors.Table{Name: "archive"}}},
		{Name: "customers", Relation: connectors.Relation{Table: &connectors.Table{Name: "customers"}}},
	})
	if checks[3].OK != true || checks[4].OK || checks[4].Message != "Model archive: the table sales.archive no longer exists." {
		t.Errorf("grants = %+v, lineage = %+v", checks[3], checks[4])
	}
}
