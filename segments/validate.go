package segments

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"sluice/connectors"
)

// FieldError is a condition the tree cannot hold, with the path of the field at fault
// ("conditions.all[1].any[0].column") so the form can show the message beside that rule
// and the API can answer 422 with it as "field". Message is plain language, safe to show.
type FieldError struct {
	Path    string
	Message string
}

// Error reads "segments: <path>: <message>".
func (e *FieldError) Error() string { return "segments: " + e.Path + ": " + e.Message }

// CompileMessage is what a user reads when a segment cannot be compiled: the rule at
// fault and why, or a plain sentence for any other error.
func CompileMessage(err error) string {
	var fe *FieldError
	if errors.As(err, &fe) {
		return "The segment cannot be compiled: " + fe.Message
	}
	return "The segment cannot be compiled for this source. Open the segment and save it again."
}

func fieldErr(path, format string, a ...any) *FieldError {
	return &FieldError{Path: path, Message: fmt.Sprintf(format, a...)}
}

// Validate checks a tree against the model's columns: every rule names a column of the
// model, its operator fits the column's type (OperatorsFor), and its value has the right
// shape and type; it also holds the limits (MaxDepth, MaxLeaves, MaxValues). The first
// problem, in tree order, is returned as a *FieldError; nil means Compile will accept
// the tree. Values are read leniently where nothing is lost — a number may be a JSON
// number or a numeric string — and strictly elsewhere: booleans are true or false, dates
// are 2006-01-02 or RFC 3339 (2006-01-02T15:04:05Z07:00; without an offset, UTC).
func Validate(cond Condition, columns []connectors.Column) error {
	if _, err := plan(cond, columns); err != nil {
		return err
	}
	return nil
}

// node is a checked tree: rules carry their model column and typed operands, so the
// compiler never reads a raw value.
type node struct {
	group    string
	children []node
	col      connectors.Column
	op       string
	vals     []any // string, int64, float64, bool or when, per the column's type; int64 days for within_last_days
}

// when is a date or time operand. day is true when only the calendar day is meant: a
// date column, or a date without a time given for a timestamp column (where "is
// 2024-03-01" then means the whole day).
type when struct {
	t   time.Time // UTC; midnight when day is set
	day bool
}

type checker struct {
	cols   []connectors.Column
	leaves int
	values int
}

func plan(cond Condition, columns []connectors.Column) (node, error) {
	c := checker{cols: columns}
	return c.check(cond, RootPath, 1)
}

func (c *checker) check(cond Condition, path string, depth int) (node, error) {
	if depth > MaxDepth {
		return node{}, fieldErr(path, "conditions nest more than %d levels deep", MaxDepth)
	}
	if !cond.IsLeaf() {
		if cond.Group != GroupAll && cond.Group != GroupAny {
			return node{}, fieldErr(path, "unknown group %q: use all or any", cond.Group)
		}
		n := node{group: cond.Group, children: make([]node, 0, len(cond.Children))}
		for i, kid := range cond.Children {
			k, err := c.check(kid, fmt.Sprintf("%s.%s[%d]", path, cond.Group, i), depth+1)
			if err != nil {
				return node{}, err
			}
			n.children = append(n.children, k)
		}
		return n, nil
	}
	c.leaves++
	if c.leaves > MaxLeaves {
		return node{}, fieldErr(RootPath, "a segment holds at most %d rules", MaxLeaves)
	}
	if cond.Column == "" {
		if cond.Op == "" && cond.Value == nil {
			return node{}, fieldErr(path, "a condition needs all, any, or a column, op and value")
		}
		return node{}, fieldErr(path+".column", "choose a column")
	}
	col, ok := findColumn(c.cols, cond.Column)
	if !ok {
		return node{}, fieldErr(path+".column", "column %q is not in the model", cond.Column)
	}
	if !isOp(cond.Op) {
		return node{}, fieldErr(path+".op", "unknown op %q: use one of %s", cond.Op, strings.Join(allOps, ", "))
	}
	if !fits(col.Type, cond.Op) {
		return node{}, fieldErr(path+".op", "%q does not apply to %s column %q", OpLabel(cond.Op), typeLabel(col.Type), col.Name)
	}
	vals, err := operands(col, cond.Op, cond.Value, path+".value")
	if err != nil {
		return node{}, err
	}
	c.values += len(vals)
	if c.values > MaxValues {
		return node{}, fieldErr(RootPath, "a segment holds at most %d values in all", MaxValues)
	}
	return node{col: col, op: cond.Op, vals: vals}, nil
}

func fits(t connectors.ColumnType, op string) bool {
	for _, o := range OperatorsFor(t) {
		if o == op {
			return true
		}
	}
	return false
}

// operands checks a rule's value against its operator and column and returns it typed.
func operands(col connectors.Column, op string, raw any, path string) ([]any, error) {
	v, err := canonical(raw)
	if err != nil {
		return nil, fieldErr(path, "value is not valid: %v", err)
	}
	list, isList := v.([]any)
	switch op {
	case OpIsNull, OpIsNotNull:
		if v != nil {
			return nil, fieldErr(path, "%q takes no value", OpLabel(op))
		}
		return nil, nil
	case OpIn, OpNotIn:
		if !isList {
			return nil, fieldErr(path, "%q needs a list of values", OpLabel(op))
		}
		if len(list) == 0 {
			return nil, fieldErr(path, "%q needs at least one value", OpLabel(op))
		}
		if len(list) > MaxListValues {
			return nil, fieldErr(path, "%q takes at most %d values, not %d", OpLabel(op), MaxListValues, len(list))
		}
		out := make([]any, len(list))
		for i, item := range list {
			t, err := scalar(col, item, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = t
		}
		return out, nil
	case OpBetween:
		if !isList || len(list) != 2 {
			return nil, fieldErr(path, "%q needs two values: [low, high]", OpLabel(op))
		}
		lo, err := scalar(col, list[0], path+"[0]")
		if err != nil {
			return nil, err
		}
		hi, err := scalar(col, list[1], path+"[1]")
		if err != nil {
			return nil, err
		}
		if above(lo, hi) {
			return nil, fieldErr(path, "the low end of %q must not be above the high end", OpLabel(op))
		}
		return []any{lo, hi}, nil
	case OpWithinLastDays:
		if isList || v == nil {
			return nil, fieldErr(path, "%q needs a number of days", OpLabel(op))
		}
		n, ok := wholeNumber(v)
		if !ok || n < 1 || n > MaxDays {
			return nil, fieldErr(path, "the number of days must be a whole number from 1 to %d", MaxDays)
		}
		return []any{n}, nil
	}
	// eq, neq, gt, gte, lt, lte, contains, starts_with: one value.
	if v == nil {
		return nil, fieldErr(path, "%q needs a value", OpLabel(op))
	}
	if isList {
		return nil, fieldErr(path, "%q needs a single value, not a list", OpLabel(op))
	}
	t, err := scalar(col, v, path)
	if err != nil {
		return nil, err
	}
	if (op == OpContains || op == OpStartsWith) && t == "" {
		return nil, fieldErr(path, "enter the text to look for")
	}
	return []any{t}, nil
}

// scalar reads one value for a column of its type.
func scalar(col connectors.Column, v any, path string) (any, error) {
	if v == nil {
		return nil, fieldErr(path, "a value is required")
	}
	if _, ok := v.([]any); ok {
		return nil, fieldErr(path, "must be a single value, not a list")
	}
	if _, ok := v.(map[string]any); ok {
		return nil, fieldErr(path, "must be a single value, not an object")
	}
	switch col.Type {
	case connectors.TypeString:
		s, ok := v.(string)
		if !ok {
			return nil, fieldErr(path, "must be text")
		}
		return s, nil
	case connectors.TypeInteger:
		n, ok := wholeNumber(v)
		if !ok {
			return nil, fieldErr(path, "must be a whole number")
		}
		return n, nil
	case connectors.TypeNumber:
		f, ok := number(v)
		if !ok {
			return nil, fieldErr(path, "must be a number")
		}
		return f, nil
	case connectors.TypeBoolean:
		b, ok := v.(bool)
		if !ok {
			return nil, fieldErr(path, "must be true or false")
		}
		return b, nil
	case connectors.TypeDate, connectors.TypeTimestamp:
		s, ok := v.(string)
		if !ok {
			return nil, fieldErr(path, "must be a date like 2024-01-31 or a time like 2024-01-31T09:00:00Z")
		}
		w, ok := parseWhen(s, col.Type == connectors.TypeDate)
		if !ok {
			return nil, fieldErr(path, "must be a date like 2024-01-31 or a time like 2024-01-31T09:00:00Z")
		}
		return w, nil
	}
	return nil, fieldErr(path, "%s columns take no value", typeLabel(col.Type))
}

// canonical turns a value into its JSON form (nil, bool, string, json.Number, []any,
// map[string]any), so a tree built in Go and one decoded from the API read the same.
func canonical(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string, json.Number:
		return x, nil
	case int:
		return json.Number(strconv.Itoa(x)), nil
	case int64:
		return json.Number(strconv.FormatInt(x, 10)), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%v is not a number JSON can hold", x)
		}
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64)), nil
	case []any:
		out := make([]any, len(x))
		for i, item := range x {
			c, err := canonical(item)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	}
	var data []byte
	if raw, ok := v.(json.RawMessage); ok {
		data = raw
	} else {
		var err error
		if data, err = json.Marshal(v); err != nil {
			return nil, err
		}
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var out any
	if err := d.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

// decimal is a plain decimal number as text: what a numeric string may be (no hex, no
// underscores, no NaN or Inf, which strconv would take).
var decimal = regexp.MustCompile(`^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$`)

// numberText gives the text of a JSON number or numeric string.
func numberText(v any) (string, bool) {
	switch x := v.(type) {
	case json.Number:
		return string(x), true
	case string:
		if decimal.MatchString(x) {
			return x, true
		}
	}
	return "", false
}

func number(v any) (float64, bool) {
	s, ok := numberText(v)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// wholeNumber reads an integer, also from an integral float (3.0, 1e3) as long as it is
// exactly representable.
func wholeNumber(v any) (int64, bool) {
	s, ok := numberText(v)
	if !ok {
		return 0, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

// dayLayout is an ISO 8601 calendar date.
const dayLayout = "2006-01-02"

// timeLayouts are the accepted times: RFC 3339, and the same without an offset (read as
// UTC: what an HTML datetime-local input sends).
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02 15:04:05"}

// parseWhen reads a date or time. For a date column only the calendar day counts (of the
// time as written, in its own offset); for a timestamp column a bare date means that
// whole UTC day, and a time is the instant, in UTC.
func parseWhen(s string, dateColumn bool) (when, bool) {
	if t, err := time.Parse(dayLayout, s); err == nil {
		return when{t: t, day: true}, true
	}
	for _, layout := range timeLayouts {
		t, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		if dateColumn {
			y, m, d := t.Date()
			return when{t: time.Date(y, m, d, 0, 0, 0, 0, time.UTC), day: true}, true
		}
		return when{t: t.UTC()}, true
	}
	return when{}, false
}

// above tells whether a typed low operand lies above the high one.
func above(lo, hi any) bool {
	switch l := lo.(type) {
	case int64:
		return l > hi.(int64)
	case float64:
		return l > hi.(float64)
	case when:
		return l.t.After(hi.(when).t)
	}
	return false
}
