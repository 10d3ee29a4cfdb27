package databricks

import (
	"strconv"
	"strings"
	"time"

	"sluice/connectors"
	"sluice/sources/sqlsource"
)

var (
	_ connectors.Dialect     = Dialect{}
	_ connectors.KeyOrderer  = Dialect{}
	_ connectors.LikeEscaper = Dialect{}
	_ connectors.TimeBinder  = Dialect{}
)

// Dialect is Databricks SQL as the segment compiler needs it. Catalog, when set, is
// written before a table's schema so a relation names exactly one table whatever the
// statement's default catalog; it is the source's configured catalog.
type Dialect struct {
	Catalog string
}

// Name is "databricks".
func (Dialect) Name() string { return Kind }

// QuoteIdent wraps name in backticks, doubling inner ones: Databricks' quoted
// identifier. A double-quoted "name" is a string literal there, not an identifier.
func (Dialect) QuoteIdent(name string) string {
	name = strings.ReplaceAll(name, "\x00", "")
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// Placeholder is the named parameter marker :pN; the connector sends each argument as
// the parameter named pN of the statement (the Statement Execution API takes no
// positional ? markers).
func (Dialect) Placeholder(n int) string { return ":p" + strconv.Itoa(n) }

// RelationSQL renders a table as `catalog`.`schema`.`table` AS `alias`, a SQL model as
// (sql) AS `alias`, the SQL on lines of its own so a trailing "-- comment" cannot
// swallow the closing parenthesis.
func (d Dialect) RelationSQL(rel connectors.Relation, alias string) string {
	return sqlsource.QuotedRelationSQL(d.QuoteIdent, rel, alias, d.Catalog)
}

// DaysAgo is (current_timestamp() - make_dt_interval(CAST(ph AS INT))): an instant,
// which Databricks compares with TIMESTAMP columns as instants and with DATE columns by
// casting the date to the timestamp of its midnight in the session's time zone (UTC
// unless the warehouse sets another). make_dt_interval takes its days as an INT; the
// bound parameter is sent as a BIGINT, hence the cast.
func (Dialect) DaysAgo(ph string) string {
	return "(current_timestamp() - make_dt_interval(CAST(" + ph + " AS INT)))"
}

// CaseInsensitiveLike is ILIKE, which Databricks SQL has (str ilike pattern).
func (Dialect) CaseInsensitiveLike() string { return "ILIKE" }

// LikeEscape is empty: backslash is already the escape character of Databricks' LIKE
// and ILIKE ("escape: a single character string literal; the default is '\'"), and the
// standard spelling ESCAPE '\' would not parse, since Databricks reads a backslash in a
// string literal as an escape.
func (Dialect) LikeEscape() string { return "" }

// KeyTextSQL is CAST(column AS STRING) COLLATE UTF8_BINARY. Databricks compares strings
// "by their binary UTF8 representation" under the UTF8_BINARY collation, its system
// default (SQL reference, "Collation"); UTF-8 byte order is Go's string order. The
// collation is written out rather than trusted as the default because a column, a
// schema or a session (SET COLLATION) may default to UTF8_LCASE or a locale's, and an
// explicit COLLATE outranks all of them (collation precedence).
func (Dialect) KeyTextSQL(column string) string {
	return "CAST(" + column + " AS STRING) COLLATE UTF8_BINARY"
}

// Date is a DATE operand: BindTime gives one for a date column, so the connector sends
// it as a DATE parameter ("2024-03-01"), which compares with the column as a day; a
// timestamp operand stays a time.Time and is sent as a TIMESTAMP instant.
type Date struct{ time.Time }

// BindTime binds a day for a DATE column as a Date, anything else as the instant.
func (Dialect) BindTime(t time.Time, typ connectors.ColumnType) any {
	if typ == connectors.TypeDate {
		return Date{t}
	}
	return t
}
