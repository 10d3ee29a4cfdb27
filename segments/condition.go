// Package segments holds the condition tree a marketer builds visually ("country is FR
// and, any of: age over 30, VIP") and compiles it to parameterized SQL that runs in the
// warehouse, so heavy work stays there and no user value ever becomes SQL text.
//
// The tree is JSON in the API (see Condition), is checked against the model's columns
// with Validate (errors carry the path of the field at fault, for the form and the API's
// "field"), and becomes a WHERE expression with Compile, or a whole statement with
// CountSQL, BreakdownSQL and SelectSQL.
package segments

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Group kinds. A group's children must all match (GroupAll, SQL AND) or at least one
// must (GroupAny, SQL OR).
const (
	GroupAll = "all"
	GroupAny = "any"
)

// Limits on a tree. They keep a hostile or runaway request from building a query the
// warehouse (or our recursion) cannot cope with, while staying far above what a person
// builds by hand: the UI never needs more.
const (
	// MaxDepth is the most levels a tree may nest: the root is level 1, its children
	// level 2, and so on, rules included.
	MaxDepth = 10
	// MaxLeaves is the most rules (leaves) in one tree.
	MaxLeaves = 200
	// MaxListValues is the most values in one in / not_in list.
	MaxListValues = 1000
	// MaxValues is the most bound values in one tree: below PostgreSQL's 65535 and
	// SQLite's 32766 bind-parameter limits, with room to spare.
	MaxValues = 10000
	// MaxDays is the largest within_last_days: a hundred years.
	MaxDays = 36500
)

// RootPath is the path of the whole tree in errors: the API field that carries it.
const RootPath = "conditions"

// Condition is one node of a segment's condition tree: a group (Group is GroupAll or
// GroupAny, Children its members) or a leaf rule (Group is empty; Column, Op, Value).
//
// Its JSON is the API's, exactly: {"all": [...]}, {"any": [...]}, or
// {"column": "country", "op": "eq", "value": "FR"}. An empty all matches every row; an
// empty any matches none.
//
// Value holds what JSON decoding gives (string, json.Number, bool, nil, []any) after
// UnmarshalJSON; code building a Condition may put plain Go values there (int, float64,
// []string, time.Time…): Validate and Compile read both the same way, through their JSON
// form.
type Condition struct {
	Group    string
	Children []Condition
	Column   string
	Op       string
	Value    any
}

// All is a group whose children must all match; with none it matches every row.
func All(children ...Condition) Condition { return Condition{Group: GroupAll, Children: children} }

// Any is a group of which at least one child must match; with none it matches no row.
func Any(children ...Condition) Condition { return Condition{Group: GroupAny, Children: children} }

// Leaf is one rule: column, operator and value (nil for is_null and is_not_null).
func Leaf(column, op string, value any) Condition {
	return Condition{Column: column, Op: op, Value: value}
}

// IsLeaf tells a rule from a group.
func (c Condition) IsLeaf() bool { return c.Group == "" }

// Columns lists the distinct columns the tree's rules use, in first-use order. The
// engine's preflight and the automatic pause need it: a schema issue on one of these
// columns breaks the segment.
func (c Condition) Columns() []string {
	var out []string
	seen := map[string]bool{}
	var walk func(Condition)
	walk = func(n Condition) {
		if n.IsLeaf() {
			if !seen[n.Column] {
				seen[n.Column] = true
				out = append(out, n.Column)
			}
			return
		}
		for _, k := range n.Children {
			walk(k)
		}
	}
	walk(c)
	return out
}

// RenameColumn returns a copy of the tree whose rules on column from use column to
// instead, for the model's remap (a renamed column associated with its old name). The
// receiver is left untouched.
func (c Condition) RenameColumn(from, to string) Condition {
	if c.IsLeaf() {
		if c.Column == from {
			c.Column = to
		}
		return c
	}
	kids := make([]Condition, len(c.Children))
	for i, k := range c.Children {
		kids[i] = k.RenameColumn(from, to)
	}
	c.Children = kids
	return c
}

// MarshalJSON writes the API form. An empty group is written with an empty list (never
// null), and a rule without a value (is_null, is_not_null) without "value". The zero
// Condition, which JSON null decodes to, is written as null: as a rule without a column
// it would not decode again.
func (c Condition) MarshalJSON() ([]byte, error) {
	if c.IsLeaf() && c.Column == "" && c.Op == "" && c.Value == nil {
		return []byte("null"), nil
	}
	if !c.IsLeaf() {
		if c.Group != GroupAll && c.Group != GroupAny {
			return nil, fmt.Errorf("segments: unknown group %q", c.Group)
		}
		kids := c.Children
		if kids == nil {
			kids = []Condition{}
		}
		return json.Marshal(map[string][]Condition{c.Group: kids})
	}
	type leaf struct {
		Column string `json:"column"`
		Op     string `json:"op"`
		Value  any    `json:"value,omitempty"`
	}
	return json.Marshal(leaf{Column: c.Column, Op: c.Op, Value: c.Value})
}

// UnmarshalJSON reads the API form and refuses, with a *FieldError naming the path, any
// shape that is not a condition: both a group and a rule in one object, both all and
// any, an unknown key or operator, a missing column or op, nesting deeper than MaxDepth
// or more than MaxLeaves rules. Whether the columns exist and the values fit them is
// Validate's job, since that needs the model. JSON null leaves the condition as it is,
// as encoding/json's convention asks.
func (c *Condition) UnmarshalJSON(data []byte) error {
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return nil
	}
	p := parser{}
	parsed, err := p.parse(data, RootPath, 1)
	if err != nil {
		return err
	}
	*c = parsed
	return nil
}

// Parse reads a condition tree stored as JSON (a segment's conditions), with the checks
// of UnmarshalJSON.
func Parse(raw string) (Condition, error) {
	var c Condition
	err := json.Unmarshal([]byte(raw), &c)
	return c, err
}

type parser struct{ leaves int }

func (p *parser) parse(data []byte, path string, depth int) (Condition, error) {
	if depth > MaxDepth {
		return Condition{}, fieldErr(path, "conditions nest more than %d levels deep", MaxDepth)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		return Condition{}, fieldErr(path, `a condition must be an object: {"all": [...]}, {"any": [...]} or {"column": ..., "op": ..., "value": ...}`)
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var group, leafKey string
	for _, k := range keys {
		switch k {
		case GroupAll, GroupAny:
			if group != "" {
				return Condition{}, fieldErr(path, "a group is either all or any, not both")
			}
			group = k
		case "column", "op", "value":
			if leafKey == "" {
				leafKey = k
			}
		default:
			return Condition{}, fieldErr(path+"."+k, "unknown field %q: a condition has all, any, or column, op and value", k)
		}
	}
	if group != "" && leafKey != "" {
		return Condition{}, fieldErr(path, "a condition is either a group (%s) or a rule (column, op, value), not both", group)
	}
	if group != "" {
		return p.parseGroup(obj[group], path+"."+group, group, depth)
	}
	return p.parseLeaf(obj, path)
}

func (p *parser) parseGroup(data json.RawMessage, path, group string, depth int) (Condition, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(data, &items); err != nil || items == nil {
		return Condition{}, fieldErr(path, "must be a list of conditions")
	}
	c := Condition{Group: group, Children: make([]Condition, 0, len(items))}
	for i, raw := range items {
		kid, err := p.parse(raw, fmt.Sprintf("%s[%d]", path, i), depth+1)
		if err != nil {
			return Condition{}, err
		}
		c.Children = append(c.Children, kid)
	}
	return c, nil
}

func (p *parser) parseLeaf(obj map[string]json.RawMessage, path string) (Condition, error) {
	p.leaves++
	if p.leaves > MaxLeaves {
		return Condition{}, fieldErr(RootPath, "a segment holds at most %d rules", MaxLeaves)
	}
	var c Condition
	raw, ok := obj["column"]
	if !ok {
		return Condition{}, fieldErr(path+".column", "column is required")
	}
	if err := json.Unmarshal(raw, &c.Column); err != nil {
		return Condition{}, fieldErr(path+".column", "column must be a column name")
	}
	if c.Column == "" {
		return Condition{}, fieldErr(path+".column", "column is required")
	}
	raw, ok = obj["op"]
	if !ok {
		return Condition{}, fieldErr(path+".op", "op is required")
	}
	if err := json.Unmarshal(raw, &c.Op); err != nil {
		return Condition{}, fieldErr(path+".op", "op must be one of %s", strings.Join(allOps, ", "))
	}
	if !isOp(c.Op) {
		return Condition{}, fieldErr(path+".op", "unknown op %q: use one of %s", c.Op, strings.Join(allOps, ", "))
	}
	if raw, ok := obj["value"]; ok {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&c.Value); err != nil {
			return Condition{}, fieldErr(path+".value", "value is not valid JSON")
		}
	}
	return c, nil
}
