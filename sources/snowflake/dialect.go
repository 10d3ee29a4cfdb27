package snowflake

import (
	"regexp"
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

// Dialect is Snowflake's SQL, as the segment compiler needs it. It is a value with no
// connection so segments can be compiled without opening a source.
type Dialect struct{}

// Name is "snowflake".
func (Dialect) Name() string { return Kind }

// QuoteIdent wraps name in double quotes, doubling inner ones. A quoted name is
// case-sensitive in Snowflake, so the model's column names are used exactly as the
// catalogue gave them (upper case for columns created unquoted).
func (Dialect) QuoteIdent(name string) string { return sqlsource.QuoteIdent(name) }

// Placeholder is "?": the SQL API numbers bindings by position ("1", "2", …).
func (Dialect) Placeholder(int) string { return "?" }

// RelationSQL renders a table as "SCHEMA"."TABLE" AS "alias" (the request's database
// qualifies it), a SQL model as a subquery on lines of its own.
func (Dialect) RelationSQL(rel connectors.Relation, alias string) string {
	return sqlsource.RelationSQL(rel, alias)
}

// DaysAgo is DATEADD(day, -n, SYSDATE()). SYSDATE() is the current time in UTC as a
// TIMESTAMP_NTZ, the way Sluice reads timestamps without a time zone (CURRENT_TIMESTAMP
// would be in the session's zone); a DATE column compares with it from its midnight.
func (Dialect) DaysAgo(ph string) string { return "DATEADD(day, -" + ph + ", SYSDATE())" }

// CaseInsensitiveLike is ILIKE.
func (Dialect) CaseInsensitiveLike() string { return "ILIKE" }

// LikeEscape is ESCAPE '\\': Snowflake's LIKE has no escape character unless told, and
// in its string constants a backslash escapes, so one backslash is written '\\'.
func (Dialect) LikeEscape() string { return ` ESCAPE '\\'` }

// BindTime binds a date as 'YYYY-MM-DD' and a time as 'YYYY-MM-DD HH:MM:SS.fffffffff'
// (UTC), both as TEXT: Snowflake casts a text value to the DATE or TIMESTAMP it is
// compared with, and the session's TIMEZONE is UTC, so a TIMESTAMP_LTZ or _TZ column
// reads it as the same instant.
func (Dialect) BindTime(t time.Time, typ connectors.ColumnType) any {
	if typ == connectors.TypeDate {
		return t.Format("2006-01-02")
	}
	return t.UTC().Format("2006-01-02 15:04:05.999999999")
}

// KeyTextSQL is COLLATE(TO_VARCHAR(column), 'utf8'). Snowflake compares strings by
// their Unicode code points, which is the UTF-8 byte order and Go's string order, unless
// a collation says otherwise ("Collation support"); a column, table, schema or account
// may carry one (DEFAULT_DDL_COLLATION, e.g. 'en-ci'), so the key's text is given the
// 'utf8' collation explicitly, which is that byte order, whatever the column's.
func (Dialect) KeyTextSQL(column string) string {
	return "COLLATE(TO_VARCHAR(" + column + "), 'utf8')"
}

var plainIdent = regexp.MustCompile(`^[A-Z_][A-Z0-9_$]*$`)

// displayIdent renders a name for a message one may paste into a Snowflake worksheet:
// bare when Snowflake's folding to upper case keeps it (CUSTOMERS), quoted otherwise.
func displayIdent(name string) string {
	if plainIdent.MatchString(name) {
		return name
	}
	return sqlsource.QuoteIdent(name)
}

// displayName is SCHEMA.NAME for messages; an empty schema is left out.
func displayName(schema, name string) string {
	if schema == "" {
		return displayIdent(name)
	}
	return displayIdent(schema) + "." + displayIdent(name)
}
