package datamodels

import (
	"strings"

	"sluice/connectors"
	"sluice/models"
)

func orModel(column string) string {
	if column == "" {
		return "the model's table or query"
	}
	return column
}

// tableValue is how the table picker names a table: schema.name.
func tableValue(t connectors.Table) string {
	if t.Schema == "" {
		return t.Name
	}
	return t.Schema + "." + t.Name
}

func relationText(m *models.DataModel) string {
	if m.SQLText != "" {
		return "SQL query"
	}
	return tableValue(connectors.Table{Schema: m.TableSchema, Name: m.TableName})
}

func joinSamples(s []string) string { return strings.Join(s, ", ") }
