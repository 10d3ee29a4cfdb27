package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/sources/sqlite"
)

// refusal is the one message for a path Sluice may not read.
func refusal(dir string) string {
	return "Sluice can only read SQLite database files in " + dir + ". Put the file there and give its name."
}

// install is a data dir as Sluice lays it out: its own database (with a users table
// worth stealing) at the root, the warehouses directory beside it holding ok.db, and a
// SQLite file elsewhere on the server.
type install struct {
	data, dir, own, inside, outside string
}

func newInstall(t *testing.T) install {
	t.Helper()
	data := t.TempDir()
	in := install{data: data, dir: sqlite.Dir(data), own: filepath.Join(data, "sluice.db"), outside: filepath.Join(t.TempDir(), "elsewhere.db")}
	if in.dir != filepath.Join(data, "warehouses") {
		t.Fatalf("Dir = %s", in.dir)
	}
	if err := os.Mkdir(in.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	in.inside = filepath.Join(in.dir, "ok.db")
	for _, p := range []string{in.own, in.outside, in.inside} {
		writeDB(t, p, `CREATE TABLE users (email TEXT, password_hash TEXT)`, `INSERT INTO users VALUES ('ada@example.com', '$2a$10$secret')`)
	}
	return in
}

func writeDB(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// expectRefused checks err is the refusal: the same words whatever the cause, no detail
// (details reach previews and run logs), the path field at fault.
func expectRefused(t *testing.T, err error, dir string) {
	t.Helper()
	ce, ok := connectors.AsError(err)
	if !ok {
		t.Fatalf("err = %v, want the refusal", err)
	}
	if ce.Message != refusal(dir) || ce.Detail != "" || ce.Field != "path" || ce.Category != connectors.CategoryConfiguration {
		t.Fatalf("refusal = %+v, want %q with no detail", ce, refusal(dir))
	}
}

// expectPathRefused opens a source on path and checks every use of it answers the
// refusal: validation, the catalogue, describing and running a model. Nothing of the
// file is read.
func expectPathRefused(t *testing.T, c connectors.SourceConnector, path, dir string) {
	t.Helper()
	ctx := context.Background()
	src, err := c.Open(ctx, connectors.Config{"path": path})
	if err != nil {
		expectRefused(t, err, dir)
		return
	}
	defer src.Close()
	checks := validate(t, src, nil)
	if checks[0].OK || checks[0].Message != refusal(dir) || !checks[1].Skipped {
		t.Errorf("%s: checks = %+v", path, checks)
	}
	steal := connectors.Relation{SQL: "select email, password_hash from users"}
	err = src.Query(ctx, "SELECT email, password_hash FROM users", nil, func(row []any) error {
		t.Errorf("%s: read %v", path, row)
		return nil
	})
	expectRefused(t, err, dir)
	_, err = src.Columns(ctx, steal)
	expectRefused(t, err, dir)
	_, err = src.Tables(ctx, "")
	expectRefused(t, err, dir)
	_, err = src.Schemas(ctx)
	expectRefused(t, err, dir)
}

func TestOnlyFilesInTheWarehousesDirOpen(t *testing.T) {
	in := newInstall(t)
	c := sqlite.New(in.dir, in.own)
	ctx := context.Background()

	mustLink := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	mustLink(os.Symlink(in.own, filepath.Join(in.dir, "own-link.db")))
	mustLink(os.Symlink(in.outside, filepath.Join(in.dir, "outside-link.db")))
	mustLink(os.Symlink(in.data, filepath.Join(in.dir, "data-link")))
	mustLink(os.Link(in.own, filepath.Join(in.dir, "own-hardlink.db")))
	mustLink(os.Mkdir(filepath.Join(in.dir, "sub.db"), 0o700))
	mustLink(os.Symlink(in.inside, filepath.Join(in.dir, "inside-link.db")))

	refused := map[string]string{
		"Sluice's own database":                   in.own,
		"Sluice's own database, relative":         "../sluice.db",
		"an escape through ..":                    filepath.Join(in.dir, "..", "sluice.db"),
		"a deeper escape":                         "../../../../../../../../etc/passwd",
		"a file outside":                          in.outside,
		"a system file":                           "/etc/passwd",
		"a symlink to Sluice's own database":      "own-link.db",
		"a symlink to a file outside":             "outside-link.db",
		"through a symlinked directory":           "data-link/sluice.db",
		"a hard link to Sluice's own database":    "own-hardlink.db",
		"a missing file":                          "nope.db",
		"a missing file outside":                  filepath.Join(in.data, "nope.db"),
		"a directory":                             "sub.db",
		"the warehouses directory itself":         in.dir,
		"the warehouses directory, relative":      ".",
		"the data dir":                            in.data,
		"a NUL byte":                              "ok.db\x00",
		"Sluice's own database's write-ahead log": in.own + "-wal",
	}
	for name, path := range refused {
		t.Run(name, func(t *testing.T) { expectPathRefused(t, c, path, in.dir) })
	}

	// What is inside the directory opens, by name, by absolute path, through a link
	// that stays inside.
	for _, path := range []string{"ok.db", in.inside, "./ok.db", "inside-link.db", " ok.db "} {
		src, err := c.Open(ctx, connectors.Config{"path": path})
		if err != nil {
			t.Fatalf("open %q: %v", path, err)
		}
		var email any
		err = src.Query(ctx, "SELECT email FROM users", nil, func(row []any) error { email = row[0]; return nil })
		src.Close()
		if err != nil || email != "ada@example.com" {
			t.Errorf("read %q = %v, %v", path, email, err)
		}
	}
}

// The settings may put Sluice's own database inside the directory (a data dir set to
// the warehouses directory's parent, a database URL pointing into it): it is still
// refused, by identity, while the other files there open.
func TestOwnDatabaseRefusedEvenInsideTheDir(t *testing.T) {
	in := newInstall(t)
	ownInside := filepath.Join(in.dir, "sluice.db")
	writeDB(t, ownInside, `CREATE TABLE users (email TEXT)`)
	ctx := context.Background()
	for _, c := range []connectors.SourceConnector{sqlite.New(in.dir, ownInside), sqlite.New(in.data, in.own)} {
		dir := in.dir
		path := "sluice.db"
		if c.Spec().Fields[0].Help != sqlite.New(in.dir).Spec().Fields[0].Help {
			dir = in.data
		}
		expectPathRefused(t, c, path, dir)
		expectPathRefused(t, c, filepath.Join(dir, path), dir)
	}
	// With the data dir as the directory, the warehouse below it still opens.
	src, err := sqlite.New(in.data, in.own).Open(ctx, connectors.Config{"path": "warehouses/ok.db"})
	if err != nil {
		t.Fatal(err)
	}
	src.Close()
	// The own database given through a symbolic link to it is the same file.
	link := filepath.Join(t.TempDir(), "db-link")
	if err := os.Symlink(in.own, link); err != nil {
		t.Fatal(err)
	}
	expectPathRefused(t, sqlite.New(in.data, link), "sluice.db", in.data)
}

// A file inside the directory that SQLite cannot read as a database is refused with
// the same words when it is read: nothing tells it apart from a missing file.
func TestNotADatabaseInsideIsRefusedAlike(t *testing.T) {
	in := newInstall(t)
	path := filepath.Join(in.dir, "notes.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database\n", 300)), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := sqlite.New(in.dir, in.own).Open(context.Background(), connectors.Config{"path": "notes.db"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	checks := validate(t, src, nil)
	if checks[0].OK || checks[0].Message != refusal(in.dir) {
		t.Errorf("connection = %+v", checks[0])
	}
	err = src.Query(context.Background(), "SELECT 1 FROM users", nil, func([]any) error { return nil })
	expectRefused(t, err, in.dir)
	_, err = src.Columns(context.Background(), connectors.Relation{SQL: "select 1"})
	expectRefused(t, err, in.dir)
}

// Nothing a model or query sends writes to the file, reaches another file, or turns the
// read-only settings off.
func TestSQLiteSourceIsReadOnly(t *testing.T) {
	in := newInstall(t)
	c := sqlite.New(in.dir, in.own)
	src, err := c.Open(context.Background(), connectors.Config{"path": "ok.db"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx := context.Background()
	run := func(q string) error {
		return src.Query(ctx, q, nil, func([]any) error { return nil })
	}
	sneak := filepath.Join(in.dir, "sneak.db")
	for _, q := range []string{
		"INSERT INTO users VALUES ('eve@example.com', 'x')",
		"WITH x AS (SELECT 'eve@example.com', 'x') INSERT INTO users SELECT * FROM x",
		"DELETE FROM users",
		"CREATE TABLE evil (a)",
		"CREATE TEMP TABLE evil (a)",
		"PRAGMA query_only = 0",
		"pragma query_only(0)",
		"ATTACH DATABASE '" + in.own + "' AS own",
		"ATTACH DATABASE '" + sneak + "' AS sneak",
		"VACUUM INTO '" + sneak + "'",
		"SELECT 1; ATTACH DATABASE '" + in.own + "' AS own",
		"SELECT 1; PRAGMA query_only = 0; INSERT INTO users VALUES ('eve@example.com', 'x')",
		"SELECT * FROM (\n1) x; ATTACH '" + in.own + "' AS own; SELECT * FROM (SELECT 1\n)",
	} {
		if err := run(q); err == nil {
			t.Errorf("%s: ran on a read-only source", q)
		}
	}
	// A model's SQL, as previews and syncs wrap it.
	for _, model := range []string{
		"select 1) x; attach '" + in.own + "' as own; select * from own.users where (1",
		"insert into users values ('eve@example.com', 'x') returning *",
	} {
		rel := connectors.Relation{SQL: model}
		if err := run("SELECT * FROM " + src.Dialect().RelationSQL(rel, "m") + " LIMIT 100"); err == nil {
			t.Errorf("model %q ran", model)
		}
		if _, err := src.Columns(ctx, rel); err == nil {
			t.Errorf("model %q described", model)
		}
	}
	var n, queryOnly any
	if err := src.Query(ctx, "SELECT count(*), (SELECT query_only FROM pragma_query_only) FROM users", nil, func(row []any) error {
		n, queryOnly = row[0], row[1]
		return nil
	}); err != nil || n != int64(1) || queryOnly != int64(1) {
		t.Errorf("users = %v, query_only = %v, %v; want 1 row and query_only on", n, queryOnly, err)
	}
	if _, err := os.Stat(sneak); !os.IsNotExist(err) {
		t.Errorf("a file was written in the warehouses directory: %v", err)
	}
	// The validation's lineage runs models' SQL too.
	checks := validate(t, src, []connectors.ModelRef{{Name: "escape", Relation: connectors.Relation{SQL: "select 1) x; attach '" + in.own + "' as own; select (1"}}})
	if last := checks[len(checks)-1]; last.OK || !strings.Contains(last.Message, "Model escape:") {
		t.Errorf("lineage = %+v", last)
	}
}

func TestSQLiteStatementTimeout(t *testing.T) {
	in := newInstall(t)
	src, err := sqlite.NewWithTimeout(in.dir, 200*time.Millisecond).Open(context.Background(), connectors.Config{"path": "ok.db"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	start := time.Now()
	// No row comes before the count ends, and it never ends: only an interrupt stops it.
	endless := "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
	done := make(chan error, 1)
	go func() { done <- src.Query(context.Background(), endless, nil, func([]any) error { return nil }) }()
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the statement ran on past its timeout")
	}
	ce, ok := connectors.AsError(err)
	if !ok || ce.Category != connectors.CategoryTimeout || ce.Message != "The query ran longer than allowed and was stopped." {
		t.Fatalf("err = %v, want the timeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s", d)
	}
	// The same connection answers the next query: the interrupt did not outlive it.
	var one any
	if err := src.Query(context.Background(), "SELECT 1", nil, func(row []any) error { one = row[0]; return nil }); err != nil || one != int64(1) {
		t.Errorf("next query = %v, %v", one, err)
	}
	// A caller's deadline stops it too, as a request going away does.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	long, _ := sqlite.New(in.dir).Open(ctx, connectors.Config{"path": "ok.db"})
	defer long.Close()
	go func() { done <- long.Query(ctx, endless, nil, func([]any) error { return nil }) }()
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the statement ran on past its context's deadline")
	}
	if ce, ok := connectors.AsError(err); !ok || ce.Category != connectors.CategoryTimeout {
		t.Errorf("err = %v, want a timeout", err)
	}
}
