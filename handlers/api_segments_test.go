package handlers_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"sluice/internal/testutil"
)

type segmentBody struct {
	ID         string          `json:"id"`
	ModelID    string          `json:"model_id"`
	Name       string          `json:"name"`
	Conditions json.RawMessage `json:"conditions"`
	SQLPreview *string         `json:"sql_preview"`
	CreatedAt  time.Time       `json:"created_at"`
}

// matches is the test's own reading of the segment below, over the rows inserted.
func matches(c customer) bool {
	if c.country != "FR" && c.country != "DE" {
		return false
	}
	return (c.age != nil && *c.age >= 40) || strings.Contains(c.email, "7")
}

func TestAPISegments(t *testing.T) {
	t.Parallel()
	s := newWHSetup(t, testutil.SQLiteURL(t))
	editor := s.admin.as(s.editor)
	m := s.model(t, map[string]any{"name": "Customers", "table": "customers", "primary_key": "id"})

	conditions := map[string]any{"all": []any{
		map[string]any{"column": "country", "op": "in", "value": []string{"FR", "DE"}},
		map[string]any{"any": []any{
			map[string]any{"column": "age", "op": "gte", "value": 40},
			map[string]any{"column": "email", "op": "contains", "value": "7"},
		}},
	}}
	g := into[segmentBody](t, editor.post("/segments", map[string]any{"model_id": m.ID, "name": "Core markets", "conditions": conditions}).want(t, http.StatusCreated))
	if g.ID == "" || g.ModelID != m.ID || g.Name != "Core markets" || g.CreatedAt.IsZero() {
		t.Errorf("segment %+v", g)
	}
	if g.SQLPreview == nil || !strings.HasPrefix(*g.SQLPreview, "SELECT COUNT(*) FROM") || !strings.Contains(*g.SQLPreview, "?") ||
		strings.Contains(*g.SQLPreview, "'FR'") {
		t.Errorf("sql_preview %v", g.SQLPreview)
	}
	var back map[string]any
	if err := json.Unmarshal(g.Conditions, &back); err != nil || back["all"] == nil {
		t.Errorf("conditions %s", g.Conditions)
	}

	want := 0
	for _, c := range s.rows {
		if matches(c) {
			want++
		}
	}
	if want == 0 || want == len(s.rows) {
		t.Fatalf("the fixture should split the rows, %d of %d match", want, len(s.rows))
	}
	n := into[struct {
		Count int64 `json:"count"`
	}](t, s.admin.as(s.viewer).get("/segments/"+g.ID+"/count").want(t, http.StatusOK))
	if n.Count != int64(want) {
		t.Errorf("count %d, want %d", n.Count, want)
	}

	// Show, list by model, PATCH name and conditions.
	shown := into[segmentBody](t, s.admin.get("/segments/"+g.ID).want(t, http.StatusOK))
	if shown.SQLPreview == nil || *shown.SQLPreview != *g.SQLPreview {
		t.Errorf("shown %+v", shown)
	}
	l := into[list[segmentBody]](t, s.admin.get("/segments?model_id="+m.ID).want(t, http.StatusOK))
	if len(l.Items) != 1 || l.Items[0].ID != g.ID {
		t.Errorf("list %+v", l)
	}
	renamed := into[segmentBody](t, editor.patch("/segments/"+g.ID, map[string]any{"name": "Core"}).want(t, http.StatusOK))
	if renamed.Name != "Core" || string(renamed.Conditions) != string(g.Conditions) {
		t.Errorf("renamed %+v", renamed)
	}
	editor.patch("/segments/"+g.ID, map[string]any{"conditions": map[string]any{"all": []any{}}}).want(t, http.StatusOK)
	if n := into[struct{ Count int64 }](t, s.admin.get("/segments/"+g.ID+"/count").want(t, http.StatusOK)); n.Count != 50 {
		t.Errorf("empty all counts %d, want 50", n.Count)
	}

	leaf := func(col, op string, v any) map[string]any { return map[string]any{"column": col, "op": op, "value": v} }
	tests := []struct {
		name       string
		conditions any
		field      string
	}{
		{"unknown column", map[string]any{"all": []any{leaf("nope", "eq", "x")}}, "conditions.all[0].column"},
		{"unknown nested column", map[string]any{"all": []any{leaf("country", "eq", "FR"), map[string]any{"any": []any{leaf("zip", "eq", "1")}}}}, "conditions.all[1].any[0].column"},
		{"unknown op", map[string]any{"any": []any{leaf("country", "like", "FR")}}, "conditions.any[0].op"},
		{"value of wrong type", map[string]any{"all": []any{leaf("age", "gt", "old")}}, "conditions.all[0].value"},
		{"not a condition", []any{1}, "conditions"},
		{"missing", nil, "conditions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{"model_id": m.ID, "name": "Bad " + tc.name}
			if tc.conditions != nil {
				body["conditions"] = tc.conditions
			}
			wantErr(t, editor.post("/segments", body), 422, "invalid", tc.field)
		})
	}
	wantErr(t, editor.patch("/segments/"+g.ID, map[string]any{"conditions": map[string]any{"all": []any{leaf("nope", "eq", 1)}}}), 422, "invalid", "conditions.all[0].column")
	wantErr(t, editor.post("/segments", map[string]any{"model_id": "nope", "name": "X", "conditions": map[string]any{"all": []any{}}}), 422, "invalid", "model_id")
	wantErr(t, s.admin.get("/segments/nope/count"), 404, "not_found", "")
}
