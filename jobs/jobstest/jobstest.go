// Package jobstest sets Sluice up on a PostgreSQL store around one source connector, so
// a connector's tests can prove a whole activation — source validated, model, segment,
// webhook platform, runs through jobs and the engine — without writing that wiring again.
package jobstest

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
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
)

// Activation is what to set up: a source of the connector's kind with Config (it must
// pass the five checks), a model of Table keyed by PrimaryKey, a segment of Condition,
// and an activation of Mappings (default region FR, removals sent) to a webhook platform
// at Hook, in batches of BatchSize (default 10), at most RequestsPerSecond requests a
// second (default: the webhook's own default).
type Activation struct {
	Source connectors.SourceConnector
	Config connectors.Config
	// Generated are values of the spec's Generated fields the source starts with (an
	// SSH tunnel's key pair, which core otherwise generates).
	Generated  connectors.Config
	Table      connectors.Table
	PrimaryKey string
	Condition  segments.Condition
	Mappings   []models.Mapping
	BatchSize  int
	Hook       http.Handler
	// RequestsPerSecond lifts the webhook's pace for benchmarks (0: its default).
	RequestsPerSecond int
}

// Start sets the activation up and answers a function that queues a run, executes it and
// answers the stored run, failing the test when its counts do not balance (DESIGN.md's
// two accounting equations).
func Start(t testing.TB, a Activation) (run func() *models.Run) {
	t.Helper()
	return Setup(t, a).Run
}

// Env is a set-up activation with what a test may ask beyond its runs: the service, its
// store, the admin acting, the validated source and the model.
type Env struct {
	Service *core.Service
	Store   *models.Store
	Admin   models.Actor
	Source  *models.Source
	Model   *models.DataModel
	Run     func() *models.Run
}

// Setup is Start, answering the whole environment.
func Setup(t testing.TB, a Activation) *Env {
	t.Helper()
	ctx := context.Background()
	store := testutil.Store(t, testutil.PostgresURL(t))
	_, admin := testutil.Admin(t, store)
	reg := connectors.NewRegistry()
	reg.RegisterSource(a.Source)
	reg.RegisterDestination(webhook.New(true))
	svc := core.New(store, reg)
	runner := jobs.NewRunner(store, svc, slog.New(slog.DiscardHandler), jobs.Options{
		Engine: engine.Options{BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond},
	})
	kind := a.Source.Spec().Kind
	spec, err := svc.SourceSpec(kind)
	if err != nil {
		t.Fatal(err)
	}
	src, err := store.CreateSource(ctx, admin, spec, models.SourceInput{Name: spec.Label, Config: a.Config, Generated: a.Generated})
	if err != nil {
		t.Fatal(err)
	}
	if src, err = svc.ValidateSource(ctx, admin.WorkspaceID, src.ID); err != nil || src.Status != models.SourceConnected {
		t.Fatalf("the %s source does not validate: %+v %v", kind, src, err)
	}
	table := a.Table
	m, err := svc.CreateModel(ctx, admin, core.ModelRequest{SourceID: src.ID, Name: table.Name, Table: &table, PrimaryKey: a.PrimaryKey})
	if err != nil {
		t.Fatal(err)
	}
	seg, err := svc.SaveSegment(ctx, admin, "", core.SegmentRequest{ModelID: m.ID, Name: "Segment", Conditions: a.Condition})
	if err != nil {
		t.Fatal(err)
	}
	hook := httptest.NewServer(a.Hook)
	t.Cleanup(hook.Close)
	batch := a.BatchSize
	if batch <= 0 {
		batch = 10
	}
	hookCfg := connectors.Config{"url": hook.URL, "send_removals": "true", "batch_size": strconv.Itoa(batch), "signing_secret": "s3cret"}
	if a.RequestsPerSecond > 0 {
		hookCfg["requests_per_second"] = strconv.Itoa(a.RequestsPerSecond)
	}
	platform, err := svc.CreatePlatform(ctx, admin, "webhook", models.PlatformInput{Name: "CRM", Config: hookCfg})
	if err != nil || platform.Status != models.PlatformConnected {
		t.Fatalf("platform: %+v %v", platform, err)
	}
	act, err := svc.CreateActivation(ctx, admin, models.ActivationInput{Name: "Segment to CRM", SegmentID: seg.ID, PlatformID: platform.ID,
		Action: "sync_records", Schedule: models.Schedule{Kind: "manual"}, Mappings: a.Mappings,
		Settings: models.ActivationSettings{DefaultPhoneRegion: "FR", SendRemovals: true}})
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Service: svc, Store: store, Admin: admin, Source: src, Model: m, Run: func() *models.Run {
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
	}}
}
