package segments

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sluice/connectors"
	"sluice/sources/bigquery"
	"sluice/sources/postgres"
	"sluice/sources/redshift"
	"sluice/sources/sqlite"
)

var fuzzDialects = []connectors.Dialect{postgres.Dialect{}, redshift.Dialect{}, sqlite.Dialect{}, bigquery.Dialect{}}

// fuzzColumns is one column of each type of modelColumns.
var fuzzColumns = func() []connectors.Column {
	var out []connectors.Column
	seen := map[connectors.ColumnType]bool{}
	for _, c := range modelColumns {
		if !seen[c.Type] {
			seen[c.Type] = true
			out = append(out, c)
		}
	}
	return out
}()

// vocabulary is every token the compiler may write outside a quoted identifier: SQL
// words, operators, and the dialects' few fixed literals; placeholders and spaces are
// read apart. A value that reached the SQL text would show up as something else. Words
// are matched whole (see word), longer tokens before their prefixes.
var vocabulary = []string{
	"1=1", "1=0", "<>", "<=", ">=", "=>", "=", "<", ">", "||", "(", ")", ",", ".", "- ", "-CAST",
	`'\'`, "'now'", "'-'", "' days'",
	"AND", "OR", "NOT", "INTEGER", "IN", "IS", "NULL", "ILIKE", "LIKE", "ESCAPE", "now",
	"make_interval", "days", "datetime", "DATEADD", "day", "CAST", "AS", "GETDATE",
	// BigQuery's.
	"LOWER", "TIMESTAMP_SUB", "DATETIME_SUB", "CURRENT_TIMESTAMP", "CURRENT_DATETIME", "'UTC'", "INTERVAL", "DAY",
}

// word reports whether tok ends a word in s: a keyword must not run on into letters.
func word(s, tok string) bool {
	if len(s) == len(tok) {
		return true
	}
	last, next := tok[len(tok)-1], s[len(tok)]
	isWord := func(c byte) bool {
		return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
	}
	return !isWord(last) || !isWord(next)
}

// nextToken reads one vocabulary token, placeholder or run of spaces from the start of
// s, "" if none fits.
func nextToken(s string) string {
	switch {
	case s[0] == ' ' || s[0] == '\n':
		return s[:1]
	case s[0] == '?':
		return "?"
	case s[0] == '$' || strings.HasPrefix(s, "@p"):
		start := 1
		if s[0] == '@' {
			start = 2
		}
		i := start
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i > start && s[start] != '0' {
			return s[:i]
		}
		return ""
	}
	for _, tok := range vocabulary {
		if strings.HasPrefix(s, tok) && word(s, tok) {
			return tok
		}
	}
	return ""
}

// quotedIdent reads a "double-quoted" identifier ("" inside), or a `backtick` one
// (backslash escapes inside), from the start of s, "" if there is none.
func quotedIdent(s string) string {
	if s != "" && s[0] == '`' {
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '`':
				return s[:i+1]
			}
		}
		return ""
	}
	if s == "" || s[0] != '"' {
		return ""
	}
	for i := 1; i < len(s); i++ {
		if s[i] != '"' {
			continue
		}
		if i+1 < len(s) && s[i+1] == '"' {
			i++
			continue
		}
		return s[:i+1]
	}
	return ""
}

// checkSQL asserts what must hold of any SQL Compile writes (see sqlProblem).
func checkSQL(t *testing.T, d connectors.Dialect, where string, args []any, cols []connectors.Column) {
	t.Helper()
	if p := sqlProblem(d, where, args, cols); p != "" {
		t.Fatalf("%s: %s", d.Name(), p)
	}
}

// sqlProblem says what is wrong with compiled SQL, or "": identifiers must be the
// model's (or the alias), everything else the compiler's vocabulary, and the
// placeholders exactly the arguments, each once and in order.
func sqlProblem(d connectors.Dialect, where string, args []any, cols []connectors.Column) string {
	idents := map[string]bool{d.QuoteIdent(Alias): true}
	for _, c := range cols {
		idents[d.QuoteIdent(c.Name)] = true
	}
	var placeholders []string
	for rest := where; rest != ""; {
		if m := quotedIdent(rest); m != "" {
			if !idents[m] {
				return fmt.Sprintf("identifier %s is not the model's, in %q", m, where)
			}
			rest = rest[len(m):]
			continue
		}
		m := nextToken(rest)
		if m == "" {
			return fmt.Sprintf("text outside the compiler's vocabulary at %q in %q", rest, where)
		}
		if m == "?" || strings.HasPrefix(m, "$") || strings.HasPrefix(m, "@p") {
			placeholders = append(placeholders, m)
		}
		rest = rest[len(m):]
	}
	if len(placeholders) != len(args) {
		return fmt.Sprintf("%d placeholders for %d args in %q", len(placeholders), len(args), where)
	}
	for i, p := range placeholders {
		if p != d.Placeholder(i+1) {
			return fmt.Sprintf("placeholder %d is %s, want %s, in %q", i+1, p, d.Placeholder(i+1), where)
		}
	}
	if strings.Contains(strings.ToUpper(where), "ZQX") {
		return fmt.Sprintf("a value reached the SQL: %q", where)
	}
	return ""
}

// argsHold reports whether some string argument contains sub.
func argsHold(args []any, sub string) bool {
	for _, a := range args {
		if s, ok := a.(string); ok && strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func hasMarker(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.Contains(x, "ZQX")
	case []any:
		return slices.ContainsFunc(x, hasMarker)
	}
	return false
}

func FuzzCompileKeepsValuesOutOfSQL(f *testing.F) {
	for _, s := range []string{
		"'; DROP TABLE x; --",
		`" OR 1=1 --`,
		`') OR ('1'='1`,
		`\`, `\\`, `\'`, `%`, `_`, `%_\`,
		"\x00", "a\x00b", "\n--\n",
		"*/ SELECT 1 /*",
		"$1", "?", "$0; --",
		"FR", "", "30", "1e3", "-0", "2024-01-31", "2024-01-31T09:00:00Z",
		"true", "null", `ILIKE`, "é", "\xff\xfe",
	} {
		f.Add(s, 3.5, int64(7), []byte(`{"all":[{"column":"country","op":"eq","value":`+strconv.Quote(s)+`}]}`))
	}
	f.Add("x", -1e308, int64(-1), []byte(`{"any":[{"column":"age","op":"in","value":[1,"2",3.0]},{"all":[]}]}`))
	f.Add("x", 0.0, int64(36501), []byte(`{"column":"signed_up_at","op":"between","value":["2024-01-01","2024-02-01T00:00:00+02:00"]}`))
	f.Add("y", 1.0, int64(1), []byte(`{"column":"email","op":"contains","value":"'; DROP TABLE x; --"}`))
	f.Add("z", 2.0, int64(2), []byte(`{"column":"payload","op":"is_null","value":{"a":"b"}}`))
	f.Add("w", 2.0, int64(2), []byte(`{"all":[{"any":[{"column":"vip","op":"neq","value":false}]},{"column":"birthday","op":"within_last_days","value":"30"}]}`))

	f.Fuzz(func(t *testing.T, s string, num float64, days int64, raw []byte) {
		marker := "ZQX" + s
		values := []any{
			marker, s, num, days, nil,
			[]any{marker, s}, []any{s, s}, []any{num, num}, []any{days, days},
			json.RawMessage(raw),
		}
		// Every operator on a column of every type, with every shape of value, as a rule
		// alone and inside groups. Validation comes before any SQL is written and does
		// not depend on the dialect, so a refusal is checked once and a success on all.
		for _, col := range fuzzColumns {
			for _, op := range allOps {
				for _, v := range values {
					leaf := Leaf(col.Name, op, v)
					cond := Any(All(leaf), leaf)
					for i, d := range fuzzDialects {
						where, args, err := Compile(d, customersTable, cond, modelColumns)
						if err != nil {
							var fe *FieldError
							if !errors.As(err, &fe) || where != "" || args != nil {
								t.Fatalf("%s: refusal %v came with SQL %q %v", d.Name(), err, where, args)
							}
							if i > 0 {
								t.Fatalf("%s refused what %s compiled: %v", d.Name(), fuzzDialects[0].Name(), err)
							}
							break
						}
						checkSQL(t, d, where, args, modelColumns)
						if hasMarker(v) && !argsHold(args, "ZQX") {
							t.Fatalf("%s: value %q accepted but is in no argument: %#v", d.Name(), v, args)
						}
					}
				}
			}
		}

		// Identifiers: a rule on a column the model lacks is refused, whatever its name.
		known := slices.ContainsFunc(modelColumns, func(c connectors.Column) bool { return c.Name == s })
		for _, d := range fuzzDialects {
			if _, _, err := Compile(d, customersTable, Leaf(marker, OpIsNull, nil), modelColumns); err == nil {
				t.Fatalf("%s: column %q is not in the model but was compiled", d.Name(), marker)
			}
			where, args, err := Compile(d, customersTable, All(Leaf(s, OpIsNull, nil)), modelColumns)
			var fe *FieldError
			switch {
			case known && err != nil:
				t.Fatalf("%s: model column %q refused: %v", d.Name(), s, err)
			case !known && (!errors.As(err, &fe) || fe.Path != "conditions.all[0].column"):
				t.Fatalf("%s: column %q: %q %v %v, want a FieldError on the column", d.Name(), s, where, args, err)
			}
		}

		// Any JSON: refused cleanly, or compiled within the vocabulary; and what decodes
		// encodes back to the same tree.
		var cond Condition
		if err := json.Unmarshal(raw, &cond); err != nil {
			return
		}
		doc, err := json.Marshal(cond)
		if err != nil {
			t.Fatalf("decoded %#v does not encode: %v", cond, err)
		}
		var again Condition
		if err := json.Unmarshal(doc, &again); err != nil || !reflect.DeepEqual(cond, again) {
			t.Fatalf("%s → %s → %#v, %v: not a round trip", raw, doc, again, err)
		}
		for _, d := range fuzzDialects {
			where, args, err := Compile(d, customersTable, cond, modelColumns)
			if err == nil {
				checkSQL(t, d, where, args, modelColumns)
			}
		}
	})
}

// TestCheckSQLCatchesLeaks makes sure the fuzz test's checker (sqlProblem) is not
// blind: a value pasted into the SQL, a foreign identifier or a miscounted placeholder
// all fail it.
func TestCheckSQLCatchesLeaks(t *testing.T) {
	bad := []struct {
		d     connectors.Dialect
		where string
		args  []any
	}{
		{postgres.Dialect{}, `"m"."country" = 'FR'`, nil},
		{postgres.Dialect{}, `"m"."country" = FR`, nil},
		{postgres.Dialect{}, `"m"."country" = $1 OR 1=1 --`, []any{"x"}},
		{postgres.Dialect{}, `"m"."country" = $1`, nil},
		{postgres.Dialect{}, `"m"."country" = $2`, []any{"x"}},
		{postgres.Dialect{}, `"m"."country" = $1 AND "m"."age" = $1`, []any{"x", "y"}},
		{postgres.Dialect{}, `"users"."password" = $1`, []any{"x"}},
		{postgres.Dialect{}, `"m"."country" = 42`, nil},
		{sqlite.Dialect{}, `"m"."country" = ? AND "m"."age" = ?`, []any{"x"}},
		{sqlite.Dialect{}, `"m"."country" LIKE ? ESCAPE '%'`, []any{"x"}},
	}
	for _, b := range bad {
		if sqlProblem(b.d, b.where, b.args, modelColumns) == "" {
			t.Errorf("sqlProblem passed %q with %v", b.where, b.args)
		}
	}
	// …while the compiler's own output passes.
	for _, d := range fuzzDialects {
		where, args, err := Compile(d, customersTable, All(Leaf("signed_up_at", OpWithinLastDays, 3), Any(), Leaf("email", OpContains, "ZQX")), modelColumns)
		if err != nil {
			t.Fatal(err)
		}
		if p := sqlProblem(d, where, args, modelColumns); p != "" {
			t.Errorf("%s: %s", d.Name(), p)
		}
	}
}
