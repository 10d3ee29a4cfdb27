package databricks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"sluice/connectors"
	"sluice/jobs/jobstest"
	"sluice/models"
	"sluice/segments"
	"sluice/sources/databricks"
)

// inbox is a webhook endpoint that acknowledges every record and keeps the latest of
// each key, so the test asserts on what arrived, not on Sluice's own counts. With
// countOnly it only counts the records (a benchmark's million would not fit a test's
// map cheaply).
type inbox struct {
	mu        sync.Mutex
	records   map[string]map[string]any
	countOnly bool
	received  int
}

func (in *inbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if in.countOnly {
		body, _ := io.ReadAll(r.Body)
		in.mu.Lock()
		in.received += bytes.Count(body, []byte(`"key":`))
		in.mu.Unlock()
		_, _ = w.Write([]byte(`{}`))
		return
	}
	var body struct {
		Records []connectors.Record `json:"records"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	in.mu.Lock()
	for _, rec := range body.Records {
		if rec.Op == connectors.OpRemove {
			delete(in.records, rec.Key)
		} else {
			in.records[rec.Key] = rec.Fields
		}
	}
	in.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]any{"rejected": []any{}})
}

func (in *inbox) get(key string) (map[string]any, bool, int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	r, ok := in.records[key]
	return r, ok, len(in.records)
}

// startActivation sets Sluice up around the Databricks source of w (jobs/jobstest): a
// model on main.sales.<table>, a segment of cond, and a webhook platform at in.
func startActivation(tb testing.TB, w *warehouse, table string, cond segments.Condition, mappings []models.Mapping, in *inbox, batch, rate int) func() *models.Run {
	tb.Helper()
	return jobstest.Start(tb, jobstest.Activation{
		Source: databricks.New(databricks.Options{BaseURL: w.f.URL()}), Config: w.cfg,
		Table: connectors.Table{Schema: "sales", Name: table}, PrimaryKey: "id", Condition: cond,
		Mappings: mappings, BatchSize: batch, Hook: in, RequestsPerSecond: rate})
}

// TestActivationRunsFromDatabricks is a whole activation through jobs and core: a
// Databricks source validated against the fake workspace, a model on its table, a
// segment, a webhook platform; runs extract through the Statement Execution API, and
// their counts match what the warehouse holds and what the webhook received.
func TestActivationRunsFromDatabricks(t *testing.T) {
	w := newWarehouse(t)
	// Two rows share key 11; one e-mail is invalid.
	w.exec(t, `UPDATE "main.sales".customers SET email = 'not-an-email' WHERE id = 4`)
	w.exec(t, `INSERT INTO "main.sales".customers (id, email) VALUES (11, 'copy@example.com')`)
	// More rows outside the segment keep the model's duplicates under 5%.
	w.exec(t, `INSERT INTO "main.sales".customers (id, email) SELECT i, 'c' || i || '@example.com' FROM generate_series(13, 60) AS i`)
	in := &inbox{records: map[string]map[string]any{}}
	run := startActivation(t, w, "customers",
		segments.All(segments.Leaf("id", segments.OpLte, 11), segments.Leaf("email", segments.OpIsNotNull, nil)),
		[]models.Mapping{{From: "email", To: "email", Type: "email"}, {From: "amount", To: "amount", Type: "string"}}, in, 4, 0)

	// Rows 1..11 and the copy of 11: 12 queried; 4 (bad e-mail) and both 11s withheld.
	r := run()
	if r.Status != models.RunWarnings || r.Queried != 12 || r.Added != 9 || r.Sent != 9 || r.SourceIssues != 3 {
		t.Fatalf("first run: %s %+v (%s)", r.Status, r.RunCounts, r.ErrorMessage)
	}
	if rec, ok, n := in.get("5"); !ok || n != 9 || rec["email"] != "c5@example.com" || rec["amount"] != "501.25" {
		t.Fatalf("at the destination: record 5 %v, %d records", rec, n)
	}

	// Nothing changed: nothing is sent.
	if r = run(); r.Unchanged != 9 || r.Added+r.Changed+r.Removed+r.Sent != 0 {
		t.Fatalf("unchanged rerun: %+v", r.RunCounts)
	}

	// A change and a deletion in the warehouse arrive as one change and one removal.
	w.exec(t, `UPDATE "main.sales".customers SET email = 'five@example.com' WHERE id = 5`)
	w.exec(t, `DELETE FROM "main.sales".customers WHERE id = 6`)
	if r = run(); r.Changed != 1 || r.Removed != 1 || r.Sent != 2 || r.Unchanged != 7 {
		t.Fatalf("change and delete: %+v", r.RunCounts)
	}
	if rec, _, n := in.get("5"); rec["email"] != "five@example.com" || n != 8 {
		t.Fatalf("after the change: record 5 %v, %d records", rec, n)
	}
	if _, ok, _ := in.get("6"); ok {
		t.Fatal("record 6 was not removed")
	}

	// A revoked grant fails the run as credentials, in words naming the table.
	if err := w.f.Revoke(context.Background(), Reader, "SELECT", "TABLE", "main.sales.customers"); err != nil {
		t.Fatal(err)
	}
	if r = run(); r.Status != models.RunFailed || r.ErrorCategory != string(connectors.CategoryCredentials) ||
		!strings.Contains(r.ErrorMessage, "does not have SELECT on table main.sales.customers") {
		t.Fatalf("without SELECT: %s %s %q", r.Status, r.ErrorCategory, r.ErrorMessage)
	}
}
