package handlers

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"sluice/connectors"
	"sluice/models"
	"sluice/segments"
	"sluice/views/segmentsview"
)

// This file is the segment builder's form: the rows posted as n.<path>.<field> rebuilt
// into a tree, the clicked action applied to it, and the tree read as a condition.

// builderNode is one posted row of the segment builder: a group (Kind "all"/"any") or a
// rule (Kind "leaf"). Path addresses it in the form ("r", "r.0", "r.0.2"), so the server
// can rebuild the tree from the posted fields and apply the clicked action.
type builderNode struct {
	Path     string
	Kind     string
	Column   string
	Op       string
	Value    string
	Value2   string
	Children []builderNode
	Error    string
	// Incomplete is a rule still waiting for its value: not an error, not counted yet.
	Incomplete bool
}

// builderState is the builder as posted: the tree rebuilt from its fields.
type builderState struct {
	segmentID, name, modelID, breakdown, action string
	root                                        builderNode
}

// pathLess orders paths like "r.2" < "r.10", so rows keep their order.
func pathLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] == pb[i] {
			continue
		}
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		if ea == nil && eb == nil {
			return na < nb
		}
		return pa[i] < pb[i]
	}
	return len(pa) < len(pb)
}

// parseBuilder rebuilds the tree from fields named n.<path>.<field>.
func parseBuilder(form url.Values) builderState {
	st := builderState{segmentID: form.Get("segment_id"), name: form.Get("name"), modelID: form.Get("model_id"), breakdown: form.Get("breakdown"), action: form.Get("action")}
	nodes := map[string]*builderNode{}
	for key, vals := range form {
		rest, ok := strings.CutPrefix(key, "n.")
		if !ok || len(vals) == 0 {
			continue
		}
		i := strings.LastIndex(rest, ".")
		if i < 0 {
			continue
		}
		path, field := rest[:i], rest[i+1:]
		n := nodes[path]
		if n == nil {
			n = &builderNode{Path: path}
			nodes[path] = n
		}
		switch field {
		case "kind":
			n.Kind = vals[0]
		case "column":
			n.Column = vals[0]
		case "op":
			n.Op = vals[0]
		case "value":
			n.Value = vals[0]
		case "value2":
			n.Value2 = vals[0]
		}
	}
	paths := make([]string, 0, len(nodes))
	for p := range nodes {
		paths = append(paths, p)
	}
	sort.Slice(paths, func(i, j int) bool { return pathLess(paths[i], paths[j]) })
	st.root = builderNode{Path: "r", Kind: segments.GroupAll}
	if r, ok := nodes["r"]; ok && r.Kind == segments.GroupAny {
		st.root.Kind = segments.GroupAny
	}
	// Attach children deepest-last: parents sort before their children.
	for _, p := range paths {
		if p == "r" {
			continue
		}
		parent := st.root.Find(p[:strings.LastIndex(p, ".")])
		if parent == nil || parent.Kind == "leaf" {
			continue
		}
		n := *nodes[p]
		if n.Kind != "leaf" && n.Kind != segments.GroupAny {
			n.Kind = segments.GroupAll
		}
		parent.Children = append(parent.Children, n)
	}
	st.root.Renumber("r")
	return st
}

// builderFromCondition turns a stored tree into builder rows.
func builderFromCondition(c segments.Condition, path string) builderNode {
	if !c.IsLeaf() {
		n := builderNode{Path: path, Kind: c.Group}
		for i, ch := range c.Children {
			n.Children = append(n.Children, builderFromCondition(ch, fmt.Sprintf("%s.%d", path, i)))
		}
		return n
	}
	n := builderNode{Path: path, Kind: "leaf", Column: c.Column, Op: c.Op}
	switch v := c.Value.(type) {
	case nil:
	case []any:
		parts := make([]string, len(v))
		for i, p := range v {
			parts[i] = fmt.Sprint(p)
		}
		if c.Op == segments.OpBetween && len(parts) == 2 {
			n.Value, n.Value2 = parts[0], parts[1]
		} else {
			n.Value = strings.Join(parts, ", ")
		}
	default:
		n.Value = fmt.Sprint(v)
	}
	return n
}

// Condition turns builder rows back into a tree, reading each value as the column's
// type needs it; Validate then judges what the user typed.
func (n builderNode) Condition(cols []connectors.Column) segments.Condition {
	if n.Kind != "leaf" {
		kids := make([]segments.Condition, 0, len(n.Children))
		for _, ch := range n.Children {
			kids = append(kids, ch.Condition(cols))
		}
		if n.Kind == segments.GroupAny {
			return segments.Any(kids...)
		}
		return segments.All(kids...)
	}
	var typ connectors.ColumnType
	for _, c := range cols {
		if c.Name == n.Column {
			typ = c.Type
		}
	}
	var value any
	switch n.Op {
	case segments.OpIsNull, segments.OpIsNotNull:
	case segments.OpIn, segments.OpNotIn:
		var list []any
		for _, p := range strings.Split(n.Value, ",") {
			if p = strings.TrimSpace(p); p != "" {
				list = append(list, typed(typ, p))
			}
		}
		value = list
	case segments.OpBetween:
		value = []any{typed(typ, n.Value), typed(typ, n.Value2)}
	default:
		value = typed(typ, strings.TrimSpace(n.Value))
	}
	return segments.Leaf(n.Column, n.Op, value)
}

// typed reads a typed-in value: booleans as bools, the rest as text (Validate accepts
// numeric text for numbers and ISO text for dates, and says what is wrong otherwise).
func typed(t connectors.ColumnType, s string) any {
	if t == connectors.TypeBoolean {
		switch strings.ToLower(s) {
		case "true", "yes":
			return true
		case "false", "no":
			return false
		}
	}
	return s
}

// Find returns the node at path.
func (n *builderNode) Find(path string) *builderNode {
	if n.Path == path {
		return n
	}
	for i := range n.Children {
		if f := n.Children[i].Find(path); f != nil {
			return f
		}
	}
	return nil
}

// Renumber gives every node its path again after rows were added or removed.
func (n *builderNode) Renumber(path string) {
	n.Path = path
	for i := range n.Children {
		n.Children[i].Renumber(fmt.Sprintf("%s.%d", path, i))
	}
}

// Remove drops the node at path (never the root).
func (n *builderNode) Remove(path string) {
	for i := range n.Children {
		if n.Children[i].Path == path {
			n.Children = append(n.Children[:i], n.Children[i+1:]...)
			return
		}
		n.Children[i].Remove(path)
	}
}

// Leaves counts the rules of a tree.
func (n builderNode) Leaves() int {
	if n.Kind == "leaf" {
		return 1
	}
	total := 0
	for _, c := range n.Children {
		total += c.Leaves()
	}
	return total
}

// Depth is how many levels the tree has.
func (n builderNode) Depth() int {
	d := 0
	for _, c := range n.Children {
		d = max(d, c.Depth())
	}
	return d + 1
}

// view is the tree as the builder shows it.
func (n builderNode) view() segmentsview.Node {
	v := segmentsview.Node{Path: n.Path, Kind: n.Kind, Column: n.Column, Op: n.Op, Value: n.Value, Value2: n.Value2, Error: n.Error, Incomplete: n.Incomplete}
	for _, ch := range n.Children {
		v.Children = append(v.Children, ch.view())
	}
	return v
}

// apply carries out the clicked action: add a rule or a group, or remove a row.
func (st *builderState) apply(m *models.DataModel) {
	kind, path, _ := strings.Cut(st.action, ":")
	target := st.root.Find(path)
	if target == nil {
		return
	}
	switch kind {
	case "add-leaf":
		if st.root.Leaves() >= segments.MaxLeaves {
			return
		}
		n := builderNode{Kind: "leaf"}
		if cols := m.Columns(); len(cols) > 0 {
			n.Column, n.Op = cols[0].Name, segments.OperatorsFor(cols[0].Type)[0]
		}
		target.Children = append(target.Children, n)
	case "add-group":
		if st.root.Depth() < segments.MaxDepth-1 {
			target.Children = append(target.Children, builderNode{Kind: segments.GroupAll})
		}
	case "remove":
		st.root.Remove(path)
	}
	st.root.Renumber("r")
}

// fixOperators keeps each rule's operator valid for its column (the column may have
// just changed).
func fixOperators(n *builderNode, m *models.DataModel) {
	if n.Kind == "leaf" {
		col, ok := m.Column(n.Column)
		if !ok && len(m.Columns()) > 0 {
			col = m.Columns()[0]
			n.Column = col.Name
		}
		ops := segments.OperatorsFor(col.Type)
		valid := false
		for _, op := range ops {
			valid = valid || op == n.Op
		}
		if !valid && len(ops) > 0 {
			n.Op = ops[0]
		}
		return
	}
	for i := range n.Children {
		fixOperators(&n.Children[i], m)
	}
}

// markErrors puts each rule's validation error beside it. A rule whose value is not
// typed yet is incomplete rather than wrong: it waits quietly.
func markErrors(n *builderNode, m *models.DataModel) (valid, complete bool) {
	valid, complete = true, true
	if n.Kind == "leaf" {
		n.Error, n.Incomplete = "", false
		if n.Op != segments.OpIsNull && n.Op != segments.OpIsNotNull && strings.TrimSpace(n.Value) == "" {
			n.Incomplete = true
			return true, false
		}
		if err := segments.Validate(n.Condition(m.Columns()), m.Columns()); err != nil {
			var fe *segments.FieldError
			if asSegmentErr(err, &fe) {
				n.Error = fe.Message
			} else {
				n.Error = "This rule cannot be checked against the model's columns."
			}
			return false, true
		}
		return true, true
	}
	for i := range n.Children {
		v, c := markErrors(&n.Children[i], m)
		valid, complete = valid && v, complete && c
	}
	return valid, complete
}
