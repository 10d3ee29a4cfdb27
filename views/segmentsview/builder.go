// Package segmentsview holds the segment pages and the visual condition builder.
package segmentsview

import (
	"fmt"
	"strings"

	"sluice/connectors"
	"sluice/segments"
)

// Node is one row of the builder: a group (Kind "all"/"any") or a rule (Kind "leaf").
// Path addresses it in the form ("r", "r.0", "r.0.2"), so the server can rebuild the
// tree from the posted fields and apply the clicked action.
type Node struct {
	Path     string
	Kind     string
	Column   string
	Op       string
	Value    string
	Value2   string
	Children []Node
	Error    string
	// Incomplete is a rule still waiting for its value: not an error, not counted yet.
	Incomplete bool
}

// FromCondition turns a stored tree into builder rows.
func FromCondition(c segments.Condition, path string) Node {
	if !c.IsLeaf() {
		n := Node{Path: path, Kind: c.Group}
		for i, ch := range c.Children {
			n.Children = append(n.Children, FromCondition(ch, fmt.Sprintf("%s.%d", path, i)))
		}
		return n
	}
	n := Node{Path: path, Kind: "leaf", Column: c.Column, Op: c.Op}
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
func (n Node) Condition(cols []connectors.Column) segments.Condition {
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
func (n *Node) Find(path string) *Node {
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
func (n *Node) Renumber(path string) {
	n.Path = path
	for i := range n.Children {
		n.Children[i].Renumber(fmt.Sprintf("%s.%d", path, i))
	}
}

// Remove drops the node at path (never the root).
func (n *Node) Remove(path string) {
	for i := range n.Children {
		if n.Children[i].Path == path {
			n.Children = append(n.Children[:i], n.Children[i+1:]...)
			return
		}
		n.Children[i].Remove(path)
	}
}

// Leaves counts the rules of a tree.
func (n Node) Leaves() int {
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
func (n Node) Depth() int {
	d := 0
	for _, c := range n.Children {
		d = max(d, c.Depth())
	}
	return d + 1
}

func columnType(cols []connectors.Column, name string) connectors.ColumnType {
	for _, c := range cols {
		if c.Name == name {
			return c.Type
		}
	}
	return connectors.TypeUnknown
}

func needsValue(op string) bool { return op != segments.OpIsNull && op != segments.OpIsNotNull }

func inputKind(t connectors.ColumnType, op string) string {
	switch {
	case op == segments.OpIn || op == segments.OpNotIn:
		return "text"
	case op == segments.OpWithinLastDays:
		return "number"
	case t == connectors.TypeInteger || t == connectors.TypeNumber:
		return "number"
	case t == connectors.TypeDate:
		return "date"
	case t == connectors.TypeTimestamp:
		return "date"
	}
	return "text"
}

func placeholder(t connectors.ColumnType, op string) string {
	switch {
	case op == segments.OpIn || op == segments.OpNotIn:
		return "FR, DE, ES"
	case op == segments.OpWithinLastDays:
		return "30"
	}
	return ""
}

// Bar is one bar of the breakdown chart.
type Bar struct {
	Label   string
	Count   int64
	Percent float64
}
