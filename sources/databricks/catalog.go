package databricks

import (
	"context"
	"fmt"
	"strings"

	"sluice/connectors"
	"sluice/sources/sqlsource"
)

// The catalogue comes from the configured catalog's information_schema, which Unity
// Catalog keeps per catalog and limits to what the principal may see. Names there are
// lower case, as Unity Catalog stores them.
const (
	schemasSQL = "SELECT schema_name FROM information_schema.schemata WHERE schema_name <> 'information_schema' ORDER BY schema_name"
	tablesSQL  = "SELECT table_name FROM information_schema.tables WHERE table_schema = :p1 ORDER BY table_name"
	columnsSQL = "SELECT column_name, data_type, full_data_type FROM information_schema.columns WHERE table_schema = :p1 AND table_name = :p2 ORDER BY ordinal_position"
)

// inline runs a small statement (catalogue, checks) and collects its rows as text. It
// runs in the configured catalog's information_schema, so a configured schema that does
// not exist fails no catalogue lookup: the lookups are how that is found and said.
func (s *source) inline(ctx context.Context, sql string, args ...any) ([][]*string, error) {
	resp, err := s.runIn(ctx, s.set.catalog, "information_schema", sql, args, "INLINE")
	if err != nil {
		return nil, err
	}
	var out [][]*string
	err = s.rows(ctx, resp, func(row []*string) error {
		out = append(out, append([]*string(nil), row...))
		return nil
	})
	return out, err
}

// names runs a statement whose rows are one text column.
func (s *source) names(ctx context.Context, sql string, args ...any) ([]string, error) {
	rows, err := s.inline(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, str(r, 0))
	}
	return out, nil
}

// str is a row's i-th value, "" for NULL.
func str(row []*string, i int) string {
	if i < len(row) && row[i] != nil {
		return *row[i]
	}
	return ""
}

func (s *source) count(ctx context.Context, sql string, args ...any) (int, error) {
	rows, err := s.inline(ctx, sql, args...)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	var n int
	_, err = fmt.Sscan(str(rows[0], 0), &n)
	return n, err
}

// Schemas lists the schemas of the configured catalog, for the source form.
func (s *source) Schemas(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.statementTimeout)
	defer cancel()
	names, err := s.names(ctx, schemasSQL)
	if err != nil {
		return nil, fmt.Errorf("databricks: schemas: %w", s.set.classify(err))
	}
	return names, nil
}

// Tables lists the tables and views of a schema (the configured one when empty). A
// schema that does not exist is an error, not an empty list.
func (s *source) Tables(ctx context.Context, schema string) ([]connectors.Table, error) {
	ctx, cancel := context.WithTimeout(ctx, s.statementTimeout)
	defer cancel()
	schema = s.schemaOr(schema)
	names, err := s.names(ctx, tablesSQL, schema)
	if err != nil {
		return nil, fmt.Errorf("databricks: tables: %w", s.set.classify(err))
	}
	if len(names) == 0 {
		if n, err := s.count(ctx, "SELECT count(*) FROM information_schema.schemata WHERE schema_name = :p1", schema); err == nil && n == 0 {
			return nil, &connectors.Error{Category: connectors.CategoryNotFound, Field: "schema",
				Message: fmt.Sprintf("Schema %q does not exist in catalog %s.", schema, s.set.catalog)}
		}
	}
	tables := make([]connectors.Table, len(names))
	for i, n := range names {
		tables[i] = connectors.Table{Schema: schema, Name: n}
	}
	return tables, nil
}

// Columns describes a relation without reading its rows: a table from
// information_schema.columns, a SQL model from the result schema of the query run with
// LIMIT 0.
func (s *source) Columns(ctx context.Context, rel connectors.Relation) ([]connectors.Column, error) {
	ctx, cancel := context.WithTimeout(ctx, s.statementTimeout)
	defer cancel()
	if rel.Table != nil {
		schema := s.schemaOr(rel.Table.Schema)
		rows, err := s.inline(ctx, columnsSQL, schema, strings.ToLower(rel.Table.Name))
		if err != nil {
			return nil, fmt.Errorf("databricks: columns: %w", s.set.classify(err))
		}
		if len(rows) == 0 {
			return nil, &connectors.Error{Category: connectors.CategoryNotFound,
				Message: fmt.Sprintf("Table %s does not exist in catalog %s.", sqlsource.DisplayName(schema, rel.Table.Name), s.set.catalog)}
		}
		cols := make([]connectors.Column, len(rows))
		for i, r := range rows {
			raw := str(r, 2)
			if raw == "" {
				raw = strings.ToLower(str(r, 1))
			}
			cols[i] = connectors.Column{Name: str(r, 0), Type: NormalizeType(str(r, 1)), Raw: raw}
		}
		return cols, nil
	}
	if sqlsource.TrimSQL(rel.SQL) == "" {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Message: "The model has neither a table nor SQL."}
	}
	resp, err := s.run(ctx, sqlsource.ModelSQL(rel.SQL), nil, "INLINE")
	if err != nil {
		return nil, fmt.Errorf("databricks: describe model sql: %w", s.set.classify(err))
	}
	cols := make([]connectors.Column, len(resp.Manifest.Schema.Columns))
	for i, c := range resp.Manifest.Schema.Columns {
		raw := c.TypeText
		if raw == "" {
			raw = strings.ToLower(c.TypeName)
		}
		cols[i] = connectors.Column{Name: c.Name, Type: NormalizeType(c.TypeName), Raw: raw}
	}
	return cols, nil
}

// NormalizeType maps a Databricks type name, as information_schema.columns' data_type
// (BIGINT, DECIMAL, TIMESTAMP_NTZ…) or a result schema's type_name (LONG, SHORT…)
// writes it, to the normalized types models snapshot. ARRAY is unknown (never a
// scalar for a segment); MAP, STRUCT and VARIANT are JSON.
func NormalizeType(name string) connectors.ColumnType {
	n, _, _ := strings.Cut(strings.ToUpper(strings.TrimSpace(name)), "(")
	n, _, _ = strings.Cut(n, "<")
	switch strings.TrimSpace(n) {
	case "STRING", "VARCHAR", "CHAR":
		return connectors.TypeString
	case "INT", "INTEGER", "BIGINT", "LONG", "SMALLINT", "SHORT", "TINYINT", "BYTE":
		return connectors.TypeInteger
	case "DOUBLE", "FLOAT", "REAL", "DECIMAL", "DEC", "NUMERIC":
		return connectors.TypeNumber
	case "BOOLEAN":
		return connectors.TypeBoolean
	case "DATE":
		return connectors.TypeDate
	case "TIMESTAMP", "TIMESTAMP_NTZ", "TIMESTAMP_LTZ":
		return connectors.TypeTimestamp
	case "MAP", "STRUCT", "VARIANT":
		return connectors.TypeJSON
	}
	return connectors.TypeUnknown
}
