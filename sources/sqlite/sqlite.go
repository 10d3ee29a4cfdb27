// Package sqlite is the SQLite source connector: a file on the Sluice server used as the
// demo warehouse, so Sluice can be tried without a real one. It reads the file through
// database/sql with the pure-Go driver (no cgo), always read-only: a source is something
// Sluice reads, never writes.
//
// A file on the server is not something every admin may name, so the connector reads
// only files inside one directory (Dir: "warehouses" under the data dir), checked after
// symbolic links are resolved, and never Sluice's own database, even when the settings
// put it there. Every refusal (outside the directory, missing, a directory, not a
// database, Sluice's own) is worded the same, so the answer tells nothing about which
// files exist on the server. Connections open the file with mode=ro and query_only, and
// run one statement at a time: without a ";" a model's SQL cannot ATTACH another file,
// VACUUM INTO one, or turn query_only off.
//
// The seed's five validation stages are kept, adapted to a file: connection (the file
// exists and opens read-only as a SQLite database), access (a query runs), schema (the
// main schema's catalogue is readable), grants (SQLite has none: the file being readable
// is the grant) and lineage (every model's table exists, every model's SQL runs).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"

	sqlitedriver "github.com/glebarez/go-sqlite" // registers the "sqlite" driver
	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"

	"sluice/connectors"
	"sluice/sources/sqlsource"
)

// Kind is the registry key of the SQLite connector.
const Kind = "sqlite"

// Schema is the only schema a source file has: SQLite calls the opened file "main".
const Schema = "main"

// SQLite result codes the messages tell apart (primary codes; extended codes carry them
// in their low byte).
const (
	codeCantOpen = 14
	codeNotADB   = 26
)

// DirName is the directory, under the data dir, that SQLite sources read from.
const DirName = "warehouses"

// Dir is the directory SQLite sources are confined to, for a data dir. main registers
// the connector with it, and the demo writes its warehouse there.
func Dir(dataDir string) string { return filepath.Join(dataDir, DirName) }

// DefaultQueryTimeout bounds each statement, as the PostgreSQL connector's does: a
// sync's extraction is one statement that stays open while the destination loads, so it
// is long; previews and counts end sooner, with their requests.
const DefaultQueryTimeout = time.Hour

// New returns the SQLite source connector, for main to register. It opens only SQLite
// files inside dir, and never one of deny (Sluice's own database: the settings may put
// it inside dir), compared after resolving symbolic links and by file identity.
func New(dir string, deny ...string) connectors.SourceConnector {
	if abs, err := filepath.Abs(dir); err == nil && dir != "" {
		dir = abs
	}
	return connector{dir: dir, deny: deny, timeout: DefaultQueryTimeout}
}

type connector struct {
	dir     string
	deny    []string
	timeout time.Duration
}

// Spec has one field, the file's path, since the file is all a SQLite source is.
func (c connector) Spec() connectors.SourceSpec {
	return connectors.SourceSpec{
		Kind:  Kind,
		Label: "SQLite (demo warehouse)",
		Fields: []connectors.FieldSpec{
			{Name: "path", Label: "File", Type: connectors.FieldString, Required: true,
				Help: fmt.Sprintf("The name of a SQLite file in %s on the Sluice server, e.g. demo-warehouse.db. Sluice opens it read-only and reads no file outside that folder.", c.dir)},
		},
	}
}

// Open checks the path and prepares a read-only handle on the file it names. A path
// Sluice may not read opens nothing: the source answers every use (the connection
// stage, a preview, a run) with the one refusal that does not say why, as a source
// that cannot connect does, so the forms and the API report it where they report
// connection problems.
func (c connector) Open(ctx context.Context, cfg connectors.Config) (connectors.Source, error) {
	in := connectors.Config{"path": strings.TrimSpace(cfg["path"])}
	if err := in.Validate(c.Spec().Fields); err != nil {
		return nil, err
	}
	path, ok := c.locate(in["path"])
	if !ok {
		return &source{c: c}, nil
	}
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, c.refusal(err)
	}
	db.SetMaxOpenConns(4)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return &source{c: c, path: path, db: db}, nil
}

// locate resolves a path given in a source's settings (relative to the directory, or
// absolute) to the real file it names, and says whether Sluice may read it: a regular
// file inside the directory once every symbolic link is resolved, and not one of the
// denied files (the same file under another name, a hard link, counts as the same).
func (c connector) locate(name string) (string, bool) {
	if c.dir == "" || name == "" || strings.ContainsRune(name, 0) {
		return "", false
	}
	dir, err := filepath.EvalSymlinks(c.dir)
	if err != nil {
		return "", false
	}
	if !filepath.IsAbs(name) {
		name = filepath.Join(c.dir, name)
	}
	real, err := filepath.EvalSymlinks(name)
	if err != nil {
		return "", false
	}
	if real, err = filepath.Abs(real); err != nil {
		return "", false
	}
	rel, err := filepath.Rel(dir, real)
	if err != nil || !filepath.IsLocal(rel) {
		return "", false
	}
	fi, err := os.Stat(real)
	if err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	for _, d := range c.deny {
		if df, err := os.Stat(d); err == nil && os.SameFile(fi, df) {
			return "", false
		}
		if dr, err := filepath.EvalSymlinks(d); err == nil && dr == real {
			return "", false
		}
	}
	return real, true
}

// refusal is the one answer to a path Sluice may not read, whatever the reason:
// outside the directory, missing, a directory, not a SQLite database, Sluice's own. It
// carries no detail, since details are shown in previews and run logs; err is kept
// for errors.Is only.
func (c connector) refusal(err error) *connectors.Error {
	return &connectors.Error{Category: connectors.CategoryConfiguration, Field: "path", Err: err,
		Message: fmt.Sprintf("Sluice can only read SQLite database files in %s. Put the file there and give its name.", c.dir)}
}

// dsn is a SQLite URI filename opening path read-only: mode=ro also stops SQLite from
// creating a missing file, and query_only (run by the driver on every new connection)
// refuses writes even to the temp schema. The path is escaped, since "?" or "#" in it
// would otherwise start the query or fragment.
func dsn(path string) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: "mode=ro&_pragma=query_only(1)"}
	return u.String()
}

// source is an open, read-only SQLite file, or (db nil) a refused path.
type source struct {
	c    connector
	path string // resolved, inside c.dir
	db   *sql.DB
}

// refused is the refusal when the path was refused at Open, nil otherwise.
func (s *source) refused() error {
	if s.db == nil {
		return s.c.refusal(nil)
	}
	return nil
}

// Dialect is SQLite's SQL, for the segment compiler.
func (s *source) Dialect() connectors.Dialect { return Dialect{} }

// Close closes the file.
func (s *source) Close() error {
	if s.db == nil {
		return nil
	}
	return s.db.Close()
}

// Validate runs the five stages on one connection, so they see the same file state.
func (s *source) Validate(ctx context.Context, models []connectors.ModelRef) []connectors.Check {
	var conn *sql.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	return sqlsource.Stages{
		Connection: func(ctx context.Context) (bool, string) {
			// Checked again: the file may have changed since Open.
			if _, ok := s.c.locate(s.path); !ok || s.db == nil {
				return false, s.c.refusal(nil).Message
			}
			c, err := s.db.Conn(ctx)
			if err == nil {
				conn = c
				// Reading the header is what tells a SQLite file from any other file.
				var version int64
				err = conn.QueryRowContext(ctx, "PRAGMA main.schema_version").Scan(&version)
			}
			if err != nil {
				return false, s.classify(err).Message
			}
			return true, fmt.Sprintf("Opened %s read-only.", s.path)
		},
		Access: func(ctx context.Context) (bool, string) {
			var one int
			if err := conn.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
				return false, s.classify(err).Message
			}
			return true, "Queries run."
		},
		Schema: func(ctx context.Context) (bool, string) {
			var n int
			if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM main.sqlite_master WHERE type IN ('table', 'view')`).Scan(&n); err != nil {
				return false, s.classify(err).Message
			}
			return true, fmt.Sprintf("Schema main is readable (%d tables and views).", n)
		},
		Grants: func(ctx context.Context) (bool, string) {
			return true, "SQLite has no grants: the file is readable."
		},
		Lineage: func(ctx context.Context) (bool, string) {
			return sqlsource.Lineage(ctx, models, func(ctx context.Context, m connectors.ModelRef) error {
				return s.resolve(ctx, conn, m)
			})
		},
	}.Run(ctx)
}

// oneStatement refuses SQL holding a ";", or not beginning as a query does. The driver
// runs every statement of a string, and Sluice only ever sends one SELECT (a model's
// trailing ";" is trimmed before it is wrapped in one), so a ";" can only be a model's
// SQL trying to run a second statement: ATTACH another file (Sluice's own database),
// VACUUM INTO one, or PRAGMA query_only back off. Refusing the character rather than
// parsing statements leaves no tokenizer to disagree with SQLite's; a semicolon inside
// a string can be written char(59). Only SELECT, WITH and VALUES may begin the
// statement: no PRAGMA, ATTACH or VACUUM reaches the connection even on its own.
func oneStatement(sql string) error {
	if strings.Contains(sql, ";") {
		return &connectors.Error{Category: connectors.CategoryConfiguration,
			Message: "A SQLite model runs one SELECT statement: remove the “;” from its SQL (write char(59) for a semicolon inside a string)."}
	}
	rest := strings.TrimLeft(sql, " \t\r\n(")
	end := strings.IndexFunc(rest, func(r rune) bool { return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') })
	if end < 0 {
		end = len(rest)
	}
	switch strings.ToUpper(rest[:end]) {
	case "SELECT", "WITH", "VALUES":
		return nil
	}
	return &connectors.Error{Category: connectors.CategoryConfiguration,
		Message: "Sluice only reads the warehouse: a query must be one SELECT statement."}
}

// resolve answers nil when the model's table exists or its SQL runs.
func (s *source) resolve(ctx context.Context, conn *sql.Conn, m connectors.ModelRef) error {
	if t := m.Relation.Table; t != nil {
		if t.Schema != "" && !strings.EqualFold(t.Schema, Schema) {
			return fmt.Errorf("the schema %s does not exist in a SQLite file (only main does)", sqlsource.DisplayIdent(t.Schema))
		}
		var n int
		err := conn.QueryRowContext(ctx, `SELECT count(*) FROM main.sqlite_master WHERE type IN ('table', 'view') AND name = ? COLLATE NOCASE`, t.Name).Scan(&n)
		if err != nil {
			return s.classify(err)
		}
		if n == 0 {
			return fmt.Errorf("the table %s no longer exists", sqlsource.DisplayIdent(t.Name))
		}
		return nil
	}
	if sqlsource.TrimSQL(m.Relation.SQL) == "" {
		return errors.New("it has neither a table nor SQL")
	}
	// Run with LIMIT 0 rather than only prepared: SQLite checks a prepared statement
	// against schema changes made by other connections when it steps, not before.
	q := sqlsource.ModelSQL(m.Relation.SQL)
	if err := oneStatement(q); err != nil {
		return err
	}
	defer interruptOnDone(ctx, conn)()
	rows, err := conn.QueryContext(ctx, q)
	if err == nil {
		for rows.Next() {
		}
		err = rows.Err()
		rows.Close()
	}
	if err != nil {
		return fmt.Errorf("its SQL no longer runs: %s", plainMessage(err))
	}
	return nil
}

// Schemas is always ["main"].
func (s *source) Schemas(ctx context.Context) ([]string, error) {
	if err := s.refused(); err != nil {
		return nil, err
	}
	return []string{Schema}, nil
}

// Tables lists the file's tables and views, SQLite's internal ones left out.
func (s *source) Tables(ctx context.Context, schema string) ([]connectors.Table, error) {
	if err := s.refused(); err != nil {
		return nil, fmt.Errorf("sqlite: tables: %w", err)
	}
	if schema != "" && !strings.EqualFold(schema, Schema) {
		return nil, &connectors.Error{Category: connectors.CategoryNotFound, Field: "schema",
			Message: fmt.Sprintf("Schema %q does not exist: a SQLite file has only main.", schema)}
	}
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM main.sqlite_master
WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: tables: %w", s.classify(err))
	}
	defer rows.Close()
	var tables []connectors.Table
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("sqlite: tables: %w", s.classify(err))
		}
		tables = append(tables, connectors.Table{Schema: Schema, Name: name})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: tables: %w", s.classify(err))
	}
	return tables, nil
}

// Columns describes a table from its declared column types, and SQL from the declared
// types SQLite reports for the result columns of "SELECT * FROM (sql) LIMIT 0" (a column
// computed by an expression has none and is unknown).
func (s *source) Columns(ctx context.Context, rel connectors.Relation) ([]connectors.Column, error) {
	if err := s.refused(); err != nil {
		return nil, fmt.Errorf("sqlite: columns: %w", err)
	}
	if t := rel.Table; t != nil {
		rows, err := s.db.QueryContext(ctx, `SELECT name, type FROM pragma_table_info(?, 'main') ORDER BY cid`, t.Name)
		if err != nil {
			return nil, fmt.Errorf("sqlite: columns: %w", s.classify(err))
		}
		defer rows.Close()
		var cols []connectors.Column
		for rows.Next() {
			var name, decl string
			if err := rows.Scan(&name, &decl); err != nil {
				return nil, fmt.Errorf("sqlite: columns: %w", s.classify(err))
			}
			cols = append(cols, connectors.Column{Name: name, Type: NormalizeType(decl), Raw: decl})
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sqlite: columns: %w", s.classify(err))
		}
		if len(cols) == 0 {
			return nil, &connectors.Error{Category: connectors.CategoryNotFound,
				Message: fmt.Sprintf("Table %s does not exist.", sqlsource.DisplayIdent(t.Name))}
		}
		return cols, nil
	}
	if sqlsource.TrimSQL(rel.SQL) == "" {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Message: "The model has neither a table nor SQL."}
	}
	q := sqlsource.ModelSQL(rel.SQL)
	if err := oneStatement(q); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.c.timeout)
	defer cancel()
	var cols []connectors.Column
	err := s.onConn(ctx, func(conn *sql.Conn) error {
		rows, err := conn.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		defer rows.Close()
		types, err := rows.ColumnTypes()
		if err != nil {
			return err
		}
		cols = make([]connectors.Column, len(types))
		for i, ct := range types {
			decl := ct.DatabaseTypeName()
			cols[i] = connectors.Column{Name: ct.Name(), Type: NormalizeType(decl), Raw: decl}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: describe model sql: %w", s.classify(err))
	}
	return cols, nil
}

// Query streams rows to fn through one reused slice. Values are nil, int64, float64,
// string, []byte or time.Time (for columns declared DATE, DATETIME or TIMESTAMP); a
// column declared BOOLEAN holding 0 or 1 arrives as a bool, as it would from PostgreSQL.
// Cancelling ctx interrupts the statement, and so does the connector's timeout.
func (s *source) Query(ctx context.Context, query string, args []any, fn func(row []any) error) error {
	if err := s.refused(); err != nil {
		return fmt.Errorf("sqlite: query: %w", err)
	}
	if err := oneStatement(query); err != nil {
		return fmt.Errorf("sqlite: query: %w", err)
	}
	qctx, cancel := context.WithTimeout(ctx, s.c.timeout)
	defer cancel()
	ctx, parent := qctx, ctx
	return s.onConn(ctx, func(conn *sql.Conn) error {
		return s.query(parent, ctx, conn, query, args, fn)
	})
}

func (s *source) query(parent, ctx context.Context, conn *sql.Conn, query string, args []any, fn func(row []any) error) error {
	rows, err := conn.QueryContext(ctx, query, args...)
	if err != nil {
		return s.queryError(parent, ctx, err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return s.queryError(parent, ctx, err)
	}
	boolean := make([]bool, len(types))
	for i, ct := range types {
		boolean[i] = NormalizeType(ct.DatabaseTypeName()) == connectors.TypeBoolean
	}
	vals := make([]any, len(types))
	ptrs := make([]any, len(types))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return s.queryError(parent, ctx, err)
		}
		for i, v := range vals {
			if n, ok := v.(int64); ok && boolean[i] && (n == 0 || n == 1) {
				vals[i] = n == 1
			}
		}
		if err := fn(vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.queryError(parent, ctx, err)
	}
	return nil
}

// onConn runs fn on one connection of the pool, interrupting its statement when ctx
// ends. A connection that cannot be had is reported in words.
func (s *source) onConn(ctx context.Context, fn func(*sql.Conn) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: connect: %w", s.classify(err))
	}
	defer conn.Close()
	defer interruptOnDone(ctx, conn)()
	return fn(conn)
}

// interruptOnDone interrupts the statement running on conn when ctx ends, until the
// returned func is called. The driver interrupts on ctx only while it prepares a
// statement, not while rows are read, so a SELECT that computes for minutes before its
// first row (a cross join, a recursive CTE) would run on after its request or timeout
// had gone. The returned func waits for an interrupt under way, so it can never reach
// the next statement the connection runs.
func interruptOnDone(ctx context.Context, conn *sql.Conn) (disarm func()) {
	handle := dbHandle(conn)
	if handle == 0 {
		return func() {}
	}
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(done)
		tls := libc.NewTLS()
		defer tls.Close()
		sqlite3.Xsqlite3_interrupt(tls, handle)
	})
	return func() {
		if !stop() {
			<-done
		}
	}
}

// dbHandle is the sqlite3* of a connection of the pure-Go driver, which keeps it in an
// unexported field "db"; 0 if the driver ever stops doing so (statements then run until
// they end, and the timeout test fails).
func dbHandle(conn *sql.Conn) uintptr {
	var handle uintptr
	_ = conn.Raw(func(dc any) error {
		v := reflect.ValueOf(dc)
		if v.Kind() == reflect.Pointer && !v.IsNil() {
			v = v.Elem()
		}
		if v.Kind() == reflect.Struct {
			if f := v.FieldByName("db"); f.IsValid() && f.Kind() == reflect.Uintptr {
				handle = uintptr(f.Uint())
			}
		}
		return nil
	})
	return handle
}

// queryError words a failed query: the caller's context ending, the connector's
// timeout, or SQLite's own error.
func (s *source) queryError(parent, qctx context.Context, err error) error {
	if ctxErr := qctx.Err(); ctxErr != nil {
		ce := &connectors.Error{Category: connectors.CategoryTimeout, Message: "The query ran out of time.", Detail: err.Error(), Err: ctxErr}
		switch {
		case parent.Err() == context.Canceled:
			ce.Category, ce.Message, ce.Err = connectors.CategoryConnection, "The query was cancelled.", context.Canceled
		case parent.Err() == nil:
			ce.Message = "The query ran longer than allowed and was stopped."
		}
		return fmt.Errorf("sqlite: query: %w", ce)
	}
	return fmt.Errorf("sqlite: query: %w", s.classify(err))
}

// classify words a SQLite error for the user, keeping the raw text for the run log.
func (s *source) classify(err error) *connectors.Error {
	if ce, ok := connectors.AsError(err); ok {
		return ce
	}
	e := &connectors.Error{Category: connectors.CategoryConnection, Detail: err.Error(), Err: err}
	var se *sqlitedriver.Error
	code := 0
	if errors.As(err, &se) {
		code = se.Code() & 0xff
	}
	switch {
	case code == codeNotADB, code == codeCantOpen:
		// The same words, and no detail, as any other path Sluice may not read.
		return s.c.refusal(err)
	case errors.Is(err, context.DeadlineExceeded):
		e.Category, e.Retryable = connectors.CategoryTimeout, true
		e.Message = "The query ran out of time."
	case se != nil:
		e.Category = connectors.CategoryConfiguration
		e.Message = fmt.Sprintf("SQLite rejected the query: %s.", plainMessage(err))
	default:
		e.Message = fmt.Sprintf("Reading %s failed.", s.path)
	}
	return e
}

// sqliteMessage matches the driver's "<error class>: <detail> (<code>)".
var sqliteMessage = regexp.MustCompile(`^(?:[^:]+: )?(.*?)(?: \(\d+\))?$`)

// plainMessage is SQLite's own explanation ("no such column: x") without the driver's
// error class and numeric code around it.
func plainMessage(err error) string {
	var se *sqlitedriver.Error
	if !errors.As(err, &se) {
		return err.Error()
	}
	if m := sqliteMessage.FindStringSubmatch(se.Error()); m != nil && m[1] != "" {
		return m[1]
	}
	return se.Error()
}

// NormalizeType maps a declared column type to a normalized type by SQLite's affinity
// rules (a substring of the declared name decides), with the names SQLite itself has no
// affinity for but users declare anyway: BOOLEAN, DATE, DATETIME, TIMESTAMP, JSON.
// No declared type (an expression) is unknown.
func NormalizeType(decl string) connectors.ColumnType {
	t := strings.ToUpper(strings.TrimSpace(decl))
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(t, s) {
				return true
			}
		}
		return false
	}
	switch {
	case t == "":
		return connectors.TypeUnknown
	case has("BOOL"):
		return connectors.TypeBoolean
	case has("DATETIME", "TIMESTAMP"):
		return connectors.TypeTimestamp
	case has("DATE"):
		return connectors.TypeDate
	case has("JSON"):
		return connectors.TypeJSON
	case has("INT"):
		return connectors.TypeInteger
	case has("CHAR", "CLOB", "TEXT", "UUID"):
		return connectors.TypeString
	case has("REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL"):
		return connectors.TypeNumber
	}
	return connectors.TypeUnknown
}

var (
	_ connectors.Dialect    = Dialect{}
	_ connectors.TimeBinder = Dialect{}
	_ connectors.KeyOrderer = Dialect{}
)

// Dialect is SQLite's SQL, as the segment compiler needs it: "quoted" identifiers, ?
// placeholders, LIKE (which ignores case for ASCII letters only).
//
// SQLite has no date type. This dialect assumes what SQLite's own date functions write:
// ISO 8601 text, 'YYYY-MM-DD' for dates and 'YYYY-MM-DD HH:MM:SS' (UTC, optionally with
// fractional seconds) for timestamps, which compare correctly as text. It binds date and
// time operands in that same form (BindTime), and DaysAgo is UTC text too. Other storage
// — a 'T' separator, a time zone suffix, Unix seconds — would compare wrongly; the demo
// data must not use it. Booleans are 0 and 1, as the driver binds a Go bool. LIKE gets
// the compiler's default ESCAPE '\' (SQLite's LIKE has no escape character otherwise).
type Dialect struct{}

// Name is "sqlite".
func (Dialect) Name() string { return Kind }

// QuoteIdent wraps name in double quotes, doubling inner ones (standard SQL, which
// SQLite follows).
func (Dialect) QuoteIdent(name string) string { return sqlsource.QuoteIdent(name) }

// Placeholder is "?": bind parameters are positional in SQLite.
func (Dialect) Placeholder(int) string { return "?" }

// RelationSQL renders a table as "main"."table" AS "alias", a SQL model as (sql) AS
// "alias", the SQL on lines of its own so a trailing "-- comment" cannot swallow the
// closing parenthesis.
func (Dialect) RelationSQL(rel connectors.Relation, alias string) string {
	return sqlsource.RelationSQL(rel, alias)
}

// DaysAgo is datetime('now') minus ph days, as SQLite's "YYYY-MM-DD HH:MM:SS" text in
// UTC: it compares correctly with dates and timestamps stored in that form, which is
// how the demo warehouse stores them.
func (Dialect) DaysAgo(ph string) string {
	return fmt.Sprintf("datetime('now', '-' || %s || ' days')", ph)
}

// CaseInsensitiveLike is LIKE: SQLite's LIKE already ignores case for ASCII letters.
func (Dialect) CaseInsensitiveLike() string { return "LIKE" }

// KeyTextSQL is CAST(column AS TEXT) COLLATE BINARY: BINARY compares bytes (memcmp), so
// keys come in Go's string order. The COLLATE is needed because a CAST of a column keeps
// the column's declared collation (a NOCASE column would order "a" and "A" together).
func (Dialect) KeyTextSQL(column string) string {
	return "CAST(" + column + " AS TEXT) COLLATE BINARY"
}

// BindTime writes a date as 'YYYY-MM-DD' and a time as 'YYYY-MM-DD HH:MM:SS' (with
// fractional seconds only when there are some), in UTC, the text form the columns hold.
// Bound as a time.Time, the driver would write "2006-01-02 15:04:05+00:00", which
// compares wrongly with both.
func (Dialect) BindTime(t time.Time, typ connectors.ColumnType) any {
	t = t.UTC()
	if typ == connectors.TypeDate {
		return t.Format("2006-01-02")
	}
	return t.Format("2006-01-02 15:04:05.999999999")
}
