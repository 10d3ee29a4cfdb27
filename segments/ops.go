package segments

import (
	"slices"

	"sluice/connectors"
)

// Operators, as the API spells them.
const (
	OpEq             = "eq"
	OpNeq            = "neq"
	OpGt             = "gt"
	OpGte            = "gte"
	OpLt             = "lt"
	OpLte            = "lte"
	OpIn             = "in"
	OpNotIn          = "not_in"
	OpContains       = "contains"
	OpStartsWith     = "starts_with"
	OpIsNull         = "is_null"
	OpIsNotNull      = "is_not_null"
	OpBetween        = "between"
	OpWithinLastDays = "within_last_days"
)

// allOps is every operator in the API's order (read only; never handed out).
var allOps = []string{
	OpEq, OpNeq, OpGt, OpGte, OpLt, OpLte, OpIn, OpNotIn, OpContains, OpStartsWith,
	OpIsNull, OpIsNotNull, OpBetween, OpWithinLastDays,
}

func isOp(op string) bool { return slices.Contains(allOps, op) }

// Ops lists every operator the API knows, in its documented order.
func Ops() []string { return slices.Clone(allOps) }

// OperatorsFor lists the operators that make sense on a column of normalized type t, in
// the order a picker should show them. Validate refuses any other, so the UI and the API
// agree on one list. Comparisons (gt, lt, between) are offered on numbers and dates
// only, not on text, because text ordering depends on each warehouse's collation and
// would count differently from one source to the next. JSON and unknown columns only
// get the null checks: nothing else compares the same way everywhere.
func OperatorsFor(t connectors.ColumnType) []string {
	switch t {
	case connectors.TypeString:
		return []string{OpEq, OpNeq, OpIn, OpNotIn, OpContains, OpStartsWith, OpIsNull, OpIsNotNull}
	case connectors.TypeInteger, connectors.TypeNumber:
		return []string{OpEq, OpNeq, OpGt, OpGte, OpLt, OpLte, OpIn, OpNotIn, OpBetween, OpIsNull, OpIsNotNull}
	case connectors.TypeBoolean:
		return []string{OpEq, OpNeq, OpIsNull, OpIsNotNull}
	case connectors.TypeDate, connectors.TypeTimestamp:
		return []string{OpEq, OpNeq, OpGt, OpGte, OpLt, OpLte, OpBetween, OpWithinLastDays, OpIsNull, OpIsNotNull}
	default:
		return []string{OpIsNull, OpIsNotNull}
	}
}

// OpLabel is the words a marketer reads for an operator in the condition builder and in
// run and segment summaries ("country is not FR"). NULL is called "unknown" (is_null is
// "is unknown"), not "empty", because an empty text is a value too and is_null does not
// match it. An unknown operator is returned as is, so a label never hides what was stored.
func OpLabel(op string) string {
	switch op {
	case OpEq:
		return "is"
	case OpNeq:
		return "is not"
	case OpGt:
		return "greater than"
	case OpGte:
		return "greater than or equal to"
	case OpLt:
		return "less than"
	case OpLte:
		return "less than or equal to"
	case OpIn:
		return "is one of"
	case OpNotIn:
		return "is not one of"
	case OpContains:
		return "contains"
	case OpStartsWith:
		return "starts with"
	case OpIsNull:
		return "is unknown"
	case OpIsNotNull:
		return "is known"
	case OpBetween:
		return "is between"
	case OpWithinLastDays:
		return "in the last N days"
	}
	return op
}

// OpLabelFor is OpLabel worded for the column's type: on dates and timestamps the
// comparisons read "after", "before", "on or after", "on or before", which is how people
// speak of time. Other types get OpLabel.
func OpLabelFor(t connectors.ColumnType, op string) string {
	if t == connectors.TypeDate || t == connectors.TypeTimestamp {
		switch op {
		case OpGt:
			return "after"
		case OpGte:
			return "on or after"
		case OpLt:
			return "before"
		case OpLte:
			return "on or before"
		}
	}
	return OpLabel(op)
}

// typeLabel names a normalized type in messages.
func typeLabel(t connectors.ColumnType) string {
	switch t {
	case connectors.TypeString:
		return "text"
	case connectors.TypeInteger:
		return "whole number"
	case connectors.TypeNumber:
		return "number"
	case connectors.TypeBoolean:
		return "true/false"
	case connectors.TypeDate:
		return "date"
	case connectors.TypeTimestamp:
		return "date and time"
	case connectors.TypeJSON:
		return "JSON"
	}
	return "unknown-type"
}
