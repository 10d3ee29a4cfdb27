package core_test

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for writing fixtures

	"sluice/connectors"
	"sluice/core"
	"sluice/internal/testutil"
	"sluice/models"
	"sluice/segments"
	"sluice/sources/postgres"
	"sluice/sources/sqlite" // also registers the "sqlite" database/sql driver
)

// wh is one warehouse under test, seen from both sides: the service (through a saved
// source in the app's store) and a read-write handle used to build and break fixtures.
type wh struct {
	kind   string
	schema string
	store  *models.Store
	actor  models.Actor
	svc    *core.Service
	src    *models.Source
	db     *sql.DB
	ph     func(n int) string
	// unreachable makes the warehouse impossible to reach (file deleted, database dropped).
	unreachable func(t *testing.T)
	// setType changes a column's declared type, keeping the data.
	setType func(t *testing.T, table, col, typ string)
}

// eachWarehouse runs fn against a SQLite file and a fresh PostgreSQL database.
func eachWarehouse(t *testing.T, fn func(t *testing.T, w *wh)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newSQLiteWarehouse(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, newPostgresWarehouse(t)) })
}

// newApp is the app side: a migrated store, its first admin and the service with both
// source kinds registered.
func newApp(t *testing.T, w *wh) {
	t.Helper()
	w.store = testutil.Store(t, testutil.SQLiteURL(t))
	_, w.actor = testutil.Admin(t, w.store)
	reg := connectors.NewRegistry()
	reg.RegisterSource(sqlite.New(os.TempDir())) // every test's warehouse file is under it
	reg.RegisterSource(postgres.New())
	w.svc = core.New(w.store, reg)
}

func (w *wh) createSource(t *testing.T, cfg connectors.Config) {
	t.Helper()
	spec, err := w.svc.SourceSpec(w.kind)
	if err != nil {
		t.Fatal(err)
	}
	w.src, err = w.store.CreateSource(t.Context(), w.actor, spec, models.SourceInput{Name: "Warehouse", Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
}

func newSQLiteWarehouse(t *testing.T) *wh {
	path := filepath.Join(t.TempDir(), "warehouse.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	w := &wh{kind: sqlite.Kind, schema: sqlite.Schema, db: db, ph: func(int) string { return "?" }}
	newApp(t, w)
	w.createSource(t, connectors.Config{"path": path})
	w.unreachable = func(t *testing.T) {
		t.Helper()
		db.Close()
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
	w.setType = func(t *testing.T, table, col, typ string) {
		t.Helper()
		// SQLite cannot change a column's type: recreate the table, as users do.
		rows, err := db.Query(`SELECT name, type FROM pragma_table_info(?) ORDER BY cid`, table)
		if err != nil {
			t.Fatal(err)
		}
		var defs []string
		for rows.Next() {
			var name, decl string
			if err := rows.Scan(&name, &decl); err != nil {
				t.Fatal(err)
			}
			if name == col {
				decl = typ
			}
			defs = append(defs, strconv.Quote(name)+" "+decl)
		}
		rows.Close()
		if len(defs) == 0 {
			t.Fatalf("no table %s", table)
		}
		w.exec(t, `CREATE TABLE "retype_tmp" (`+strings.Join(defs, ", ")+`)`)
		w.exec(t, `INSERT INTO "retype_tmp" SELECT * FROM "`+table+`"`)
		w.exec(t, `DROP TABLE "`+table+`"`)
		w.exec(t, `ALTER TABLE "retype_tmp" RENAME TO "`+table+`"`)
	}
	return w
}

func newPostgresWarehouse(t *testing.T) *wh {
	raw := testutil.PostgresURL(t)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", raw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	database := strings.TrimPrefix(u.Path, "/")
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	cfg := connectors.Config{"host": u.Hostname(), "port": port, "database": database,
		"user": u.User.Username(), "sslmode": "disable", "schema": "public"}
	if pw, ok := u.User.Password(); ok {
		cfg["password"] = pw
	}
	w := &wh{kind: postgres.Kind, schema: "public", db: db, ph: func(n int) string { return "$" + strconv.Itoa(n) }}
	newApp(t, w)
	w.createSource(t, cfg)
	w.unreachable = func(t *testing.T) {
		t.Helper()
		db.Close()
		admin, err := sql.Open("pgx", testutil.PostgresAdminURL())
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		if _, err := admin.Exec(`DROP DATABASE "` + database + `" WITH (FORCE)`); err != nil {
			t.Fatal(err)
		}
	}
	w.setType = func(t *testing.T, table, col, typ string) {
		t.Helper()
		w.exec(t, fmt.Sprintf(`ALTER TABLE %q ALTER COLUMN %q TYPE %s USING %q::%s`, table, col, typ, col, typ))
	}
	return w
}

func (w *wh) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := w.db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// count runs a plain SQL COUNT on the warehouse: the reference the service must match.
func (w *wh) count(t *testing.T, q string) int64 {
	t.Helper()
	var n int64
	if err := w.db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// insert writes rows into table in one statement with bound values (nil is NULL).
func (w *wh) insert(t *testing.T, table string, cols []string, rows [][]any) {
	t.Helper()
	if len(rows) == 0 {
		return
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "INSERT INTO %q (%s) VALUES ", table, strings.Join(cols, ", "))
	var args []any
	for i, r := range rows {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("(")
		for j, v := range r {
			if j > 0 {
				sb.WriteString(", ")
			}
			args = append(args, v)
			sb.WriteString(w.ph(len(args)))
		}
		sb.WriteString(")")
	}
	w.exec(t, sb.String(), args...)
}

// accounts creates table name (id INTEGER, email TEXT) with one row per key, in order.
func (w *wh) accounts(t *testing.T, name string, keys []any) {
	t.Helper()
	w.exec(t, fmt.Sprintf(`CREATE TABLE %q (id INTEGER, email TEXT)`, name))
	rows := make([][]any, len(keys))
	for i, k := range keys {
		rows[i] = []any{k, fmt.Sprintf("user%d@example.com", i)}
	}
	w.insert(t, name, []string{"id", "email"}, rows)
}

func (w *wh) table(name string) *connectors.Table {
	return &connectors.Table{Schema: w.schema, Name: name}
}

func (w *wh) ws() string { return w.actor.WorkspaceID }

func (w *wh) createModel(t *testing.T, name, table, pk string) *models.DataModel {
	t.Helper()
	m, err := w.svc.CreateModel(t.Context(), w.actor, core.ModelRequest{SourceID: w.src.ID, Name: name, Table: w.table(table), PrimaryKey: pk})
	if err != nil {
		t.Fatalf("create model %s: %v", name, err)
	}
	return m
}

func (w *wh) listModels(t *testing.T) []models.DataModel {
	t.Helper()
	ms, err := w.store.ListModels(t.Context(), w.ws(), "")
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// seq is the keys from..to.
func seq(from, to int) []any {
	var out []any
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func nulls(n int) []any { return make([]any, n) }

func concat(parts ...[]any) []any {
	var out []any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// samples are the expected "<key> (<n> rows)" lines.
func samples(n int, keys ...int) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%d (%d rows)", k, n)
	}
	return out
}

type wantReport struct {
	rows, dupKeys, dupRows, nullKeys int64
	percent                          float64
	samples                          []string
}

func checkReport(t *testing.T, got *models.DuplicateReport, want wantReport) {
	t.Helper()
	if got == nil {
		t.Fatal("no duplicate report")
	}
	if got.Rows != want.rows || got.DuplicateKeys != want.dupKeys || got.DuplicateRows != want.dupRows || got.NullKeys != want.nullKeys {
		t.Errorf("report rows=%d duplicate keys=%d duplicate rows=%d null keys=%d, want %d, %d, %d, %d",
			got.Rows, got.DuplicateKeys, got.DuplicateRows, got.NullKeys, want.rows, want.dupKeys, want.dupRows, want.nullKeys)
	}
	if p := got.Percent(); p != want.percent {
		t.Errorf("Percent() = %v, want exactly %v", p, want.percent)
	}
	if len(got.Samples) > core.DuplicateSamples {
		t.Errorf("%d samples, want at most %d", len(got.Samples), core.DuplicateSamples)
	}
	if !slices.Equal(got.Samples, want.samples) {
		t.Errorf("samples = %q, want %q", got.Samples, want.samples)
	}
	if got.CheckedAt.IsZero() {
		t.Error("report has no CheckedAt")
	}
}

// checkStored reloads the model and checks what the store kept matches what was returned.
func checkStored(t *testing.T, w *wh, m *models.DataModel, status string, want wantReport) *models.DataModel {
	t.Helper()
	if m.Status != status {
		t.Errorf("status = %q, want %q", m.Status, status)
	}
	checkReport(t, m.Duplicates(), want)
	got, err := w.store.ModelByID(t.Context(), w.ws(), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != status {
		t.Errorf("stored status = %q, want %q", got.Status, status)
	}
	checkReport(t, got.Duplicates(), want)
	return got
}

// Exactly 5% of rows sharing keys is the boundary: it still saves, with a warning.
func TestCreateModelDuplicateKeysAtLimitWarns(t *testing.T) {
	eachWarehouse(t, func(t *testing.T, w *wh) {
		w.accounts(t, "accounts", concat(seq(1, 975), seq(1, 25))) // 25 keys twice: 50 of 1000 rows
		m := w.createModel(t, "Accounts", "accounts", "id")
		checkStored(t, w, m, models.ModelWarning, wantReport{rows: 1000, dupKeys: 25, dupRows: 50, percent: 5.0,
			samples: samples(2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)})
		if ms := w.listModels(t); len(ms) != 1 || ms[0].ID != m.ID {
			t.Errorf("models = %+v, want the one created", ms)
		}
		if len(m.Issues()) != 0 {
			t.Errorf("issues = %+v, want none", m.Issues())
		}
	})
}

// The samples list the most repeated keys first, then by key; at most ten.
func TestCreateModelSamplesMostRepeatedFirst(t *testing.T) {
	eachWarehouse(t, func(t *testing.T, w *wh) {
		// key 700 three times, keys 1..20 twice: 43 of 1000 rows.
		w.accounts(t, "accounts", concat(seq(1, 978), seq(1, 20), []any{700, 700}))
		m := w.createModel(t, "Accounts", "accounts", "id")
		want := append([]string{"700 (3 rows)"}, samples(2, 1, 2, 3, 4, 5, 6, 7, 8, 9)...)
		checkStored(t, w, m, models.ModelWarning, wantReport{rows: 1000, dupKeys: 21, dupRows: 43, percent: 4.3, samples: want})
	})
}

// Over 5% refuses the model: a field error on primary_key naming the share and keys.
func TestCreateModelOverLimitRefused(t *testing.T) {
	eachWarehouse(t, func(t *testing.T, w *wh) {
		// key 900 three times, keys 1..24 twice: 51 of 1000 rows (5.1%).
		w.accounts(t, "accounts", concat(seq(1, 974), seq(1, 24), []any{900, 900}))
		m, err := w.svc.CreateModel(t.Context(), w.actor, core.ModelRequest{SourceID: w.src.ID, Name: "Accounts", Table: w.table("accounts"), PrimaryKey: "id"})
		if err == nil {
			t.Fatalf("model saved (%+v), want it refused", m)
		}
		var refused *core.DuplicatesRefused
		if !errors.As(err, &refused) {
			t.Fatalf("error %T %v is not *core.DuplicatesRefused", err, err)
		}
		want := append([]string{"900 (3 rows)"}, samples(2, 1, 2, 3, 4, 5, 6, 7, 8, 9)...)
		r := refused.Report
		if r == nil || r.Rows != 1000 || r.DuplicateKeys != 25 || r.DuplicateRows != 51 || r.NullKeys != 0 || !slices.Equal(r.Samples, want) {
			t.Errorf("report = %+v, want 1000 rows, 25 keys, 51 rows, samples %q", r, want)
		}
		if r != nil && r.Percent() <= models.MaxDuplicatePercent {
			t.Errorf("Percent() = %v, want over the limit", r.Percent())
		}
		var fe *models.FieldError
		if !errors.As(err, &fe) || fe.Field != "primary_key" {
			t.Fatalf("error %v is not a field error on primary_key (%+v)", err, fe)
		}
		if !errors.Is(err, models.ErrInvalid) {
			t.Error("refusal is not models.ErrInvalid")
		}
		for _, part := range []string{"5.1%", "51 of 1000", "900 (3 rows)", "1 (2 rows)"} {
			if !strings.Contains(fe.Message, part) {
				t.Errorf("message %q does not mention %q", fe.Message, part)
			}
		}
		if ms := w.listModels(t); len(ms) != 0 {
			t.Errorf("refused model was saved: %+v", ms)
		}
	})
}

func TestCreateModelWithoutDuplicatesValid(t *testing.T) {
	eachWarehouse(t, func(t *testing.T, w *wh) {
		w.accounts(t, "accounts", seq(1, 1000))
		m := w.createModel(t, "Accounts", "accounts", "id")
		checkStored(t, w, m, models.ModelValid, wantReport{rows: 1000, samples: []string{}})
		if m.ValidatedAt == nil {
			t.Error("a new model's snapshot is a validation: ValidatedAt is not set")
		}
	})
}

// Rows without a key count as rows whose key is not unique.
func TestCreateModelNullKeysCount(t *testing.T) {
	eachWarehouse(t, func(t *testing.T, w *wh) {
		// 30 NULL keys and keys 1..10 twice: 50 of 1000 rows, still saved.
		w.accounts(t, "some_nulls", concat(seq(1, 960), seq(1, 10), nulls(30)))
		m := w.createModel(t, "Some nulls", "some_nulls", "id")
		checkStored(t, w, m, models.ModelWarning, wantReport{rows: 1000, dupKeys: 10, dupRows: 20, nullKeys: 30, percent: 5.0,
			samples: samples(2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)})

		// Only NULL keys, a few: saved with a warning all the same.
		w.accounts(t, "few_nulls", concat(seq(1, 990), nulls(10)))
		m = w.createModel(t, "Few nulls", "few_nulls", "id")
		checkStored(t, w, m, models.ModelWarning, wantReport{rows: 1000, nullKeys: 10, percent: 1.0, samples: []string{}})

		// Only NULL keys, but 51 of them: refused.
		w.accounts(t, "many_nulls", concat(seq(1, 949), nulls(51)))
		_, err := w.svc.CreateModel(t.Context(), w.actor, core.ModelRequest{SourceID: w.src.ID, Name: "Many nulls", Table: w.table("many_nulls"), PrimaryKey: "id"})
		var refused *core.DuplicatesRefused
		if !errors.As(err, &refused) {
			t.Fatalf("err = %v, want *core.DuplicatesRefused", err)
		}
		if r := refused.Report; r.Rows != 1000 || r.NullKeys != 51 || r.DuplicateKeys != 0 || r.DuplicateRows != 0 || len(r.Samples) != 0 {
			t.Errorf("report = %+v, want 1000 rows, 51 null keys, no duplicates", r)
		}
		var fe *models.FieldError
		if !errors.As(err, &fe) || fe.Field != "primary_key" || !strings.Contains(fe.Message, "5.1%") {
			t.Errorf("field error = %+v, want primary_key naming 5.1%%", fe)
		}
		if ms := w.listModels(t); len(ms) != 2 || ms[0].Name != "Few nulls" || ms[1].Name != "Some nulls" {
			t.Errorf("models = %+v, want Few nulls and Some nulls only", ms)
		}
	})
}

// A SQL model is checked on what its query returns, not on the table under it.
func TestCreateModelFromSQLDuplicates(t *testing.T) {
	eachWarehouse(t, func(t *testing.T, w *wh) {
		w.exec(t, `CREATE TABLE accounts (id INTEGER, email TEXT, kept INTEGER)`)
		var rows [][]any
		for i, k := range concat(seq(1, 975), seq(1, 25)) {
			rows = append(rows, []any{k, fmt.Sprintf("user%d@example.com", i), 1})
		}
		for range 100 { // hidden from the query, but a disaster for the whole table
			rows = append(rows, []any{5, "hidden@example.com", 0})
		}
		w.insert(t, "accounts", []string{"id", "email", "kept"}, rows)

		req := core.ModelRequest{SourceID: w.src.ID, Name: "Kept accounts", SQL: "SELECT id, email FROM accounts WHERE kept = 1;\n", PrimaryKey: "id"}
		m, err := w.svc.CreateModel(t.Context(), w.actor, req)
		if err != nil {
			t.Fatal(err)
		}
		if m.SQLText == "" || m.TableName != "" {
			t.Errorf("model relation = table %q sql %q, want the SQL", m.TableName, m.SQLText)
		}
		checkStored(t, w, m, models.ModelWarning, wantReport{rows: 1000, dupKeys: 25, dupRows: 50, percent: 5.0,
			samples: samples(2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)})

		req = core.ModelRequest{SourceID: w.src.ID, Name: "All accounts", SQL: "SELECT id, email FROM accounts", PrimaryKey: "id"}
		_, err = w.svc.CreateModel(t.Context(), w.actor, req)
		var refused *core.DuplicatesRefused
		if !errors.As(err, &refused) {
			t.Fatalf("err = %v, want *core.DuplicatesRefused", err)
		}
		// Key 5: 2 kept + 100 hidden; keys 1..25 but 5: twice.
		want := append([]string{"5 (102 rows)"}, samples(2, 1, 2, 3, 4, 6, 7, 8, 9, 10)...)
		if r := refused.Report; r.Rows != 1100 || r.DuplicateKeys != 25 || r.DuplicateRows != 150 || !slices.Equal(r.Samples, want) {
			t.Errorf("report = %+v, want 1100 rows, 25 keys, 150 rows, samples %q", r, want)
		}
		var fe *models.FieldError
		if !errors.As(err, &fe) || fe.Field != "primary_key" || !strings.Contains(fe.Message, "5 (102 rows)") {
			t.Errorf("field error = %+v, want primary_key with samples", fe)
		}
		if ms := w.listModels(t); len(ms) != 1 || ms[0].ID != m.ID {
			t.Errorf("models = %+v, want only the kept one", ms)
		}
	})
}

// "Detect duplicate primary keys" on demand sees the warehouse as it is now.
func TestDetectDuplicatesOnDemand(t *testing.T) {
	eachWarehouse(t, func(t *testing.T, w *wh) {
		ctx := t.Context()
		w.accounts(t, "accounts", seq(1, 100))
		m := w.createModel(t, "Accounts", "accounts", "id")
		checkStored(t, w, m, models.ModelValid, wantReport{rows: 100, samples: []string{}})

		w.insert(t, "accounts", []string{"id", "email"}, [][]any{{7, "dup"}, {7, "dup"}, {8, "dup"}})
		got, err := w.svc.DetectDuplicates(ctx, w.ws(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		checkStored(t, w, got, models.ModelWarning, wantReport{rows: 103, dupKeys: 2, dupRows: 5, percent: 100 * 5.0 / 103,
			samples: []string{"7 (3 rows)", "8 (2 rows)"}})

		w.exec(t, `DELETE FROM accounts WHERE email = 'dup'`)
		got, err = w.svc.DetectDuplicates(ctx, w.ws(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		checkStored(t, w, got, models.ModelValid, wantReport{rows: 100, samples: []string{}})

		// A row without a key is a warning too.
		w.insert(t, "accounts", []string{"id", "email"}, [][]any{{nil, "dup"}})
		if got, err = w.svc.DetectDuplicates(ctx, w.ws(), m.ID); err != nil {
			t.Fatal(err)
		}
		checkStored(t, w, got, models.ModelWarning, wantReport{rows: 101, nullKeys: 1, percent: 100 * 1.0 / 101, samples: []string{}})
		w.exec(t, `DELETE FROM accounts WHERE email = 'dup'`)
		if got, err = w.svc.DetectDuplicates(ctx, w.ws(), m.ID); err != nil {
			t.Fatal(err)
		}
		checkStored(t, w, got, models.ModelValid, wantReport{rows: 100, samples: []string{}})

		// A broken model stays broken: counting keys again does not clear schema issues.
		w.exec(t, `ALTER TABLE accounts DROP COLUMN email`)
		if got, err = w.svc.ValidateModel(ctx, w.ws(), m.ID); err != nil {
			t.Fatal(err)
		}
		if got.Status != models.ModelBroken {
			t.Fatalf("status after dropping email = %q, want broken", got.Status)
		}
		w.insert(t, "accounts", []string{"id"}, [][]any{{9}})
		if got, err = w.svc.DetectDuplicates(ctx, w.ws(), m.ID); err != nil {
			t.Fatal(err)
		}
		checkStored(t, w, got, models.ModelBroken, wantReport{rows: 101, dupKeys: 1, dupRows: 2, percent: 100 * 2.0 / 101,
			samples: []string{"9 (2 rows)"}})
		if is := issueKeys(got.Issues()); !reflect.DeepEqual(is, []issueKey{{"email", models.IssueAltered}}) {
			t.Errorf("issues = %v, want email altered kept", is)
		}
	})
}

type issueKey struct{ Column, Kind string }

func issueKeys(issues []models.ModelIssue) []issueKey {
	out := []issueKey{}
	for _, i := range issues {
		out = append(out, issueKey{i.Column, i.Kind})
	}
	return out
}

// customers is the table the drift test breaks and restores.
func (w *wh) customers(t *testing.T) {
	t.Helper()
	w.exec(t, `CREATE TABLE customers (id INTEGER, email TEXT, zip TEXT, age INTEGER)`)
	var rows [][]any
	for i := 1; i <= 10; i++ {
		rows = append(rows, []any{i, fmt.Sprintf("c%d@example.com", i), strconv.Itoa(75000 + i), 20 + i})
	}
	w.insert(t, "customers", []string{"id", "email", "zip", "age"}, rows)
}

// Schema validation in the seed's words: Altered, Wrong Type, Missing; and back to valid.
func TestValidateModelSchemaDrift(t *testing.T) {
	eachWarehouse(t, func(t *testing.T, w *wh) {
		ctx := t.Context()
		w.customers(t)
		m := w.createModel(t, "Customers", "customers", "id")
		if m.Status != models.ModelValid {
			t.Fatalf("new model status = %q, want valid", m.Status)
		}
		validate := func(t *testing.T, status string, want []issueKey) *models.DataModel {
			t.Helper()
			got, err := w.svc.ValidateModel(ctx, w.ws(), m.ID)
			if err != nil {
				t.Fatalf("validate: %v", err)
			}
			if got.Status != status {
				t.Errorf("status = %q, want %q", got.Status, status)
			}
			if is := issueKeys(got.Issues()); !reflect.DeepEqual(is, want) {
				t.Errorf("issues = %v, want %v", is, want)
			}
			stored, err := w.store.ModelByID(ctx, w.ws(), m.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.Status != status || !reflect.DeepEqual(issueKeys(stored.Issues()), want) {
				t.Errorf("stored status %q issues %v, want %q %v", stored.Status, issueKeys(stored.Issues()), status, want)
			}
			return got
		}
		valid := func(t *testing.T) {
			t.Helper()
			got := validate(t, models.ModelValid, []issueKey{})
			if got.IssuesJSON != "[]" {
				t.Errorf("issues json = %q, want []", got.IssuesJSON)
			}
		}
		valid(t)

		t.Run("altered: a column dropped", func(t *testing.T) {
			w.exec(t, `ALTER TABLE customers DROP COLUMN email`)
			got := validate(t, models.ModelBroken, []issueKey{{"email", models.IssueAltered}})
			if msg := got.Issues()[0].Message; msg == "" {
				t.Error("issue has no message")
			}
			w.exec(t, `ALTER TABLE customers ADD COLUMN email TEXT`)
			valid(t)
		})
		t.Run("altered: a column renamed", func(t *testing.T) {
			w.exec(t, `ALTER TABLE customers RENAME COLUMN age TO age_years`)
			validate(t, models.ModelBroken, []issueKey{{"age", models.IssueAltered}})
			w.exec(t, `ALTER TABLE customers RENAME COLUMN age_years TO age`)
			valid(t)
		})
		t.Run("wrong type: integer to text", func(t *testing.T) {
			w.setType(t, "customers", "age", "TEXT")
			got := validate(t, models.ModelBroken, []issueKey{{"age", models.IssueWrongType}})
			if msg := got.Issues()[0].Message; !strings.Contains(msg, "integer") || !strings.Contains(msg, "string") {
				t.Errorf("message %q does not name both types", msg)
			}
			w.setType(t, "customers", "age", "INTEGER")
			valid(t)
		})
		t.Run("wrong type: text to integer", func(t *testing.T) {
			w.setType(t, "customers", "zip", "INTEGER")
			validate(t, models.ModelBroken, []issueKey{{"zip", models.IssueWrongType}})
			w.setType(t, "customers", "zip", "TEXT")
			valid(t)
		})
		t.Run("missing: primary key renamed", func(t *testing.T) {
			w.exec(t, `ALTER TABLE customers RENAME COLUMN id TO customer_id`)
			validate(t, models.ModelBroken, []issueKey{{"id", models.IssueMissing}})
			w.exec(t, `ALTER TABLE customers RENAME COLUMN customer_id TO id`)
			valid(t)
		})
		t.Run("several at once", func(t *testing.T) {
			w.exec(t, `ALTER TABLE customers DROP COLUMN email`)
			w.setType(t, "customers", "age", "TEXT")
			w.exec(t, `ALTER TABLE customers ADD COLUMN extra TEXT`) // new columns are not issues
			validate(t, models.ModelBroken, []issueKey{{"email", models.IssueAltered}, {"age", models.IssueWrongType}})
			w.exec(t, `ALTER TABLE customers DROP COLUMN extra`)
			w.exec(t, `ALTER TABLE customers ADD COLUMN email TEXT`)
			w.setType(t, "customers", "age", "INTEGER")
			valid(t)
		})
		t.Run("missing: primary key dropped", func(t *testing.T) {
			w.exec(t, `ALTER TABLE customers DROP COLUMN id`)
			validate(t, models.ModelBroken, []issueKey{{"id", models.IssueMissing}})
		})
		t.Run("missing: table dropped", func(t *testing.T) {
			w.exec(t, `DROP TABLE customers`)
			got := validate(t, models.ModelBroken, []issueKey{{"", models.IssueMissing}})
			if msg := got.Issues()[0].Message; !strings.Contains(msg, "no longer resolves") {
				t.Errorf("message %q does not say the table no longer resolves", msg)
			}
		})
		t.Run("restored", func(t *testing.T) {
			w.customers(t)
			valid(t)
		})
	})
}

// A source that cannot be reached says nothing about the model's schema: validation
// fails with an error and the model keeps its status.
func TestValidateModelSourceUnreachable(t *testing.T) {
	eachWarehouse(t, func(t *testing.T, w *wh) {
		ctx := t.Context()
		w.accounts(t, "accounts", concat(seq(1, 99), []any{1})) // one key twice: a warning
		m := w.createModel(t, "Accounts", "accounts", "id")
		if m.Status != models.ModelWarning {
			t.Fatalf("status = %q, want warning", m.Status)
		}
		before, err := w.store.ModelByID(ctx, w.ws(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		w.unreachable(t)

		got, err := w.svc.ValidateModel(ctx, w.ws(), m.ID)
		if err == nil {
			t.Errorf("ValidateModel of an unreachable source succeeded: status %q issues %+v", got.Status, got.Issues())
		}
		_, err = w.svc.DetectDuplicates(ctx, w.ws(), m.ID)
		if err == nil {
			t.Error("DetectDuplicates of an unreachable source succeeded")
		}
		after, err := w.store.ModelByID(ctx, w.ws(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if after.Status != before.Status || after.IssuesJSON != before.IssuesJSON || after.DuplicatesJSON != before.DuplicatesJSON ||
			!after.ValidatedAt.Equal(*before.ValidatedAt) {
			t.Errorf("model changed: status %q issues %s validated %v, was %q %s %v",
				after.Status, after.IssuesJSON, after.ValidatedAt, before.Status, before.IssuesJSON, before.ValidatedAt)
		}
	})
}

func TestValidateSource(t *testing.T) {
	eachWarehouse(t, func(t *testing.T, w *wh) {
		ctx := t.Context()
		w.accounts(t, "accounts", seq(1, 10))
		w.accounts(t, "orders", seq(1, 10))
		w.createModel(t, "Accounts", "accounts", "id")
		w.createModel(t, "Orders", "orders", "id")

		stages := func(checks []connectors.Check) []connectors.Stage {
			var out []connectors.Stage
			for _, c := range checks {
				out = append(out, c.Stage)
			}
			return out
		}
		src, err := w.svc.ValidateSource(ctx, w.ws(), w.src.ID)
		if err != nil {
			t.Fatal(err)
		}
		checks := src.Checks()
		if src.Status != models.SourceConnected || src.ValidatedAt == nil {
			t.Errorf("status = %q validated %v, want connected; checks %+v", src.Status, src.ValidatedAt, checks)
		}
		if !slices.Equal(stages(checks), connectors.Stages) {
			t.Fatalf("stages = %v, want %v", stages(checks), connectors.Stages)
		}
		for _, c := range checks {
			if !c.OK || c.Skipped || c.Message == "" {
				t.Errorf("check %+v, want ok with a message", c)
			}
		}

		// A model's table dropped: lineage names the model.
		w.exec(t, `DROP TABLE orders`)
		src, err = w.svc.ValidateSource(ctx, w.ws(), w.src.ID)
		if err != nil {
			t.Fatal(err)
		}
		checks = src.Checks()
		if src.Status != models.SourceBroken {
			t.Errorf("status = %q, want broken; checks %+v", src.Status, checks)
		}
		if !slices.Equal(stages(checks), connectors.Stages) {
			t.Fatalf("stages = %v, want %v", stages(checks), connectors.Stages)
		}
		for _, c := range checks[:4] {
			if !c.OK {
				t.Errorf("check %+v failed, want only lineage to fail", c)
			}
		}
		lin := checks[4]
		if lin.OK || lin.Skipped || !strings.Contains(lin.Message, "Orders") || strings.Contains(lin.Message, "Accounts") {
			t.Errorf("lineage = %+v, want a failure naming Orders only", lin)
		}
		if f := src.FailedCheck(); f == nil || f.Stage != connectors.StageLineage {
			t.Errorf("failed check = %+v, want lineage", f)
		}

		// The source itself gone: connection fails, the rest is skipped.
		w.unreachable(t)
		src, err = w.svc.ValidateSource(ctx, w.ws(), w.src.ID)
		if err != nil {
			t.Fatal(err)
		}
		checks = src.Checks()
		if src.Status != models.SourceBroken {
			t.Errorf("status = %q, want broken", src.Status)
		}
		if !slices.Equal(stages(checks), connectors.Stages) {
			t.Fatalf("stages = %v, want %v", stages(checks), connectors.Stages)
		}
		if c := checks[0]; c.OK || c.Skipped || c.Message == "" {
			t.Errorf("connection check = %+v, want a failure with a message", c)
		}
		for _, c := range checks[1:] {
			if c.OK || !c.Skipped {
				t.Errorf("check %+v, want skipped", c)
			}
		}
		if f := src.FailedCheck(); f == nil || f.Stage != connectors.StageConnection {
			t.Errorf("failed check = %+v, want connection", f)
		}
		stored, err := w.store.SourceByID(ctx, w.ws(), w.src.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Status != models.SourceBroken || !reflect.DeepEqual(stored.Checks(), checks) {
			t.Errorf("stored source %q %+v, want what ValidateSource returned", stored.Status, stored.Checks())
		}
	})
}

// people has countries and ages with NULLs in both, in uneven proportions.
func (w *wh) people(t *testing.T) {
	t.Helper()
	w.exec(t, `CREATE TABLE people (id INTEGER, country TEXT, age INTEGER)`)
	countries := []any{"FR", "FR", "FR", "FR", "DE", "DE", "DE", "US", "ES", nil, nil}
	var rows [][]any
	for i := 1; i <= 300; i++ {
		var age any = 18 + (i*7)%60
		if i%13 == 0 {
			age = nil
		}
		rows = append(rows, []any{i, countries[(i*5)%len(countries)], age})
	}
	w.insert(t, "people", []string{"id", "country", "age"}, rows)
}

// Count and Breakdown agree with plain SQL on the same warehouse.
func TestCountAndBreakdownMatchSQL(t *testing.T) {
	eachWarehouse(t, func(t *testing.T, w *wh) {
		ctx := t.Context()
		w.people(t)
		m := w.createModel(t, "People", "people", "id")
		total := w.count(t, `SELECT COUNT(*) FROM people`)

		cases := []struct {
			name  string
			cond  segments.Condition
			where string
		}{
			{"everyone", segments.All(), "1=1"},
			{"country is FR", segments.Leaf("country", segments.OpEq, "FR"), "country = 'FR'"},
			{"country is not FR (NULL kept)", segments.Leaf("country", segments.OpNeq, "FR"), "country <> 'FR' OR country IS NULL"},
			{"country unknown", segments.Leaf("country", segments.OpIsNull, nil), "country IS NULL"},
			{"country in FR, DE", segments.Leaf("country", segments.OpIn, []string{"FR", "DE"}), "country IN ('FR', 'DE')"},
			{"FR over 40", segments.All(segments.Leaf("country", segments.OpEq, "FR"), segments.Leaf("age", segments.OpGt, 40)), "country = 'FR' AND age > 40"},
			{"US or under 30", segments.Any(segments.Leaf("country", segments.OpEq, "US"), segments.Leaf("age", segments.OpLt, 30)), "country = 'US' OR age < 30"},
			{"nobody", segments.Any(), "1=0"},
		}
		for _, c := range cases {
			want := w.count(t, `SELECT COUNT(*) FROM people WHERE `+c.where)
			e, err := w.svc.Count(ctx, w.ws(), m.ID, c.cond)
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			if e.Count != want {
				t.Errorf("%s: count = %d, plain SQL says %d (%s %v)", c.name, e.Count, want, e.SQL, e.Args)
			}
			if e.ScanBytes != 0 {
				t.Errorf("%s: %d bytes scanned, from a warehouse that does not bill by bytes", c.name, e.ScanBytes)
			}
		}
		// The data makes the cases above tell things apart.
		if fr := w.count(t, `SELECT COUNT(*) FROM people WHERE country = 'FR'`); fr == 0 || fr == total {
			t.Fatalf("fixture: %d of %d rows are FR", fr, total)
		}

		// The value is bound, never written into the SQL.
		e, err := w.svc.Count(ctx, w.ws(), m.ID, segments.Leaf("country", segments.OpEq, "FR"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(e.SQL, "'FR'") || len(e.Args) != 1 || fmt.Sprint(e.Args[0]) != "FR" {
			t.Errorf("SQL %q args %v: want FR bound as an argument", e.SQL, e.Args)
		}

		breakdown := func(cond segments.Condition, where string) {
			t.Helper()
			got, err := w.svc.Breakdown(ctx, w.ws(), m.ID, cond, "country")
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int64{}
			rows, err := w.db.Query(`SELECT country, COUNT(*) FROM people WHERE ` + where + ` GROUP BY country`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var v sql.NullString
				var n int64
				if err := rows.Scan(&v, &n); err != nil {
					t.Fatal(err)
				}
				key := "<null>"
				if v.Valid {
					key = v.String
				}
				want[key] = n
			}
			rows.Close()
			have := map[string]int64{}
			for i, b := range got {
				key := b.Value
				if b.Null {
					key = "<null>"
					if b.Value != "" {
						t.Errorf("NULL bucket has value %q", b.Value)
					}
				}
				if _, dup := have[key]; dup {
					t.Errorf("bucket %q twice", key)
				}
				have[key] = b.Count
				if i > 0 && got[i-1].Count < b.Count {
					t.Errorf("buckets not by count: %+v", got)
				}
			}
			if !reflect.DeepEqual(have, want) {
				t.Errorf("breakdown where %s = %v, plain SQL says %v", where, have, want)
			}
		}
		breakdown(segments.All(), "1=1")
		breakdown(segments.Leaf("age", segments.OpGt, 40), "age > 40")
		breakdown(segments.Leaf("country", segments.OpEq, "FR"), "country = 'FR'")

		// The NULL bucket is there, flagged, with its count.
		got, err := w.svc.Breakdown(ctx, w.ws(), m.ID, segments.All(), "country")
		if err != nil {
			t.Fatal(err)
		}
		nullCount := w.count(t, `SELECT COUNT(*) FROM people WHERE country IS NULL`)
		found := false
		for _, b := range got {
			if b.Null {
				found = true
				if b.Count != nullCount {
					t.Errorf("NULL bucket count = %d, want %d", b.Count, nullCount)
				}
			}
		}
		if !found || nullCount == 0 {
			t.Errorf("no NULL bucket in %+v (plain SQL: %d NULL countries)", got, nullCount)
		}

		_, err = w.svc.Breakdown(ctx, w.ws(), m.ID, segments.All(), "nope")
		var fe *models.FieldError
		if !errors.As(err, &fe) || fe.Field != "breakdown" {
			t.Errorf("breakdown by an unknown column: %v, want a field error on breakdown", err)
		}
	})
}

func TestPreview(t *testing.T) {
	eachWarehouse(t, func(t *testing.T, w *wh) {
		ctx := t.Context()
		w.exec(t, `CREATE TABLE customers (id INTEGER, email TEXT, score REAL, vip BOOLEAN, signed_up DATE)`)
		for i := 1; i <= 30; i++ {
			w.exec(t, fmt.Sprintf(`INSERT INTO customers VALUES (%d, 'u%d@example.com', %d.5, %s, '2024-01-%02d')`,
				i, i, i, map[bool]string{true: "TRUE", false: "FALSE"}[i%2 == 0], i))
		}
		wantCols := []struct {
			name string
			typ  connectors.ColumnType
		}{
			{"id", connectors.TypeInteger}, {"email", connectors.TypeString}, {"score", connectors.TypeNumber},
			{"vip", connectors.TypeBoolean}, {"signed_up", connectors.TypeDate},
		}
		checkCols := func(cols []connectors.Column) {
			t.Helper()
			if len(cols) != len(wantCols) {
				t.Fatalf("columns = %+v, want %d", cols, len(wantCols))
			}
			for i, c := range cols {
				if c.Name != wantCols[i].name || c.Type != wantCols[i].typ {
					t.Errorf("column %d = %s %s, want %s %s", i, c.Name, c.Type, wantCols[i].name, wantCols[i].typ)
				}
			}
		}
		row := func(i int) []string {
			return []string{strconv.Itoa(i), fmt.Sprintf("u%d@example.com", i), fmt.Sprintf("%d.5", i),
				strconv.FormatBool(i%2 == 0), fmt.Sprintf("2024-01-%02d", i)}
		}

		p, err := w.svc.PreviewRelation(ctx, w.ws(), w.src.ID, connectors.Relation{Table: w.table("customers")})
		if err != nil {
			t.Fatal(err)
		}
		checkCols(p.Columns)
		if len(p.Rows) != core.PreviewRows {
			t.Fatalf("%d rows, want %d", len(p.Rows), core.PreviewRows)
		}
		seen := map[string]bool{}
		for _, r := range p.Rows {
			id, err := strconv.Atoi(r[0])
			if err != nil || id < 1 || id > 30 || seen[r[0]] {
				t.Errorf("row %q: not one of the table's rows", r)
				continue
			}
			seen[r[0]] = true
			if !slices.Equal(r, row(id)) {
				t.Errorf("row = %q, want %q", r, row(id))
			}
		}

		p, err = w.svc.PreviewRelation(ctx, w.ws(), w.src.ID, connectors.Relation{SQL: "SELECT * FROM customers WHERE id > 25 ORDER BY id"})
		if err != nil {
			t.Fatal(err)
		}
		checkCols(p.Columns)
		if len(p.Rows) != 5 {
			t.Fatalf("%d rows, want 5", len(p.Rows))
		}
		for i, r := range p.Rows {
			if !slices.Equal(r, row(26+i)) {
				t.Errorf("row %d = %q, want %q", i, r, row(26+i))
			}
		}

		// The warehouse's own words come back on the sql field.
		warehouseSays := map[string]string{sqlite.Kind: "no such column: nope", postgres.Kind: `column "nope" does not exist`}[w.kind]
		_, err = w.svc.PreviewRelation(ctx, w.ws(), w.src.ID, connectors.Relation{SQL: "SELECT nope FROM customers"})
		var fe *models.FieldError
		if !errors.As(err, &fe) || fe.Field != "sql" || !strings.Contains(fe.Message, warehouseSays) {
			t.Errorf("bad SQL: %v (%+v), want a field error on sql containing %q", err, fe, warehouseSays)
		}
		_, err = w.svc.PreviewRelation(ctx, w.ws(), w.src.ID, connectors.Relation{Table: w.table("nope")})
		fe = nil
		if !errors.As(err, &fe) || fe.Field != "table" {
			t.Errorf("missing table: %v, want a field error on table", err)
		}
	})
}
