package bigquery

import (
	"context"
	"errors"
	"strings"

	bq "cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"

	"sluice/connectors"
	"sluice/sources/sqlsource"
)

// Schemas lists the datasets of the project the service account can see.
func (s *source) Schemas(ctx context.Context) ([]string, error) {
	var names []string
	it := s.client.Datasets(ctx)
	for {
		ds, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return names, nil
		}
		if err != nil {
			return nil, s.fail("datasets", err)
		}
		names = append(names, ds.DatasetID)
	}
}

// Tables lists the tables and views of a dataset (the configured one when empty).
func (s *source) Tables(ctx context.Context, dataset string) ([]connectors.Table, error) {
	if dataset == "" {
		dataset = s.set.dataset
	}
	var tables []connectors.Table
	it := s.client.Dataset(dataset).Tables(ctx)
	for {
		t, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return tables, nil
		}
		if err != nil {
			return nil, s.fail("tables", err)
		}
		tables = append(tables, connectors.Table{Schema: dataset, Name: t.TableID})
	}
}

// Columns describes a relation without reading rows: a table from tables.get, a SQL
// model from a dry run of it (free; nothing runs).
func (s *source) Columns(ctx context.Context, rel connectors.Relation) ([]connectors.Column, error) {
	if t := rel.Table; t != nil {
		dataset := t.Schema
		if dataset == "" {
			dataset = s.set.dataset
		}
		md, err := s.client.Dataset(dataset).Table(t.Name).Metadata(ctx)
		if err != nil {
			return nil, s.fail("columns", err)
		}
		return columns(md.Schema), nil
	}
	if sqlsource.TrimSQL(rel.SQL) == "" {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Message: "The model has neither a table nor SQL."}
	}
	st, err := s.dryRun(ctx, sqlsource.ModelSQL(rel.SQL), nil)
	if err != nil {
		return nil, s.fail("describe model sql", err)
	}
	qs, ok := st.Details.(*bq.QueryStatistics)
	if !ok {
		return nil, &connectors.Error{Category: connectors.CategoryConnection, Message: "BigQuery did not describe the model's columns."}
	}
	return columns(qs.Schema), nil
}

func columns(schema bq.Schema) []connectors.Column {
	cols := make([]connectors.Column, len(schema))
	for i, f := range schema {
		raw := string(f.Type)
		if f.Repeated {
			raw = "ARRAY<" + raw + ">"
		}
		cols[i] = connectors.Column{Name: f.Name, Type: NormalizeType(raw), Raw: raw}
	}
	return cols
}

// NormalizeType maps a BigQuery type, by its REST name (INTEGER, FLOAT, BOOLEAN,
// RECORD…) or its GoogleSQL one (INT64, FLOAT64, BOOL, STRUCT…), parameters such as
// NUMERIC(10, 2) or STRING(50) ignored, to the normalized types: DATETIME and TIMESTAMP
// are timestamps, NUMERIC and BIGNUMERIC numbers, JSON, STRUCT and ARRAY json (their
// values arrive decoded), TIME and GEOGRAPHY strings (their text), BYTES, INTERVAL and
// RANGE unknown, so a segment never compares them as scalars.
func NormalizeType(name string) connectors.ColumnType {
	n := strings.ToUpper(strings.TrimSpace(name))
	if i := strings.IndexAny(n, "(<"); i >= 0 {
		if strings.HasPrefix(n, "ARRAY") || strings.HasPrefix(n, "STRUCT") {
			return connectors.TypeJSON
		}
		n = strings.TrimSpace(n[:i])
	}
	switch n {
	case "STRING", "TIME", "GEOGRAPHY":
		return connectors.TypeString
	case "INTEGER", "INT64", "INT", "SMALLINT", "BIGINT", "TINYINT", "BYTEINT":
		return connectors.TypeInteger
	case "FLOAT", "FLOAT64", "NUMERIC", "DECIMAL", "BIGNUMERIC", "BIGDECIMAL":
		return connectors.TypeNumber
	case "BOOLEAN", "BOOL":
		return connectors.TypeBoolean
	case "DATE":
		return connectors.TypeDate
	case "DATETIME", "TIMESTAMP":
		return connectors.TypeTimestamp
	case "JSON", "RECORD", "STRUCT", "ARRAY":
		return connectors.TypeJSON
	}
	return connectors.TypeUnknown
}
