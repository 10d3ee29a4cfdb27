package handlers_test

import (
	"database/sql"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"sluice/internal/testutil"
)

// A column renamed in the warehouse breaks the model (Altered) until the new column is
// associated with the old one: then the model is valid again and its segments use the
// new name, with the same count.
func TestAPIRemapRenamedColumn(t *testing.T) {
	t.Parallel()
	s := newWHSetup(t, testutil.SQLiteURL(t))
	editor := s.admin.as(s.editor)
	m := s.model(t, map[string]any{"name": "Customers", "table": "customers", "primary_key": "id"})
	g := into[segmentBody](t, editor.post("/segments", map[string]any{"model_id": m.ID, "name": "French",
		"conditions": map[string]any{"all": []any{map[string]any{"column": "country", "op": "eq", "value": "FR"}}}}).want(t, http.StatusCreated))
	before := into[struct{ Count int64 }](t, editor.get("/segments/"+g.ID+"/count").want(t, http.StatusOK))

	db, err := sql.Open("sqlite", s.path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`ALTER TABLE customers RENAME COLUMN country TO country_code`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	broken := into[modelBody](t, editor.post("/models/"+m.ID+"/validate", nil).want(t, http.StatusOK))
	issue, _ := func() (map[string]any, bool) {
		if len(broken.Issues) != 1 {
			return nil, false
		}
		m, ok := broken.Issues[0].(map[string]any)
		return m, ok
	}()
	if broken.Status != "broken" || issue["column"] != "country" || issue["kind"] != "altered" {
		t.Fatalf("after the rename the model should be broken with country altered: %+v", broken)
	}

	wantErr(t, editor.post("/models/"+m.ID+"/remap", map[string]any{"from": "country", "to": "nope"}), http.StatusUnprocessableEntity, "invalid", "to")
	wantErr(t, editor.post("/models/"+m.ID+"/remap", map[string]any{"from": "zzz", "to": "country_code"}), http.StatusUnprocessableEntity, "invalid", "from")
	wantErr(t, s.admin.as(s.viewer).post("/models/"+m.ID+"/remap", map[string]any{"from": "country", "to": "country_code"}), http.StatusForbidden, "forbidden", "")

	fixed := into[modelBody](t, editor.post("/models/"+m.ID+"/remap", map[string]any{"from": "country", "to": "country_code"}).want(t, http.StatusOK))
	if fixed.Status != "valid" || len(fixed.Issues) != 0 {
		t.Fatalf("after the association the model should be valid: %+v", fixed)
	}
	seg := into[segmentBody](t, editor.get("/segments/"+g.ID).want(t, http.StatusOK))
	var cond map[string]any
	if err := json.Unmarshal(seg.Conditions, &cond); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(seg.Conditions), `"country_code"`) || strings.Contains(string(seg.Conditions), `"country"`) {
		t.Fatalf("the segment should now use country_code: %s", seg.Conditions)
	}
	after := into[struct{ Count int64 }](t, editor.get("/segments/"+g.ID+"/count").want(t, http.StatusOK))
	if after.Count != before.Count || before.Count == 0 {
		t.Fatalf("count %d after the remap, %d before", after.Count, before.Count)
	}
	again := into[modelBody](t, editor.post("/models/"+m.ID+"/validate", nil).want(t, http.StatusOK))
	if again.Status != "valid" {
		t.Fatalf("validating again after the remap: %+v", again)
	}
}
