package bigquery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/jobs/jobstest"
	"sluice/models"
	"sluice/segments"
	"sluice/sources/bigquery"
)

// hook is a webhook endpoint that keeps what it acknowledged.
type hook struct {
	mu       sync.Mutex
	records  map[string]map[string]any
	requests int
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Records []connectors.Record `json:"records"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests++
	for _, rec := range body.Records {
		if rec.Op == connectors.OpRemove {
			delete(h.records, rec.Key)
		} else {
			h.records[rec.Key] = rec.Fields
		}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"rejected": []any{}})
}

func (h *hook) record(key string) (map[string]any, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.records[key], len(h.records)
}

// TestActivationRun is a whole activation from a BigQuery source, through core and
// jobs, to a webhook: a model on a table, a segment on a DATETIME column (days ago in
// DATETIME arithmetic, from the model's snapshot), runs whose counts match what the
// receiver holds.
func TestActivationRun(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.fake.Exec(ctx, `CREATE TABLE marketing.people (id bigint, email text, phone text, name text, last_seen timestamp)`); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 42; i++ {
		seen := time.Now().UTC().AddDate(0, 0, -i) // 1 to 42 days ago
		if err := e.fake.Exec(ctx, `INSERT INTO marketing.people VALUES ($1, $2, $3, $4, $5)`, i,
			fmt.Sprintf("c%d@example.com", i), fmt.Sprintf("06 12 34 56 %02d", i), fmt.Sprintf("Customer %d", i), seen); err != nil {
			t.Fatal(err)
		}
	}
	for _, sql := range []string{
		`UPDATE marketing.people SET email = 'not-an-email' WHERE id = 2`,
		`UPDATE marketing.people SET phone = '12' WHERE id = 3`,
		`INSERT INTO marketing.people VALUES (10, 'copy@example.com', NULL, 'Second ten', now() AT TIME ZONE 'UTC')`,
	} {
		if err := e.fake.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}

	h := &hook{records: map[string]map[string]any{}}
	// Seen in the last 30 days: ids 1 to 29 (30 days ago is a few seconds too old by the
	// time the run reads it), and the second copy of 10.
	recent := segments.Leaf("last_seen", segments.OpWithinLastDays, 30)
	a := jobstest.Setup(t, jobstest.Activation{
		Source: bigquery.New(bigquery.Options{BaseURL: e.fake.URL}), Config: e.cfg,
		Table: connectors.Table{Schema: "marketing", Name: "people"}, PrimaryKey: "id", Condition: segments.All(recent),
		Mappings: []models.Mapping{{From: "email", To: "email", Type: "email"}, {From: "phone", To: "phone", Type: "phone"}, {From: "name", To: "name", Type: "string"}},
		Hook:     h,
	})
	run, svc, ws, m := a.Run, a.Service, a.Admin.WorkspaceID, a.Model
	if col, _ := m.Column("last_seen"); col.Type != connectors.TypeTimestamp || col.Raw != "DATETIME" {
		t.Fatalf("last_seen in the snapshot: %+v", col)
	}
	if p, err := svc.PreviewRelation(ctx, ws, a.Source.ID, m.Relation()); err != nil || len(p.Rows) == 0 || p.ScanBytes <= 0 {
		t.Fatalf("the model's preview: %+v %v", p, err)
	}
	// The builder's count, and what a run of the segment would scan, by dry run.
	est, err := svc.Count(ctx, ws, m.ID, recent)
	if err != nil || est.Count != 30 || est.ScanBytes <= 0 {
		t.Fatalf("the segment's estimate: %+v %v", est, err)
	}

	// 30 rows queried: 2 (bad e-mail), 3 (bad phone) and both tens withheld; 26 sent.
	r := run()
	if r.Status != models.RunWarnings || r.Queried != 30 || r.SourceIssues != 4 || r.Added != 26 || r.Sent != 26 {
		t.Fatalf("first run: %s %+v (%s)", r.Status, r.RunCounts, r.ErrorMessage)
	}
	rec, n := h.record("1")
	if n != 26 || rec["phone"] != "+33612345601" || rec["email"] != "c1@example.com" {
		t.Fatalf("the receiver holds %d records; record 1: %v", n, rec)
	}
	if _, n := h.record("31"); n != 26 {
		t.Fatal("a record older than 30 days was sent")
	}

	// Unchanged: nothing sent. Then a rename, and a record leaving the segment.
	before := h.requests
	if r := run(); r.Unchanged != 26 || r.Sent != 0 || h.requests != before {
		t.Fatalf("unchanged rerun: %+v", r.RunCounts)
	}
	if err := e.fake.Exec(ctx, `UPDATE marketing.people SET name = 'Renamed' WHERE id = 5`); err != nil {
		t.Fatal(err)
	}
	if err := e.fake.Exec(ctx, `UPDATE marketing.people SET last_seen = last_seen - interval '90 days' WHERE id = 6`); err != nil {
		t.Fatal(err)
	}
	r = run()
	if r.Changed != 1 || r.Removed != 1 || r.Sent != 2 {
		t.Fatalf("rename and removal: %+v", r.RunCounts)
	}
	if rec, n := h.record("5"); rec["name"] != "Renamed" || n != 25 {
		t.Fatalf("after the rename and removal: %v, %d records", rec, n)
	}
}
