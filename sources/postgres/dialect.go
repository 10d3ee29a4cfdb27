package postgres

import (
	"fmt"

	"sluice/connectors"
	"sluice/sources/sqlsource"
)

// Dialect is PostgreSQL's SQL, as the segment compiler needs it. It is a value with no
// connection so segments can be compiled (and their SQL shown) without opening a source.
type Dialect struct{}

// Name is "postgres".
func (Dialect) Name() string { return Kind }

// QuoteIdent wraps name in double quotes, doubling inner ones: any column name a
// warehouse allows, upper-case and spaces included, stays one identifier.
func (Dialect) QuoteIdent(name string) string { return sqlsource.QuoteIdent(name) }

// Placeholder is "$n": PostgreSQL numbers its bind parameters.
func (Dialect) Placeholder(n int) string { return fmt.Sprintf("$%d", n) }

// RelationSQL renders a table as "schema"."table" AS "alias", a SQL model as
// (sql) AS "alias".
func (Dialect) RelationSQL(rel connectors.Relation, alias string) string {
	return sqlsource.RelationSQL(rel, alias)
}

// DaysAgo is now() minus ph days. make_interval takes the day count as a bound integer,
// so the parameter never becomes part of an interval literal.
func (Dialect) DaysAgo(ph string) string {
	return fmt.Sprintf("(now() - make_interval(days => %s::int))", ph)
}

// CaseInsensitiveLike is ILIKE, so "contains" matches regardless of case as marketers expect.
func (Dialect) CaseInsensitiveLike() string { return "ILIKE" }
