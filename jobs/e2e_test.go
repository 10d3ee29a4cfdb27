package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"sluice/connectors"
	"sluice/core"
	"sluice/destinations/webhook"
	"sluice/engine"
	"sluice/internal/testutil"
	"sluice/jobs"
	"sluice/models"
	"sluice/segments"
	"sluice/sources/postgres"
)

// receiver is a webhook endpoint that keeps what it acknowledged, and can be told to
// reject keys or to answer with a status.
type receiver struct {
	mu       sync.Mutex
	records  map[string]map[string]any
	reject   map[string]string
	script   []int // statuses to answer next, one per request
	status   int   // answer this to every request while set
	delay    time.Duration
	requests int
}

func newReceiver() *receiver {
	return &receiver{records: map[string]map[string]any{}, reject: map[string]string{}}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	delay := rc.delay
	rc.mu.Unlock()
	time.Sleep(delay)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	if len(rc.script) > 0 {
		status := rc.script[0]
		rc.script = rc.script[1:]
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
		}
		http.Error(w, `{"message":"slow down"}`, status)
		return
	}
	if rc.status != 0 {
		http.Error(w, `{"message":"nope"}`, rc.status)
		return
	}
	var body struct {
		Records []connectors.Record `json:"records"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	type rejection struct {
		Key     string `json:"key"`
		Message string `json:"message"`
	}
	var rejected []rejection
	for _, rec := range body.Records {
		if msg, ok := rc.reject[rec.Key]; ok {
			rejected = append(rejected, rejection{rec.Key, msg})
			continue
		}
		if rec.Op == connectors.OpRemove {
			delete(rc.records, rec.Key)
		} else {
			rc.records[rec.Key] = rec.Fields
		}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"rejected": rejected})
}

func (rc *receiver) set(fn func(rc *receiver)) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	fn(rc)
}

func (rc *receiver) record(key string) (map[string]any, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	r, ok := rc.records[key]
	return r, ok
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.records)
}

// world is Sluice on PostgreSQL with a PostgreSQL warehouse and a webhook receiver.
type world struct {
	t        *testing.T
	ctx      context.Context
	store    *models.Store
	runner   *jobs.Runner
	core     *core.Service
	admin    models.Actor
	dw       *pgx.Conn
	rc       *receiver
	act      *models.Activation
	platform *models.Platform
	storeURL string
}

func (w *world) exec(sql string, args ...any) {
	w.t.Helper()
	if _, err := w.dw.Exec(w.ctx, sql, args...); err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
}

// run queues a run, executes it and answers it with its issues.
func (w *world) run() (*models.Run, []models.RunIssue) {
	w.t.Helper()
	queued, err := w.runner.RunNow(w.ctx, w.admin.WorkspaceID, w.act.ID, models.TriggerManual, false)
	if err != nil {
		w.t.Fatal(err)
	}
	if !w.runner.RunOne(w.ctx) {
		w.t.Fatal("no run was claimed")
	}
	r, err := w.store.RunByID(w.ctx, w.admin.WorkspaceID, queued.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	c := engine.Counts{Queried: r.Queried, Added: r.Added, Changed: r.Changed, Removed: r.Removed, Unchanged: r.Unchanged,
		Sent: r.Sent, Rejected: r.Rejected, Unsent: r.Unsent, SourceIssues: r.SourceIssues}
	if !c.Balanced() {
		w.t.Fatalf("run counts do not balance: %+v", c)
	}
	issues, _, err := w.store.ListRunIssues(w.ctx, w.admin.WorkspaceID, r.ID, models.IssueFilter{Limit: 500})
	if err != nil {
		w.t.Fatal(err)
	}
	return r, issues
}

func newWorld(t *testing.T) *world {
	ctx := context.Background()
	storeURL := testutil.PostgresURL(t)
	store := testutil.Store(t, storeURL)
	_, admin := testutil.Admin(t, store)
	whURL := testutil.PostgresURL(t)
	dw, err := pgx.Connect(ctx, whURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dw.Close(context.Background()) })
	w := &world{t: t, ctx: ctx, store: store, admin: admin, dw: dw, rc: newReceiver(), storeURL: storeURL}

	w.exec(`CREATE TABLE customers (id integer, email text, phone text, name text)`)
	for i := 1; i <= 42; i++ {
		w.exec(`INSERT INTO customers VALUES ($1, $2, $3, $4)`, i, fmt.Sprintf("c%d@example.com", i), fmt.Sprintf("06 12 34 56 %02d", i), fmt.Sprintf("Customer %d", i))
	}
	w.exec(`UPDATE customers SET email = 'not-an-email' WHERE id = 2`)
	w.exec(`UPDATE customers SET phone = '12' WHERE id = 3`)
	w.exec(`INSERT INTO customers VALUES (43, 'a@example.com', NULL, 'First copy'), (43, 'b@example.com', NULL, 'Second copy')`)

	reg := connectors.NewRegistry()
	reg.RegisterSource(postgres.New())
	reg.RegisterDestination(webhook.New(true))
	w.core = core.New(store, reg)
	w.runner = jobs.NewRunner(store, w.core, slog.New(slog.DiscardHandler), jobs.Options{
		Engine: engine.Options{BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond},
	})
	u, _ := url.Parse(whURL)
	spec, _ := w.core.SourceSpec("postgres")
	src, err := store.CreateSource(ctx, admin, spec, models.SourceInput{Name: "Warehouse", Config: connectors.Config{
		"host": u.Hostname(), "port": u.Port(), "database": strings.TrimPrefix(u.Path, "/"), "user": u.User.Username(), "sslmode": "disable"}})
	if err != nil {
		t.Fatal(err)
	}
	if src, err = w.core.ValidateSource(ctx, admin.WorkspaceID, src.ID); err != nil || src.Status != models.SourceConnected {
		t.Fatalf("source: %+v %v", src, err)
	}
	m, err := w.core.CreateModel(ctx, admin, core.ModelRequest{SourceID: src.ID, Name: "Customers", Table: &connectors.Table{Schema: "public", Name: "customers"}, PrimaryKey: "id"})
	if err != nil {
		t.Fatal(err)
	}
	seg, err := w.core.SaveSegment(ctx, admin, "", core.SegmentRequest{ModelID: m.ID, Name: "Everyone", Conditions: segments.All()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w.rc)
	t.Cleanup(srv.Close)
	w.platform, err = w.core.CreatePlatform(ctx, admin, "webhook", models.PlatformInput{Name: "CRM", Config: connectors.Config{
		"url": srv.URL, "send_removals": "true", "batch_size": "10", "signing_secret": "s3cret"}})
	if err != nil || w.platform.Status != models.PlatformConnected {
		t.Fatalf("platform: %+v %v", w.platform, err)
	}
	w.act, err = w.core.CreateActivation(ctx, admin, models.ActivationInput{Name: "Customers to CRM", SegmentID: seg.ID, PlatformID: w.platform.ID,
		Action: "sync_records", Schedule: models.Schedule{Kind: "manual"},
		Mappings: []models.Mapping{{From: "email", To: "email", Type: "email"}, {From: "phone", To: "phone", Type: "phone"}, {From: "name", To: "name", Type: "string"}},
		Settings: models.ActivationSettings{DefaultPhoneRegion: "FR", SendRemovals: true}})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func codes(issues []models.RunIssue) map[string][]string {
	out := map[string][]string{}
	for _, i := range issues {
		out[i.PrimaryKey] = append(out[i.PrimaryKey], i.Stage+":"+i.Code)
	}
	return out
}

// Acceptance 1 of the sync engine, end to end on PostgreSQL (Sluice's store and the
// warehouse) through the real webhook connector.
func TestSyncEndToEndOnPostgres(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx

	// First run: invalid e-mails and phones and duplicate keys are withheld; phones E.164.
	r, issues := w.run()
	got := codes(issues)
	if r.Status != models.RunWarnings || r.Queried != 44 || r.Added != 40 || r.Sent != 40 || r.SourceIssues != 4 {
		t.Fatalf("first run: %s %+v", r.Status, r.RunCounts)
	}
	if strings.Join(got["2"], ",") != "source:invalid_email" || strings.Join(got["3"], ",") != "source:invalid_phone" ||
		strings.Join(got["43"], ",") != "source:duplicate_primary_key,source:duplicate_primary_key" {
		t.Fatalf("source issues: %v", got)
	}
	if rec, ok := w.rc.record("1"); !ok || rec["phone"] != "+33612345601" || rec["email"] != "c1@example.com" {
		t.Fatalf("record 1 at the destination: %v", rec)
	}
	if _, ok := w.rc.record("43"); ok {
		t.Fatal("a duplicate key was sent")
	}

	// An unchanged rerun sends nothing.
	before := w.rc.requests
	r, _ = w.run()
	if r.Status != models.RunSucceeded && r.Status != models.RunWarnings || r.Unchanged != 40 || r.Added+r.Changed+r.Removed+r.Sent != 0 || w.rc.requests != before {
		t.Fatalf("unchanged rerun: %s %+v, %d requests", r.Status, r.RunCounts, w.rc.requests-before)
	}

	// Updates and deletes arrive as changes and removals.
	w.exec(`UPDATE customers SET name = 'Renamed' WHERE id = 5`)
	w.exec(`DELETE FROM customers WHERE id = 6`)
	r, _ = w.run()
	if r.Changed != 1 || r.Removed != 1 || r.Sent != 2 {
		t.Fatalf("update and delete: %+v", r.RunCounts)
	}
	if rec, _ := w.rc.record("5"); rec["name"] != "Renamed" {
		t.Fatalf("record 5: %v", rec)
	}
	if _, ok := w.rc.record("6"); ok {
		t.Fatal("record 6 was not removed")
	}

	// A destination rejection is recorded with the destination's words, and retried next run.
	w.rc.set(func(rc *receiver) { rc.reject["7"] = "Customer 7 is blocked in the CRM" })
	w.exec(`UPDATE customers SET name = 'Seven' WHERE id = 7`)
	r, issues = w.run()
	if r.Rejected != 1 || r.Status != models.RunWarnings {
		t.Fatalf("rejection: %s %+v", r.Status, r.RunCounts)
	}
	found := false
	for _, i := range issues {
		found = found || (i.PrimaryKey == "7" && i.Stage == "destination" && strings.Contains(i.Message, "Customer 7 is blocked in the CRM"))
	}
	if !found {
		t.Fatalf("the rejection's message is not recorded: %+v", issues)
	}
	w.rc.set(func(rc *receiver) { delete(rc.reject, "7") })
	r, _ = w.run()
	if rec, _ := w.rc.record("7"); r.Changed != 1 || r.Sent != 1 || rec["name"] != "Seven" {
		t.Fatalf("the rejected record was not retried: %+v %v", r.RunCounts, rec)
	}

	// 429 and 5xx are retried.
	w.rc.set(func(rc *receiver) { rc.script = []int{429, 503} })
	w.exec(`UPDATE customers SET name = 'Eight' WHERE id = 8`)
	r, _ = w.run()
	if rec, _ := w.rc.record("8"); r.Status != models.RunSucceeded && r.Status != models.RunWarnings || r.Sent != 1 || rec["name"] != "Eight" {
		t.Fatalf("after 429 and 503: %s %+v %v", r.Status, r.RunCounts, rec)
	}

	// 401 fails with credentials, marks the platform broken and pauses the activation.
	w.rc.set(func(rc *receiver) { rc.status = 401 })
	w.exec(`UPDATE customers SET name = 'Nine' WHERE id = 9`)
	r, _ = w.run()
	if r.Status != models.RunFailed || r.ErrorCategory != "credentials" || r.Unsent != 1 {
		t.Fatalf("401: %s %s %+v", r.Status, r.ErrorCategory, r.RunCounts)
	}
	p, _ := w.store.PlatformByID(ctx, w.admin.WorkspaceID, w.platform.ID)
	a, _ := w.store.ActivationByID(ctx, w.admin.WorkspaceID, w.act.ID)
	if p.Status != models.PlatformBroken || a.Status != models.ActivationPaused || !a.PauseAutomatic {
		t.Fatalf("after 401: platform %s, activation %s (automatic %v)", p.Status, a.Status, a.PauseAutomatic)
	}

	// Re-authorizing (the check passes again) resumes the activation; the unsent record goes.
	w.rc.set(func(rc *receiver) { rc.status = 0 })
	if p, err := w.core.UpdatePlatform(ctx, w.admin, w.platform.ID, models.PlatformInput{Config: connectors.Config{}}); err != nil || p.Status != models.PlatformConnected {
		t.Fatalf("re-authorize: %+v %v", p, err)
	}
	a, _ = w.store.ActivationByID(ctx, w.admin.WorkspaceID, w.act.ID)
	if a.Status != models.ActivationActive {
		t.Fatalf("the activation did not resume: %+v", a)
	}
	r, _ = w.run()
	if rec, _ := w.rc.record("9"); r.Sent != 1 || rec["name"] != "Nine" {
		t.Fatalf("after re-authorizing: %+v %v", r.RunCounts, rec)
	}

	// 404 fails with not_found.
	w.rc.set(func(rc *receiver) { rc.status = 404 })
	w.exec(`UPDATE customers SET name = 'Ten' WHERE id = 10`)
	r, _ = w.run()
	if r.Status != models.RunFailed || r.ErrorCategory != "not_found" {
		t.Fatalf("404: %s %s", r.Status, r.ErrorCategory)
	}
	if w.rc.count() != 39 {
		t.Fatalf("the destination holds %d records, want 39", w.rc.count())
	}
}
