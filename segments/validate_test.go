package segments

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"sluice/connectors"
	"sluice/sources/postgres"
)

// modelColumns is the customers model of the unit tests, with one column of every type.
var modelColumns = []connectors.Column{
	{Name: "id", Type: connectors.TypeInteger},
	{Name: "email", Type: connectors.TypeString},
	{Name: "country", Type: connectors.TypeString},
	{Name: "age", Type: connectors.TypeInteger},
	{Name: "score", Type: connectors.TypeNumber},
	{Name: "vip", Type: connectors.TypeBoolean},
	{Name: "signed_up_at", Type: connectors.TypeTimestamp},
	{Name: "birthday", Type: connectors.TypeDate},
	{Name: "payload", Type: connectors.TypeJSON},
	{Name: "blob", Type: connectors.TypeUnknown},
}

func nested(depth int) Condition {
	c := Leaf("age", OpGt, 1)
	for i := 1; i < depth; i++ {
		c = All(c)
	}
	return c
}

func manyLeaves(n int) Condition {
	kids := make([]Condition, n)
	for i := range kids {
		kids[i] = Leaf("age", OpEq, i)
	}
	return Any(kids...)
}

func list(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func TestValidateRefuses(t *testing.T) {
	tests := []struct {
		name string
		cond Condition
		path string
		msg  string // a part of the message
	}{
		{"zero condition", Condition{}, "conditions", "needs all, any, or a column"},
		{"unknown group", Condition{Group: "some"}, "conditions", `unknown group "some"`},
		{"no column", Leaf("", OpEq, "x"), "conditions.column", "choose a column"},
		{"unknown column", Leaf("countryy", OpEq, "FR"), "conditions.column", `column "countryy" is not in the model`},
		{"unknown column deep", All(Leaf("country", OpEq, "FR"), Any(Leaf("nope", OpEq, 1))), "conditions.all[1].any[0].column", `"nope" is not in the model`},
		{"column names are case-sensitive", Leaf("Country", OpEq, "FR"), "conditions.column", "not in the model"},
		{"unknown op", Leaf("country", "like", "FR"), "conditions.op", `unknown op "like"`},
		{"no op", Leaf("country", "", "FR"), "conditions.op", `unknown op ""`},
		{"gt on text", Leaf("country", OpGt, "FR"), "conditions.op", `"greater than" does not apply to text column "country"`},
		{"between on text", Leaf("email", OpBetween, []any{"a", "b"}), "conditions.op", "does not apply to text"},
		{"within on text", Leaf("email", OpWithinLastDays, 3), "conditions.op", "does not apply to text"},
		{"contains on integer", Leaf("age", OpContains, "3"), "conditions.op", `"contains" does not apply to whole number column "age"`},
		{"starts_with on number", Leaf("score", OpStartsWith, "3"), "conditions.op", "does not apply to number"},
		{"within on number", Leaf("score", OpWithinLastDays, 3), "conditions.op", "does not apply to number"},
		{"gt on boolean", Leaf("vip", OpGt, true), "conditions.op", "does not apply to true/false"},
		{"in on boolean", Leaf("vip", OpIn, []any{true}), "conditions.op", "does not apply to true/false"},
		{"in on date", Leaf("birthday", OpIn, []any{"2024-01-01"}), "conditions.op", "does not apply to date column"},
		{"contains on timestamp", Leaf("signed_up_at", OpContains, "2024"), "conditions.op", "does not apply to date and time"},
		{"eq on json", Leaf("payload", OpEq, "x"), "conditions.op", "does not apply to JSON"},
		{"eq on unknown type", Leaf("blob", OpEq, "x"), "conditions.op", "does not apply"},

		{"eq without value", Leaf("country", OpEq, nil), "conditions.value", `"is" needs a value`},
		{"eq with a list", Leaf("country", OpEq, []string{"FR"}), "conditions.value", "single value, not a list"},
		{"eq with an object", Leaf("country", OpEq, map[string]any{"a": 1}), "conditions.value", "not an object"},
		{"text given a number", Leaf("country", OpEq, 33), "conditions.value", "must be text"},
		{"text given a boolean", Leaf("country", OpNeq, true), "conditions.value", "must be text"},
		{"contains empty", Leaf("email", OpContains, ""), "conditions.value", "enter the text"},
		{"starts_with empty", Leaf("email", OpStartsWith, ""), "conditions.value", "enter the text"},
		{"integer given words", Leaf("age", OpGt, "thirty"), "conditions.value", "must be a whole number"},
		{"integer given a fraction", Leaf("age", OpGt, 3.5), "conditions.value", "must be a whole number"},
		{"integer given hex", Leaf("age", OpGt, "0x10"), "conditions.value", "must be a whole number"},
		{"integer given a boolean", Leaf("age", OpEq, true), "conditions.value", "must be a whole number"},
		{"integer too large", Leaf("age", OpEq, "1e30"), "conditions.value", "must be a whole number"},
		{"number given NaN text", Leaf("score", OpGt, "NaN"), "conditions.value", "must be a number"},
		{"number given Inf text", Leaf("score", OpGt, "Inf"), "conditions.value", "must be a number"},
		{"number overflowing", Leaf("score", OpGt, json.Number("1e400")), "conditions.value", "must be a number"},
		{"number given spaces", Leaf("score", OpGt, " 3"), "conditions.value", "must be a number"},
		{"Go NaN", Leaf("score", OpGt, math.NaN()), "conditions.value", "value is not valid"},
		{"boolean given text", Leaf("vip", OpEq, "true"), "conditions.value", "must be true or false"},
		{"boolean given a number", Leaf("vip", OpEq, 1), "conditions.value", "must be true or false"},
		{"date given another format", Leaf("birthday", OpEq, "01/02/2024"), "conditions.value", "must be a date like 2024-01-31"},
		{"date out of range", Leaf("birthday", OpEq, "2024-02-30"), "conditions.value", "must be a date"},
		{"timestamp given a number", Leaf("signed_up_at", OpGt, 1700000000), "conditions.value", "must be a date"},
		{"in given a scalar", Leaf("country", OpIn, "FR"), "conditions.value", `"is one of" needs a list`},
		{"in given nothing", Leaf("country", OpIn, nil), "conditions.value", "needs a list"},
		{"in empty", Leaf("country", OpIn, []any{}), "conditions.value", "at least one value"},
		{"not_in too long", Leaf("age", OpNotIn, list(MaxListValues+1)), "conditions.value", "at most 1000 values, not 1001"},
		{"in with a wrong item", Leaf("country", OpIn, []any{"FR", 2}), "conditions.value[1]", "must be text"},
		{"in with a null item", Leaf("country", OpIn, []any{nil}), "conditions.value[0]", "a value is required"},
		{"in with a nested list", Leaf("country", OpIn, []any{[]any{"FR"}}), "conditions.value[0]", "not a list"},
		{"between given a scalar", Leaf("age", OpBetween, 3), "conditions.value", "needs two values: [low, high]"},
		{"between given one", Leaf("age", OpBetween, []any{3}), "conditions.value", "needs two values"},
		{"between given three", Leaf("age", OpBetween, []any{1, 2, 3}), "conditions.value", "needs two values"},
		{"between reversed", Leaf("age", OpBetween, []any{5, 1}), "conditions.value", "low end"},
		{"between reversed dates", Leaf("signed_up_at", OpBetween, []any{"2024-02-01", "2024-01-01T00:00:00Z"}), "conditions.value", "low end"},
		{"between bad high", Leaf("score", OpBetween, []any{1, "x"}), "conditions.value[1]", "must be a number"},
		{"between bad low", Leaf("birthday", OpBetween, []any{"soon", "2024-01-01"}), "conditions.value[0]", "must be a date"},
		{"within zero", Leaf("signed_up_at", OpWithinLastDays, 0), "conditions.value", "from 1 to 36500"},
		{"within negative", Leaf("signed_up_at", OpWithinLastDays, -3), "conditions.value", "from 1 to 36500"},
		{"within too many", Leaf("birthday", OpWithinLastDays, MaxDays+1), "conditions.value", "from 1 to 36500"},
		{"within fraction", Leaf("birthday", OpWithinLastDays, 1.5), "conditions.value", "whole number"},
		{"within words", Leaf("birthday", OpWithinLastDays, "a week"), "conditions.value", "whole number"},
		{"within a list", Leaf("birthday", OpWithinLastDays, []any{7}), "conditions.value", "needs a number of days"},
		{"within nothing", Leaf("birthday", OpWithinLastDays, nil), "conditions.value", "needs a number of days"},
		{"is_null with a value", Leaf("country", OpIsNull, "FR"), "conditions.value", `"is unknown" takes no value`},
		{"is_not_null with a value", Leaf("payload", OpIsNotNull, false), "conditions.value", "takes no value"},

		{"too deep", nested(MaxDepth + 1), "conditions" + strings.Repeat(".all[0]", MaxDepth), "nest more than 10 levels"},
		{"too many rules", manyLeaves(MaxLeaves + 1), "conditions", "at most 200 rules"},
		{"too many values", func() Condition {
			kids := make([]Condition, 11)
			for i := range kids {
				kids[i] = Leaf("age", OpIn, list(1000))
			}
			return All(kids...)
		}(), "conditions", "at most 10000 values"},
		{"first error wins", All(Leaf("age", OpGt, "x"), Leaf("nope", OpEq, 1)), "conditions.all[0].value", "whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.cond, modelColumns)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate = %v, want a *FieldError", err)
			}
			if fe.Path != tt.path {
				t.Errorf("path = %q, want %q (message %q)", fe.Path, tt.path, fe.Message)
			}
			if !strings.Contains(fe.Message, tt.msg) {
				t.Errorf("message = %q, want it to contain %q", fe.Message, tt.msg)
			}
			// Compile refuses the same tree with the same error, and writes nothing.
			where, args, cerr := Compile(postgres.Dialect{}, customersTable, tt.cond, modelColumns)
			var cfe *FieldError
			if !errors.As(cerr, &cfe) || *cfe != *fe || where != "" || args != nil {
				t.Errorf("Compile = %q, %v, %v; want the same FieldError and no SQL", where, args, cerr)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name string
		cond Condition
	}{
		{"empty all", All()},
		{"empty any", Any()},
		{"text eq", Leaf("country", OpEq, "FR")},
		{"empty text eq", Leaf("country", OpEq, "")},
		{"text in from Go strings", Leaf("country", OpIn, []string{"FR", "DE"})},
		{"integer from a numeric string", Leaf("age", OpGt, "30")},
		{"integer from an integral float", Leaf("age", OpGt, 30.0)},
		{"integer in exponent form", Leaf("age", OpLt, json.Number("1e3"))},
		{"negative integer", Leaf("age", OpGt, -3)},
		{"number from text", Leaf("score", OpGte, "-2.5e1")},
		{"number between", Leaf("score", OpBetween, []any{1.5, 1.5})},
		{"boolean", Leaf("vip", OpNeq, false)},
		{"date", Leaf("birthday", OpLte, "2000-02-29")},
		{"date from a time", Leaf("birthday", OpGt, "2000-02-29T23:00:00-05:00")},
		{"timestamp RFC 3339", Leaf("signed_up_at", OpGt, "2024-01-31T09:00:00+02:00")},
		{"timestamp without offset", Leaf("signed_up_at", OpGt, "2024-01-31T09:00")},
		{"timestamp date", Leaf("signed_up_at", OpEq, "2024-01-31")},
		{"within from text", Leaf("signed_up_at", OpWithinLastDays, "30")},
		{"within max", Leaf("birthday", OpWithinLastDays, MaxDays)},
		{"null checks on json", Any(Leaf("payload", OpIsNull, nil), Leaf("blob", OpIsNotNull, nil))},
		{"in at the limit", Leaf("age", OpIn, list(MaxListValues))},
		{"deepest allowed", nested(MaxDepth)},
		{"most rules allowed", manyLeaves(MaxLeaves)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Validate(tt.cond, modelColumns); err != nil {
				t.Fatalf("Validate = %v, want nil", err)
			}
		})
	}
}

func TestOperatorsFor(t *testing.T) {
	want := map[connectors.ColumnType][]string{
		connectors.TypeString:    {"eq", "neq", "in", "not_in", "contains", "starts_with", "is_null", "is_not_null"},
		connectors.TypeInteger:   {"eq", "neq", "gt", "gte", "lt", "lte", "in", "not_in", "between", "is_null", "is_not_null"},
		connectors.TypeNumber:    {"eq", "neq", "gt", "gte", "lt", "lte", "in", "not_in", "between", "is_null", "is_not_null"},
		connectors.TypeBoolean:   {"eq", "neq", "is_null", "is_not_null"},
		connectors.TypeDate:      {"eq", "neq", "gt", "gte", "lt", "lte", "between", "within_last_days", "is_null", "is_not_null"},
		connectors.TypeTimestamp: {"eq", "neq", "gt", "gte", "lt", "lte", "between", "within_last_days", "is_null", "is_not_null"},
		connectors.TypeJSON:      {"is_null", "is_not_null"},
		connectors.TypeUnknown:   {"is_null", "is_not_null"},
	}
	for typ, ops := range want {
		if got := OperatorsFor(typ); !slices.Equal(got, ops) {
			t.Errorf("OperatorsFor(%s) = %v, want %v", typ, got, ops)
		}
	}
	// The list is the caller's to keep: changing it changes nothing here.
	OperatorsFor(connectors.TypeBoolean)[0] = "gt"
	if err := Validate(Leaf("vip", OpGt, true), modelColumns); err == nil {
		t.Error("a caller's edit of OperatorsFor's answer widened what Validate accepts")
	}
	// Every operator is offered somewhere and labelled in words.
	for _, op := range Ops() {
		if OpLabel(op) == op && op != OpContains {
			t.Errorf("OpLabel(%q) has no words", op)
		}
	}
	if OpLabel(OpNeq) != "is not" || OpLabel(OpWithinLastDays) != "in the last N days" || OpLabel("zzz") != "zzz" {
		t.Error("OpLabel changed its words")
	}
	if OpLabelFor(connectors.TypeDate, OpGt) != "after" || OpLabelFor(connectors.TypeInteger, OpGt) != "greater than" {
		t.Error("OpLabelFor does not word time comparisons as after/before")
	}
}

func TestColumnsAndRename(t *testing.T) {
	c := All(Leaf("country", OpEq, "FR"), Any(Leaf("age", OpGt, 3), Leaf("country", OpNeq, "DE")), Any())
	if got := c.Columns(); !slices.Equal(got, []string{"country", "age"}) {
		t.Fatalf("Columns = %v", got)
	}
	r := c.RenameColumn("country", "nation")
	if got := r.Columns(); !slices.Equal(got, []string{"nation", "age"}) {
		t.Fatalf("renamed Columns = %v", got)
	}
	if got := c.Columns(); !slices.Equal(got, []string{"country", "age"}) {
		t.Fatalf("RenameColumn changed the original: %v", got)
	}
}
