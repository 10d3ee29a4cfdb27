package snowflake_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"sluice/connectors"
	"sluice/jobs/jobstest"
	"sluice/models"
	"sluice/segments"
	"sluice/sources/snowflake"
)

// inbox is a webhook endpoint keeping the records it acknowledged, by key.
type inbox struct {
	mu        sync.Mutex
	records   map[string]map[string]any
	countOnly bool
	received  int
}

func (in *inbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Records []connectors.Record `json:"records"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.received += len(body.Records)
	for _, rec := range body.Records {
		if in.countOnly {
			break
		}
		if rec.Op == connectors.OpRemove {
			delete(in.records, rec.Key)
		} else {
			in.records[rec.Key] = rec.Fields
		}
	}
	_, _ = w.Write([]byte(`{"rejected":[]}`))
}

func (in *inbox) get(key string) (map[string]any, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	r, ok := in.records[key]
	return r, ok
}

// TestActivationRun: a Snowflake source (through the fake) backs a model and a segment,
// and an activation's runs through jobs and the engine send what the warehouse holds:
// counts balance and match the rows, the destination holds them, and changes and
// deletions in Snowflake arrive as changes and removals.
func TestActivationRun(t *testing.T) {
	ctx := context.Background()
	w := newWarehouse(t)
	// Two customers not to send (a bad e-mail, a bad phone) and a key held twice.
	for _, q := range []string{
		`UPDATE "PUBLIC"."CUSTOMERS" SET "EMAIL" = 'not-an-email' WHERE "ID" = 2`,
		`UPDATE "PUBLIC"."CUSTOMERS" SET "PHONE" = '12' WHERE "ID" = 3`,
		`INSERT INTO "PUBLIC"."CUSTOMERS" ("ID", "EMAIL", "NAME", "VIP") VALUES (43, 'a@example.com', 'First copy', true), (43, 'b@example.com', 'Second copy', true)`,
	} {
		if err := w.fake.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	run, in := activate(t, w, "CUSTOMERS", segments.All(segments.Leaf("VIP", segments.OpEq, true)), 7, false)

	// 21 VIPs (2…42 even) plus two copies of 43: 23 rows; 2 has a bad e-mail and the
	// copies of 43 are withheld (3 is odd, not a VIP): 20 sent.
	r := run()
	if r.Status != models.RunWarnings || r.Queried != 23 || r.Added != 20 || r.Sent != 20 || r.SourceIssues != 3 {
		t.Fatalf("first run: %s %+v (%s %s)", r.Status, r.RunCounts, r.ErrorMessage, r.ErrorDetail)
	}
	if rec, ok := in.get("4"); !ok || rec["email"] != "c4@example.com" || rec["phone"] != "+33612345604" || rec["name"] != "Customer 4" {
		t.Fatalf("record 4 at the destination: %v", rec)
	}
	for _, key := range []string{"2", "3", "5", "43"} {
		if _, ok := in.get(key); ok {
			t.Fatalf("record %s was sent", key)
		}
	}

	// Unchanged: nothing sent.
	if r = run(); r.Unchanged != 20 || r.Sent != 0 {
		t.Fatalf("rerun: %+v", r.RunCounts)
	}

	// A rename, a deletion and a customer who became a VIP, in Snowflake.
	for _, q := range []string{
		`UPDATE "PUBLIC"."CUSTOMERS" SET "NAME" = 'Renamed' WHERE "ID" = 6`,
		`DELETE FROM "PUBLIC"."CUSTOMERS" WHERE "ID" = 8`,
		`UPDATE "PUBLIC"."CUSTOMERS" SET "VIP" = true WHERE "ID" = 9`,
	} {
		if err := w.fake.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	r = run()
	if r.Added != 1 || r.Changed != 1 || r.Removed != 1 || r.Sent != 3 || r.Unchanged != 18 {
		t.Fatalf("after changes: %+v", r.RunCounts)
	}
	if rec, _ := in.get("6"); rec["name"] != "Renamed" {
		t.Fatalf("record 6: %v", rec)
	}
	if _, ok := in.get("8"); ok {
		t.Fatal("record 8 was not removed")
	}
	if _, ok := in.get("9"); !ok {
		t.Fatal("record 9 was not added")
	}
	in.mu.Lock()
	held := len(in.records)
	in.mu.Unlock()
	if held != 20 {
		t.Fatalf("the destination holds %d records, want 20", held)
	}
}

// activate sets a whole activation up against the fake (jobstest.Start): a model of
// PUBLIC.<table> keyed by ID, a segment of cond, and EMAIL, PHONE and NAME sent to an
// inbox in batches of batch at up to 10,000 requests a second, as cmd/sluice-bench
// paces its webhook (counting only, for millions of rows), or the mappings given.
func activate(t testing.TB, w *warehouse, table string, cond segments.Condition, batch int, countOnly bool, mappings ...models.Mapping) (run func() *models.Run, in *inbox) {
	in = &inbox{records: map[string]map[string]any{}, countOnly: countOnly}
	if len(mappings) == 0 {
		mappings = []models.Mapping{{From: "EMAIL", To: "email", Type: "email"}, {From: "PHONE", To: "phone", Type: "phone"}, {From: "NAME", To: "name", Type: "string"}}
	}
	run = jobstest.Start(t, jobstest.Activation{
		Source: snowflake.New(snowflake.Options{BaseURL: w.fake.URL}), Config: w.cfg,
		Table: connectors.Table{Schema: "PUBLIC", Name: table}, PrimaryKey: "ID", Condition: cond,
		Mappings:  mappings,
		BatchSize: batch, RequestsPerSecond: 10000, Hook: in,
	})
	return run, in
}
