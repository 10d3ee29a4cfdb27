package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"sluice/connectors"
	"sluice/sources/postgres"
)

func TestSpec(t *testing.T) {
	spec := postgres.New().Spec()
	if spec.Kind != "postgres" || spec.Label != "PostgreSQL" {
		t.Fatalf("kind/label = %q/%q", spec.Kind, spec.Label)
	}
	fields := map[string]connectors.FieldSpec{}
	for _, f := range spec.Fields {
		fields[f.Name] = f
	}
	for _, name := range []string{"host", "port", "database", "user", "password", "sslmode", "schema"} {
		if _, ok := fields[name]; !ok {
			t.Errorf("missing field %q", name)
		}
	}
	if f := fields["port"]; f.Type != connectors.FieldInt || f.Default != "5432" {
		t.Errorf("port = %+v", f)
	}
	if f := fields["password"]; !f.Secret || f.Type != connectors.FieldPassword {
		t.Errorf("password must be a secret: %+v", f)
	}
	if f := fields["sslmode"]; f.Type != connectors.FieldSelect || f.Default != "require" ||
		!slices.Equal(f.Options, []string{"disable", "require", "verify-ca", "verify-full"}) {
		t.Errorf("sslmode = %+v", f)
	}
	if f := fields["schema"]; f.Default != "public" {
		t.Errorf("schema default = %q", f.Default)
	}
}

func TestOpenRejectsBadConfig(t *testing.T) {
	good := connectors.Config{"host": "db.example.com", "database": "analytics", "user": "sluice_reader"}
	cases := []struct {
		name  string
		cfg   connectors.Config
		field string
	}{
		{"no host", with(good, "host", ""), "host"},
		{"no database", with(good, "database", ""), "database"},
		{"no user", with(good, "user", ""), "user"},
		{"port not a number", with(good, "port", "54x"), "port"},
		{"port out of range", with(good, "port", "70000"), "port"},
		{"unknown sslmode", with(good, "sslmode", "prefer"), "sslmode"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, err := postgres.New().Open(context.Background(), tc.cfg)
			if err == nil {
				src.Close()
				t.Fatal("want an error")
			}
			ce, ok := connectors.AsError(err)
			if !ok || ce.Category != connectors.CategoryConfiguration || ce.Field != tc.field {
				t.Fatalf("err = %#v, want configuration error on %s", err, tc.field)
			}
		})
	}
	// Open does not connect: a config that cannot connect still opens, so it can be validated.
	src, err := postgres.New().Open(context.Background(), good)
	if err != nil {
		t.Fatalf("a complete config must open: %v", err)
	}
	src.Close()
}

func TestValidateGoodDatabase(t *testing.T) {
	w := newWarehouse(t)
	w.seed(t)
	src := open(t, postgres.New(), with(w.cfg, "schema", "sales"))

	t.Run("no models: every table and view in the schema", func(t *testing.T) {
		checks := validate(t, src, nil)
		expectAllOK(t, checks)
		if msg := checks[3].Message; !strings.Contains(msg, "SELECT on all 5 tables and views in schema sales") {
			t.Errorf("grants message = %q", msg)
		}
		if msg := checks[4].Message; msg != "No models to check yet." {
			t.Errorf("lineage message = %q", msg)
		}
	})
	t.Run("with models", func(t *testing.T) {
		models := []connectors.ModelRef{
			{Name: "customers", Relation: connectors.Relation{Table: &connectors.Table{Name: "customers"}}},
			{Name: "spenders", Relation: connectors.Relation{Table: &connectors.Table{Schema: "sales", Name: "big_spenders"}}},
			{Name: "recent orders", Relation: connectors.Relation{SQL: "select o.id, c.email from sales.orders o join sales.customers c on c.id = o.customer_id;"}},
		}
		checks := validate(t, src, models)
		expectAllOK(t, checks)
		if msg := checks[4].Message; msg != "All 3 models resolve." {
			t.Errorf("lineage message = %q", msg)
		}
		// customers, big_spenders, and orders from the SQL (customers counted once).
		if msg := checks[3].Message; !strings.Contains(msg, "SELECT on the 3 tables and views the models read") {
			t.Errorf("grants message = %q", msg)
		}
	})
}

func TestValidateMissingSelectFailsGrants(t *testing.T) {
	w := newWarehouse(t)
	w.seed(t)
	db := w.cfg["database"]
	role := w.newRole(t, "sluice_ro_")
	w.exec(t,
		"GRANT CONNECT ON DATABASE "+db+" TO "+role,
		"GRANT USAGE ON SCHEMA sales TO "+role,
		"GRANT SELECT ON sales.customers, sales.big_spenders, sales.daily, sales.events TO "+role,
	)
	src := open(t, postgres.New(), with(w.cfg, "user", role, "password", "", "schema", "sales"))

	want := fmt.Sprintf("Missing SELECT on sales.orders. Run: GRANT SELECT ON sales.orders TO %s;", role)
	t.Run("schema-wide", func(t *testing.T) {
		checks := validate(t, src, nil)
		expectFailure(t, checks, connectors.StageGrants, want, "Skipped: fix the grants first.")
		if checks[3].Message != want {
			t.Errorf("grants message = %q, want exactly %q", checks[3].Message, want)
		}
	})
	t.Run("a SQL model reading the ungranted table", func(t *testing.T) {
		checks := validate(t, src, []connectors.ModelRef{
			{Name: "customers", Relation: connectors.Relation{Table: &connectors.Table{Name: "customers"}}},
			{Name: "orders per customer", Relation: connectors.Relation{SQL: "SELECT customer_id, count(*) FROM sales.orders GROUP BY 1"}},
		})
		expectFailure(t, checks, connectors.StageGrants, want, "Skipped: fix the grants first.")
		if strings.Contains(checks[3].Message, "customers") {
			t.Errorf("customers is readable and must not be named: %q", checks[3].Message)
		}
	})
	t.Run("models that only read granted relations", func(t *testing.T) {
		// The view reads orders, but SELECT on a view is all its reader needs.
		checks := validate(t, src, []connectors.ModelRef{
			{Name: "customers", Relation: connectors.Relation{Table: &connectors.Table{Name: "customers"}}},
			{Name: "spenders", Relation: connectors.Relation{SQL: "SELECT * FROM sales.big_spenders"}},
		})
		expectAllOK(t, checks)
	})
}

func TestValidateSchemaWithoutUsageFailsAccess(t *testing.T) {
	w := newWarehouse(t)
	w.seed(t)
	role := w.newRole(t, "sluice_nousage_")
	src := open(t, postgres.New(), with(w.cfg, "user", role, "password", "", "schema", "sales"))
	checks := validate(t, src, nil)
	want := fmt.Sprintf("User %s cannot use schema sales. Run: GRANT USAGE ON SCHEMA sales TO %s;", role, role)
	expectFailure(t, checks, connectors.StageAccess, want, "Skipped: fix access first.")
}

func TestValidateWithoutConnectFailsConnection(t *testing.T) {
	w := newWarehouse(t)
	db := w.cfg["database"]
	role := w.newRole(t, "sluice_noconnect_")
	w.exec(t, "REVOKE CONNECT ON DATABASE "+db+" FROM PUBLIC")
	checks := validate(t, open(t, postgres.New(), with(w.cfg, "user", role, "password", "")), nil)
	want := fmt.Sprintf("User %s may not connect to database %s. Run: GRANT CONNECT ON DATABASE %s TO %s;", role, db, db, role)
	expectFailure(t, checks, connectors.StageConnection, want, "Skipped: fix the connection first.")
}

func TestValidateUnreachableHost(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there any more: the connection is refused

	cfg := connectors.Config{"host": "127.0.0.1", "port": strconv.Itoa(port), "database": "analytics",
		"user": "sluice_reader", "password": "x", "sslmode": "disable"}
	src := open(t, postgres.New(), cfg)
	start := time.Now()
	checks := validate(t, src, nil)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("validation took %s; a refused connection must fail fast", d)
	}
	want := fmt.Sprintf("Cannot reach 127.0.0.1:%d: the connection was refused.", port)
	expectFailure(t, checks, connectors.StageConnection, want, "Skipped: fix the connection first.")

	// Query reports the same cause with its category.
	err = src.Query(context.Background(), "SELECT 1", nil, func([]any) error { return nil })
	ce, ok := connectors.AsError(err)
	if !ok || ce.Category != connectors.CategoryConnection || !ce.Retryable || !strings.Contains(ce.Message, want) {
		t.Fatalf("query error = %#v", err)
	}
}

func TestValidateUnresolvableHost(t *testing.T) {
	cfg := connectors.Config{"host": "warehouse.sluice-test.invalid", "database": "analytics", "user": "u", "sslmode": "disable"}
	src := open(t, postgres.New(), cfg)
	checks := validate(t, src, nil)
	expectFailure(t, checks, connectors.StageConnection,
		`Cannot reach warehouse.sluice-test.invalid:5432: the host name "warehouse.sluice-test.invalid" does not resolve.`,
		"Skipped: fix the connection first.")
}

func TestValidateSilentServerTimesOut(t *testing.T) {
	// A server that accepts the TCP connection and never answers the startup message.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	cfg := connectors.Config{"host": "127.0.0.1", "port": strconv.Itoa(port), "database": "analytics", "user": "u", "sslmode": "disable"}
	src := open(t, postgres.NewWithTimeouts(postgres.PostgreSQL(), 300*time.Millisecond, time.Second), cfg)
	start := time.Now()
	checks := validate(t, src, nil)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("validation took %s, want about the 300ms connect timeout", d)
	}
	expectFailure(t, checks, connectors.StageConnection,
		fmt.Sprintf("Connecting to 127.0.0.1:%d timed out.", port), "Skipped: fix the connection first.")
}

func TestValidateMissingDatabase(t *testing.T) {
	w := newWarehouse(t)
	missing := randomName("sluice_missing_")
	src := open(t, postgres.New(), with(w.cfg, "database", missing))
	checks := validate(t, src, nil)
	expectFailure(t, checks, connectors.StageConnection,
		fmt.Sprintf("Database %q does not exist on %s:%s.", missing, w.cfg["host"], w.cfg["port"]),
		"Skipped: fix the connection first.")
}

func TestValidateUnknownUser(t *testing.T) {
	// The local server trusts loopback, so it says the role is missing (28000) rather
	// than checking a password; the user is told the same thing either way.
	w := newWarehouse(t)
	src := open(t, postgres.New(), with(w.cfg, "user", randomName("sluice_nobody_"), "password", "wrong"))
	checks := validate(t, src, nil)
	expectFailure(t, checks, connectors.StageConnection, "The user or password is wrong.", "Skipped: fix the connection first.")
	if checks[0].Message != "The user or password is wrong." {
		t.Errorf("message = %q", checks[0].Message)
	}
}

func TestValidateMissingSchema(t *testing.T) {
	w := newWarehouse(t)
	w.seed(t)
	src := open(t, postgres.New(), with(w.cfg, "schema", "marketing"))
	checks := validate(t, src, nil)
	expectFailure(t, checks, connectors.StageSchema, `Schema "marketing" does not exist in database`, "Skipped: fix the schema first.")
	if !strings.Contains(checks[2].Message, "Schemas you can use: public, sales.") {
		t.Errorf("the message should offer the existing schemas: %q", checks[2].Message)
	}
}

func TestValidateTLS(t *testing.T) {
	w := newWarehouse(t)
	var ssl string
	if err := w.admin.QueryRow(context.Background(), "SHOW ssl").Scan(&ssl); err != nil || ssl != "on" {
		t.Skip("the test server has SSL off")
	}
	t.Run("require encrypts without checking the certificate", func(t *testing.T) {
		checks := validate(t, open(t, postgres.New(), with(w.cfg, "sslmode", "require")), nil)
		expectAllOK(t, checks)
	})
	t.Run("verify-full rejects a self-signed certificate", func(t *testing.T) {
		checks := validate(t, open(t, postgres.New(), with(w.cfg, "sslmode", "verify-full")), nil)
		expectFailure(t, checks, connectors.StageConnection, "could not be verified (SSL mode verify-full)", "Skipped: fix the connection first.")
	})
}

func TestValidateLineage(t *testing.T) {
	w := newWarehouse(t)
	w.seed(t)
	w.exec(t,
		`CREATE TABLE sales.orders_archive (id bigint)`,
		`ALTER TABLE sales.customers ADD COLUMN legacy_score int`,
	)
	src := open(t, postgres.New(), with(w.cfg, "schema", "sales"))
	models := []connectors.ModelRef{
		{Name: "customers", Relation: connectors.Relation{Table: &connectors.Table{Name: "customers"}}},
		{Name: "archive", Relation: connectors.Relation{Table: &connectors.Table{Schema: "sales", Name: "orders_archive"}}},
		{Name: "scores", Relation: connectors.Relation{SQL: "SELECT id, legacy_score FROM sales.customers"}},
		{Name: "spenders", Relation: connectors.Relation{SQL: "SELECT * FROM sales.big_spenders -- the view"}},
	}
	expectAllOK(t, validate(t, src, models))

	w.exec(t, `DROP TABLE sales.orders_archive`, `ALTER TABLE sales.customers DROP COLUMN legacy_score`)
	checks := validate(t, src, models)
	expectFailure(t, checks, connectors.StageLineage, "Model archive: the table sales.orders_archive no longer exists.", "")
	want := `Model archive: the table sales.orders_archive no longer exists. Model scores: its SQL no longer runs: column "legacy_score" does not exist.`
	if checks[4].Message != want {
		t.Errorf("lineage message = %q, want %q", checks[4].Message, want)
	}
}

func TestTablesAndSchemas(t *testing.T) {
	w := newWarehouse(t)
	w.seed(t)
	src := open(t, postgres.New(), w.cfg)
	ctx := context.Background()

	tables, err := src.Tables(ctx, "sales")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tb := range tables {
		if tb.Schema != "sales" {
			t.Errorf("table %+v in the wrong schema", tb)
		}
		names = append(names, tb.Name)
	}
	// Tables, the view and the materialized view; the partition is reached through its parent.
	if want := []string{"big_spenders", "customers", "daily", "events", "orders"}; !slices.Equal(names, want) {
		t.Errorf("tables = %v, want %v", names, want)
	}
	if tables, err := src.Tables(ctx, ""); err != nil || len(tables) != 0 {
		t.Errorf("the configured schema (public) is empty: %v, %v", tables, err)
	}
	_, err = src.Tables(ctx, "nope")
	if ce, ok := connectors.AsError(err); !ok || ce.Category != connectors.CategoryNotFound {
		t.Errorf("missing schema: err = %v", err)
	}

	schemas, err := src.Schemas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(schemas, "public") || !slices.Contains(schemas, "sales") || slices.Contains(schemas, "pg_catalog") || slices.Contains(schemas, "information_schema") {
		t.Errorf("schemas = %v", schemas)
	}
}

func TestColumns(t *testing.T) {
	w := newWarehouse(t)
	w.seed(t)
	w.exec(t,
		`CREATE DOMAIN sales.email_address AS text`,
		`CREATE TYPE sales.tier AS ENUM ('gold', 'silver')`,
		`CREATE TABLE sales.contacts (addr sales.email_address, tier sales.tier)`,
	)
	src := open(t, postgres.New(), with(w.cfg, "schema", "sales"))
	ctx := context.Background()
	S, I, N, B, D, TS, J, U := connectors.TypeString, connectors.TypeInteger, connectors.TypeNumber, connectors.TypeBoolean,
		connectors.TypeDate, connectors.TypeTimestamp, connectors.TypeJSON, connectors.TypeUnknown

	t.Run("table", func(t *testing.T) {
		cols, err := src.Columns(ctx, connectors.Relation{Table: &connectors.Table{Name: "customers"}})
		if err != nil {
			t.Fatal(err)
		}
		want := []connectors.Column{
			col("id", I, "integer"), col("email", S, "citext"), col("name", S, "character varying(50)"), col("code", S, "character(3)"),
			col("ext", S, "uuid"), col("signed_up", TS, "timestamp with time zone"), col("seen", TS, "timestamp without time zone"),
			col("birthday", D, "date"), col("vip", B, "boolean"), col("score", N, "numeric(18,2)"), col("ratio", N, "double precision"),
			col("visits", I, "bigint"), col("rank", I, "smallint"), col("meta", J, "jsonb"), col("tags", U, "text[]"), col("photo", U, "bytea"),
		}
		if !slices.Equal(cols, want) {
			t.Errorf("columns =\n%v\nwant\n%v", cols, want)
		}
	})
	t.Run("view", func(t *testing.T) {
		cols, err := src.Columns(ctx, connectors.Relation{Table: &connectors.Table{Schema: "sales", Name: "big_spenders"}})
		if err != nil {
			t.Fatal(err)
		}
		want := []connectors.Column{col("id", I, "integer"), col("email", S, "citext"), col("spent", N, "numeric")}
		if !slices.Equal(cols, want) {
			t.Errorf("columns = %v, want %v", cols, want)
		}
	})
	t.Run("domain and enum columns", func(t *testing.T) {
		cols, err := src.Columns(ctx, connectors.Relation{Table: &connectors.Table{Name: "contacts"}})
		if err != nil {
			t.Fatal(err)
		}
		if want := []connectors.Column{col("addr", S, "sales.email_address"), col("tier", S, "sales.tier")}; !slices.Equal(cols, want) {
			t.Errorf("columns = %v, want %v", cols, want)
		}
	})
	// A result description names a domain by its base type: PostgreSQL flattens domains.
	t.Run("sql", func(t *testing.T) {
		cols, err := src.Columns(ctx, connectors.Relation{SQL: `
			SELECT c.id, c.email, c.name, c.score, c.signed_up, c.birthday, c.vip, c.meta, c.tags, o.total,
			       count(*) OVER () AS n, c.email::text::sales.email_address AS addr, 'gold'::sales.tier AS tier
			FROM sales.customers c LEFT JOIN sales.orders o ON o.customer_id = c.id;`})
		if err != nil {
			t.Fatal(err)
		}
		want := []connectors.Column{
			col("id", I, "int4"), col("email", S, "citext"), col("name", S, "varchar"), col("score", N, "numeric"),
			col("signed_up", TS, "timestamptz"), col("birthday", D, "date"), col("vip", B, "bool"), col("meta", J, "jsonb"),
			col("tags", U, "_text"), col("total", N, "numeric"), col("n", I, "int8"), col("addr", S, "text"), col("tier", S, "tier"),
		}
		if !slices.Equal(cols, want) {
			t.Errorf("columns =\n%v\nwant\n%v", cols, want)
		}
	})
	t.Run("missing table", func(t *testing.T) {
		_, err := src.Columns(ctx, connectors.Relation{Table: &connectors.Table{Name: "nope"}})
		if ce, ok := connectors.AsError(err); !ok || ce.Category != connectors.CategoryNotFound {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("broken sql", func(t *testing.T) {
		_, err := src.Columns(ctx, connectors.Relation{SQL: "SELECT nope FROM sales.customers"})
		ce, ok := connectors.AsError(err)
		if !ok || ce.Category != connectors.CategoryConfiguration || !strings.Contains(ce.Message, `column "nope" does not exist`) {
			t.Errorf("err = %#v", err)
		}
	})
}

func col(name string, typ connectors.ColumnType, raw string) connectors.Column {
	return connectors.Column{Name: name, Type: typ, Raw: raw}
}

func TestQueryValues(t *testing.T) {
	w := newWarehouse(t)
	w.seed(t)
	src := open(t, postgres.New(), w.cfg)
	var got [][]any
	err := src.Query(context.Background(),
		`SELECT id, email, name, ext, signed_up, birthday, vip, score, ratio, visits, rank, meta, tags, code
		 FROM sales.customers WHERE id = ANY($1) ORDER BY id`, []any{[]int{1, 2}},
		func(row []any) error {
			got = append(got, slices.Clone(row))
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d rows", len(got))
	}
	signed := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	want := []any{int64(1), "Ada@Example.com", "Ada", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", signed,
		time.Date(1990, 12, 10, 0, 0, 0, 0, time.UTC), true, "12345678901234.56", 0.5, int64(42), int64(3),
		map[string]any{"plan": "pro"}, []any{"a", "b"}, "ABC"}
	for i, v := range got[0] {
		if tm, ok := v.(time.Time); ok {
			if !tm.Equal(want[i].(time.Time)) {
				t.Errorf("column %d = %v, want %v", i, v, want[i])
			}
			continue
		}
		if fmt.Sprintf("%T %v", v, v) != fmt.Sprintf("%T %v", want[i], want[i]) {
			t.Errorf("column %d = %T %v, want %T %v", i, v, v, want[i], want[i])
		}
	}
	if got[1][3] != nil || got[1][7] != nil {
		t.Errorf("NULLs must be nil: %v", got[1])
	}
}

func TestQueryStreams(t *testing.T) {
	w := newWarehouse(t)
	src := open(t, postgres.New(), w.cfg)

	t.Run("every row, one reused slice", func(t *testing.T) {
		var n, sum int64
		var first *any
		err := src.Query(context.Background(), "SELECT g, g * 2 FROM generate_series(1, $1::int) g", []any{100000}, func(row []any) error {
			if first == nil {
				first = &row[0]
			} else if &row[0] != first {
				return errors.New("the row slice was not reused")
			}
			n++
			sum += row[0].(int64)
			return nil
		})
		if err != nil || n != 100000 || sum != 100000*100001/2 {
			t.Fatalf("n=%d sum=%d err=%v", n, sum, err)
		}
	})

	// A billion rows cannot be buffered in a test's time or memory: seeing the first rows
	// quickly, then stopping quickly, shows rows are streamed as the server sends them.
	const endless = "SELECT generate_series(1, 1000000000)"
	t.Run("cancelling ctx stops the query", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		start := time.Now()
		rows := 0
		err := src.Query(ctx, endless, nil, func(row []any) error {
			rows++
			if rows == 1000 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("took %s to stop", d)
		}
		if rows < 1000 || rows > 100_000_000 {
			t.Errorf("saw %d rows", rows)
		}
	})
	t.Run("an error from fn stops the query", func(t *testing.T) {
		stop := errors.New("stop")
		start := time.Now()
		rows := 0
		// The deadline only bounds a regression (reading the rest of the result before
		// returning) so it fails on the time check below instead of hanging the suite.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err := src.Query(ctx, endless, nil, func(row []any) error {
			rows++
			if rows == 3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || rows != 3 {
			t.Fatalf("err = %v after %d rows, want stop after 3", err, rows)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("took %s to stop", d)
		}
	})
	t.Run("the pool still works afterwards", func(t *testing.T) {
		var got any
		if err := src.Query(context.Background(), "SELECT 7", nil, func(row []any) error { got = row[0]; return nil }); err != nil || got != int64(7) {
			t.Fatalf("got %v, %v", got, err)
		}
	})
}

func TestDialect(t *testing.T) {
	d := postgres.Dialect{}
	if d.Name() != "postgres" || d.Placeholder(3) != "$3" || d.CaseInsensitiveLike() != "ILIKE" {
		t.Fatalf("dialect basics: %s %s %s", d.Name(), d.Placeholder(3), d.CaseInsensitiveLike())
	}
	if got := d.QuoteIdent(`we"ird Name`); got != `"we""ird Name"` {
		t.Errorf("QuoteIdent = %s", got)
	}
	if got := d.RelationSQL(connectors.Relation{Table: &connectors.Table{Schema: "sales", Name: "Orders"}}, "m"); got != `"sales"."Orders" AS "m"` {
		t.Errorf("RelationSQL(table) = %s", got)
	}

	// The SQL it renders runs on PostgreSQL and means what it says.
	w := newWarehouse(t)
	w.seed(t)
	src := open(t, postgres.New(), w.cfg)
	if src.Dialect().Name() != "postgres" {
		t.Fatalf("source dialect = %s", src.Dialect().Name())
	}
	count := func(sql string, args ...any) int64 {
		t.Helper()
		var n int64
		if err := src.Query(context.Background(), sql, args, func(row []any) error { n = row[0].(int64); return nil }); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	orders := d.RelationSQL(connectors.Relation{Table: &connectors.Table{Schema: "sales", Name: "orders"}}, "o")
	if n := count("SELECT count(*) FROM "+orders+" WHERE o.placed_at >= "+d.DaysAgo(d.Placeholder(1)), 7); n != 1 {
		t.Errorf("orders in the last 7 days = %d, want 1", n)
	}
	if n := count("SELECT count(*) FROM "+orders+" WHERE o.placed_at::date >= "+d.DaysAgo(d.Placeholder(1)), 60); n != 2 {
		t.Errorf("orders in the last 60 days (as dates) = %d, want 2", n)
	}
	model := d.RelationSQL(connectors.Relation{SQL: "select * from sales.customers -- every customer\n;"}, "m")
	if n := count("SELECT count(*) FROM "+model+" WHERE m.email "+d.CaseInsensitiveLike()+" "+d.Placeholder(1), "%EXAMPLE.COM"); n != 2 {
		t.Errorf("case-insensitive match = %d, want 2", n)
	}
}

// TestSessionsRunInUTC: DaysAgo is now() − N days, and PostgreSQL compares a timestamp
// without time zone with it by reading the timestamp in the session's zone. The source
// sets that zone to UTC, so a naive timestamp is a UTC one even when the database's own
// default is far from UTC (here UTC+14, set with ALTER DATABASE as an admin might).
func TestSessionsRunInUTC(t *testing.T) {
	w := newWarehouse(t)
	ctx := context.Background()
	w.exec(t,
		`ALTER DATABASE `+postgres.Dialect{}.QuoteIdent(w.cfg["database"])+` SET timezone = 'Pacific/Kiritimati'`,
		`CREATE TABLE visits (id int, at timestamp without time zone)`,
		// One hour inside and one hour outside "the last 7 days", in UTC wall-clock time.
		`INSERT INTO visits VALUES (1, (now() AT TIME ZONE 'UTC') - interval '7 days' + interval '1 hour'),
		                           (2, (now() AT TIME ZONE 'UTC') - interval '7 days' - interval '1 hour')`,
	)
	// Without the source's setting a new session would be fourteen hours ahead of UTC.
	plain, err := pgx.Connect(ctx, w.url)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close(ctx)
	var zone string
	if err := plain.QueryRow(ctx, "SELECT current_setting('TimeZone')").Scan(&zone); err != nil || zone != "Pacific/Kiritimati" {
		t.Fatalf("a plain session's zone = %q, %v; the test needs the database default to differ from UTC", zone, err)
	}

	src := open(t, postgres.New(), w.cfg)
	if err := src.Query(ctx, "SELECT current_setting('TimeZone')", nil, func(row []any) error { zone = row[0].(string); return nil }); err != nil {
		t.Fatal(err)
	}
	if zone != "UTC" {
		t.Errorf("source session zone = %q, want UTC", zone)
	}
	d := src.Dialect()
	var ids []int64
	err = src.Query(ctx, "SELECT id FROM visits WHERE at >= "+d.DaysAgo(d.Placeholder(1))+" ORDER BY id", []any{int64(7)},
		func(row []any) error { ids = append(ids, row[0].(int64)); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []int64{1}) {
		t.Errorf("visits in the last 7 days = %v, want [1] (the visit 7 days minus an hour ago, in UTC)", ids)
	}
}
