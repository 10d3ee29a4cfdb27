package snowflake

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// The translator turns the Snowflake SQL the connector emits into PostgreSQL, token by
// token. It knows only that subset: identifiers (unquoted ones fold to upper case, as
// Snowflake folds them), three-part names in the fake's one database, string literals
// with Snowflake's backslash escapes, ? bind variables, a few keywords and a few
// functions. Any other function is Snowflake's "Unknown function", and a second
// statement is refused as Snowflake refuses it when MULTI_STATEMENT_COUNT is 1.

type tokKind int

const (
	tkSpace tokKind = iota
	tkWord
	tkQuoted // "identifier", text holds the name unescaped
	tkString // 'literal', text holds the value unescaped
	tkNumber
	tkParam
	tkPunct
)

type token struct {
	kind tokKind
	text string
	pos  int // byte offset, for error positions
}

// lex splits Snowflake SQL into tokens; comments become spaces.
func lex(sql string) ([]token, error) {
	var out []token
	i := 0
	for i < len(sql) {
		c := sql[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			for i < len(sql) && strings.IndexByte(" \t\n\r", sql[i]) >= 0 {
				i++
			}
			out = append(out, token{tkSpace, " ", start})
		case strings.HasPrefix(sql[i:], "--") || strings.HasPrefix(sql[i:], "//"):
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
			out = append(out, token{tkSpace, " ", start})
		case strings.HasPrefix(sql[i:], "/*"):
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return nil, syntaxError(sql, i, "EOF")
			}
			i += end + 4
			out = append(out, token{tkSpace, " ", start})
		case c == '\'':
			val, n, ok := snowflakeString(sql[i:])
			if !ok {
				return nil, syntaxError(sql, i, "EOF")
			}
			i += n
			out = append(out, token{tkString, val, start})
		case c == '"':
			var sb strings.Builder
			i++
			for {
				if i >= len(sql) {
					return nil, syntaxError(sql, start, "EOF")
				}
				if sql[i] == '"' {
					if i+1 < len(sql) && sql[i+1] == '"' {
						sb.WriteByte('"')
						i += 2
						continue
					}
					i++
					break
				}
				sb.WriteByte(sql[i])
				i++
			}
			out = append(out, token{tkQuoted, sb.String(), start})
		case c == '?':
			i++
			out = append(out, token{tkParam, "?", start})
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(sql) && sql[i+1] >= '0' && sql[i+1] <= '9':
			for i < len(sql) && (sql[i] >= '0' && sql[i] <= '9' || sql[i] == '.' || sql[i] == 'e' || sql[i] == 'E') {
				i++
			}
			out = append(out, token{tkNumber, sql[start:i], start})
		case c == '_' || c == '$' || unicode.IsLetter(rune(c)) || c >= 0x80:
			for i < len(sql) && (sql[i] == '_' || sql[i] == '$' || sql[i] >= 0x80 || unicode.IsLetter(rune(sql[i])) || unicode.IsDigit(rune(sql[i]))) {
				i++
			}
			out = append(out, token{tkWord, sql[start:i], start})
		default:
			for _, op := range []string{"<>", "!=", "<=", ">=", "||", "::"} {
				if strings.HasPrefix(sql[i:], op) {
					i += len(op)
					break
				}
			}
			if i == start {
				i++
			}
			out = append(out, token{tkPunct, sql[start:i], start})
		}
	}
	return out, nil
}

// snowflakeString reads a single-quoted literal at the start of s: ” is a quote, and a
// backslash escapes the next character (\n, \t, \0 and the like; any other stands for
// itself), as Snowflake reads string constants.
func snowflakeString(s string) (val string, n int, ok bool) {
	var sb strings.Builder
	i := 1
	for i < len(s) {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			switch e := s[i+1]; e {
			case 'n':
				sb.WriteByte('\n')
			case 't':
				sb.WriteByte('\t')
			case 'r':
				sb.WriteByte('\r')
			case 'b':
				sb.WriteByte('\b')
			case 'f':
				sb.WriteByte('\f')
			case '0':
				sb.WriteByte(0)
			default:
				sb.WriteByte(e)
			}
			i += 2
		case c == '\'' && i+1 < len(s) && s[i+1] == '\'':
			sb.WriteByte('\'')
			i += 2
		case c == '\'':
			return sb.String(), i + 1, true
		default:
			sb.WriteByte(c)
			i++
		}
	}
	return "", 0, false
}

// keywords pass through as they are; any other unquoted word is an identifier.
var keywords = map[string]bool{
	"SELECT": true, "FROM": true, "WHERE": true, "AND": true, "OR": true, "NOT": true, "IN": true,
	"IS": true, "NULL": true, "LIKE": true, "ILIKE": true, "ESCAPE": true, "AS": true, "ORDER": true,
	"BY": true, "GROUP": true, "HAVING": true, "LIMIT": true, "OFFSET": true, "CASE": true, "WHEN": true,
	"THEN": true, "ELSE": true, "END": true, "TRUE": true, "FALSE": true, "BETWEEN": true,
	"DISTINCT": true, "ASC": true, "DESC": true, "NULLS": true, "FIRST": true, "LAST": true,
	"UNION": true, "ALL": true, "JOIN": true, "ON": true, "LEFT": true, "RIGHT": true, "INNER": true,
	"OUTER": true, "FULL": true, "CROSS": true, "WITH": true, "EXISTS": true,
}

// passFunctions mean the same on both engines.
var passFunctions = map[string]bool{
	"COUNT": true, "MIN": true, "MAX": true, "SUM": true, "AVG": true, "LOWER": true, "UPPER": true,
	"COALESCE": true, "ABS": true, "LENGTH": true, "TRIM": true,
}

// translation is one statement's translation.
type translation struct {
	sql       string
	params    int
	readsData bool // it reads relations outside INFORMATION_SCHEMA: it needs a warehouse
}

type translator struct {
	sess     *session
	bindings map[string]Binding
	params   int
	from     bool // a FROM clause: the statement reads relations
	info     bool // it names INFORMATION_SCHEMA views, which need no warehouse
	src      string
}

// translate turns a statement into PostgreSQL.
func translate(sql string, sess *session, bindings map[string]Binding) (translation, error) {
	toks, err := lex(sql)
	if err != nil {
		return translation{}, err
	}
	// One statement only: a ";" may only end it.
	for i, t := range toks {
		if t.kind == tkPunct && t.text == ";" {
			for _, rest := range toks[i+1:] {
				if rest.kind != tkSpace && !(rest.kind == tkPunct && rest.text == ";") {
					return translation{}, &sqlError{Code: "000008", SQLState: "0A000",
						Message: "Actual statement count 2 did not match the desired statement count 1."}
				}
			}
			toks = toks[:i]
			break
		}
	}
	tr := &translator{sess: sess, bindings: bindings, src: sql}
	out, err := tr.expr(toks)
	if err != nil {
		return translation{}, err
	}
	if tr.params != len(bindings) {
		return translation{}, &sqlError{Code: "002049", SQLState: "22000",
			Message: "SQL compilation error: Bind variable ? not set."}
	}
	return translation{sql: out, params: tr.params, readsData: tr.from && !tr.info}, nil
}

func (tr *translator) expr(toks []token) (string, error) {
	var sb strings.Builder
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch t.kind {
		case tkSpace:
			sb.WriteByte(' ')
		case tkNumber:
			sb.WriteString(t.text)
		case tkString:
			sb.WriteString(pgString(t.text))
		case tkParam:
			tr.params++
			b, ok := tr.bindings[strconv.Itoa(tr.params)]
			if !ok {
				return "", &sqlError{Code: "002049", SQLState: "22000", Message: "SQL compilation error: Bind variable ? not set."}
			}
			cast, err := bindingCast(b.Type)
			if err != nil {
				return "", err
			}
			if cast == "" {
				fmt.Fprintf(&sb, "$%d", tr.params)
			} else {
				fmt.Fprintf(&sb, "CAST($%d AS %s)", tr.params, cast)
			}
		case tkPunct:
			if t.text == "::" {
				return "", syntaxError(tr.src, t.pos, "::")
			}
			sb.WriteString(t.text)
		case tkWord, tkQuoted:
			upper := strings.ToUpper(t.text)
			if j := next(toks, i+1); t.kind == tkWord && upper == "COLLATE" && j >= 0 && toks[j].kind == tkString {
				// expr COLLATE 'spec'; COLLATE(expr, 'spec') is the function below.
				c, err := collation(toks[j].text)
				if err != nil {
					return "", err
				}
				sb.WriteString(" COLLATE " + c)
				i = j
				continue
			}
			if t.kind == tkWord && keywords[upper] {
				tr.from = tr.from || upper == "FROM"
				sb.WriteString(upper)
				continue
			}
			if j := next(toks, i+1); t.kind == tkWord && j >= 0 && toks[j].kind == tkPunct && toks[j].text == "(" {
				end := closing(toks, j)
				if end < 0 {
					return "", syntaxError(tr.src, toks[j].pos, "EOF")
				}
				f, err := tr.function(upper, toks[j+1:end], t)
				if err != nil {
					return "", err
				}
				sb.WriteString(f)
				i = end
				continue
			}
			// A name: a chain of identifiers joined by dots.
			parts := []token{t}
			j := i
			for {
				d := j + 1
				if d+1 < len(toks) && toks[d].kind == tkPunct && toks[d].text == "." && (toks[d+1].kind == tkWord || toks[d+1].kind == tkQuoted) {
					parts = append(parts, toks[d+1])
					j = d + 1
					continue
				}
				break
			}
			name, err := tr.name(parts)
			if err != nil {
				return "", err
			}
			sb.WriteString(name)
			i = j
		}
	}
	return sb.String(), nil
}

// ident is an identifier's name as Snowflake resolves it: unquoted names fold to upper case.
func ident(t token) string {
	if t.kind == tkQuoted {
		return t.text
	}
	return strings.ToUpper(t.text)
}

func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// name renders a dotted name. Three parts are database.schema.object: the database must
// be the fake's and is dropped, since its schemas are the PostgreSQL database's.
func (tr *translator) name(parts []token) (string, error) {
	names := make([]string, len(parts))
	for i, p := range parts {
		names[i] = ident(p)
	}
	if len(names) > 3 {
		return "", syntaxError(tr.src, parts[3].pos, parts[3].text)
	}
	if len(names) == 3 {
		if !tr.sess.databaseVisible(names[0]) {
			return "", &sqlError{Code: "002003", SQLState: "02000",
				Message: fmt.Sprintf("SQL compilation error:\nDatabase '%s' does not exist or not authorized.", names[0])}
		}
		names = names[1:]
	}
	if len(names) == 2 && names[0] == "INFORMATION_SCHEMA" {
		tr.info = true
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = quote(n)
	}
	return strings.Join(out, "."), nil
}

// function renders a call; args are the tokens between its parentheses.
func (tr *translator) function(name string, args []token, at token) (string, error) {
	list := splitArgs(args)
	render := func(a []token) (string, error) { return tr.expr(a) }
	switch {
	case passFunctions[name]:
		inner, err := render(args)
		if err != nil {
			return "", err
		}
		return name + "(" + inner + ")", nil
	case name == "SYSDATE":
		if len(list) != 0 {
			return "", argCount(name, len(list))
		}
		return "(now() AT TIME ZONE 'UTC')", nil
	case name == "TO_VARCHAR" || name == "TO_CHAR":
		if len(list) != 1 {
			return "", argCount(name, len(list))
		}
		inner, err := render(list[0])
		if err != nil {
			return "", err
		}
		return "CAST((" + inner + ") AS text)", nil
	case name == "COLLATE":
		if len(list) != 2 {
			return "", argCount(name, len(list))
		}
		spec := trimSpace(list[1])
		if len(spec) != 1 || spec[0].kind != tkString {
			return "", &sqlError{Code: "002040", SQLState: "42601", Message: "SQL compilation error:\nThe collation specification must be a constant string."}
		}
		c, err := collation(spec[0].text)
		if err != nil {
			return "", err
		}
		inner, err := render(list[0])
		if err != nil {
			return "", err
		}
		return "((" + inner + ") COLLATE " + c + ")", nil
	case name == "DATEADD":
		if len(list) != 3 {
			return "", argCount(name, len(list))
		}
		part := trimSpace(list[0])
		unit := ""
		if len(part) == 1 && part[0].kind == tkWord {
			unit = map[string]string{"DAY": "day", "DAYS": "day", "D": "day", "DD": "day", "HOUR": "hour", "HOURS": "hour",
				"MINUTE": "minute", "MINUTES": "minute", "SECOND": "second", "SECONDS": "second"}[strings.ToUpper(part[0].text)]
		}
		if unit == "" {
			return "", &sqlError{Code: "002048", SQLState: "22023", Message: "SQL compilation error:\nInvalid date/time part for DATEADD."}
		}
		n, err := render(list[1])
		if err != nil {
			return "", err
		}
		ts, err := render(list[2])
		if err != nil {
			return "", err
		}
		return "((" + ts + ") + CAST((" + n + ") AS double precision) * INTERVAL '1 " + unit + "')", nil
	case strings.HasPrefix(name, "CURRENT_"):
		if len(list) != 0 {
			return "", argCount(name, len(list))
		}
		v, ok := tr.sess.current(name)
		if !ok {
			break
		}
		if v == "" {
			return "CAST(NULL AS text)", nil
		}
		return pgString(v), nil
	}
	return "", &sqlError{Code: "002140", SQLState: "42601", Message: "SQL compilation error:\nUnknown function " + name}
}

func argCount(name string, n int) error {
	return &sqlError{Code: "000938", SQLState: "22023",
		Message: fmt.Sprintf("SQL compilation error:\nerror line 1 at position 0\ninvalid number of arguments (%d) for function %s", n, name)}
}

// collation maps a collation specification. The fake knows only 'utf8' (and the empty
// specification, which is the same): comparison by the UTF-8 bytes, PostgreSQL's "C".
func collation(spec string) (string, error) {
	switch strings.ToLower(spec) {
	case "utf8", "":
		return `"C"`, nil
	}
	return "", &sqlError{Code: "002140", SQLState: "42601", Message: fmt.Sprintf("SQL compilation error:\nthe fake knows no collation '%s' (only 'utf8')", spec)}
}

// bindingCast is the PostgreSQL type a binding's value is read as. TEXT is left for
// PostgreSQL to infer from where it is used, as Snowflake coerces a text value to the
// type it is compared with.
func bindingCast(typ string) (string, error) {
	switch strings.ToUpper(typ) {
	case "TEXT":
		return "", nil
	case "FIXED":
		return "numeric", nil
	case "REAL":
		return "double precision", nil
	case "BOOLEAN":
		return "boolean", nil
	case "DATE":
		return "date", nil
	case "TIMESTAMP_NTZ":
		return "timestamp", nil
	case "TIMESTAMP_TZ", "TIMESTAMP_LTZ":
		return "timestamptz", nil
	}
	return "", &sqlError{Code: "002099", SQLState: "22000", Message: fmt.Sprintf("Unsupported data type '%s' for binding.", typ)}
}

func pgString(v string) string { return "'" + strings.ReplaceAll(v, "'", "''") + "'" }

func next(toks []token, i int) int {
	for ; i < len(toks); i++ {
		if toks[i].kind != tkSpace {
			return i
		}
	}
	return -1
}

func closing(toks []token, open int) int {
	depth := 0
	for i := open; i < len(toks); i++ {
		if toks[i].kind != tkPunct {
			continue
		}
		switch toks[i].text {
		case "(":
			depth++
		case ")":
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

func splitArgs(toks []token) [][]token {
	if len(trimSpace(toks)) == 0 {
		return nil
	}
	var out [][]token
	depth, start := 0, 0
	for i, t := range toks {
		if t.kind != tkPunct {
			continue
		}
		switch t.text {
		case "(":
			depth++
		case ")":
			depth--
		case ",":
			if depth == 0 {
				out = append(out, toks[start:i])
				start = i + 1
			}
		}
	}
	return append(out, toks[start:])
}

func trimSpace(toks []token) []token {
	for len(toks) > 0 && toks[0].kind == tkSpace {
		toks = toks[1:]
	}
	for len(toks) > 0 && toks[len(toks)-1].kind == tkSpace {
		toks = toks[:len(toks)-1]
	}
	return toks
}

// syntaxError is Snowflake's compilation error for an unexpected token.
func syntaxError(sql string, pos int, near string) error {
	line := 1 + strings.Count(sql[:pos], "\n")
	col := pos - strings.LastIndex(sql[:pos], "\n") - 1
	return &sqlError{Code: "001003", SQLState: "42000",
		Message: fmt.Sprintf("SQL compilation error:\nsyntax error line %d at position %d unexpected '%s'.", line, col, near)}
}
