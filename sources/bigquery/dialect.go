package bigquery

import (
	"strconv"
	"strings"
	"time"

	"sluice/connectors"
	"sluice/sources/sqlsource"
)

var (
	_ connectors.Dialect       = Dialect{}
	_ connectors.KeyOrderer    = Dialect{}
	_ connectors.LikeEscaper   = Dialect{}
	_ connectors.TimeBinder    = Dialect{}
	_ connectors.CaseFolder    = Dialect{}
	_ connectors.ColumnDaysAgo = Dialect{}
)

// Dialect is GoogleSQL as BigQuery speaks it. It holds no connection, so segments can be
// compiled (and shown) without opening a source.
type Dialect struct{}

// Name is "bigquery".
func (Dialect) Name() string { return Kind }

// QuoteIdent wraps name in backticks, the quoted identifier of GoogleSQL ("Lexical
// structure": quoted identifiers are enclosed by backtick characters and take the
// same escapes as strings), escaping backticks and backslashes inside. NUL bytes are
// dropped.
func (Dialect) QuoteIdent(name string) string {
	name = strings.ReplaceAll(name, "\x00", "")
	name = strings.ReplaceAll(name, `\`, `\\`)
	return "`" + strings.ReplaceAll(name, "`", "\\`") + "`"
}

// Placeholder is "@pN": a named query parameter, bound by Query as pN.
func (Dialect) Placeholder(n int) string { return "@p" + strconv.Itoa(n) }

// RelationSQL renders a table as `dataset`.`table` AS `alias` (the job's project is the
// source's, so the dataset qualifies it fully) and a SQL model as (sql) AS `alias`,
// the SQL on lines of its own so a trailing "-- comment" cannot swallow the parenthesis.
func (d Dialect) RelationSQL(rel connectors.Relation, alias string) string {
	var from string
	if rel.Table != nil {
		from = d.QuoteIdent(rel.Table.Name)
		if rel.Table.Schema != "" {
			from = d.QuoteIdent(rel.Table.Schema) + "." + from
		}
	} else {
		from = "(\n" + sqlsource.TrimSQL(rel.SQL) + "\n)"
	}
	if alias == "" {
		return from
	}
	return from + " AS " + d.QuoteIdent(alias)
}

// DaysAgo is TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL ph DAY), for TIMESTAMP
// columns. GoogleSQL compares a TIMESTAMP with neither DATE nor DATETIME (no implicit
// conversion between them), so the segment compiler asks DaysAgoFor with the column,
// which picks DATETIME arithmetic for DATE and DATETIME columns.
func (Dialect) DaysAgo(ph string) string {
	return "TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL " + ph + " DAY)"
}

// DaysAgoFor is "now minus ph days" in the column's own type family: TIMESTAMP
// arithmetic for a TIMESTAMP column, DATETIME_SUB(CURRENT_DATETIME('UTC'), …) for
// DATETIME and DATE ones (a DATE coerces to DATETIME at its midnight, the "Conversion
// rules"' coercion table, which gives the compiler's "a date counts from its
// midnight"). Sluice reads DATETIME, which has no zone, as UTC, hence the 'UTC'. The
// column's Raw type (from tables.get) decides; without one, a timestamp column is
// taken for TIMESTAMP.
func (d Dialect) DaysAgoFor(ph string, col connectors.Column) string {
	raw := strings.ToUpper(col.Raw)
	if col.Type == connectors.TypeDate || raw == "DATETIME" || raw == "DATE" {
		return "DATETIME_SUB(CURRENT_DATETIME('UTC'), INTERVAL " + ph + " DAY)"
	}
	return d.DaysAgo(ph)
}

// CaseInsensitiveLike is LIKE: GoogleSQL has no ILIKE. Case is folded on both sides
// with FoldCase instead, so "contains" still ignores case.
func (Dialect) CaseInsensitiveLike() string { return "LIKE" }

// FoldCase is LOWER(expr).
func (Dialect) FoldCase(expr string) string { return "LOWER(" + expr + ")" }

// LikeEscape is empty: GoogleSQL's LIKE has no ESCAPE clause (it does not parse), and
// a backslash already escapes %, _ and \ in the pattern ("Operators": LIKE). The pattern
// is a bound parameter, so its backslashes reach LIKE as written.
func (Dialect) LikeEscape() string { return "" }

// BindTime binds dates and times as STRING parameters in canonical form
// ("2024-03-01", "2024-03-01 10:00:00.5"): GoogleSQL coerces a STRING query parameter
// to DATE, DATETIME or TIMESTAMP where one is expected ("Conversion rules", parameter
// coercion), where a TIMESTAMP parameter would not compare with a DATETIME column. A
// string without a zone is read as UTC for a TIMESTAMP, and as the wall-clock time for
// a DATETIME, which Sluice reads as UTC: the same instant either way.
func (Dialect) BindTime(t time.Time, typ connectors.ColumnType) any {
	t = t.UTC()
	if typ == connectors.TypeDate {
		return t.Format("2006-01-02")
	}
	return t.Format("2006-01-02 15:04:05.999999")
}

// KeyTextSQL is CAST(CAST(column AS STRING) AS BYTES). Ordering STRING values follows
// the column's collation: a dataset or table created with the default collation
// 'und:ci' compares case-insensitively ("Collation concepts"), and collation propagates
// through a cast to STRING. BYTES carry no collation and compare byte by byte, and a
// STRING cast to BYTES is its UTF-8 encoding, so the keys come in byte order: Go's
// string order, the order the engine merges in. The key arrives as the bytes of its
// text ([]byte), which the engine reads as the key's text.
func (Dialect) KeyTextSQL(column string) string {
	return "CAST(CAST(" + column + " AS STRING) AS BYTES)"
}
