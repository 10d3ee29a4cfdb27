// Package segmentsview holds the segment pages and the visual condition builder.
package segmentsview

import (
	"sluice/connectors"
	"sluice/segments"
)

// Node is one row of the builder as shown: a group (Kind "all"/"any") or a rule (Kind
// "leaf"), with the error beside it. Path addresses it in the form ("r", "r.0",
// "r.0.2"): its inputs are named n.<path>.<field> and its buttons post <action>:<path>.
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
