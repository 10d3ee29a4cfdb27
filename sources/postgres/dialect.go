package postgres

import (
	"fmt"

	"sluice/connectors"
	"sluice/sources/sqlsource"
)

var (
	_ connectors.Dialect    = Dialect{}
	_ connectors.KeyOrderer = Dialect{}
)

// Dialect is PostgreSQL's SQL, as the segment compiler needs it. It is a value with no
// connection so segments can be compiled (and their SQL shown) without opening a source.
//
// DaysAgo is now() − N days, a timestamptz: it compares exactly with timestamptz columns,
// and PostgreSQL converts timestamp (without time zone) and date columns to timestamptz
// in the session's TimeZone to compare them. Sluice reads timestamps without a time zone
// as UTC, so the connector opens every session with TimeZone=UTC; with another session
// zone, "in the last N days" on those columns would shift by the zone's offset.
//
// It has no LikeEscape: the compiler's default ESCAPE '\' is right here, since with
// standard_conforming_strings on (the default since PostgreSQL 9.1) '\' is a
// one-backslash literal.
type Dialect struct{}

// Name is "postgres".
func (Dialect) Name() string { return Kind }

// QuoteIdent wraps name in double quotes, doubling inner ones: any column name a
// warehouse allows, upper-case and spaces included, stays one identifier.
func (Dialect) QuoteIdent(name string) string { return sqlsource.QuoteIdent(name) }

// Placeholder is "$n": PostgreSQL numbers its bind parameters.
func (Dialect) Placeholder(n int) string { return fmt.Sprintf("$%d", n) }

// RelationSQL renders a table as "schema"."table" AS "alias", a SQL model as
// (sql) AS "alias", the SQL on lines of its own so a trailing "-- comment" cannot
// swallow the closing parenthesis.
func (Dialect) RelationSQL(rel connectors.Relation, alias string) string {
	return sqlsource.RelationSQL(rel, alias)
}

// DaysAgo is (now() - make_interval(days => ph)). make_interval takes the day count as a
// bound parameter, so it never becomes part of an interval literal, and its days
// argument gives the parameter its type (integer): the bound int64 needs no cast.
func (Dialect) DaysAgo(ph string) string {
	return "(now() - make_interval(days => " + ph + "))"
}

// CaseInsensitiveLike is ILIKE, so "contains" matches regardless of case as marketers expect.
func (Dialect) CaseInsensitiveLike() string { return "ILIKE" }

// KeyTextSQL is CAST(column AS TEXT) COLLATE "C": the C collation compares bytes
// (memcmp), where the database's default collation (en_US…) follows language rules, so
// keys come in Go's string order, the order the engine merges them in.
func (Dialect) KeyTextSQL(column string) string {
	return "CAST(" + column + ` AS TEXT) COLLATE "C"`
}
