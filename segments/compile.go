package segments

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"sluice/connectors"
)

// Alias is the name the compiled SQL gives the model's relation. Compile qualifies every
// column with it ("m"."country"), so put the relation in FROM as
// d.RelationSQL(rel, Alias), as CountSQL, BreakdownSQL and SelectSQL do. Qualifying is
// not decoration: SQLite reads an unqualified "name" that matches no column as the
// string 'name', so a column dropped from the table would silently compare a constant
// and empty the segment; "m"."name" fails loudly instead.
const Alias = "m"

// Compile turns a tree into a WHERE expression for the model's relation and its bind
// arguments. It validates first (see Validate; the error is then a *FieldError), and
// writes identifiers only through d.QuoteIdent, from the model's own column list; every
// value goes to args behind d.Placeholder, so no user input is ever SQL text.
//
// Semantics worth knowing (each one a choice, made for how marketers read the rule):
//   - neq and not_in also match rows where the column is NULL — "country is not FR"
//     keeps customers whose country is unknown — where SQL's three-valued logic would
//     drop them; every other comparison, contains and starts_with never match NULL.
//   - an empty all is 1=1 (every row), an empty any 1=0 (none).
//   - contains and starts_with ignore case (d.CaseInsensitiveLike: ILIKE, or SQLite's
//     LIKE, which folds ASCII only; LOWER on both sides of LIKE for a dialect that is a
//     connectors.CaseFolder); the value's %, _ and \ match themselves.
//   - on a timestamp column a bare date means the whole UTC day: "is 2024-03-01" is
//     [03-01, 03-02), "after 2024-03-01" starts on 03-02, "between [03-01, 03-05]" ends
//     with 03-05. A time (RFC 3339) is compared as the instant. Warehouses' timestamps
//     without a time zone are read as UTC.
//   - on a date column only the calendar day counts; a time given for it stands for the
//     day it is written in ("2024-03-01T23:00:00-05:00" is March 1st).
//   - within_last_days N is now − N days ≤ column ≤ now (d.DaysAgo, or DaysAgoFor the
//     column where the dialect is a connectors.ColumnDaysAgo), in the warehouse's
//     clock: future dates are not "in the last N days". A date counts from its
//     midnight, so with N = 7 the dates from six days ago through today match.
//   - between includes both ends.
//
// rel is the relation the expression will filter; Compile checks that it names a table
// or holds a query, so a model without one fails here rather than in the warehouse.
func Compile(d connectors.Dialect, rel connectors.Relation, cond Condition, columns []connectors.Column) (where string, args []any, err error) {
	if d == nil {
		return "", nil, errors.New("segments: compile: no dialect")
	}
	if err := checkRelation(rel); err != nil {
		return "", nil, err
	}
	n, err := plan(cond, columns)
	if err != nil {
		return "", nil, err
	}
	e := emitter{d: d}
	e.node(n)
	return e.sb.String(), e.args, nil
}

// CountSQL is the statement behind a segment's size: SELECT COUNT(*) of the rows that
// match, computed in the warehouse.
func CountSQL(d connectors.Dialect, rel connectors.Relation, cond Condition, cols []connectors.Column) (sql string, args []any, err error) {
	where, args, err := Compile(d, rel, cond, cols)
	if err != nil {
		return "", nil, err
	}
	return "SELECT COUNT(*) FROM " + d.RelationSQL(rel, Alias) + " WHERE " + where, args, nil
}

// MaxBreakdown is the most values a breakdown returns.
const MaxBreakdown = 1000

// BreakdownSQL is the statement behind a segment's breakdown by one column ("who is in
// it, by country"): the column's most frequent values among matching rows, as rows of
// (value, count), ordered by count descending then value, NULL counted as one value
// and sorted after the others among equal counts. limit (1..MaxBreakdown) is written into
// the SQL as a number: it is an int, never user text.
func BreakdownSQL(d connectors.Dialect, rel connectors.Relation, cond Condition, cols []connectors.Column, by string, limit int) (sql string, args []any, err error) {
	col, ok := findColumn(cols, by)
	if !ok {
		return "", nil, fieldErr("by", "column %q is not in the model", by)
	}
	if col.Type == connectors.TypeJSON {
		return "", nil, fieldErr("by", "JSON column %q cannot be broken down", by)
	}
	if limit < 1 || limit > MaxBreakdown {
		return "", nil, fieldErr("limit", "limit must be from 1 to %d", MaxBreakdown)
	}
	where, args, err := Compile(d, rel, cond, cols)
	if err != nil {
		return "", nil, err
	}
	c := columnSQL(d, col.Name)
	sql = "SELECT " + c + " AS " + d.QuoteIdent("value") + ", COUNT(*) AS " + d.QuoteIdent("count") +
		" FROM " + d.RelationSQL(rel, Alias) +
		" WHERE " + where +
		" GROUP BY " + c +
		" ORDER BY COUNT(*) DESC, CASE WHEN " + c + " IS NULL THEN 1 ELSE 0 END, " + c +
		" LIMIT " + strconv.Itoa(limit)
	return sql, args, nil
}

// SelectSQL is the statement a sync extracts the segment with: only selectCols, of the
// rows that match, ordered by orderBy (the model's primary key), so the engine can merge
// it with the last acknowledged state as two key-ordered streams.
func SelectSQL(d connectors.Dialect, rel connectors.Relation, cond Condition, cols []connectors.Column, selectCols []string, orderBy string) (sql string, args []any, err error) {
	if len(selectCols) == 0 {
		return "", nil, fieldErr("columns", "choose at least one column")
	}
	list := make([]string, len(selectCols))
	for i, name := range selectCols {
		col, ok := findColumn(cols, name)
		if !ok {
			return "", nil, fieldErr(fmt.Sprintf("columns[%d]", i), "column %q is not in the model", name)
		}
		list[i] = columnSQL(d, col.Name)
	}
	key, ok := findColumn(cols, orderBy)
	if !ok {
		return "", nil, fieldErr("order_by", "column %q is not in the model", orderBy)
	}
	where, args, err := Compile(d, rel, cond, cols)
	if err != nil {
		return "", nil, err
	}
	sql = "SELECT " + strings.Join(list, ", ") +
		" FROM " + d.RelationSQL(rel, Alias) +
		" WHERE " + where +
		" ORDER BY " + columnSQL(d, key.Name)
	return sql, args, nil
}

func checkRelation(rel connectors.Relation) error {
	switch {
	case rel.Table != nil && rel.SQL != "":
		return errors.New("segments: a relation is a table or a query, not both")
	case rel.Table != nil && rel.Table.Name == "":
		return errors.New("segments: the relation's table has no name")
	case rel.Table == nil && strings.TrimSpace(rel.SQL) == "":
		return errors.New("segments: the relation has neither a table nor a query")
	}
	return nil
}

func findColumn(cols []connectors.Column, name string) (connectors.Column, bool) {
	for _, c := range cols {
		if c.Name == name {
			return c, true
		}
	}
	return connectors.Column{}, false
}

func columnSQL(d connectors.Dialect, name string) string {
	return d.QuoteIdent(Alias) + "." + d.QuoteIdent(name)
}

// emitter writes a checked tree as SQL.
type emitter struct {
	d    connectors.Dialect
	sb   strings.Builder
	args []any
}

// bind adds an argument and returns its placeholder.
func (e *emitter) bind(v any) string {
	e.args = append(e.args, v)
	return e.d.Placeholder(len(e.args))
}

// operand binds a typed value, a date or time as the dialect wants it.
func (e *emitter) operand(v any, typ connectors.ColumnType) string {
	if w, ok := v.(when); ok {
		return e.bindTime(w.t, typ)
	}
	return e.bind(v)
}

func (e *emitter) bindTime(t time.Time, typ connectors.ColumnType) string {
	if tb, ok := e.d.(connectors.TimeBinder); ok {
		return e.bind(tb.BindTime(t, typ))
	}
	return e.bind(t)
}

func (e *emitter) w(parts ...string) {
	for _, p := range parts {
		e.sb.WriteString(p)
	}
}

func (e *emitter) node(n node) {
	if n.group != "" {
		e.group(n)
		return
	}
	e.leaf(n)
}

func (e *emitter) group(n node) {
	switch len(n.children) {
	case 0:
		if n.group == GroupAll {
			e.w("1=1")
		} else {
			e.w("1=0")
		}
		return
	case 1:
		e.node(n.children[0])
		return
	}
	joiner := " AND "
	if n.group == GroupAny {
		joiner = " OR "
	}
	e.w("(")
	for i, k := range n.children {
		if i > 0 {
			e.w(joiner)
		}
		e.node(k)
	}
	e.w(")")
}

// dayRange reports whether a leaf's operand is a whole day on a timestamp column, which
// compiles to a half-open range of instants instead of one instant.
func dayRange(n node, v any) (time.Time, bool) {
	w, ok := v.(when)
	if !ok || !w.day || n.col.Type != connectors.TypeTimestamp {
		return time.Time{}, false
	}
	return w.t, true
}

func (e *emitter) leaf(n node) {
	c := columnSQL(e.d, n.col.Name)
	typ := n.col.Type
	switch n.op {
	case OpIsNull:
		e.w(c, " IS NULL")
	case OpIsNotNull:
		e.w(c, " IS NOT NULL")
	case OpEq, OpNeq, OpGt, OpGte, OpLt, OpLte:
		if day, ok := dayRange(n, n.vals[0]); ok {
			e.dayLeaf(c, n.op, day, typ)
			return
		}
		p := e.operand(n.vals[0], typ)
		switch n.op {
		case OpEq:
			e.w(c, " = ", p)
		case OpNeq:
			e.w("(", c, " <> ", p, " OR ", c, " IS NULL)")
		case OpGt:
			e.w(c, " > ", p)
		case OpGte:
			e.w(c, " >= ", p)
		case OpLt:
			e.w(c, " < ", p)
		case OpLte:
			e.w(c, " <= ", p)
		}
	case OpIn, OpNotIn:
		ps := make([]string, len(n.vals))
		for i, v := range n.vals {
			ps[i] = e.operand(v, typ)
		}
		list := strings.Join(ps, ", ")
		if n.op == OpIn {
			e.w(c, " IN (", list, ")")
		} else {
			e.w("(", c, " NOT IN (", list, ") OR ", c, " IS NULL)")
		}
	case OpContains, OpStartsWith:
		pattern := escapeLike(n.vals[0].(string)) + "%"
		if n.op == OpContains {
			pattern = "%" + pattern
		}
		if cf, ok := e.d.(connectors.CaseFolder); ok {
			e.w(cf.FoldCase(c), " ", e.d.CaseInsensitiveLike(), " ", cf.FoldCase(e.bind(pattern)), e.likeEscape())
			return
		}
		e.w(c, " ", e.d.CaseInsensitiveLike(), " ", e.bind(pattern), e.likeEscape())
	case OpBetween:
		lo := e.operand(n.vals[0], typ)
		if day, ok := dayRange(n, n.vals[1]); ok {
			e.w("(", c, " >= ", lo, " AND ", c, " < ", e.bindTime(day.AddDate(0, 0, 1), typ), ")")
			return
		}
		e.w("(", c, " >= ", lo, " AND ", c, " <= ", e.operand(n.vals[1], typ), ")")
	case OpWithinLastDays:
		daysAgo := e.d.DaysAgo
		if cd, ok := e.d.(connectors.ColumnDaysAgo); ok {
			daysAgo = func(ph string) string { return cd.DaysAgoFor(ph, n.col) }
		}
		from := daysAgo(e.bind(n.vals[0]))
		to := daysAgo(e.bind(int64(0)))
		e.w("(", c, " >= ", from, " AND ", c, " <= ", to, ")")
	}
}

// dayLeaf writes a comparison with a whole day on a timestamp column.
func (e *emitter) dayLeaf(c, op string, day time.Time, typ connectors.ColumnType) {
	next := day.AddDate(0, 0, 1)
	switch op {
	case OpEq:
		e.w("(", c, " >= ", e.bindTime(day, typ), " AND ", c, " < ", e.bindTime(next, typ), ")")
	case OpNeq:
		e.w("(", c, " < ", e.bindTime(day, typ), " OR ", c, " >= ", e.bindTime(next, typ), " OR ", c, " IS NULL)")
	case OpGt:
		e.w(c, " >= ", e.bindTime(next, typ))
	case OpGte:
		e.w(c, " >= ", e.bindTime(day, typ))
	case OpLt:
		e.w(c, " < ", e.bindTime(day, typ))
	case OpLte:
		e.w(c, " < ", e.bindTime(next, typ))
	}
}

func (e *emitter) likeEscape() string {
	if le, ok := e.d.(connectors.LikeEscaper); ok {
		return le.LikeEscape()
	}
	return ` ESCAPE '\'`
}

// likeEscaper escapes LIKE's wildcards and its escape character in a value.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func escapeLike(s string) string { return likeEscaper.Replace(s) }
