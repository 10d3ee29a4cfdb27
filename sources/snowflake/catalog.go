package snowflake

import (
	"context"
	"fmt"
	"strings"

	"sluice/connectors"
	"sluice/sources/sqlsource"
)

// infoSchema is the database's INFORMATION_SCHEMA view name, qualified: its views list
// only what the session's role may use, as the editor should offer.
func (s *source) infoSchema(view string) string {
	return sqlsource.QuoteIdent(s.set.database) + ".INFORMATION_SCHEMA." + view
}

// names runs a catalogue statement whose first column is a name.
func (s *source) names(ctx context.Context, sql string, args ...any) ([]string, error) {
	var out []string
	err := s.run(ctx, sql, args, s.statementTimeout, nil, func(row []any) error {
		if v, ok := row[0].(string); ok {
			out = append(out, v)
		}
		return nil
	})
	return out, err
}

// Schemas lists the database's schemas the role may use.
func (s *source) Schemas(ctx context.Context) ([]string, error) {
	names, err := s.names(ctx, "SELECT SCHEMA_NAME FROM "+s.infoSchema("SCHEMATA")+" WHERE SCHEMA_NAME <> 'INFORMATION_SCHEMA' ORDER BY SCHEMA_NAME")
	if err != nil {
		return nil, fmt.Errorf("snowflake: schemas: %w", s.classify(err))
	}
	return names, nil
}

// Tables lists the tables and views of a schema (the configured one when empty).
func (s *source) Tables(ctx context.Context, schema string) ([]connectors.Table, error) {
	schema = s.schemaOr(schema)
	names, err := s.names(ctx, "SELECT TABLE_NAME FROM "+s.infoSchema("TABLES")+" WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME", schema)
	if err != nil {
		return nil, fmt.Errorf("snowflake: tables: %w", s.classify(err))
	}
	if len(names) == 0 {
		schemas, err := s.Schemas(ctx)
		if err == nil && !contains(schemas, schema) {
			return nil, &connectors.Error{Category: connectors.CategoryNotFound, Field: "schema",
				Message: fmt.Sprintf("Schema %s does not exist in database %s, or role %s may not use it.", schema, s.set.database, s.roleName())}
		}
	}
	tables := make([]connectors.Table, len(names))
	for i, n := range names {
		tables[i] = connectors.Table{Schema: schema, Name: n}
	}
	return tables, nil
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// Columns describes a relation without reading its rows: a table from
// INFORMATION_SCHEMA.COLUMNS, a SQL model from the rowType of its query run with LIMIT 0.
func (s *source) Columns(ctx context.Context, rel connectors.Relation) ([]connectors.Column, error) {
	if rel.Table != nil {
		schema := s.schemaOr(rel.Table.Schema)
		var cols []connectors.Column
		err := s.run(ctx, "SELECT COLUMN_NAME, DATA_TYPE, NUMERIC_SCALE FROM "+s.infoSchema("COLUMNS")+
			" WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION", []any{schema, rel.Table.Name},
			s.statementTimeout, nil, func(row []any) error {
				name, _ := row[0].(string)
				typ, _ := row[1].(string)
				scale, _ := row[2].(int64)
				cols = append(cols, connectors.Column{Name: name, Type: NormalizeType(typ, int(scale)), Raw: rawType(typ, int(scale))})
				return nil
			})
		if err != nil {
			return nil, fmt.Errorf("snowflake: columns: %w", s.classify(err))
		}
		if len(cols) == 0 {
			return nil, &connectors.Error{Category: connectors.CategoryNotFound,
				Message: fmt.Sprintf("Table %s does not exist, or role %s may not read it.", displayName(schema, rel.Table.Name), s.roleName())}
		}
		return cols, nil
	}
	if sqlsource.TrimSQL(rel.SQL) == "" {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Message: "The model has neither a table nor SQL."}
	}
	var cols []connectors.Column
	err := s.run(ctx, sqlsource.ModelSQL(rel.SQL), nil, s.statementTimeout, func(rt []column) error {
		for _, c := range rt {
			scale := 0
			if c.Scale != nil {
				scale = *c.Scale
			}
			cols = append(cols, connectors.Column{Name: c.Name, Type: NormalizeType(c.Type, scale), Raw: rawType(c.Type, scale)})
		}
		return nil
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("snowflake: describe model sql: %w", s.classify(err))
	}
	return cols, nil
}

func rawType(typ string, scale int) string {
	t := strings.ToUpper(typ)
	if (t == "NUMBER" || t == "FIXED") && scale > 0 {
		return fmt.Sprintf("NUMBER(38,%d)", scale)
	}
	return t
}

// NormalizeType maps a Snowflake type — INFORMATION_SCHEMA's DATA_TYPE or the SQL API's
// rowType type — with its scale to the normalized types: NUMBER (FIXED) of scale 0 is an
// integer, with decimals a number; FLOAT (REAL) a number; TEXT and its synonyms a
// string; the three TIMESTAMPs a timestamp; VARIANT, OBJECT and ARRAY JSON. TIME,
// BINARY and the geospatial types are unknown, so segments never treat them as scalars.
func NormalizeType(typ string, scale int) connectors.ColumnType {
	t := strings.ToUpper(strings.TrimSpace(typ))
	if i := strings.IndexByte(t, '('); i >= 0 {
		t = t[:i]
	}
	switch t {
	case "NUMBER", "FIXED", "DECIMAL", "NUMERIC", "INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "BYTEINT":
		if scale == 0 {
			return connectors.TypeInteger
		}
		return connectors.TypeNumber
	case "FLOAT", "FLOAT4", "FLOAT8", "REAL", "DOUBLE", "DOUBLE PRECISION", "DECFLOAT":
		return connectors.TypeNumber
	case "TEXT", "VARCHAR", "CHAR", "CHARACTER", "STRING", "NVARCHAR", "NCHAR":
		return connectors.TypeString
	case "BOOLEAN":
		return connectors.TypeBoolean
	case "DATE":
		return connectors.TypeDate
	case "TIMESTAMP_NTZ", "TIMESTAMP_LTZ", "TIMESTAMP_TZ", "TIMESTAMP", "DATETIME":
		return connectors.TypeTimestamp
	case "VARIANT", "OBJECT", "ARRAY":
		return connectors.TypeJSON
	}
	return connectors.TypeUnknown
}

// Query streams the rows of a parameterized query, partition by partition, under the
// query timeout; the slice fn sees is reused between rows. fn's own errors come back as
// they are; Snowflake's and the network's as connector errors.
func (s *source) Query(ctx context.Context, sql string, args []any, fn func(row []any) error) error {
	var fnErr error
	err := s.run(ctx, sql, args, s.queryTimeout, nil, func(row []any) error {
		fnErr = fn(row)
		return fnErr
	})
	if err == nil || (fnErr != nil && err == fnErr) {
		return err
	}
	return fmt.Errorf("snowflake: query: %w", s.classify(err))
}
