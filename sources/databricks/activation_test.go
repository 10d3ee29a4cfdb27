package databricks_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/core"
	"sluice/destinations/webhook"
	"sluice/engine"
	"sluice/internal/testutil"
	"sluice/jobs"
	"sluice/models"
	"sluice/segments"
	"sluice/sources/databricks"
)

// inbox is a webhook endpoint that acknowledges every record and keeps the latest of
// each key, so the test asserts on what arrived, not on Sluice's own counts.
type inbox struct {
	mu      sync.Mutex
	records map[string]map[string]any
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

	ctx := context.Background()
	store := testutil.Store(t, testutil.PostgresURL(t))
	_, admin := testutil.Admin(t, store)
	reg := connectors.NewRegistry()
	reg.RegisterSource(databricks.New(databricks.Options{BaseURL: w.f.URL()}))
	reg.RegisterDestination(webhook.New(true))
	svc := core.New(store, reg)
	runner := jobs.NewRunner(store, svc, slog.New(slog.DiscardHandler), jobs.Options{
		Engine: engine.Options{BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond}})

	spec, err := svc.SourceSpec(databricks.Kind)
	if err != nil {
		t.Fatal(err)
	}
	src, err := store.CreateSource(ctx, admin, spec, models.SourceInput{Name: "Lakehouse", Config: w.cfg})
	if err != nil {
		t.Fatal(err)
	}
	if src, err = svc.ValidateSource(ctx, admin.WorkspaceID, src.ID); err != nil || src.Status != models.SourceConnected {
		t.Fatalf("source: %+v %v", src, err)
	}
	m, err := svc.CreateModel(ctx, admin, core.ModelRequest{SourceID: src.ID, Name: "Customers",
		Table: &connectors.Table{Schema: "sales", Name: "customers"}, PrimaryKey: "id"})
	if err != nil {
		t.Fatal(err)
	}
	seg, err := svc.SaveSegment(ctx, admin, "", core.SegmentRequest{ModelID: m.ID, Name: "Up to 11",
		Conditions: segments.All(segments.Leaf("id", segments.OpLte, 11), segments.Leaf("email", segments.OpIsNotNull, nil))})
	if err != nil {
		t.Fatal(err)
	}
	in := &inbox{records: map[string]map[string]any{}}
	srv := httptest.NewServer(in)
	t.Cleanup(srv.Close)
	platform, err := svc.CreatePlatform(ctx, admin, "webhook", models.PlatformInput{Name: "CRM", Config: connectors.Config{
		"url": srv.URL, "send_removals": "true", "batch_size": "4", "signing_secret": "s3cret"}})
	if err != nil || platform.Status != models.PlatformConnected {
		t.Fatalf("platform: %+v %v", platform, err)
	}
	act, err := svc.CreateActivation(ctx, admin, models.ActivationInput{Name: "Customers to CRM", SegmentID: seg.ID, PlatformID: platform.ID,
		Action: "sync_records", Schedule: models.Schedule{Kind: "manual"},
		Mappings: []models.Mapping{{From: "email", To: "email", Type: "email"}, {From: "amount", To: "amount", Type: "string"}},
		Settings: models.ActivationSettings{SendRemovals: true}})
	if err != nil {
		t.Fatal(err)
	}
	run := func() *models.Run {
		t.Helper()
		queued, err := runner.RunNow(ctx, admin.WorkspaceID, act.ID, models.TriggerManual, false)
		if err != nil {
			t.Fatal(err)
		}
		if !runner.RunOne(ctx) {
			t.Fatal("no run was claimed")
		}
		r, err := store.RunByID(ctx, admin.WorkspaceID, queued.ID)
		if err != nil {
			t.Fatal(err)
		}
		c := engine.Counts{Queried: r.Queried, Added: r.Added, Changed: r.Changed, Removed: r.Removed, Unchanged: r.Unchanged,
			Sent: r.Sent, Rejected: r.Rejected, Unsent: r.Unsent, SourceIssues: r.SourceIssues}
		if !c.Balanced() {
			t.Fatalf("run counts do not balance: %+v", c)
		}
		return r
	}

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
	if err := w.f.Revoke(ctx, Reader, "SELECT", "TABLE", "main.sales.customers"); err != nil {
		t.Fatal(err)
	}
	if r = run(); r.Status != models.RunFailed || r.ErrorCategory != string(connectors.CategoryCredentials) {
		t.Fatalf("without SELECT: %s %s %q", r.Status, r.ErrorCategory, r.ErrorMessage)
	}
	t.Logf("without SELECT the run says: %s", r.ErrorMessage)
}
