package handlers_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"sluice/internal/testutil"
	"sluice/models"
)

type duplicatesBody struct {
	Rows          int64     `json:"rows"`
	DuplicateKeys int64     `json:"duplicate_keys"`
	DuplicateRows int64     `json:"duplicate_rows"`
	NullKeys      int64     `json:"null_keys"`
	Percent       float64   `json:"percent"`
	Samples       []string  `json:"samples"`
	CheckedAt     time.Time `json:"checked_at"`
}

type column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

type modelBody struct {
	ID         string          `json:"id"`
	SourceID   string          `json:"source_id"`
	Name       string          `json:"name"`
	Table      *string         `json:"table"`
	SQL        *string         `json:"sql"`
	PrimaryKey string          `json:"primary_key"`
	Columns    []column        `json:"columns"`
	Status     string          `json:"status"`
	Issues     []any           `json:"issues"`
	Duplicates *duplicatesBody `json:"duplicates"`
	CreatedAt  time.Time       `json:"created_at"`
}

func TestAPIModels(t *testing.T) {
	t.Parallel()
	for _, d := range testutil.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			s := newWHSetup(t, d.URL(t))
			editor := s.admin.as(s.editor)

			customers := s.model(t, map[string]any{"name": "Customers", "table": "customers", "primary_key": "id"})
			wantCols := []column{{"id", "integer"}, {"email", "string"}, {"country", "string"}, {"age", "integer"}, {"signed_up_at", "timestamp"}}
			if !slices.Equal(customers.Columns, wantCols) {
				t.Errorf("columns %+v, want %+v", customers.Columns, wantCols)
			}
			if customers.Status != models.ModelValid || customers.Table == nil || *customers.Table != "customers" || customers.SQL != nil ||
				customers.SourceID != s.source.ID || customers.PrimaryKey != "id" || len(customers.Issues) != 0 {
				t.Errorf("customers %+v", customers)
			}
			if d := customers.Duplicates; d == nil || d.Rows != 50 || d.DuplicateKeys != 0 || d.Percent != 0 || d.CheckedAt.IsZero() {
				t.Errorf("duplicates %+v", d)
			}

			bySQL := s.model(t, map[string]any{"name": "Adults", "sql": "SELECT id, email, age FROM customers WHERE age >= 18;", "primary_key": "id"})
			if bySQL.Table != nil || bySQL.SQL == nil || !slices.Equal(bySQL.Columns, []column{{"id", "integer"}, {"email", "string"}, {"age", "integer"}}) {
				t.Errorf("sql model %+v", bySQL)
			}
			byObject := s.model(t, map[string]any{"name": "Main customers", "table": map[string]any{"schema": "main", "name": "customers"}, "primary_key": "email"})
			if *byObject.Table != "main.customers" || len(byObject.Columns) != 5 {
				t.Errorf("object table %+v", byObject)
			}

			dupes := s.model(t, map[string]any{"name": "Dupes", "table": "dupes", "primary_key": "id"})
			want := duplicatesBody{Rows: 100, DuplicateKeys: 1, DuplicateRows: 2, NullKeys: 0, Percent: 2, Samples: []string{"50 (2 rows)"}}
			if got := dupes.Duplicates; dupes.Status != models.ModelWarning || got == nil || got.Rows != want.Rows || got.DuplicateKeys != want.DuplicateKeys ||
				got.DuplicateRows != want.DuplicateRows || got.NullKeys != 0 || got.Percent != want.Percent || !slices.Equal(got.Samples, want.Samples) {
				t.Errorf("dupes %s %+v, want warning %+v", dupes.Status, got, want)
			}

			e := wantErr(t, editor.post("/models", map[string]any{"source_id": s.source.ID, "name": "Bad", "table": "bad", "primary_key": "id"}),
				http.StatusUnprocessableEntity, "invalid", "primary_key")
			for _, part := range []string{"20.0%", "20 of 100", "1000 (2 rows)", "1009 (2 rows)"} {
				if !strings.Contains(e.Error.Message, part) {
					t.Errorf("message %q lacks %q", e.Error.Message, part)
				}
			}

			// Show, list and the source filter.
			got := into[modelBody](t, s.admin.as(s.viewer).get("/models/"+dupes.ID).want(t, http.StatusOK))
			if got.ID != dupes.ID || got.Duplicates == nil || got.Duplicates.DuplicateKeys != 1 {
				t.Errorf("GET %+v", got)
			}
			l := into[list[modelBody]](t, s.admin.get("/models?source_id="+s.source.ID).want(t, http.StatusOK))
			var names []string
			for _, m := range l.Items {
				names = append(names, m.Name)
			}
			if !slices.Equal(names, []string{"Adults", "Customers", "Dupes", "Main customers"}) {
				t.Errorf("listed %v", names)
			}
			if l := into[list[modelBody]](t, s.admin.get("/models?source_id=other").want(t, http.StatusOK)); len(l.Items) != 0 {
				t.Errorf("other source lists %d models", len(l.Items))
			}

			// PATCH keeps what is not given; a table replaces the SQL.
			renamed := into[modelBody](t, editor.patch("/models/"+customers.ID, map[string]any{"name": "All customers"}).want(t, http.StatusOK))
			if renamed.Name != "All customers" || *renamed.Table != "customers" || renamed.PrimaryKey != "id" || len(renamed.Columns) != 5 {
				t.Errorf("renamed %+v", renamed)
			}
			toTable := into[modelBody](t, editor.patch("/models/"+bySQL.ID, map[string]any{"table": "customers"}).want(t, http.StatusOK))
			if toTable.SQL != nil || *toTable.Table != "customers" || len(toTable.Columns) != 5 || toTable.Name != "Adults" {
				t.Errorf("to table %+v", toTable)
			}
			wantErr(t, editor.patch("/models/"+customers.ID, map[string]any{"primary_key": "nope"}), 422, "invalid", "primary_key")
			wantErr(t, editor.patch("/models/"+customers.ID, map[string]any{"table": "bad", "primary_key": "id"}), 422, "invalid", "primary_key")
			wantErr(t, editor.post("/models", map[string]any{"source_id": s.source.ID, "name": "X", "table": "no_such_table", "primary_key": "id"}), 422, "invalid", "table")
			wantErr(t, editor.post("/models", map[string]any{"source_id": s.source.ID, "name": "X", "table": "customers", "sql": "SELECT 1", "primary_key": "id"}), 422, "invalid", "sql")
			wantErr(t, editor.post("/models", map[string]any{"source_id": s.source.ID, "name": "X", "primary_key": "id"}), 422, "invalid", "table")
			wantErr(t, editor.post("/models", map[string]any{"source_id": s.source.ID, "name": "X", "table": 7, "primary_key": "id"}), 422, "invalid", "table")
			wantErr(t, editor.post("/models", map[string]any{"source_id": "nope", "name": "X", "table": "customers", "primary_key": "id"}), 422, "invalid", "source_id")
			wantErr(t, editor.post("/models", map[string]any{"source_id": s.source.ID, "name": "Dupes", "table": "customers", "primary_key": "id"}), 422, "invalid", "name")

			// Validate and detect duplicates answer the model.
			val := into[modelBody](t, editor.post("/models/"+dupes.ID+"/validate", nil).want(t, http.StatusOK))
			if val.Status != models.ModelWarning || len(val.Issues) != 0 || val.Duplicates.DuplicateRows != 2 {
				t.Errorf("validated %+v", val)
			}
			dd := into[modelBody](t, editor.post("/models/"+customers.ID+"/duplicates", nil).want(t, http.StatusOK))
			if dd.Status != models.ModelValid || dd.Duplicates == nil || dd.Duplicates.Rows != 50 {
				t.Errorf("duplicates %+v", dd)
			}
			wantErr(t, s.admin.get("/models/nope"), 404, "not_found", "")
		})
	}
}
