package bigquery

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// This file translates the subset of GoogleSQL the bigquery connector writes into
// PostgreSQL, and refuses the rest the way BigQuery refuses what it does not know:
//
//   - `backtick` identifiers and paths (`project.dataset.table`, `dataset`.`table`)
//     become "quoted" ones; the project part must be the fake's project;
//   - "double quoted" text is a string literal, as in GoogleSQL (so a PostgreSQL-style
//     "m"."id" is a syntax error); strings take GoogleSQL's backslash escapes;
//   - @name and ? parameters become typed literals from the request's queryParameters;
//   - CAST(x AS <GoogleSQL type>), CAST(x AS BYTES) as the text's UTF-8 bytes;
//   - TIMESTAMP_SUB / DATETIME_SUB / DATE_SUB (and _ADD) with INTERVAL n DAY|HOUR|MINUTE,
//     CURRENT_TIMESTAMP(), CURRENT_DATETIME([zone]), CURRENT_DATE([zone]);
//   - a short allowlist of ordinary functions (LOWER, UPPER, COUNT, …).
//
// Every other function is "Function not found", ILIKE, ESCAPE, :: casts and $n
// placeholders are syntax errors, and a table after FROM or JOIN must be qualified with
// its dataset unless the request names a default dataset: BigQuery's own rules.

// queryError is an error BigQuery reports about a query: its reason (invalidQuery,
// notFound, accessDenied) decides the HTTP status.
type queryError struct {
	reason  string
	message string
}

func (e *queryError) Error() string { return e.message }

func invalidQuery(format string, args ...any) *queryError {
	return &queryError{reason: "invalidQuery", message: fmt.Sprintf(format, args...)}
}

type tokKind int

const (
	tIdent tokKind = iota
	tQuoted
	tString
	tNumber
	tParam
	tPositional
	tPunct
)

type token struct {
	kind tokKind
	text string // identifier or punctuation as written; decoded string or path
	line int
	col  int
}

func (t token) at() string { return fmt.Sprintf("[%d:%d]", t.line, t.col) }

func (t token) is(word string) bool {
	return (t.kind == tIdent && strings.EqualFold(t.text, word)) || (t.kind == tPunct && t.text == word)
}

// tokenize splits GoogleSQL text into tokens, decoding strings and backtick paths.
func tokenize(sql string) ([]token, error) {
	var toks []token
	line, col := 1, 1
	rs := []rune(sql)
	i := 0
	advance := func(n int) {
		for k := 0; k < n && i < len(rs); k++ {
			if rs[i] == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
			i++
		}
	}
	for i < len(rs) {
		c := rs[i]
		start := token{line: line, col: col}
		switch {
		case unicode.IsSpace(c):
			advance(1)
		case c == '-' && i+1 < len(rs) && rs[i+1] == '-', c == '#':
			for i < len(rs) && rs[i] != '\n' {
				advance(1)
			}
		case c == '/' && i+1 < len(rs) && rs[i+1] == '*':
			advance(2)
			for i < len(rs) && !(rs[i] == '*' && i+1 < len(rs) && rs[i+1] == '/') {
				advance(1)
			}
			if i >= len(rs) {
				return nil, invalidQuery("Syntax error: Unclosed comment at %s", start.at())
			}
			advance(2)
		case c == '`':
			advance(1)
			var b strings.Builder
			for i < len(rs) && rs[i] != '`' {
				if rs[i] == '\\' && i+1 < len(rs) {
					advance(1)
				}
				b.WriteRune(rs[i])
				advance(1)
			}
			if i >= len(rs) {
				return nil, invalidQuery("Syntax error: Unclosed identifier literal at %s", start.at())
			}
			advance(1)
			start.kind, start.text = tQuoted, b.String()
			toks = append(toks, start)
		case c == '\'' || c == '"' || ((c == 'r' || c == 'R') && i+1 < len(rs) && (rs[i+1] == '\'' || rs[i+1] == '"')):
			raw := false
			if c == 'r' || c == 'R' {
				raw = true
				advance(1)
				c = rs[i]
			}
			if i+2 < len(rs) && rs[i+1] == c && rs[i+2] == c {
				return nil, invalidQuery("Syntax error: triple-quoted strings are not supported by this fake at %s", start.at())
			}
			advance(1)
			var b strings.Builder
			closed := false
			for i < len(rs) {
				ch := rs[i]
				if ch == c {
					advance(1)
					closed = true
					break
				}
				if ch == '\n' {
					break
				}
				if ch == '\\' && i+1 < len(rs) {
					if raw {
						b.WriteRune(ch)
						advance(1)
						b.WriteRune(rs[i])
						advance(1)
						continue
					}
					advance(1)
					e := rs[i]
					switch e {
					case 'n':
						b.WriteRune('\n')
					case 't':
						b.WriteRune('\t')
					case 'r':
						b.WriteRune('\r')
					case '\\', '\'', '"', '`', '?':
						b.WriteRune(e)
					case '%', '_':
						// LIKE escapes keep their backslash.
						b.WriteRune('\\')
						b.WriteRune(e)
					default:
						return nil, invalidQuery("Syntax error: Illegal escape sequence: \\%c at %s", e, start.at())
					}
					advance(1)
					continue
				}
				b.WriteRune(ch)
				advance(1)
			}
			if !closed {
				return nil, invalidQuery("Syntax error: Unclosed string literal at %s", start.at())
			}
			start.kind, start.text = tString, b.String()
			toks = append(toks, start)
		case c == '@':
			advance(1)
			j := i
			for i < len(rs) && (rs[i] == '_' || unicode.IsLetter(rs[i]) || unicode.IsDigit(rs[i])) {
				advance(1)
			}
			if i == j {
				return nil, invalidQuery("Syntax error: Unexpected \"@\" at %s", start.at())
			}
			start.kind, start.text = tParam, string(rs[j:i])
			toks = append(toks, start)
		case c == '?':
			advance(1)
			start.kind, start.text = tPositional, "?"
			toks = append(toks, start)
		case unicode.IsDigit(c) || (c == '.' && i+1 < len(rs) && unicode.IsDigit(rs[i+1])):
			j := i
			for i < len(rs) && (unicode.IsDigit(rs[i]) || rs[i] == '.' || rs[i] == 'e' || rs[i] == 'E' ||
				((rs[i] == '+' || rs[i] == '-') && (rs[i-1] == 'e' || rs[i-1] == 'E'))) {
				advance(1)
			}
			start.kind, start.text = tNumber, string(rs[j:i])
			toks = append(toks, start)
		case c == '_' || unicode.IsLetter(c):
			j := i
			for i < len(rs) && (rs[i] == '_' || unicode.IsLetter(rs[i]) || unicode.IsDigit(rs[i])) {
				advance(1)
			}
			start.kind, start.text = tIdent, string(rs[j:i])
			toks = append(toks, start)
		default:
			two := ""
			if i+1 < len(rs) {
				two = string(rs[i : i+2])
			}
			switch two {
			case "<=", ">=", "<>", "!=", "||":
				advance(2)
				start.kind, start.text = tPunct, two
				toks = append(toks, start)
				continue
			case "::":
				return nil, invalidQuery("Syntax error: Unexpected \":\" at %s", start.at())
			}
			if !strings.ContainsRune("(),.*=<>+-/;[]", c) {
				return nil, invalidQuery("Syntax error: Illegal input character %q at %s", string(c), start.at())
			}
			advance(1)
			start.kind, start.text = tPunct, string(c)
			toks = append(toks, start)
		}
	}
	return toks, nil
}

// keywords the subset uses; any other bare word is a column, alias or function name.
var keywords = map[string]bool{
	"SELECT": true, "FROM": true, "WHERE": true, "AND": true, "OR": true, "NOT": true, "IN": true,
	"IS": true, "NULL": true, "AS": true, "ORDER": true, "BY": true, "GROUP": true, "LIMIT": true,
	"OFFSET": true, "CASE": true, "WHEN": true, "THEN": true, "ELSE": true, "END": true, "LIKE": true,
	"DESC": true, "ASC": true, "TRUE": true, "FALSE": true, "JOIN": true, "LEFT": true, "RIGHT": true,
	"INNER": true, "OUTER": true, "FULL": true, "CROSS": true, "ON": true, "USING": true, "UNION": true,
	"ALL": true, "DISTINCT": true, "WITH": true, "EXISTS": true, "HAVING": true, "BETWEEN": true,
	"NULLS": true, "FIRST": true, "LAST": true, "INTERVAL": true, "EXCEPT": true, "INTERSECT": true,
}

// functions maps the ordinary GoogleSQL functions the fake knows to PostgreSQL's.
var functions = map[string]string{
	"LOWER": "lower", "UPPER": "upper", "COUNT": "count", "SUM": "sum", "MIN": "min", "MAX": "max",
	"AVG": "avg", "COALESCE": "coalesce", "IFNULL": "coalesce", "LENGTH": "length", "CONCAT": "concat",
	"ABS": "abs", "TRIM": "trim", "NULLIF": "nullif",
}

// castTypes maps GoogleSQL type names to PostgreSQL's; BYTES is handled apart.
var castTypes = map[string]string{
	"STRING": "text", "INT64": "bigint", "INTEGER": "bigint", "FLOAT64": "double precision",
	"NUMERIC": "numeric", "DECIMAL": "numeric", "BIGNUMERIC": "numeric", "BIGDECIMAL": "numeric",
	"BOOL": "boolean", "BOOLEAN": "boolean", "DATE": "date", "DATETIME": "timestamp",
	"TIMESTAMP": "timestamptz", "JSON": "jsonb", "TIME": "time",
}

// translation is one query's PostgreSQL text and what it reads.
type translation struct {
	sql     string
	tables  []tableRef // every dataset.table after FROM or JOIN, in order, once each
	names   []string   // see selectNames
	aliases map[string]tableRef
	checks  []typeCheck
}

type tableRef struct{ dataset, table string }

// typeCheck is a column compared with date arithmetic ("m"."t" >= TIMESTAMP_SUB(…)),
// whose types must agree: GoogleSQL compares TIMESTAMP with neither DATE nor DATETIME,
// where PostgreSQL would convert silently. check resolves and enforces it.
type typeCheck struct {
	alias, column string
	op, fn        string
	at            token
}

type translator struct {
	project        string
	defaultDataset string
	named          map[string]string // lower-case name → literal
	positional     []string
	nextPositional int
	toks           []token
	pos            int
	ctes           map[string]bool
	tables         []tableRef
	seen           map[tableRef]bool
	aliases        map[string]tableRef // lower-case alias (or table name) → table
	checks         []typeCheck
}

// translate turns one GoogleSQL query into PostgreSQL.
func translate(sql, project, defaultDataset string, named map[string]string, positional []string) (translation, error) {
	toks, err := tokenize(sql)
	if err != nil {
		return translation{}, err
	}
	// One statement: a trailing semicolon is allowed, a script is not.
	for i, t := range toks {
		if t.is(";") {
			if i != len(toks)-1 {
				return translation{}, invalidQuery("Syntax error: this fake runs one statement, not a script, at %s", t.at())
			}
			toks = toks[:i]
		}
	}
	if len(toks) == 0 {
		return translation{}, invalidQuery("Syntax error: Unexpected end of script at [1:1]")
	}
	if !toks[0].is("SELECT") && !toks[0].is("WITH") && !toks[0].is("(") {
		return translation{}, invalidQuery("Syntax error: this fake runs queries only (SELECT or WITH), got %q at %s", toks[0].text, toks[0].at())
	}
	tr := &translator{project: project, defaultDataset: defaultDataset, named: named, positional: positional,
		toks: toks, ctes: map[string]bool{}, seen: map[tableRef]bool{}, aliases: map[string]tableRef{}}
	out, err := tr.until(func(token) bool { return false })
	if err != nil {
		return translation{}, err
	}
	if tr.pos < len(tr.toks) {
		t := tr.toks[tr.pos]
		return translation{}, invalidQuery("Syntax error: Unexpected %q at %s", t.text, t.at())
	}
	if len(positional) > 0 && tr.nextPositional != len(positional) {
		return translation{}, invalidQuery("Query has %d positional parameters but %d were provided", tr.nextPositional, len(positional))
	}
	return translation{sql: out, tables: tr.tables, names: selectNames(toks), aliases: tr.aliases, checks: tr.checks}, nil
}

// selectNames is what BigQuery names the outer SELECT's columns: an alias, a column's
// own name, or "" for an expression without one (f0_, f1_… by position). It is nil
// when the list has a star, whose names only the database knows.
func selectNames(toks []token) []string {
	start := -1
	depth := 0
	for i, t := range toks {
		switch {
		case t.is("("):
			depth++
		case t.is(")"):
			depth--
		case depth == 0 && t.is("SELECT"):
			start = i + 1
		}
		if start >= 0 {
			break
		}
	}
	if start < 0 {
		return nil
	}
	if start < len(toks) && (toks[start].is("DISTINCT") || toks[start].is("ALL")) {
		start++
	}
	var names []string
	var item []token
	flush := func() bool {
		if len(item) == 0 {
			return false
		}
		last := item[len(item)-1]
		switch {
		case last.is("*"):
			return false
		case len(item) >= 2 && item[len(item)-2].is("AS"):
			names = append(names, last.text)
		case len(item)%2 == 1 && (last.kind == tIdent || last.kind == tQuoted) && pathOnly(item):
			parts := strings.Split(last.text, ".")
			names = append(names, parts[len(parts)-1])
		default:
			names = append(names, "")
		}
		item = nil
		return true
	}
	depth = 0
	for _, t := range toks[start:] {
		switch {
		case t.is("("):
			depth++
		case t.is(")"):
			depth--
		}
		if depth == 0 && (t.is("FROM") || t.is(",")) {
			if !flush() {
				return nil
			}
			if t.is("FROM") {
				return names
			}
			continue
		}
		item = append(item, t)
	}
	if !flush() {
		return nil
	}
	return names
}

// pathOnly reports whether tokens are a column path: names joined by dots.
func pathOnly(item []token) bool {
	for i, t := range item {
		if i%2 == 0 && t.kind != tIdent && t.kind != tQuoted {
			return false
		}
		if i%2 == 1 && !t.is(".") {
			return false
		}
	}
	return !keywords[strings.ToUpper(item[len(item)-1].text)] || item[len(item)-1].kind == tQuoted
}

func (tr *translator) peek(k int) (token, bool) {
	if tr.pos+k < len(tr.toks) {
		return tr.toks[tr.pos+k], true
	}
	return token{}, false
}

// until translates tokens up to (not including) the first one at parenthesis depth 0
// for which stop is true, or a closing parenthesis of an enclosing level.
func (tr *translator) until(stop func(token) bool) (string, error) {
	var b strings.Builder
	depth := 0
	prev := token{kind: tPunct, text: ""}
	emit := func(s string) {
		if b.Len() > 0 && s != ")" && s != "," && s != "." && !strings.HasSuffix(b.String(), "(") && !strings.HasSuffix(b.String(), ".") {
			b.WriteByte(' ')
		}
		b.WriteString(s)
	}
	for tr.pos < len(tr.toks) {
		t := tr.toks[tr.pos]
		if depth == 0 && (stop(t) || t.is(")")) {
			break
		}
		switch {
		case t.is("("):
			depth++
			emit("(")
			tr.pos++
		case t.is(")"):
			depth--
			emit(")")
			tr.pos++
		case t.kind == tString:
			if next, ok := tr.peek(1); ok && next.is(".") {
				return "", invalidQuery("Syntax error: Unexpected string literal %q at %s", t.text, t.at())
			}
			emit(pgString(t.text))
			tr.pos++
		case t.kind == tNumber:
			emit(t.text)
			tr.pos++
		case t.kind == tParam:
			lit, ok := tr.named[strings.ToLower(t.text)]
			if !ok {
				return "", invalidQuery("Query parameter '%s' not found at %s", t.text, t.at())
			}
			emit(lit)
			tr.pos++
		case t.kind == tPositional:
			if tr.nextPositional >= len(tr.positional) {
				return "", invalidQuery("Query has more positional parameters than were provided at %s", t.at())
			}
			emit(tr.positional[tr.nextPositional])
			tr.nextPositional++
			tr.pos++
		case t.kind == tPunct:
			tr.noteComparison(t)
			emit(t.text)
			tr.pos++
		case t.kind == tQuoted || t.kind == tIdent:
			up := strings.ToUpper(t.text)
			if t.kind == tIdent && (up == "ILIKE" || up == "ESCAPE" || up == "SIMILAR" || up == "RETURNING") {
				return "", invalidQuery("Syntax error: Unexpected identifier %q at %s", t.text, t.at())
			}
			if t.kind == tIdent && up == "WITH" {
				emit("WITH")
				tr.pos++
				if err := tr.noteCTEs(); err != nil {
					return "", err
				}
				continue
			}
			if prev.is("FROM") || prev.is("JOIN") {
				s, err := tr.tablePath()
				if err != nil {
					return "", err
				}
				emit(s)
				break
			}
			if next, ok := tr.peek(1); ok && next.is("(") && t.kind == tIdent && !keywords[up] {
				s, err := tr.call(t)
				if err != nil {
					return "", err
				}
				emit(s)
				break
			}
			if next, ok := tr.peek(1); ok && next.kind == tString && t.kind == tIdent && castTypes[up] != "" &&
				(up == "DATE" || up == "DATETIME" || up == "TIMESTAMP" || up == "NUMERIC" || up == "BIGNUMERIC" || up == "JSON") {
				emit("CAST(" + pgString(next.text) + " AS " + castTypes[up] + ")")
				tr.pos += 2
				break
			}
			if t.kind == tIdent && up == "CURRENT_TIMESTAMP" {
				emit("now()")
				tr.pos++
				break
			}
			if t.kind == tIdent && keywords[up] {
				emit(up)
			} else {
				emit(quotePath(t.text, t.kind == tQuoted))
			}
			tr.pos++
		}
		prev = t
	}
	if depth != 0 {
		return "", invalidQuery("Syntax error: Expected \")\" but got end of script")
	}
	return b.String(), nil
}

// noteCTEs records the names a WITH clause defines, so FROM name is not a table.
func (tr *translator) noteCTEs() error {
	depth := 0
	expectName := true
	for k := tr.pos; k < len(tr.toks); k++ {
		t := tr.toks[k]
		switch {
		case t.is("("):
			depth++
		case t.is(")"):
			depth--
		case depth == 0 && t.is(","):
			expectName = true
		case depth == 0 && expectName && (t.kind == tIdent || t.kind == tQuoted) && !t.is("RECURSIVE"):
			tr.ctes[strings.ToLower(t.text)] = true
			expectName = false
		case depth == 0 && t.is("SELECT"):
			return nil
		}
	}
	return nil
}

// tablePath reads a table name after FROM or JOIN: identifiers and backtick paths
// joined by dots.
func (tr *translator) tablePath() (string, error) {
	first := tr.toks[tr.pos]
	var parts []string
	for {
		t := tr.toks[tr.pos]
		if t.kind == tQuoted {
			parts = append(parts, strings.Split(t.text, ".")...)
		} else if t.kind == tIdent && keywords[strings.ToUpper(t.text)] {
			return "", invalidQuery("Syntax error: Unexpected keyword %s at %s", strings.ToUpper(t.text), t.at())
		} else if t.kind == tIdent {
			parts = append(parts, t.text)
		} else {
			return "", invalidQuery("Syntax error: Unexpected %q at %s", t.text, t.at())
		}
		tr.pos++
		if next, ok := tr.peek(0); ok && next.is(".") {
			tr.pos++
			if _, ok := tr.peek(0); !ok {
				return "", invalidQuery("Syntax error: Unexpected end of script")
			}
			continue
		}
		break
	}
	switch len(parts) {
	case 1:
		if tr.ctes[strings.ToLower(parts[0])] {
			return quotePath(parts[0], true), nil
		}
		if tr.defaultDataset == "" {
			return "", invalidQuery("Table %q must be qualified with a dataset (e.g. dataset.table). at %s", parts[0], first.at())
		}
		parts = []string{tr.defaultDataset, parts[0]}
	case 2:
	case 3:
		if parts[0] != tr.project {
			return "", &queryError{reason: "notFound", message: fmt.Sprintf("Not found: Project %s", parts[0])}
		}
		parts = parts[1:]
	default:
		return "", invalidQuery("Invalid table name: %s at %s", strings.Join(parts, "."), first.at())
	}
	ref := tableRef{dataset: parts[0], table: parts[1]}
	alias := parts[1]
	if next, ok := tr.peek(0); ok && next.is("AS") {
		if a, ok := tr.peek(1); ok && (a.kind == tIdent || a.kind == tQuoted) {
			alias = a.text
		}
	} else if ok && (next.kind == tQuoted || next.kind == tIdent && !keywords[strings.ToUpper(next.text)]) {
		alias = next.text
	}
	tr.aliases[strings.ToLower(alias)] = ref
	if !tr.seen[ref] {
		tr.seen[ref] = true
		tr.tables = append(tr.tables, ref)
	}
	return pgIdent(parts[0]) + "." + pgIdent(parts[1]), nil
}

// call translates a function call; tr.pos is at its name.
func (tr *translator) call(name token) (string, error) {
	up := strings.ToUpper(name.text)
	tr.pos += 2 // name and "("
	args, err := tr.args()
	if err != nil {
		return "", err
	}
	switch up {
	case "CAST":
		return tr.cast(name, args)
	case "TIMESTAMP_SUB", "DATETIME_SUB", "DATE_SUB", "TIMESTAMP_ADD", "DATETIME_ADD", "DATE_ADD":
		return tr.dateArith(name, up, args)
	case "CURRENT_TIMESTAMP":
		if len(args) != 0 {
			return "", invalidQuery("No matching signature for function CURRENT_TIMESTAMP at %s", name.at())
		}
		return "now()", nil
	case "CURRENT_DATETIME", "CURRENT_DATE":
		zone := "'UTC'"
		if len(args) > 1 {
			return "", invalidQuery("No matching signature for function %s at %s", up, name.at())
		}
		if len(args) == 1 {
			z, err := tr.sub(args[0])
			if err != nil {
				return "", err
			}
			zone = z
		}
		if up == "CURRENT_DATE" {
			return "CAST((now() AT TIME ZONE " + zone + ") AS date)", nil
		}
		return "(now() AT TIME ZONE " + zone + ")", nil
	}
	fn, ok := functions[up]
	if !ok {
		return "", invalidQuery("Function not found: %s at %s", name.text, name.at())
	}
	parts := make([]string, len(args))
	for i, a := range args {
		s, err := tr.sub(a)
		if err != nil {
			return "", err
		}
		parts[i] = s
	}
	return fn + "(" + strings.Join(parts, ", ") + ")", nil
}

// args splits the tokens of a call's arguments at top-level commas, consuming the
// closing parenthesis.
func (tr *translator) args() ([][]token, error) {
	var out [][]token
	var cur []token
	depth := 0
	for tr.pos < len(tr.toks) {
		t := tr.toks[tr.pos]
		tr.pos++
		switch {
		case t.is("("):
			depth++
		case t.is(")"):
			if depth == 0 {
				if len(cur) > 0 || len(out) > 0 {
					out = append(out, cur)
				}
				return out, nil
			}
			depth--
		case t.is(",") && depth == 0:
			out = append(out, cur)
			cur = nil
			continue
		}
		cur = append(cur, t)
	}
	return nil, invalidQuery("Syntax error: Expected \")\" but got end of script")
}

// sub translates a slice of tokens with the translator's parameters and tables.
func (tr *translator) sub(toks []token) (string, error) {
	if len(toks) == 0 {
		return "", invalidQuery("Syntax error: Unexpected \")\"")
	}
	saved, savedPos := tr.toks, tr.pos
	tr.toks, tr.pos = toks, 0
	s, err := tr.until(func(token) bool { return false })
	if err == nil && tr.pos < len(tr.toks) {
		t := tr.toks[tr.pos]
		err = invalidQuery("Syntax error: Unexpected %q at %s", t.text, t.at())
	}
	tr.toks, tr.pos = saved, savedPos
	return s, err
}

func (tr *translator) cast(name token, args [][]token) (string, error) {
	if len(args) != 1 {
		return "", invalidQuery("Syntax error: Expected keyword AS at %s", name.at())
	}
	a := args[0]
	asAt := -1
	depth := 0
	for i, t := range a {
		switch {
		case t.is("("):
			depth++
		case t.is(")"):
			depth--
		case depth == 0 && t.is("AS"):
			asAt = i
		}
	}
	if asAt < 0 || asAt != len(a)-2 || a[len(a)-1].kind != tIdent {
		return "", invalidQuery("Syntax error: Expected keyword AS at %s", name.at())
	}
	typ := strings.ToUpper(a[len(a)-1].text)
	inner, err := tr.sub(a[:asAt])
	if err != nil {
		return "", err
	}
	if typ == "BYTES" {
		return "convert_to(CAST(" + inner + " AS text), 'UTF8')", nil
	}
	pg, ok := castTypes[typ]
	if !ok {
		return "", invalidQuery("Type not found: %s at %s", a[len(a)-1].text, a[len(a)-1].at())
	}
	return "CAST(" + inner + " AS " + pg + ")", nil
}

var intervalUnits = map[string]string{"DAY": "days", "HOUR": "hours", "MINUTE": "mins", "SECOND": "secs", "WEEK": "weeks"}

func (tr *translator) dateArith(name token, fn string, args [][]token) (string, error) {
	if len(args) != 2 || len(args[1]) < 3 || !args[1][0].is("INTERVAL") {
		return "", invalidQuery("No matching signature for function %s at %s", fn, name.at())
	}
	iv := args[1]
	unitTok := iv[len(iv)-1]
	unit, ok := intervalUnits[strings.ToUpper(unitTok.text)]
	if !ok || unitTok.kind != tIdent {
		return "", invalidQuery("Syntax error: Unexpected %q at %s", unitTok.text, unitTok.at())
	}
	if strings.HasPrefix(fn, "DATE_") && unit != "days" && unit != "weeks" {
		return "", invalidQuery("No matching signature for function %s for argument types: DATE, INTERVAL %s at %s", fn, unitTok.text, name.at())
	}
	base, err := tr.sub(args[0])
	if err != nil {
		return "", err
	}
	n, err := tr.sub(iv[1 : len(iv)-1])
	if err != nil {
		return "", err
	}
	op := "-"
	if strings.HasSuffix(fn, "_ADD") {
		op = "+"
	}
	expr := "(" + base + " " + op + " make_interval(" + unit + " => CAST(" + n + " AS integer)))"
	switch {
	case strings.HasPrefix(fn, "DATE_"):
		return "CAST(" + expr + " AS date)", nil
	case strings.HasPrefix(fn, "DATETIME_"):
		return "CAST(" + expr + " AS timestamp)", nil
	}
	return expr, nil
}

// quotePath renders an identifier; a backtick path with dots becomes a qualified name.
func quotePath(s string, quoted bool) string {
	if !quoted {
		return pgIdent(s)
	}
	parts := strings.Split(s, ".")
	for i, p := range parts {
		parts[i] = pgIdent(p)
	}
	return strings.Join(parts, ".")
}

// pgIdent quotes an identifier for PostgreSQL. BigQuery column names are
// case-insensitive; the fake's tables are created with the names as the tests write
// them, so names keep their case.
func pgIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// pgString is a PostgreSQL string literal (standard_conforming_strings on).
func pgString(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, "\x00", ""), "'", "''") + "'"
}

// paramLiteral renders a query parameter's value as a typed PostgreSQL literal. A
// STRING parameter stays untyped so that, as in GoogleSQL's parameter coercion, it
// compares with DATE, DATETIME and TIMESTAMP columns.
func paramLiteral(typ string, value *string) (string, error) {
	pg, known := map[string]string{
		"STRING": "", "INT64": "bigint", "FLOAT64": "double precision", "NUMERIC": "numeric",
		"BIGNUMERIC": "numeric", "BOOL": "boolean", "DATE": "date", "DATETIME": "timestamp",
		"TIMESTAMP": "timestamptz", "BYTES": "bytea", "JSON": "jsonb",
	}[typ]
	if !known {
		return "", invalidQuery("Unsupported query parameter type %s in this fake", typ)
	}
	if value == nil {
		if pg == "" {
			pg = "text"
		}
		return "CAST(NULL AS " + pg + ")", nil
	}
	v := *value
	switch typ {
	case "STRING":
		return pgString(v), nil
	case "INT64":
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return "", invalidQuery("Invalid value for query parameter of type INT64: %s", v)
		}
	case "FLOAT64":
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return "", invalidQuery("Invalid value for query parameter of type FLOAT64: %s", v)
		}
	case "BOOL":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return "", invalidQuery("Invalid value for query parameter of type BOOL: %s", v)
		}
		return strings.ToUpper(strconv.FormatBool(b)), nil
	case "BYTES":
		raw, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return "", invalidQuery("Invalid value for query parameter of type BYTES: not base64")
		}
		return "decode('" + base64.StdEncoding.EncodeToString(raw) + "', 'base64')", nil
	}
	return "CAST(" + pgString(v) + " AS " + pg + ")", nil
}

// noteComparison records a column compared with date arithmetic; tr.pos is at the
// operator.
func (tr *translator) noteComparison(op token) {
	switch op.text {
	case "=", "<>", "!=", "<", "<=", ">", ">=":
	default:
		return
	}
	next, ok := tr.peek(1)
	if !ok || next.kind != tIdent {
		return
	}
	fn := strings.ToUpper(next.text)
	if fn != "TIMESTAMP_SUB" && fn != "DATETIME_SUB" && fn != "DATE_SUB" && fn != "TIMESTAMP_ADD" && fn != "DATETIME_ADD" && fn != "DATE_ADD" {
		return
	}
	name := func(t token) bool { return t.kind == tIdent || t.kind == tQuoted }
	c := typeCheck{op: op.text, fn: fn, at: op}
	switch {
	case tr.pos >= 3 && name(tr.toks[tr.pos-1]) && tr.toks[tr.pos-2].is(".") && name(tr.toks[tr.pos-3]):
		c.alias, c.column = tr.toks[tr.pos-3].text, tr.toks[tr.pos-1].text
	case tr.pos >= 1 && name(tr.toks[tr.pos-1]):
		c.column = tr.toks[tr.pos-1].text
	default:
		return
	}
	tr.checks = append(tr.checks, c)
}
