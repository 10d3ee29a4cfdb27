package postgres

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"

	"sluice/connectors"
	"sluice/sources/sqlsource"
)

// schemasSQL lists the schemas the user may use, system ones left out. It uses only what
// PostgreSQL and Redshift share (left() rather than a regular expression or LIKE escape).
const schemasSQL = `SELECT nspname FROM pg_catalog.pg_namespace
WHERE left(nspname, 3) <> 'pg_' AND nspname <> 'information_schema' AND has_schema_privilege(nspname, 'USAGE')
ORDER BY nspname`

const schemaCountSQL = `SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname = $1`

// querier is what both a pool and a single connection offer; catalogue lookups run on
// either (the pool for the editor, the validation connection for checks).
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Schemas lists the schemas the user may use, for the source form's schema picker.
func (s *source) Schemas(ctx context.Context) ([]string, error) {
	names, err := s.names(ctx, s.pool, schemasSQL)
	if err != nil {
		return nil, fmt.Errorf("%s: schemas: %w", s.flavor.Kind, s.set.classify(err))
	}
	return names, nil
}

// Tables lists the tables and views of a schema (the configured one when empty), for the
// model editor. A schema that does not exist is an error, not an empty list, so the
// editor can say why nothing is offered.
func (s *source) Tables(ctx context.Context, schema string) ([]connectors.Table, error) {
	schema = s.schemaOr(schema)
	names, err := s.names(ctx, s.pool, s.flavor.TablesSQL, schema)
	if err != nil {
		return nil, fmt.Errorf("%s: tables: %w", s.flavor.Kind, s.set.classify(err))
	}
	if len(names) == 0 {
		if ok, err := s.count(ctx, s.pool, schemaCountSQL, schema); err == nil && ok == 0 {
			return nil, &connectors.Error{Category: connectors.CategoryNotFound, Field: "schema",
				Message: fmt.Sprintf("Schema %q does not exist.", schema)}
		}
	}
	tables := make([]connectors.Table, len(names))
	for i, n := range names {
		tables[i] = connectors.Table{Schema: schema, Name: n}
	}
	return tables, nil
}

// Columns describes a relation without reading its rows: a table from the catalogue, a
// SQL model from the server's description of the prepared statement (nothing runs).
func (s *source) Columns(ctx context.Context, rel connectors.Relation) ([]connectors.Column, error) {
	if rel.Table != nil {
		return s.tableColumns(ctx, s.pool, rel.Table.Schema, rel.Table.Name)
	}
	if sqlsource.TrimSQL(rel.SQL) == "" {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Message: "The model has neither a table nor SQL."}
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: columns: %w", s.flavor.Kind, s.set.classify(err))
	}
	defer conn.Release()
	return s.sqlColumns(ctx, conn.Conn(), rel.SQL)
}

func (s *source) tableColumns(ctx context.Context, q querier, schema, name string) ([]connectors.Column, error) {
	schema = s.schemaOr(schema)
	rows, err := q.Query(ctx, s.flavor.ColumnsSQL, schema, name)
	if err != nil {
		return nil, fmt.Errorf("%s: columns: %w", s.flavor.Kind, s.set.classify(err))
	}
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (connectors.Column, error) {
		var name, typ, raw string
		err := r.Scan(&name, &typ, &raw)
		return connectors.Column{Name: name, Type: NormalizeType(typ), Raw: raw}, err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: columns: %w", s.flavor.Kind, s.set.classify(err))
	}
	if len(cols) == 0 {
		// PostgreSQL allows a table without columns; only call it missing if it is.
		if n, err := s.count(ctx, q, s.flavor.RelationCountSQL, schema, name); err == nil && n == 0 {
			return nil, &connectors.Error{Category: connectors.CategoryNotFound,
				Message: fmt.Sprintf("Table %s does not exist.", sqlsource.DisplayName(schema, name))}
		}
	}
	return cols, nil
}

// sqlColumns asks the server to describe the model's query: the field descriptions carry
// each column's type OID, which the connection's type map names (or pg_type, for
// extension types, domains and enums).
func (s *source) sqlColumns(ctx context.Context, conn *pgx.Conn, sql string) ([]connectors.Column, error) {
	desc, err := conn.PgConn().Prepare(ctx, "", sqlsource.ModelSQL(sql), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: describe model sql: %w", s.flavor.Kind, s.set.classify(err))
	}
	cols := make([]connectors.Column, len(desc.Fields))
	for i, f := range desc.Fields {
		base, raw := typeForOID(ctx, conn, f.DataTypeOID)
		cols[i] = connectors.Column{Name: f.Name, Type: NormalizeType(base), Raw: raw}
	}
	return cols, nil
}

// typeForOID names a type OID: the name to normalize (base type of a domain, text for an
// enum) and the name to show. Unknown OIDs are looked up in pg_type; an OID is a number
// from the server, so it is written into the statement rather than bound, which keeps
// the lookup free of parameter-type inference on engines that infer differently.
func typeForOID(ctx context.Context, conn *pgx.Conn, oid uint32) (base, raw string) {
	if t, ok := conn.TypeMap().TypeForOID(oid); ok {
		return t.Name, t.Name
	}
	q := fmt.Sprintf(`SELECT CASE WHEN t.typtype = 'd' THEN b.typname WHEN t.typtype = 'e' THEN 'text' ELSE t.typname END, t.typname
FROM pg_catalog.pg_type t LEFT JOIN pg_catalog.pg_type b ON b.oid = t.typbasetype WHERE t.oid = %d`, oid)
	if err := conn.QueryRow(ctx, q).Scan(&base, &raw); err != nil {
		return "", fmt.Sprintf("oid %d", oid)
	}
	return base, raw
}

func (s *source) names(ctx context.Context, q querier, sql string, args ...any) ([]string, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (s *source) count(ctx context.Context, q querier, sql string, args ...any) (int64, error) {
	var n int64
	err := q.QueryRow(ctx, sql, args...).Scan(&n)
	return n, err
}

var typeModifier = regexp.MustCompile(`\([^)]*\)`)

// NormalizeType maps a PostgreSQL or Redshift type name, in either the catalogue's short
// form (int4, timestamptz) or the SQL standard's long one (integer, timestamp with time
// zone), to the normalized types models snapshot. Length and precision modifiers are
// ignored; arrays and anything else are unknown, so a segment never treats them as
// scalars.
func NormalizeType(name string) connectors.ColumnType {
	n := strings.ToLower(typeModifier.ReplaceAllString(name, ""))
	n = strings.Join(strings.Fields(n), " ")
	if strings.HasSuffix(n, "[]") || strings.HasPrefix(n, "_") {
		return connectors.TypeUnknown
	}
	switch n {
	case "text", "varchar", "character varying", "char", "character", "bpchar", "name",
		"uuid", "citext", "nvarchar", "nchar":
		return connectors.TypeString
	case "int2", "int4", "int8", "smallint", "integer", "int", "bigint":
		return connectors.TypeInteger
	case "numeric", "decimal", "float4", "float8", "real", "double precision", "float":
		return connectors.TypeNumber
	case "bool", "boolean":
		return connectors.TypeBoolean
	case "date":
		return connectors.TypeDate
	case "timestamp", "timestamptz", "timestamp without time zone", "timestamp with time zone":
		return connectors.TypeTimestamp
	case "json", "jsonb", "super":
		return connectors.TypeJSON
	}
	return connectors.TypeUnknown
}
