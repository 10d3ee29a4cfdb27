package databricks

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// The translator: Databricks SQL in, PostgreSQL out, for the subset Sluice's connector
// and the segment compiler emit. It works on tokens, never on text, and refuses what it
// does not know with the error class Databricks would answer, so a statement that would
// fail on a warehouse fails here too (a double-quoted "name" is a string in Databricks,
// and stays one; $1 or :: do not parse).
//
// What it translates:
//
//   - `backtick` identifiers to "double-quoted" ones; unquoted ones pass (both engines
//     fold them the same way for the lower-case names Unity Catalog stores);
//   - 'string' and "string" literals (Databricks reads backslash escapes in both) to
//     standard PostgreSQL literals;
//   - :name parameter markers to $n, cast to the parameter's declared type;
//   - a relation after FROM or JOIN: catalog.schema.table to the PostgreSQL schema
//     "catalog.schema", a two-part name in the statement's catalog, a one-part one in its
//     schema (CTE names excepted); each one is returned so the caller checks grants;
//   - the few functions below; any other function is UNRESOLVED_ROUTINE;
//   - CAST(x AS type) with Databricks type names; COLLATE UTF8_BINARY to COLLATE "C"
//     (both compare bytes); any other collation is refused.

// relation is a table or view a statement reads, resolved to three parts.
type relation struct{ catalog, schema, name string }

func (r relation) String() string { return r.catalog + "." + r.schema + "." + r.name }

// sqlError is a statement failure as Databricks words it: an error class, its message
// and SQLSTATE.
type sqlError struct {
	class, message, state string
}

func (e *sqlError) Error() string {
	return fmt.Sprintf("[%s] %s SQLSTATE: %s", e.class, e.message, e.state)
}

func syntaxError(near string) *sqlError {
	return &sqlError{"PARSE_SYNTAX_ERROR", fmt.Sprintf("Syntax error at or near '%s'.", near), "42601"}
}

type tokKind int

const (
	tIdent  tokKind = iota // unquoted word
	tQuoted                // `identifier`
	tString                // literal, value decoded
	tNumber
	tParam // :name
	tPunct // ( ) , . * = < > etc.
)

type token struct {
	kind tokKind
	text string // the identifier, literal value, number, parameter name or punctuation
}

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isIdentPart(r rune) bool  { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// tokenize splits a Databricks statement into tokens, dropping comments.
func tokenize(sql string) ([]token, error) {
	var out []token
	rs := []rune(sql)
	for i := 0; i < len(rs); {
		c := rs[i]
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '-' && i+1 < len(rs) && rs[i+1] == '-':
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(rs) && rs[i+1] == '*':
			end := strings.Index(string(rs[i+2:]), "*/")
			if end < 0 {
				return nil, syntaxError("/*")
			}
			i += 2 + len([]rune(string(rs[i+2:])[:end])) + 2
		case c == '`':
			var b strings.Builder
			j := i + 1
			for ; j < len(rs); j++ {
				if rs[j] == '`' {
					if j+1 < len(rs) && rs[j+1] == '`' {
						b.WriteRune('`')
						j++
						continue
					}
					break
				}
				b.WriteRune(rs[j])
			}
			if j >= len(rs) {
				return nil, syntaxError("`")
			}
			out = append(out, token{tQuoted, b.String()})
			i = j + 1
		case c == '\'' || c == '"':
			v, n, err := readString(rs[i:])
			if err != nil {
				return nil, err
			}
			out = append(out, token{tString, v})
			i += n
		case c == ':' && i+1 < len(rs) && isIdentStart(rs[i+1]):
			j := i + 1
			for j < len(rs) && isIdentPart(rs[j]) {
				j++
			}
			out = append(out, token{tParam, string(rs[i+1 : j])})
			i = j
		case isIdentStart(c):
			j := i
			for j < len(rs) && isIdentPart(rs[j]) {
				j++
			}
			out = append(out, token{tIdent, string(rs[i:j])})
			i = j
		case unicode.IsDigit(c):
			j := i
			for j < len(rs) && (unicode.IsDigit(rs[j]) || rs[j] == '.' ||
				rs[j] == 'e' || rs[j] == 'E' || ((rs[j] == '-' || rs[j] == '+') && (rs[j-1] == 'e' || rs[j-1] == 'E'))) {
				j++
			}
			out = append(out, token{tNumber, string(rs[i:j])})
			i = j
		default:
			two := ""
			if i+1 < len(rs) {
				two = string(rs[i : i+2])
			}
			switch two {
			case "<>", "<=", ">=", "!=", "||":
				out = append(out, token{tPunct, two})
				i += 2
				continue
			case "::":
				return nil, syntaxError("::")
			}
			if !strings.ContainsRune("(),.*=<>+-/%;", c) {
				return nil, syntaxError(string(c))
			}
			out = append(out, token{tPunct, string(c)})
			i++
		}
	}
	return out, nil
}

// readString reads a literal quoted by rs[0], decoding Databricks' backslash escapes
// (\\, \', \", \n, \t, \r, \0, \%, \_ kept as written for LIKE); it returns the value and
// the runes read.
func readString(rs []rune) (string, int, error) {
	q := rs[0]
	var b strings.Builder
	for i := 1; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == '\\' && i+1 < len(rs):
			i++
			switch rs[i] {
			case 'n':
				b.WriteRune('\n')
			case 't':
				b.WriteRune('\t')
			case 'r':
				b.WriteRune('\r')
			case '0':
				b.WriteRune(0)
			case '%', '_':
				// Spark keeps the backslash before LIKE's wildcards.
				b.WriteRune('\\')
				b.WriteRune(rs[i])
			default:
				b.WriteRune(rs[i])
			}
		case c == q:
			return b.String(), i + 1, nil
		default:
			b.WriteRune(c)
		}
	}
	return "", 0, syntaxError(string(q))
}

// keywords are words that may precede "(" without being a function call, or that end a
// FROM clause.
var keywords = map[string]bool{
	"select": true, "from": true, "where": true, "and": true, "or": true, "not": true, "in": true,
	"exists": true, "as": true, "on": true, "join": true, "left": true, "right": true, "inner": true,
	"outer": true, "full": true, "cross": true, "group": true, "order": true, "by": true, "having": true,
	"limit": true, "union": true, "all": true, "distinct": true, "case": true, "when": true, "then": true,
	"else": true, "end": true, "is": true, "null": true, "like": true, "ilike": true, "escape": true,
	"between": true, "with": true, "asc": true, "desc": true, "nulls": true, "first": true, "last": true,
	"true": true, "false": true, "over": true, "values": true, "using": true, "collate": true, "offset": true,
	"intersect": true, "except": true,
}

// functions maps the Databricks functions the fake runs to PostgreSQL's; "" keeps the name.
var functions = map[string]string{
	"count": "", "sum": "", "min": "", "max": "", "avg": "", "coalesce": "", "lower": "", "upper": "",
	"length": "", "abs": "", "round": "", "nullif": "", "concat": "",
	"current_user":            "current_setting('databricks.current_user')",
	"current_timestamp":       "now()",
	"current_date":            "current_date",
	"is_account_group_member": "__uc.is_account_group_member",
	"make_dt_interval":        "make_interval",
}

// castTypes maps Databricks type names to PostgreSQL's, in CAST and parameter types.
var castTypes = map[string]string{
	"string": "text", "varchar": "text", "char": "text", "int": "integer", "integer": "integer",
	"bigint": "bigint", "long": "bigint", "smallint": "smallint", "short": "smallint", "tinyint": "smallint",
	"byte": "smallint", "double": "double precision", "float": "real", "real": "real", "boolean": "boolean",
	"date": "date", "timestamp": "timestamptz", "timestamp_ntz": "timestamp", "timestamp_ltz": "timestamptz",
	"binary": "bytea", "decimal": "numeric", "dec": "numeric", "numeric": "numeric",
}

// pgType is the PostgreSQL type of a Databricks type name, with its (p,s) if any.
func pgType(name string) (string, bool) {
	base, args, _ := strings.Cut(strings.ToLower(strings.TrimSpace(name)), "(")
	t, ok := castTypes[strings.TrimSpace(base)]
	if !ok {
		return "", false
	}
	if args != "" {
		if t != "numeric" {
			return "", false
		}
		return t + "(" + args, true
	}
	return t, true
}

// statement is a translated statement: PostgreSQL text, the parameters in $n order and
// the relations it reads.
type statement struct {
	sql       string
	params    []string
	relations []relation
}

// translator holds the state of one translation.
type translator struct {
	toks     []token
	pos      int
	out      strings.Builder
	catalog  string
	schema   string
	params   map[string]int
	order    []string
	types    map[string]string
	ctes     map[string]bool
	rels     []relation
	castNext []bool // one per open parenthesis: whether it was opened by CAST
}

// translate turns a Databricks statement into PostgreSQL. types are the parameters'
// declared types by name (STRING when not given).
func translate(sql, catalog, schema string, types map[string]string) (*statement, error) {
	toks, err := tokenize(sql)
	if err != nil {
		return nil, err
	}
	for len(toks) > 0 && toks[len(toks)-1].kind == tPunct && toks[len(toks)-1].text == ";" {
		toks = toks[:len(toks)-1]
	}
	if len(toks) == 0 {
		return nil, syntaxError("end of input")
	}
	first := strings.ToLower(toks[0].text)
	if toks[0].kind != tIdent || (first != "select" && first != "with") {
		if toks[0].kind == tPunct && toks[0].text == "(" {
			// a parenthesized query
		} else {
			return nil, &sqlError{"UNSUPPORTED_FEATURE", "This fake warehouse runs queries (SELECT or WITH) only.", "0A000"}
		}
	}
	tr := &translator{toks: toks, catalog: catalog, schema: schema, params: map[string]int{}, types: types, ctes: map[string]bool{}}
	if err := tr.run(); err != nil {
		return nil, err
	}
	return &statement{sql: tr.out.String(), params: tr.order, relations: tr.rels}, nil
}

func (tr *translator) peek(k int) (token, bool) {
	if tr.pos+k < len(tr.toks) {
		return tr.toks[tr.pos+k], true
	}
	return token{}, false
}

func (tr *translator) emit(s string) {
	if tr.out.Len() > 0 {
		tr.out.WriteByte(' ')
	}
	tr.out.WriteString(s)
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func isWord(t token, w string) bool { return t.kind == tIdent && strings.EqualFold(t.text, w) }

func (tr *translator) run() error {
	expectTable := false
	inFrom := false
	depth := 0
	fromDepth := -1
	for tr.pos < len(tr.toks) {
		t := tr.toks[tr.pos]
		low := strings.ToLower(t.text)
		switch {
		case t.kind == tPunct && t.text == ";":
			return &sqlError{"PARSE_SYNTAX_ERROR", "Syntax error at or near ';': the API runs one statement at a time.", "42601"}
		case expectTable && (t.kind == tIdent && !keywords[low] || t.kind == tQuoted):
			if err := tr.relation(); err != nil {
				return err
			}
			expectTable = false
			continue
		case t.kind == tIdent && low == "with" && tr.out.Len() == 0 || t.kind == tPunct && t.text == "," && tr.cteList():
			// WITH name AS (...): remember CTE names, which are not catalog tables.
			tr.emit(t.text)
			tr.pos++
			if n, ok := tr.peek(0); ok && (n.kind == tIdent || n.kind == tQuoted) {
				if a, ok := tr.peek(1); ok && isWord(a, "as") {
					tr.ctes[strings.ToLower(n.text)] = true
				}
			}
			continue
		case t.kind == tIdent && (low == "from" || low == "join"):
			tr.emit(strings.ToUpper(low))
			tr.pos++
			expectTable, inFrom, fromDepth = true, true, depth
			continue
		case t.kind == tPunct && t.text == "," && inFrom && depth == fromDepth:
			tr.emit(",")
			tr.pos++
			expectTable = true
			continue
		case t.kind == tIdent && inFrom && depth == fromDepth &&
			(low == "where" || low == "group" || low == "order" || low == "limit" || low == "having" || low == "on" || low == "union" || low == "using"):
			inFrom = false
		case t.kind == tPunct && t.text == "(":
			isCast := false
			if tr.pos > 0 && isWord(tr.toks[tr.pos-1], "cast") {
				isCast = true
			}
			tr.castNext = append(tr.castNext, isCast)
			depth++
			expectTable = false
			tr.emit("(")
			tr.pos++
			continue
		case t.kind == tPunct && t.text == ")":
			if len(tr.castNext) == 0 {
				return syntaxError(")")
			}
			tr.castNext = tr.castNext[:len(tr.castNext)-1]
			depth--
			if inFrom && depth < fromDepth {
				inFrom = false
			}
			tr.emit(")")
			tr.pos++
			continue
		}
		expectTable = false
		if err := tr.token(t); err != nil {
			return err
		}
	}
	if len(tr.castNext) != 0 {
		return syntaxError("end of input")
	}
	return nil
}

// cteList reports whether a comma continues a WITH list: the next tokens are name AS (.
func (tr *translator) cteList() bool {
	n, ok1 := tr.peek(1)
	a, ok2 := tr.peek(2)
	p, ok3 := tr.peek(3)
	return ok1 && ok2 && ok3 && (n.kind == tIdent || n.kind == tQuoted) && isWord(a, "as") && p.kind == tPunct && p.text == "("
}

// relation reads a one- to three-part name after FROM or JOIN and writes its PostgreSQL
// name.
func (tr *translator) relation() error {
	var parts []string
	for {
		t, ok := tr.peek(0)
		if !ok || (t.kind != tIdent && t.kind != tQuoted) {
			return syntaxError("end of input")
		}
		name := t.text
		if t.kind == tIdent {
			name = strings.ToLower(name)
		}
		parts = append(parts, name)
		tr.pos++
		if d, ok := tr.peek(0); ok && d.kind == tPunct && d.text == "." {
			tr.pos++
			continue
		}
		break
	}
	if n, ok := tr.peek(0); ok && n.kind == tPunct && n.text == "(" {
		return &sqlError{"UNSUPPORTED_FEATURE", "Table-valued functions are not supported by this fake warehouse.", "0A000"}
	}
	var r relation
	switch len(parts) {
	case 1:
		if tr.ctes[strings.ToLower(parts[0])] {
			tr.emit(quoteIdent(parts[0]))
			return nil
		}
		r = relation{tr.catalog, tr.schema, parts[0]}
	case 2:
		r = relation{tr.catalog, parts[0], parts[1]}
	case 3:
		r = relation{parts[0], parts[1], parts[2]}
	default:
		return syntaxError(strings.Join(parts, "."))
	}
	tr.rels = append(tr.rels, r)
	tr.emit(quoteIdent(r.catalog+"."+r.schema) + "." + quoteIdent(r.name))
	return nil
}

func (tr *translator) token(t token) error {
	low := strings.ToLower(t.text)
	switch t.kind {
	case tQuoted:
		tr.emit(quoteIdent(t.text))
	case tString:
		tr.emit(quoteLiteral(t.text))
	case tNumber:
		if _, err := strconv.ParseFloat(t.text, 64); err != nil {
			return syntaxError(t.text)
		}
		tr.emit(t.text)
	case tParam:
		n, ok := tr.params[t.text]
		if !ok {
			n = len(tr.order) + 1
			tr.params[t.text] = n
			tr.order = append(tr.order, t.text)
		}
		typ := tr.types[t.text]
		if typ == "" {
			typ = "STRING"
		}
		pt, ok := pgType(typ)
		if !ok {
			return &sqlError{"INVALID_PARAMETER_VALUE", fmt.Sprintf("The type %q of parameter %s is not supported.", typ, t.text), "22023"}
		}
		tr.emit(fmt.Sprintf("CAST(CAST($%d AS text) AS %s)", n, pt))
	case tPunct:
		tr.emit(t.text)
	case tIdent:
		next, _ := tr.peek(1)
		prev := token{}
		if tr.pos > 0 {
			prev = tr.toks[tr.pos-1]
		}
		switch {
		case next.kind == tPunct && next.text == "(" && !keywords[low] && low != "cast":
			pg, ok := functions[low]
			if !ok {
				return &sqlError{"UNRESOLVED_ROUTINE", fmt.Sprintf("Cannot resolve routine `%s` on search path [`system`.`builtin`, `system`.`session`].", low), "42883"}
			}
			switch low {
			case "current_user", "current_timestamp", "current_date":
				// no arguments: swallow "()"
				if c, ok := tr.peek(2); !ok || c.kind != tPunct || c.text != ")" {
					return &sqlError{"WRONG_NUM_ARGS", fmt.Sprintf("The `%s` requires 0 parameters.", low), "42605"}
				}
				tr.emit(pg)
				tr.pos += 3
				return nil
			case "make_dt_interval":
				tr.emit("make_interval(days =>")
				tr.castNext = append(tr.castNext, false)
				tr.pos += 2
				return nil
			}
			if pg == "" {
				pg = low
			}
			tr.emit(pg)
		case low == "cast":
			tr.emit("CAST")
		case low == "collate":
			c, ok := tr.peek(1)
			if !ok || !(c.kind == tIdent || c.kind == tQuoted) || !strings.EqualFold(c.text, "utf8_binary") {
				name := ""
				if ok {
					name = c.text
				}
				return &sqlError{"COLLATION_INVALID_NAME", fmt.Sprintf("The value %s does not represent a collation this fake supports (UTF8_BINARY).", name), "42704"}
			}
			tr.emit(`COLLATE "C"`)
			tr.pos += 2
			return nil
		case isWord(prev, "as") && len(tr.castNext) > 0 && tr.castNext[len(tr.castNext)-1]:
			name := low
			// DECIMAL(p, s): carry the arguments.
			if next.kind == tPunct && next.text == "(" {
				var args []string
				j := tr.pos + 2
				for ; j < len(tr.toks) && tr.toks[j].text != ")"; j++ {
					args = append(args, tr.toks[j].text)
				}
				name += "(" + strings.Join(args, "") + ")"
				tr.pos = j
			}
			pt, ok := pgType(name)
			if !ok {
				return &sqlError{"UNSUPPORTED_DATATYPE", fmt.Sprintf("Unsupported data type \"%s\".", strings.ToUpper(name)), "0A000"}
			}
			tr.emit(pt)
		default:
			tr.emit(t.text)
		}
	}
	tr.pos++
	return nil
}
