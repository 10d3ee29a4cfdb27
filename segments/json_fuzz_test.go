package segments

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseCompile feeds the condition parser arbitrary JSON, as the API and a stored
// segment hand it over, and compiles what it accepts for every dialect. It is the fast
// companion of FuzzCompileKeepsValuesOutOfSQL, which spends each input on every
// operator and column: here one input is one document, so the fuzzer explores the
// parser's shapes. Besides the raw document, a rule is built from a column, an operator
// and a raw value fragment, so that accepted rules (the compiler's input) are common.
func FuzzParseCompile(f *testing.F) {
	docs := []string{
		`{"all":[]}`, `{"any":[]}`, `null`, `{}`, `[]`, `"country = FR"`, `{"all":[null]}`,
		`{"column":"country","op":"eq","value":"FR"}`,
		`{"column":"country","op":"is_null"}`,
		`{"all":[{"column":"country","op":"neq","value":"FR"},{"any":[{"column":"age","op":"between","value":[18,30.5]},{"column":"vip","op":"eq","value":true},{"all":[]}]},{"column":"email","op":"in","value":["a@b.c","O'Brien\\\"@x.io"]},{"column":"signed_up_at","op":"within_last_days","value":7}]}`,
		`{"column":"id","op":"eq","value":9007199254740993}`,
		`{"column":"birthday","op":"gte","value":"2000-02-29"}`,
		`{"all":[],"column":"country","op":"eq","value":"FR"}`,
		`{"column":"country","op":"like","value":"FR"}`,
		`{"column":"country","op":1,"value":"FR"}`,
		`{"column":"country","op":"eq","value":"FR","negate":true}`,
		`{"any":{"column":"a","op":"eq","value":1}}`,
		`{"column":"email","op":"contains","value":"'; DROP TABLE x; --"}`,
		`{"column":"payload","op":"is_null","value":{"a":"b"}}`,
		`{"column":"signed_up_at","op":"between","value":["2024-01-01","2024-02-01T00:00:00+02:00"]}`,
		`{"column":"score","op":"gt","value":1e400}`,
		`{"column":"age","op":"in","value":[1,"2",3.0,null]}`,
		strings.Repeat(`{"all":[`, MaxDepth) + `{"column":"age","op":"gt","value":1}` + strings.Repeat(`]}`, MaxDepth),
	}
	values := []string{`"FR"`, `"ZQX' OR 1=1 --"`, `7`, `-0`, `1e3`, `true`, `null`, `[1,2]`, `["a","b"]`, `["2024-01-01","2024-12-31"]`, `{"a":1}`, `"30"`, `"2024-01-31T09:00:00Z"`, `"%_\\"`}
	for i, doc := range docs {
		f.Add([]byte(doc), uint8(i), uint8(i), []byte(values[i%len(values)]))
	}

	f.Fuzz(func(t *testing.T, raw []byte, col, op uint8, value []byte) {
		compileAll(t, raw)
		// A rule on a model column with a known operator and any value fragment.
		c := modelColumns[int(col)%len(modelColumns)].Name
		o := allOps[int(op)%len(allOps)]
		compileAll(t, []byte(`{"column":`+strconv.Quote(c)+`,"op":"`+o+`","value":`+string(value)+`}`))
	})
}

// compileAll parses doc and, when it is a condition, compiles it for every dialect:
// nothing panics, a refusal is a *FieldError under the conditions path with no SQL, the
// dialects agree on what they refuse, and accepted SQL passes sqlProblem (identifiers
// of the model, the compiler's own words, and every value a bound argument).
func compileAll(t *testing.T, doc []byte) {
	t.Helper()
	cond, err := Parse(string(doc))
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) && !strings.HasPrefix(fe.Path, RootPath) {
			t.Fatalf("Parse(%s): error on %q, outside %s", doc, fe.Path, RootPath)
		}
		if !reflect.DeepEqual(cond, Condition{}) {
			t.Fatalf("Parse(%s) refused (%v) but gave %#v", doc, err, cond)
		}
		return
	}
	again, err := json.Marshal(cond)
	if err != nil {
		t.Fatalf("Parse(%s) gave %#v, which does not encode: %v", doc, cond, err)
	}
	if back, err := Parse(string(again)); err != nil || !reflect.DeepEqual(back, cond) {
		t.Fatalf("%s → %s → %#v, %v: not a round trip", doc, again, back, err)
	}
	var refusal error
	for i, d := range fuzzDialects {
		where, args, err := Compile(d, customersTable, cond, modelColumns)
		if i > 0 && (err == nil) != (refusal == nil) {
			t.Fatalf("%s: %s gave %v where %s gave %v", doc, d.Name(), err, fuzzDialects[0].Name(), refusal)
		}
		refusal = err
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || !strings.HasPrefix(fe.Path, RootPath) || fe.Message == "" || where != "" || args != nil {
				t.Fatalf("%s: %s: refusal %v (%T) came with SQL %q %v", doc, d.Name(), err, err, where, args)
			}
			continue
		}
		checkSQL(t, d, where, args, modelColumns)
		if hasMarkerValue(cond) && !argsHold(args, "ZQX") {
			t.Fatalf("%s: %s: a value was accepted but is in no argument: %q %#v", doc, d.Name(), where, args)
		}
	}
}

// hasMarkerValue reports whether a rule of c whose operator takes a value holds the
// marker in its value.
func hasMarkerValue(c Condition) bool {
	if !c.IsLeaf() {
		for _, k := range c.Children {
			if hasMarkerValue(k) {
				return true
			}
		}
		return false
	}
	return c.Op != OpIsNull && c.Op != OpIsNotNull && hasMarker(c.Value)
}

// JSON null decodes to the zero Condition, which encoded as {"column":"","op":""}: a
// document Parse refuses, so the round trip failed (found by fuzzing). It encodes as
// null now, and Compile still refuses it as a rule without a column.
func TestZeroConditionRoundTrips(t *testing.T) {
	cond, err := Parse("null")
	if err != nil || !reflect.DeepEqual(cond, Condition{}) {
		t.Fatalf("Parse(null) = %#v, %v", cond, err)
	}
	doc, err := json.Marshal(cond)
	if err != nil || string(doc) != "null" {
		t.Fatalf("Marshal(zero) = %s, %v; want null", doc, err)
	}
	if back, err := Parse(string(doc)); err != nil || !reflect.DeepEqual(back, cond) {
		t.Errorf("Parse(%s) = %#v, %v", doc, back, err)
	}
	for _, d := range fuzzDialects {
		var fe *FieldError
		if where, _, err := Compile(d, customersTable, cond, modelColumns); !errors.As(err, &fe) || where != "" {
			t.Errorf("%s: Compile(zero) = %q, %v; want a refusal", d.Name(), where, err)
		}
	}
	// A rule with only a value is not zero and keeps its form.
	if doc, _ := json.Marshal(Leaf("", "", "x")); string(doc) != `{"column":"","op":"","value":"x"}` {
		t.Errorf("Marshal(value only) = %s", doc)
	}
}
