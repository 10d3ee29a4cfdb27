package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"sluice/config"
	"sluice/connectors"
	"sluice/core"
	"sluice/destinations/webhook"
	"sluice/engine"
	"sluice/handlers"
	"sluice/internal/testutil"
	"sluice/jobs"
	"sluice/models"
	"sluice/secrets"
	"sluice/segments"
	"sluice/sources/postgres"
)

// This file backs the table of docs/troubleshooting.md: each case is one row of it,
// named as the row's first cell. Each produces its failure for real — a PostgreSQL
// warehouse reached through a proxy that can be cut, a webhook endpoint that answers
// what it is told — runs the activation through the runner, and checks what a user
// is shown: the run's message and category and its fix link (through the JSON API, the
// same runFix as the pages), the issue kept on the source or model, and whether the
// activation paused by itself and resumed once the cause was gone.

// tsProxy forwards TCP connections to the warehouse; down closes the listener and every
// open connection (the warehouse is unreachable), up listens again on the same address.
type tsProxy struct {
	t      *testing.T
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

func newTSProxy(t *testing.T, target string) *tsProxy {
	p := &tsProxy{t: t, target: target, addr: "127.0.0.1:0", conns: map[net.Conn]bool{}}
	p.up()
	t.Cleanup(p.down)
	return p
}

func (p *tsProxy) up() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
}

func (p *tsProxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); up.Close() }()
	_, _ = io.Copy(c, up)
	c.Close()
}

func (p *tsProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *tsProxy) port() string {
	_, port, _ := net.SplitHostPort(p.addr)
	return port
}

// tsReceiver is the webhook endpoint: it acknowledges records, or rejects some keys,
// or answers every request with a status, or answers late.
type tsReceiver struct {
	mu     sync.Mutex
	reject map[string]string
	status int
	delay  time.Duration
}

func (rc *tsReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	status, delay := rc.status, rc.delay
	rc.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if status != 0 {
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
		}
		http.Error(w, `{"message":"refused by the test endpoint"}`, status)
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
	rejected := []rejection{}
	rc.mu.Lock()
	for _, rec := range body.Records {
		if msg, ok := rc.reject[rec.Key]; ok {
			rejected = append(rejected, rejection{rec.Key, msg})
		}
	}
	rc.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]any{"rejected": rejected})
}

func (rc *tsReceiver) set(fn func(rc *tsReceiver)) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	fn(rc)
}

// tsWorld is Sluice on PostgreSQL (store, runner, HTTP API) with a PostgreSQL
// warehouse of 43 customers behind a proxy and a webhook platform.
type tsWorld struct {
	t        *testing.T
	ctx      context.Context
	store    *models.Store
	core     *core.Service
	runner   *jobs.Runner
	admin    models.Actor
	api      *client
	token    string
	dw       *pgx.Conn
	dwDB     string
	proxy    *tsProxy
	rc       *tsReceiver
	source   *models.Source
	model    *models.DataModel
	platform *models.Platform
	act      *models.Activation
}

// tsBase is config.Default's base URL, under which fix links are absolute.
const tsBase = "http://localhost:8080"

func newTSWorld(t *testing.T) *tsWorld {
	t.Helper()
	ctx := context.Background()
	store := testutil.Store(t, testutil.PostgresURL(t))
	_, admin := testutil.Admin(t, store)
	whURL := testutil.PostgresURL(t)
	dw, err := pgx.Connect(ctx, whURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dw.Close(context.Background()) })
	u, _ := url.Parse(whURL)
	w := &tsWorld{t: t, ctx: ctx, store: store, admin: admin, dw: dw, dwDB: strings.TrimPrefix(u.Path, "/"),
		rc: &tsReceiver{reject: map[string]string{}}}
	w.proxy = newTSProxy(t, u.Host)

	w.exec(`CREATE TABLE customers (id integer, email text, phone text, name text)`)
	w.exec(`INSERT INTO customers SELECT i, 'c' || i || '@example.com', '06 12 34 56 ' || lpad(i::text, 2, '0'), 'Customer ' || i FROM generate_series(1, 42) i`)
	w.exec(`UPDATE customers SET email = 'not-an-email' WHERE id = 2`)
	w.exec(`UPDATE customers SET phone = '12' WHERE id = 3`)
	w.exec(`INSERT INTO customers VALUES (43, 'a@example.com', '06 12 34 56 43', 'First copy'), (43, 'b@example.com', '06 12 34 56 44', 'Second copy')`)

	reg := connectors.NewRegistry()
	reg.RegisterSource(postgres.New())
	// Each request may take 300 ms: the timeout row waits longer than that.
	reg.RegisterDestination(webhook.NewWithOptions(webhook.Options{AllowPrivate: true, Timeout: 300 * time.Millisecond}))
	w.core = core.New(store, reg)
	logger := slog.New(slog.DiscardHandler)
	w.runner = jobs.NewRunner(store, w.core, logger, jobs.Options{
		Engine: engine.Options{BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond},
	})
	box, err := secrets.New(bytes.Repeat([]byte{0x5a}, secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	e := handlers.New(handlers.Deps{Config: config.Default(), Store: store, Secrets: box, Logger: logger,
		Registry: prometheus.NewRegistry(), Core: w.core, Runs: w.runner})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	w.api = (&app{store: store, url: srv.URL, runner: w.runner}).client(t)
	w.token = whToken(t, store, admin.WorkspaceID, models.RoleViewer)

	spec, _ := w.core.SourceSpec("postgres")
	password, _ := u.User.Password()
	src, err := store.CreateSource(ctx, admin, spec, models.SourceInput{Name: "Warehouse", Config: connectors.Config{
		"host": "127.0.0.1", "port": w.proxy.port(), "database": w.dwDB, "user": u.User.Username(), "password": password, "sslmode": "disable"}})
	if err != nil {
		t.Fatal(err)
	}
	if w.source, err = w.core.ValidateSource(ctx, admin.WorkspaceID, src.ID); err != nil || w.source.Status != models.SourceConnected {
		t.Fatalf("source: %+v %v", w.source, err)
	}
	w.model, err = w.core.CreateModel(ctx, admin, core.ModelRequest{SourceID: src.ID, Name: "Customers", Table: &connectors.Table{Schema: "public", Name: "customers"}, PrimaryKey: "id"})
	if err != nil {
		t.Fatal(err)
	}
	seg, err := w.core.SaveSegment(ctx, admin, "", core.SegmentRequest{ModelID: w.model.ID, Name: "Everyone", Conditions: segments.All()})
	if err != nil {
		t.Fatal(err)
	}
	hook := httptest.NewServer(w.rc)
	t.Cleanup(hook.Close)
	w.platform, err = w.core.CreatePlatform(ctx, admin, "webhook", models.PlatformInput{Name: "CRM", Config: connectors.Config{
		"url": hook.URL, "batch_size": "10", "signing_secret": "s3cret"}})
	if err != nil || w.platform.Status != models.PlatformConnected {
		t.Fatalf("platform: %+v %v", w.platform, err)
	}
	w.act, err = w.core.CreateActivation(ctx, admin, models.ActivationInput{Name: "Customers to CRM", SegmentID: seg.ID, PlatformID: w.platform.ID,
		Action: "sync_records", Schedule: models.Schedule{Kind: "manual"},
		Mappings: []models.Mapping{{From: "email", To: "email", Type: "email"}, {From: "phone", To: "phone", Type: "phone"}, {From: "name", To: "name", Type: "string"}},
		Settings: models.ActivationSettings{DefaultPhoneRegion: "FR"}})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *tsWorld) exec(sql string, args ...any) {
	w.t.Helper()
	if _, err := w.dw.Exec(w.ctx, sql, args...); err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
}

// run queues a run as "Run now" does, executes it and reads it back through the API.
func (w *tsWorld) run() runBody {
	w.t.Helper()
	queued, err := w.runner.RunNow(w.ctx, w.admin.WorkspaceID, w.act.ID, models.TriggerManual, false)
	if err != nil {
		w.t.Fatal(err)
	}
	if !w.runner.RunOne(w.ctx) {
		w.t.Fatal("no run was claimed")
	}
	return into[runBody](w.t, w.api.api("/api/v1/runs/"+queued.ID, w.token).want(w.t, http.StatusOK))
}

// issues are a run's record issues as "stage:code key message".
func (w *tsWorld) issues(runID string) []models.RunIssue {
	w.t.Helper()
	out, _, err := w.store.ListRunIssues(w.ctx, w.admin.WorkspaceID, runID, models.IssueFilter{Limit: 500})
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

// openIssue is the open validation issue of an object of this kind, nil if none.
func (w *tsWorld) openIssue(objectID, kind string) *models.ValidationIssue {
	w.t.Helper()
	got, err := w.store.OpenIssues(w.ctx, w.admin.WorkspaceID, models.IssueFilterOf(objectID, kind))
	if err != nil {
		w.t.Fatal(err)
	}
	if len(got) == 0 {
		return nil
	}
	return &got[0]
}

func (w *tsWorld) activation() *models.Activation {
	w.t.Helper()
	a, err := w.store.ActivationByID(w.ctx, w.admin.WorkspaceID, w.act.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	return a
}

// nightly is what the daily validation does for the workspace (jobs.Scheduler's
// DailyValidation): validate every source and model, then re-check threshold pauses.
func (w *tsWorld) nightly() {
	w.t.Helper()
	if err := w.core.ValidateWorkspace(w.ctx, w.admin.WorkspaceID); err != nil {
		w.t.Logf("validation: %v", err) // a source still down answers an error; its issue says why
	}
	if err := w.runner.RecheckThresholds(w.ctx, w.admin.WorkspaceID); err != nil {
		w.t.Fatal(err)
	}
}

// wantFailed checks a failed run's category, message and fix link.
func (w *tsWorld) wantFailed(r runBody, category, message, fixLabel, fixPath string) {
	w.t.Helper()
	if r.Status != models.RunFailed || r.Error == nil {
		w.t.Fatalf("run %s %+v, want failed", r.Status, r.Error)
	}
	e := r.Error
	if e.Category != category || !strings.Contains(e.Message, message) || e.Fix.Label != fixLabel || e.Fix.URL != tsBase+fixPath {
		w.t.Errorf("failed run: %s %q, fix %q → %s\nwant %s %q, fix %q → %s", e.Category, e.Message, e.Fix.Label, e.Fix.URL, category, message, fixLabel, tsBase+fixPath)
	}
	if e.CategoryLabel != connectors.Category(category).Label() {
		w.t.Errorf("category label %q", e.CategoryLabel)
	}
}

// wantPaused checks an automatic pause of this cause whose reason says this.
func (w *tsWorld) wantPaused(cause, reason string) {
	w.t.Helper()
	a := w.activation()
	if a.Status != models.ActivationPaused || !a.PauseAutomatic || a.PauseCause != cause || !strings.Contains(a.PauseReason, reason) {
		w.t.Errorf("activation %s (automatic %v, cause %q) %q; want paused automatically for %s: %q", a.Status, a.PauseAutomatic, a.PauseCause, a.PauseReason, cause, reason)
	}
}

// wantActive checks the activation is active (never paused, or resumed by itself).
func (w *tsWorld) wantActive(when string) {
	w.t.Helper()
	if a := w.activation(); a.Status != models.ActivationActive {
		w.t.Errorf("%s: activation %s (cause %q) %q, want active", when, a.Status, a.PauseCause, a.PauseReason)
	}
}

// wantDelivers runs again and checks the run goes through, delivering something.
func (w *tsWorld) wantDelivers(when string) {
	w.t.Helper()
	w.exec(`UPDATE customers SET name = name || '.' WHERE id = 1`)
	if r := w.run(); r.Status != models.RunWarnings && r.Status != models.RunSucceeded || r.Counts.Sent == 0 {
		w.t.Errorf("%s: run %s %+v %+v, want it delivered", when, r.Status, r.Error, r.Counts)
	}
}

// setThreshold sets the activation's source-issue threshold (percent).
func (w *tsWorld) setThreshold(pct float64) {
	w.t.Helper()
	in := models.ActivationInput{Name: w.act.Name, SegmentID: w.act.SegmentID, PlatformID: w.platform.ID, Action: w.act.Action,
		Mappings: w.act.Mappings(), Schedule: models.Schedule{Kind: "manual"},
		Settings: models.ActivationSettings{DefaultPhoneRegion: "FR", SourceIssueThreshold: pct}}
	if _, err := w.core.UpdateActivation(w.ctx, w.admin, w.act.ID, in); err != nil {
		w.t.Fatal(err)
	}
}

// readOnlyRole makes the source read the warehouse as a role of its own with SELECT on
// customers, which a case can then revoke.
func (w *tsWorld) readOnlyRole() string {
	w.t.Helper()
	role := fmt.Sprintf("sluice_ts_%d", time.Now().UnixNano()%1e9)
	w.exec(`CREATE ROLE ` + role + ` LOGIN PASSWORD 'pw'`)
	w.t.Cleanup(func() {
		_, _ = w.dw.Exec(context.Background(), `DROP OWNED BY `+role)
		_, _ = w.dw.Exec(context.Background(), `DROP ROLE `+role)
	})
	w.exec(`GRANT CONNECT ON DATABASE ` + w.dwDB + ` TO ` + role)
	w.exec(`GRANT USAGE ON SCHEMA public TO ` + role)
	w.exec(`GRANT SELECT ON customers TO ` + role)
	spec, _ := w.core.SourceSpec("postgres")
	if _, err := w.store.UpdateSource(w.ctx, w.admin, w.source.ID, spec, models.SourceInput{Name: w.source.Name, Config: connectors.Config{
		"host": "127.0.0.1", "port": w.proxy.port(), "database": w.dwDB, "user": role, "password": "pw", "sslmode": "disable"}}); err != nil {
		w.t.Fatal(err)
	}
	if src, err := w.core.ValidateSource(w.ctx, w.admin.WorkspaceID, w.source.ID); err != nil || src.Status != models.SourceConnected {
		w.t.Fatalf("source as %s: %+v %v", role, src, err)
	}
	return role
}

// TestTroubleshooting: one case per row of docs/troubleshooting.md, in its order.
func TestTroubleshooting(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end on PostgreSQL")
	}
	testutil.PostgresURL(t) // skips (or fails under CI) without PostgreSQL
	sourcePage := func(w *tsWorld) string { return "/sources/" + w.source.ID }
	modelPage := func(w *tsWorld) string { return "/models/" + w.model.ID }
	platformSettings := func(w *tsWorld) string { return "/settings/platforms/" + w.platform.ID + "#platform-settings" }

	cases := []struct {
		row string
		fn  func(t *testing.T, w *tsWorld)
	}{
		{"Warehouse unreachable", func(t *testing.T, w *tsWorld) {
			w.wantDelivers("before")
			w.proxy.down()
			r := w.run()
			w.wantFailed(r, "connection", "Cannot reach 127.0.0.1:"+w.proxy.port()+": the connection was refused.", "Open source settings", sourcePage(w))
			w.wantPaused(models.PauseCauseSource, "paused automatically: source Warehouse is broken (Cannot reach 127.0.0.1:"+w.proxy.port())
			if i := w.openIssue(w.source.ID, string(connectors.StageConnection)); i == nil || !strings.HasPrefix(i.Message, "Source Warehouse fails its connection check: Cannot reach") {
				t.Errorf("source issue: %+v", i)
			}
			w.nightly()
			w.wantPaused(models.PauseCauseSource, "source Warehouse is broken")
			w.proxy.up()
			w.nightly()
			w.wantActive("warehouse back, after the nightly validation")
			w.wantDelivers("warehouse back")
		}},
		{"Grant revoked", func(t *testing.T, w *tsWorld) {
			role := w.readOnlyRole()
			w.wantDelivers("before")
			w.exec(`REVOKE SELECT ON customers FROM ` + role)
			r := w.run()
			w.wantFailed(r, "credentials", "permission denied for table customers", "Fix the source's permissions", sourcePage(w))
			w.wantPaused(models.PauseCauseSource, "paused automatically: source Warehouse is broken")
			if i := w.openIssue(w.source.ID, string(connectors.StageGrants)); i == nil || !strings.Contains(i.Message, "GRANT SELECT ON") || !strings.Contains(i.Message, role) {
				t.Errorf("source issue: %+v", i)
			}
			if p, _ := w.store.PlatformByID(w.ctx, w.admin.WorkspaceID, w.platform.ID); p.Status != models.PlatformConnected {
				t.Errorf("the platform was blamed: %s", p.Status)
			}
			w.exec(`GRANT SELECT ON customers TO ` + role)
			w.nightly()
			w.wantActive("grant back, after the nightly validation")
			w.wantDelivers("grant back")
		}},
		{"Column dropped", func(t *testing.T, w *tsWorld) {
			w.wantDelivers("before")
			w.exec(`ALTER TABLE customers DROP COLUMN phone`)
			r := w.run()
			w.wantFailed(r, "configuration", "The warehouse rejected the query: column m.phone does not exist.", "Check the model", modelPage(w))
			w.wantPaused(models.PauseCauseSchema, "paused automatically: column phone is missing from model Customers (renamed or dropped). Fix it in Models → Customers.")
			if i := w.openIssue(w.model.ID, models.IssueAltered); i == nil || i.Column != "phone" || i.Message != "Column phone is missing from model Customers (renamed or dropped)." {
				t.Errorf("model issue: %+v", i)
			}
			w.exec(`ALTER TABLE customers ADD COLUMN phone text`)
			w.exec(`UPDATE customers SET phone = '06 12 34 56 ' || lpad(id::text, 2, '0')`)
			w.nightly()
			w.wantActive("column back, after the nightly validation")
			w.wantDelivers("column back")
		}},
		{"Column renamed", func(t *testing.T, w *tsWorld) {
			w.wantDelivers("before")
			w.exec(`ALTER TABLE customers RENAME COLUMN phone TO mobile`)
			r := w.run()
			w.wantFailed(r, "configuration", "The warehouse rejected the query: column m.phone does not exist.", "Check the model", modelPage(w))
			w.wantPaused(models.PauseCauseSchema, "column phone is missing from model Customers (renamed or dropped)")
			if _, err := w.core.RemapColumn(w.ctx, w.admin, w.model.ID, "phone", "mobile"); err != nil {
				t.Fatal(err)
			}
			w.wantActive("after associating mobile with phone")
			w.wantDelivers("after the remap")
		}},
		{"Column retyped", func(t *testing.T, w *tsWorld) {
			w.wantDelivers("before")
			w.exec(`ALTER TABLE customers ALTER COLUMN name TYPE integer USING id`)
			// The run still reads the column (an integer fits a string field): it does not
			// notice the retype. The nightly validation (or "Validate now") does.
			if r := w.run(); r.Error != nil {
				t.Errorf("run after the retype: %s %+v", r.Status, r.Error)
			}
			w.nightly()
			w.wantPaused(models.PauseCauseSchema, "column name of model Customers changed type (it was string)")
			if i := w.openIssue(w.model.ID, models.IssueWrongType); i == nil || i.Column != "name" || i.Message != "Column name of model Customers changed type (it was string)." {
				t.Errorf("model issue: %+v", i)
			}
			if _, err := w.runner.RunNow(w.ctx, w.admin.WorkspaceID, w.act.ID, models.TriggerManual, false); err == nil {
				t.Error("Run now on a paused activation was accepted")
			}
			w.exec(`ALTER TABLE customers ALTER COLUMN name TYPE text`)
			w.nightly()
			w.wantActive("type back, after the nightly validation")
			w.wantDelivers("type back")
		}},
		{"Duplicate keys over 5%", func(t *testing.T, w *tsWorld) {
			// 4 more keys shared: 10 of 48 rows, 20.8%.
			w.exec(`INSERT INTO customers SELECT id, 'dup' || email, phone, name FROM customers WHERE id BETWEEN 4 AND 7`)
			_, err := w.core.CreateModel(w.ctx, w.admin, core.ModelRequest{SourceID: w.source.ID, Name: "Customers again",
				Table: &connectors.Table{Schema: "public", Name: "customers"}, PrimaryKey: "id"})
			if err == nil || err.Error() != "20.8% of rows share their primary key or have none (more than 5%)" {
				t.Errorf("a new model over 5%%: %v", err)
			}
			r := w.run()
			if r.Status != models.RunWarnings || r.Error != nil || r.Counts.SourceIssues != 12 {
				t.Errorf("run: %s %+v %+v", r.Status, r.Error, r.Counts)
			}
			found := false
			for _, i := range w.issues(r.ID) {
				found = found || i.Code == engine.CodeDuplicateKey && i.PrimaryKey == "4" &&
					i.Message == `2 rows share the primary key "4"; none of them is sent, since which one is right cannot be known.`
			}
			if !found {
				t.Errorf("no duplicate_primary_key issue on key 4: %+v", w.issues(r.ID))
			}
			w.nightly()
			const flag = "Model Customers has 20.8% of rows (10 of 48) sharing their primary key id or without one; they are not sent."
			if i := w.openIssue(w.model.ID, models.IssueDuplicateKeys); i == nil || i.Message != flag {
				t.Errorf("model flag: %+v", i)
			}
			w.wantActive("duplicates without a threshold")
			w.exec(`DELETE FROM customers WHERE email LIKE 'dup%' OR name = 'Second copy'`)
			w.nightly()
			if i := w.openIssue(w.model.ID, models.IssueDuplicateKeys); i != nil {
				t.Errorf("the flag stays once the duplicates are gone: %+v", i)
			}
		}},
		{"Invalid e-mails and phones", func(t *testing.T, w *tsWorld) {
			r := w.run()
			if r.Status != models.RunWarnings || r.Error != nil || r.Counts.SourceIssues != 4 || r.Counts.Sent != 40 {
				t.Errorf("run: %s %+v %+v", r.Status, r.Error, r.Counts)
			}
			want := map[string]string{
				"2": `The e-mail address "not-an-email" (column email) is not valid: it is not of the form name@example.com.`,
				"3": `The phone number "12" (column phone) is not a valid number for region FR.`,
			}
			for _, i := range w.issues(r.ID) {
				if m, ok := want[i.PrimaryKey]; ok && i.Stage == "source" && i.Message == m {
					delete(want, i.PrimaryKey)
				}
			}
			if len(want) > 0 {
				t.Errorf("record issues missing: %v", want)
			}
			w.wantActive("some invalid rows, no threshold")

			// Every row withheld: the run failed because of its data.
			w.exec(`UPDATE customers SET email = 'broken'`)
			r = w.run()
			w.wantFailed(r, "configuration", "Nothing was sent: all 44 rows the segment returned were withheld as source issues (42 with an empty or invalid e-mail",
				"See the withheld rows", "/runs/"+r.ID+"#source-issues-card")
			w.wantActive("every row invalid, no threshold")
		}},
		{"Source issues over the threshold", func(t *testing.T, w *tsWorld) {
			w.setThreshold(5)
			if r := w.run(); r.Status != models.RunWarnings || r.Error != nil {
				t.Errorf("run: %s %+v", r.Status, r.Error)
			}
			w.wantPaused(models.PauseCauseThreshold, "paused automatically: 9.1% of rows had source issues in the last run (threshold 5.0%).")
			w.nightly()
			w.wantPaused(models.PauseCauseThreshold, "threshold 5.0%")
			w.exec(`UPDATE customers SET email = 'fixed' || id || '@example.com', phone = '06 12 34 56 78'`)
			w.exec(`DELETE FROM customers WHERE id = 43 AND name = 'Second copy'`)
			w.nightly()
			w.wantActive("data fixed, after the nightly re-check")
		}},
		{"Destination rejections", func(t *testing.T, w *tsWorld) {
			w.rc.set(func(rc *tsReceiver) { rc.reject["7"] = "Customer 7 is blocked in the CRM" })
			r := w.run()
			if r.Status != models.RunWarnings || r.Error != nil || r.Counts.Rejected != 1 || r.Counts.Sent != 39 {
				t.Errorf("run: %s %+v %+v", r.Status, r.Error, r.Counts)
			}
			found := false
			for _, i := range w.issues(r.ID) {
				found = found || i.PrimaryKey == "7" && i.Stage == "destination" && i.Message == "Customer 7 is blocked in the CRM"
			}
			if !found {
				t.Errorf("the rejection is not kept with the platform's words: %+v", w.issues(r.ID))
			}
			w.wantActive("after a rejection")
			w.rc.set(func(rc *tsReceiver) { delete(rc.reject, "7") })
			if r := w.run(); r.Counts.Sent != 1 {
				t.Errorf("the rejected record is not sent again: %+v", r.Counts)
			}
		}},
		{"429 Too Many Requests", func(t *testing.T, w *tsWorld) {
			w.rc.set(func(rc *tsReceiver) { rc.status = http.StatusTooManyRequests })
			r := w.run()
			w.wantFailed(r, "rate_limit", "The webhook answered 429 Too Many Requests: it limits how fast Sluice may send. Sluice tried 5 times, then stopped. What was not delivered is sent again next run.", "Adjust the platform's rate", platformSettings(w))
			w.wantActive("after a 429")
			w.rc.set(func(rc *tsReceiver) { rc.status = 0 })
			w.wantDelivers("next run")
		}},
		{"401 Unauthorized", func(t *testing.T, w *tsWorld) {
			w.rc.set(func(rc *tsReceiver) { rc.status = http.StatusUnauthorized })
			r := w.run()
			w.wantFailed(r, "credentials", "The webhook answered 401 Unauthorized: check its credentials or headers.", "Re-authorize", "/settings/platforms/"+w.platform.ID+"/reauthorize")
			if p, _ := w.store.PlatformByID(w.ctx, w.admin.WorkspaceID, w.platform.ID); p.Status != models.PlatformBroken {
				t.Errorf("the platform is %s, want broken", p.Status)
			}
			w.wantPaused(models.PauseCausePlatform, "paused automatically: platform CRM is broken (The webhook answered 401 Unauthorized: check its credentials or headers.). Re-authorize it in Settings → Platforms.")
			w.rc.set(func(rc *tsReceiver) { rc.status = 0 })
			if p, err := w.core.UpdatePlatform(w.ctx, w.admin, w.platform.ID, models.PlatformInput{Config: connectors.Config{}}); err != nil || p.Status != models.PlatformConnected {
				t.Fatalf("re-authorize: %+v %v", p, err)
			}
			w.wantActive("after re-authorizing")
			w.wantDelivers("after re-authorizing")
		}},
		{"404 Not Found", func(t *testing.T, w *tsWorld) {
			w.rc.set(func(rc *tsReceiver) { rc.status = http.StatusNotFound })
			r := w.run()
			w.wantFailed(r, "not_found", "The webhook answered 404 Not Found: check the URL.", "Check the platform settings", platformSettings(w))
			w.wantActive("after a 404")
		}},
		{"500 Internal Server Error", func(t *testing.T, w *tsWorld) {
			w.rc.set(func(rc *tsReceiver) { rc.status = http.StatusInternalServerError })
			r := w.run()
			w.wantFailed(r, "connection", "The webhook answered 500 Internal Server Error: it failed on its side. Sluice tried 5 times, then stopped.", "Check the platform settings", platformSettings(w))
			w.wantActive("after a 500")
		}},
		{"Timeout", func(t *testing.T, w *tsWorld) {
			w.rc.set(func(rc *tsReceiver) { rc.delay = time.Second })
			r := w.run()
			w.wantFailed(r, "timeout", "The webhook did not answer in time. Sluice tried 5 times, then stopped.", "Check the platform settings", platformSettings(w))
			w.wantActive("after a timeout")
		}},
		{"Paused by hand", func(t *testing.T, w *tsWorld) {
			if _, err := w.core.Pause(w.ctx, w.admin, w.act.ID, "waiting for the new list"); err != nil {
				t.Fatal(err)
			}
			// The source breaks and comes back: the automatic pause and resume it causes
			// never replace or lift a person's pause.
			w.proxy.down()
			w.nightly()
			w.proxy.up()
			w.nightly()
			if a := w.activation(); a.Status != models.ActivationPaused || a.PauseAutomatic || a.PauseReason != "waiting for the new list" {
				t.Errorf("activation %s (automatic %v) %q, want still paused by hand", a.Status, a.PauseAutomatic, a.PauseReason)
			}
		}},
	}
	var rows []string
	for _, tc := range cases {
		rows = append(rows, tc.row)
	}
	if doc := troubleshootingDocRows(t); strings.Join(doc, "|") != strings.Join(rows, "|") {
		t.Errorf("docs/troubleshooting.md lists %q, the cases are %q", doc, rows)
	}
	for _, tc := range cases {
		t.Run(tc.row, func(t *testing.T) {
			tc.fn(t, newTSWorld(t))
		})
	}
}

// troubleshootingDocRows are the failures of docs/troubleshooting.md's table, in its
// order; each row must name its case of TestTroubleshooting as its test.
func troubleshootingDocRows(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../docs/troubleshooting.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, line := range strings.Split(string(b), "\n") {
		cells := strings.Split(line, " | ")
		if !strings.HasPrefix(line, "| ") || len(cells) < 7 || strings.HasPrefix(line, "| failure") || strings.HasPrefix(line, "| ---") {
			continue
		}
		row := strings.TrimPrefix(cells[0], "| ")
		test := "`TestTroubleshooting/" + strings.ReplaceAll(row, " ", "_") + "` |"
		if last := cells[len(cells)-1]; last != test {
			t.Errorf("docs/troubleshooting.md row %q names %q, want %q", row, last, test)
		}
		rows = append(rows, row)
	}
	return rows
}
