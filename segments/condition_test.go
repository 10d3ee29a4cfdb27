package segments

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"sluice/sources/postgres"
)

func compact(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestConditionJSONRoundTrips(t *testing.T) {
	docs := []string{
		`{"all":[]}`,
		`{"any":[]}`,
		`{"column":"country","op":"eq","value":"FR"}`,
		`{"column":"country","op":"is_null"}`,
		`{"all":[{"column":"country","op":"neq","value":"FR"},{"any":[{"column":"age","op":"between","value":[18,30.5]},{"column":"vip","op":"eq","value":true},{"all":[]}]},{"column":"email","op":"in","value":["a@b.c","O'Brien\\\"@x.io"]},{"column":"signed_up_at","op":"within_last_days","value":7}]}`,
		// Large integers keep every digit: numbers stay json.Number, never float64.
		`{"column":"id","op":"eq","value":9007199254740993}`,
		`{"column":"birthday","op":"gte","value":"2000-02-29"}`,
	}
	for _, doc := range docs {
		var c Condition
		if err := json.Unmarshal([]byte(doc), &c); err != nil {
			t.Fatalf("Unmarshal(%s): %v", doc, err)
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != compact(t, doc) {
			t.Errorf("round trip\n got %s\nwant %s", out, doc)
		}
		var again Condition
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c, again) {
			t.Errorf("second decode differs: %#v vs %#v", c, again)
		}
	}

	// Whitespace and key order do not matter; null as a value means no value.
	var c Condition
	if err := json.Unmarshal([]byte(` { "value" : null , "op" : "is_not_null", "column":"email" } `), &c); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Leaf("email", OpIsNotNull, nil)) {
		t.Errorf("decoded %#v", c)
	}

	// A tree built in Go writes the same JSON, with [] for empty groups, never null.
	built := All(Leaf("country", OpIn, []string{"FR", "DE"}), Any(), Leaf("signed_up_at", OpGt, time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)))
	out, err := json.Marshal(built)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"all":[{"column":"country","op":"in","value":["FR","DE"]},{"any":[]},{"column":"signed_up_at","op":"gt","value":"2024-01-02T03:04:05Z"}]}`
	if string(out) != want {
		t.Errorf("Marshal(built) = %s", out)
	}
	// …which compiles exactly like its decoded self.
	var decoded Condition
	if err := json.Unmarshal(out, &decoded); err != nil {
		t.Fatal(err)
	}
	w1, a1, err1 := Compile(postgres.Dialect{}, customersTable, built, modelColumns)
	w2, a2, err2 := Compile(postgres.Dialect{}, customersTable, decoded, modelColumns)
	if err1 != nil || err2 != nil || w1 != w2 || !reflect.DeepEqual(a1, a2) {
		t.Errorf("built and decoded compile differently:\n%s %v %v\n%s %v %v", w1, a1, err1, w2, a2, err2)
	}

	// Inside a request body, as the API carries it.
	var body struct {
		Name       string    `json:"name"`
		Conditions Condition `json:"conditions"`
	}
	if err := json.Unmarshal([]byte(`{"name":"FR","conditions":{"any":[{"column":"country","op":"eq","value":"FR"}]}}`), &body); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(body.Conditions, Any(Leaf("country", OpEq, "FR"))) {
		t.Errorf("decoded %#v", body.Conditions)
	}
	if _, err := json.Marshal(Condition{Group: "some"}); err == nil {
		t.Error("Marshal accepted an unknown group")
	}
}

func TestConditionJSONRefuses(t *testing.T) {
	deep := strings.Repeat(`{"all":[`, MaxDepth) + `{"column":"age","op":"gt","value":1}` + strings.Repeat(`]}`, MaxDepth)
	okDeep := strings.Repeat(`{"all":[`, MaxDepth-1) + `{"column":"age","op":"gt","value":1}` + strings.Repeat(`]}`, MaxDepth-1)
	veryDeep := strings.Repeat(`{"any":[`, 5000) + strings.Repeat(`]}`, 5000)
	leaves := `{"all":[` + strings.Repeat(`{"column":"age","op":"gt","value":1},`, MaxLeaves) + `{"column":"age","op":"gt","value":1}]}`

	tests := []struct {
		name, doc, path, msg string
	}{
		{"group and rule", `{"all":[],"column":"country","op":"eq","value":"FR"}`, "conditions", "either a group (all) or a rule"},
		{"all and any", `{"all":[],"any":[]}`, "conditions", "either all or any, not both"},
		{"unknown op", `{"column":"country","op":"like","value":"FR"}`, "conditions.op", `unknown op "like"`},
		{"unknown op deep", `{"all":[{"any":[{"column":"a","op":"eq","value":1},{"column":"country","op":"LIKE","value":"FR"}]}]}`, "conditions.all[0].any[1].op", `unknown op "LIKE"`},
		{"op not text", `{"column":"country","op":1,"value":"FR"}`, "conditions.op", "op must be one of"},
		{"no op", `{"column":"country","value":"FR"}`, "conditions.op", "op is required"},
		{"no column", `{"op":"eq","value":"FR"}`, "conditions.column", "column is required"},
		{"empty column", `{"column":"","op":"eq","value":"FR"}`, "conditions.column", "column is required"},
		{"column not text", `{"column":["a"],"op":"eq","value":"FR"}`, "conditions.column", "column must be a column name"},
		{"unknown key", `{"column":"country","op":"eq","value":"FR","negate":true}`, "conditions.negate", `unknown field "negate"`},
		{"keys are case-sensitive", `{"All":[]}`, "conditions.All", "unknown field"},
		{"empty object", `{}`, "conditions.column", "column is required"},
		{"not an object", `[{"column":"a","op":"eq","value":1}]`, "conditions", "a condition must be an object"},
		{"a string", `"country = FR"`, "conditions", "must be an object"},
		{"null child", `{"all":[null]}`, "conditions.all[0]", "must be an object"},
		{"group not a list", `{"any":{"column":"a","op":"eq","value":1}}`, "conditions.any", "must be a list of conditions"},
		{"group null", `{"any":null}`, "conditions.any", "must be a list of conditions"},
		{"depth over the limit", deep, "conditions" + strings.Repeat(".all[0]", MaxDepth), "nest more than 10 levels"},
		{"far over the limit", veryDeep, "conditions" + strings.Repeat(".any[0]", MaxDepth), "nest more than 10 levels"},
		{"too many rules", leaves, "conditions", "at most 200 rules"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Condition
			err := json.Unmarshal([]byte(tt.doc), &c)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Unmarshal = %v, want a *FieldError", err)
			}
			if fe.Path != tt.path || !strings.Contains(fe.Message, tt.msg) {
				t.Errorf("got %s: %s; want %s: …%s…", fe.Path, fe.Message, tt.path, tt.msg)
			}
			if !reflect.DeepEqual(c, Condition{}) {
				t.Errorf("a refused document left %#v behind", c)
			}
		})
	}

	var c Condition
	if err := json.Unmarshal([]byte(okDeep), &c); err != nil {
		t.Errorf("the deepest allowed tree was refused: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"all":[`), &c); err == nil {
		t.Error("truncated JSON accepted")
	}

	// Inside a request body the handler still gets the FieldError, to answer 422 with
	// its path as "field".
	var body struct {
		Conditions Condition `json:"conditions"`
	}
	err := json.Unmarshal([]byte(`{"conditions":{"any":[{"column":"a","op":"eq","value":1,"not":1}]}}`), &body)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != "conditions.any[0].not" {
		t.Errorf("nested decode error = %v, want a FieldError at conditions.any[0].not", err)
	}
}
