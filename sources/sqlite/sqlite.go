// Package sqlite is the SQLite source connector: a file on the Sluice server used as the
// demo warehouse, so Sluice can be tried without a real one. It reads the file through
// database/sql with the pure-Go driver (no cgo), always read-only: a source is something
// Sluice reads, never writes.
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
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	sqlitedriver "github.com/glebarez/go-sqlite" // registers the "sqlite" driver

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

// New returns the SQLite source connector, for main to register.
func New() connectors.SourceConnector { return connector{} }

type connector struct{}

// Spec has one field, the file's path, since the file is all a SQLite source is.
func (connector) Spec() connectors.SourceSpec {
	return connectors.SourceSpec{
		Kind:  Kind,
		Label: "SQLite (demo warehouse)",
		Fields: []connectors.FieldSpec{
			{Name: "path", Label: "File path", Type: connectors.FieldString, Required: true,
				Help: "The path of the SQLite file on the Sluice server. Sluice opens it read-only."},
		},
	}
}

// Open checks the config and prepares a read-only handle without touching the file:
// a missing file is the connection stage's to report in words.
func (c connector) Open(ctx context.Context, cfg connectors.Config) (connectors.Source, error) {
	in := connectors.Config{"path": strings.TrimSpace(cfg["path"])}
	if err := in.Validate(c.Spec().Fields); err != nil {
		return nil, err
	}
	path, err := filepath.Abs(in["path"])
	if err != nil {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: "path",
			Message: "The file path is not valid.", Detail: err.Error(), Err: err}
	}
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: "path",
			Message: "The file path is not valid.", Detail: err.Error(), Err: err}
	}
	db.SetMaxOpenConns(4)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return &source{path: path, db: db}, nil
}

// dsn is a SQLite URI filename opening path read-only: mode=ro also stops SQLite from
// creating a missing file. The path is escaped, since "?" or "#" in it would otherwise
// start the query or fragment.
func dsn(path string) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: "mode=ro"}
	return u.String()
}

// source is an open, read-only SQLite file.
type source struct {
	path string
	db   *sql.DB
}

// Dialect is SQLite's SQL, for the segment compiler.
func (s *source) Dialect() connectors.Dialect { return Dialect{} }

// Close closes the file.
func (s *source) Close() error { return s.db.Close() }

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
			if msg := s.fileProblem(); msg != "" {
				return false, msg
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

// fileProblem words what is wrong with the path itself, before SQLite sees it.
func (s *source) fileProblem() string {
	fi, err := os.Stat(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("The file %s does not exist. Check the path.", s.path)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Sprintf("Sluice may not read %s: permission denied.", s.path)
	case err != nil:
		return fmt.Sprintf("Sluice cannot read %s.", s.path)
	case fi.IsDir():
		return fmt.Sprintf("%s is a directory, not a SQLite file.", s.path)
	}
	return ""
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
	rows, err := conn.QueryContext(ctx, sqlsource.ModelSQL(m.Relation.SQL))
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
func (s *source) Schemas(ctx context.Context) ([]string, error) { return []string{Schema}, nil }

// Tables lists the file's tables and views, SQLite's internal ones left out.
func (s *source) Tables(ctx context.Context, schema string) ([]connectors.Table, error) {
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
	rows, err := s.db.QueryContext(ctx, sqlsource.ModelSQL(rel.SQL))
	if err != nil {
		return nil, fmt.Errorf("sqlite: describe model sql: %w", s.classify(err))
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, fmt.Errorf("sqlite: describe model sql: %w", s.classify(err))
	}
	cols := make([]connectors.Column, len(types))
	for i, ct := range types {
		decl := ct.DatabaseTypeName()
		cols[i] = connectors.Column{Name: ct.Name(), Type: NormalizeType(decl), Raw: decl}
	}
	return cols, nil
}

// Query streams rows to fn through one reused slice. Values are nil, int64, float64,
// string, []byte or time.Time (for columns declared DATE, DATETIME or TIMESTAMP); a
// column declared BOOLEAN holding 0 or 1 arrives as a bool, as it would from PostgreSQL.
// Cancelling ctx interrupts the statement.
func (s *source) Query(ctx context.Context, query string, args []any, fn func(row []any) error) error {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return s.queryError(ctx, err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return s.queryError(ctx, err)
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
			return s.queryError(ctx, err)
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
		return s.queryError(ctx, err)
	}
	return nil
}

func (s *source) queryError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		ce := &connectors.Error{Category: connectors.CategoryTimeout, Message: "The query ran out of time.", Detail: err.Error(), Err: ctxErr}
		if ctxErr == context.Canceled {
			ce.Category, ce.Message = connectors.CategoryConnection, "The query was cancelled."
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
	case code == codeNotADB:
		e.Category, e.Field = connectors.CategoryConfiguration, "path"
		e.Message = fmt.Sprintf("The file %s is not a SQLite database.", s.path)
	case code == codeCantOpen:
		e.Field = "path"
		if msg := s.fileProblem(); msg != "" {
			e.Message = msg
		} else {
			e.Message = fmt.Sprintf("SQLite cannot open %s.", s.path)
		}
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
