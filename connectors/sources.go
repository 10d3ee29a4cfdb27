package connectors

import "context"

// SourceSpec describes a source kind: its label and the fields of its form.
type SourceSpec struct {
	Kind   string
	Label  string
	Fields []FieldSpec
}

// SourceConnector opens connections of one kind.
type SourceConnector interface {
	Spec() SourceSpec
	// Open connects lazily or eagerly; connection problems may surface here or in Validate.
	Open(ctx context.Context, cfg Config) (Source, error)
}

// Stage is one of the five source validation stages of the seed, in order.
type Stage string

// The stages, in the order they run.
const (
	StageConnection Stage = "connection"
	StageAccess     Stage = "access"
	StageSchema     Stage = "schema"
	StageGrants     Stage = "grants"
	StageLineage    Stage = "lineage"
)

// Stages lists the stages in order.
var Stages = []Stage{StageConnection, StageAccess, StageSchema, StageGrants, StageLineage}

// Check is one stage's result: ok, or a plain-language reason.
type Check struct {
	Stage   Stage  `json:"stage"`
	OK      bool   `json:"ok"`
	Message string `json:"message"`
	// Skipped is true when an earlier stage failed and this one could not run.
	Skipped bool `json:"skipped,omitempty"`
}

// ColumnType is a warehouse column's type, normalized across engines.
type ColumnType string

// Normalized types.
const (
	TypeString    ColumnType = "string"
	TypeInteger   ColumnType = "integer"
	TypeNumber    ColumnType = "number"
	TypeBoolean   ColumnType = "boolean"
	TypeDate      ColumnType = "date"
	TypeTimestamp ColumnType = "timestamp"
	TypeJSON      ColumnType = "json"
	TypeUnknown   ColumnType = "unknown"
)

// Column is one column of a table or query result.
type Column struct {
	Name string     `json:"name"`
	Type ColumnType `json:"type"`
	// Raw is the engine's own type name, for display.
	Raw string `json:"raw,omitempty"`
}

// Table names a table or view in a schema.
type Table struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
}

// Relation is what a model reads: a table, or a SQL query.
type Relation struct {
	Table *Table
	SQL   string
}

// ModelRef is a model to check in the lineage stage: does its table or query still resolve?
type ModelRef struct {
	Name     string
	Relation Relation
}

// Source is an open connection to a warehouse.
type Source interface {
	// Validate runs the five stages in order; after a failure the later stages are skipped.
	Validate(ctx context.Context, models []ModelRef) []Check
	Schemas(ctx context.Context) ([]string, error)
	Tables(ctx context.Context, schema string) ([]Table, error)
	// Columns describes a relation without reading its rows.
	Columns(ctx context.Context, rel Relation) ([]Column, error)
	// Query streams rows of a parameterized query; fn sees each row's values in column
	// order, and the slice is reused between calls.
	Query(ctx context.Context, sql string, args []any, fn func(row []any) error) error
	Dialect() Dialect
	Close() error
}

// Dialect is what the segment compiler needs to know of a source's SQL. A dialect also
// implements the optional capabilities of capabilities.go that its SQL needs:
// KeyOrderer (without which the engine cannot sync from it), LikeEscaper, TimeBinder.
type Dialect interface {
	// Name is the dialect's family ("postgres", "redshift", "sqlite"), for messages.
	// Nothing switches on it: what a dialect does differently is in its methods and
	// in the capabilities it implements.
	Name() string
	// QuoteIdent quotes an identifier (column or table name) safely.
	QuoteIdent(name string) string
	// Placeholder is the n-th (1-based) bind parameter: "$1" or "?".
	Placeholder(n int) string
	// RelationSQL renders a relation as a FROM item: a quoted table or "(sql) AS alias".
	RelationSQL(rel Relation, alias string) string
	// DaysAgo is an expression for "now minus the number of days in placeholder ph",
	// comparable with the column's values (timestamp or date).
	DaysAgo(ph string) string
	// CaseInsensitiveLike is the operator for contains / starts_with ("ILIKE" or "LIKE").
	CaseInsensitiveLike() string
}
