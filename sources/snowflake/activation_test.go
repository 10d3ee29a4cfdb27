package snowflake_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
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

// activate sets Sluice up on a PostgreSQL store against the fake: the Snowflake source
// (validated), a model of table PUBLIC.<table> keyed by ID, a segment of cond, a webhook
// platform at an inbox (batches of batch; counting only, for millions of rows) and an
// activation mapping EMAIL, PHONE and NAME. run queues a run, executes it through jobs
// and checks that its counts balance.
func activate(t testing.TB, w *warehouse, table string, cond segments.Condition, batch int, countOnly bool) (run func() *models.Run, in *inbox) {
	ctx := context.Background()
	store := testutil.Store(t, testutil.PostgresURL(t))
	_, admin := testutil.Admin(t, store)
	reg := connectors.NewRegistry()
	reg.RegisterSource(snowflake.New(snowflake.Options{BaseURL: w.fake.URL}))
	reg.RegisterDestination(webhook.New(true))
	svc := core.New(store, reg)
	runner := jobs.NewRunner(store, svc, slog.New(slog.DiscardHandler), jobs.Options{
		Engine: engine.Options{BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond},
	})
	spec, err := svc.SourceSpec(snowflake.Kind)
	if err != nil {
		t.Fatal(err)
	}
	src, err := store.CreateSource(ctx, admin, spec, models.SourceInput{Name: "Snowflake", Config: w.cfg})
	if err != nil {
		t.Fatal(err)
	}
	if src, err = svc.ValidateSource(ctx, admin.WorkspaceID, src.ID); err != nil || src.Status != models.SourceConnected {
		t.Fatalf("source: %+v %v", src, err)
	}
	m, err := svc.CreateModel(ctx, admin, core.ModelRequest{SourceID: src.ID, Name: "Customers",
		Table: &connectors.Table{Schema: "PUBLIC", Name: table}, PrimaryKey: "ID"})
	if err != nil {
		t.Fatal(err)
	}
	seg, err := svc.SaveSegment(ctx, admin, "", core.SegmentRequest{ModelID: m.ID, Name: "Segment", Conditions: cond})
	if err != nil {
		t.Fatal(err)
	}
	in = &inbox{records: map[string]map[string]any{}, countOnly: countOnly}
	hook := httptest.NewServer(in)
	t.Cleanup(hook.Close)
	platform, err := svc.CreatePlatform(ctx, admin, "webhook", models.PlatformInput{Name: "CRM", Config: connectors.Config{
		"url": hook.URL, "send_removals": "true", "batch_size": strconv.Itoa(batch), "signing_secret": "s3cret"}})
	if err != nil || platform.Status != models.PlatformConnected {
		t.Fatalf("platform: %+v %v", platform, err)
	}
	act, err := svc.CreateActivation(ctx, admin, models.ActivationInput{Name: "VIPs to CRM", SegmentID: seg.ID, PlatformID: platform.ID,
		Action: "sync_records", Schedule: models.Schedule{Kind: "manual"},
		Mappings: []models.Mapping{{From: "EMAIL", To: "email", Type: "email"}, {From: "PHONE", To: "phone", Type: "phone"}, {From: "NAME", To: "name", Type: "string"}},
		Settings: models.ActivationSettings{DefaultPhoneRegion: "FR", SendRemovals: true}})
	if err != nil {
		t.Fatal(err)
	}
	run = func() *models.Run {
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
			t.Fatalf("counts do not balance: %+v", c)
		}
		return r
	}

	return run, in
}
