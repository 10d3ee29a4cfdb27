package demo_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/config"
	"sluice/connectors"
	"sluice/core"
	"sluice/demo"
	"sluice/destinations/sandbox"
	"sluice/handlers"
	"sluice/internal/testutil"
	"sluice/jobs"
	"sluice/models"
	"sluice/sources/sqlite"
)

// storyApp is Sluice as main wires it for the demo: the SQLite source in dir, both
// Sandbox kinds whose inbox and authorization server are this test's listener, and the
// runner's workers.
func storyApp(t *testing.T, store *models.Store, dir string) (*core.Service, *jobs.Runner) {
	t.Helper()
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	cfg := config.Default()
	cfg.BaseURL, cfg.DataDir = srv.URL, dir
	reg := connectors.NewRegistry()
	reg.RegisterSource(sqlite.New(sqlite.Dir(dir)))
	reg.RegisterDestination(sandbox.New(sandbox.Options{BaseURL: srv.URL}))
	reg.RegisterDestination(sandbox.NewOAuth(sandbox.Options{BaseURL: srv.URL}))
	logger := slog.New(slog.DiscardHandler)
	wh := core.New(store, reg)
	wh.SetOAuth(cfg.BaseURL, nil)
	runner := jobs.NewRunner(store, wh, logger, jobs.Options{})
	h = handlers.New(handlers.Deps{Config: cfg, Store: store, Secrets: store.Secrets(), Logger: logger,
		Registry: prometheus.NewRegistry(), Core: wh, Runs: runner})
	ctx, cancel := context.WithCancel(context.Background())
	workers := runner.Start(ctx)
	t.Cleanup(func() { cancel(); workers.Wait() })
	return wh, runner
}

// The demo's story, made for real: three Sandbox platforms, the OAuth one broken after
// its grant was revoked; an activation in each state, each from a real run (healthy,
// source issues, rejections, a rate-limit failure, two paused by the renamed column,
// one paused by its broken platform) after fourteen days of past runs that balance.
// Made again it adds nothing; "Remove demo data" then deletes all of it.
func TestStoryShowsEveryState(t *testing.T) {
	ctx := context.Background()
	testutil.EachStore(t, func(t *testing.T, store *models.Store) {
		dir := t.TempDir()
		wh, runner := storyApp(t, store, dir)
		seeded, err := demo.Seed(ctx, store, wh, dir)
		if err != nil || !seeded {
			t.Fatalf("Seed = %v, %v", seeded, err)
		}
		if ok, err := demo.PrepareStory(ctx, store, seeded); err != nil || !ok {
			t.Fatalf("PrepareStory = %v, %v", ok, err)
		}
		if ws, _ := store.WorkspaceByID(ctx, models.DefaultWorkspaceID); !ws.PreparingDemo() {
			t.Fatalf("the banner would not say the demo is being prepared: %+v", ws)
		}
		// Started with the story switched off, the banner says it stopped part way; the
		// next start with it on carries on.
		if err := demo.SkipStory(ctx, store); err != nil {
			t.Fatal(err)
		}
		if ws, _ := store.WorkspaceByID(ctx, models.DefaultWorkspaceID); !ws.DemoStopped() || ws.PreparingDemo() {
			t.Fatalf("after SkipStory the story is %q", ws.DemoStory)
		}
		if ok, err := demo.PrepareStory(ctx, store, false); err != nil || !ok {
			t.Fatalf("PrepareStory after a stop = %v, %v", ok, err)
		}
		if err := demo.Story(ctx, store, wh, runner, dir); err != nil {
			t.Fatal(err)
		}
		ws, _ := store.WorkspaceByID(ctx, models.DefaultWorkspaceID)
		if ws.DemoStory != models.DemoStoryReady || ws.PreparingDemo() {
			t.Fatalf("the story is %q", ws.DemoStory)
		}

		ps, _ := store.ListPlatforms(ctx, models.DefaultWorkspaceID)
		status := map[string]string{}
		for _, p := range ps {
			status[p.Name] = p.Status
		}
		if len(status) != 3 || status[demo.PlatformCRM] != models.PlatformConnected || status[demo.PlatformAds] != models.PlatformConnected ||
			status[demo.PlatformOAuth] != models.PlatformBroken {
			t.Errorf("platforms: %v", status)
		}

		acts, _ := store.ListActivations(ctx, models.DefaultWorkspaceID, models.ActivationFilter{})
		byName := map[string]models.Activation{}
		for _, a := range acts {
			byName[a.Name] = a
		}
		if len(byName) != 7 {
			t.Fatalf("%d activations: %v", len(byName), byName)
		}
		latest := map[string]models.Run{}
		for name, a := range byName {
			runs, err := store.ListRuns(ctx, models.DefaultWorkspaceID, a.ID, 100)
			if err != nil {
				t.Fatal(err)
			}
			past := 0
			for _, r := range runs {
				c := r.RunCounts
				if c.Queried != c.Added+c.Changed+c.Unchanged+c.SourceIssues || c.Added+c.Changed+c.Removed != c.Sent+c.Rejected+c.Unsent {
					t.Errorf("%s: a %s run's counts do not balance: %+v", name, r.Trigger, c)
				}
				if r.Trigger == models.TriggerSchedule {
					past++
				}
			}
			if past != demo.HistoryDays {
				t.Errorf("%s has %d past runs, want %d", name, past, demo.HistoryDays)
			}
			if oldest := runs[len(runs)-1]; a.CreatedAt.After(oldest.CreatedAt) {
				t.Errorf("%s was made on %s, after its first run on %s", name, a.CreatedAt, oldest.CreatedAt)
			}
			if runs[0].Trigger != models.TriggerManual || runs[0].ID != a.LastRunID {
				t.Errorf("%s: the latest run is not the real one Sluice ran: %+v", name, runs[0])
			}
			latest[name] = runs[0]
		}

		want := map[string]struct{ activation, run, category string }{
			demo.ActivationHealthy:   {models.ActivationActive, models.RunSucceeded, ""},
			demo.ActivationIssues:    {models.ActivationActive, models.RunWarnings, ""},
			demo.ActivationRejected:  {models.ActivationActive, models.RunWarnings, ""},
			demo.ActivationRateLimit: {models.ActivationActive, models.RunFailed, string(connectors.CategoryRateLimit)},
			demo.ActivationMobiles:   {models.ActivationPaused, models.RunWarnings, ""},
			demo.ActivationPoints:    {models.ActivationPaused, models.RunWarnings, ""},
			demo.ActivationOAuth:     {models.ActivationPaused, models.RunFailed, string(connectors.CategoryCredentials)},
		}
		for name, w := range want {
			a, r := byName[name], latest[name]
			if a.Status != w.activation || r.Status != w.run || r.ErrorCategory != w.category {
				t.Errorf("%s: %s, its last run %s (%s: %s); want %s, %s (%s)", name, a.Status, r.Status, r.ErrorCategory, r.ErrorMessage, w.activation, w.run, w.category)
			}
		}
		if r := latest[demo.ActivationIssues]; r.SourceIssues == 0 || r.Rejected != 0 {
			t.Errorf("the source-issues activation's run: %+v", r.RunCounts)
		}
		if r := latest[demo.ActivationRejected]; r.Rejected == 0 {
			t.Errorf("the rejections activation's run: %+v", r.RunCounts)
		}
		if r := latest[demo.ActivationHealthy]; r.SourceIssues+r.Rejected != 0 || r.Sent == 0 {
			t.Errorf("the healthy activation's run: %+v", r.RunCounts)
		}
		for _, name := range []string{demo.ActivationMobiles, demo.ActivationPoints} {
			if a := byName[name]; !a.PauseAutomatic || a.PauseCause != models.PauseCauseSchema {
				t.Errorf("%s is paused by %q (automatic %v): %s", name, a.PauseCause, a.PauseAutomatic, a.PauseReason)
			}
		}
		if a := byName[demo.ActivationOAuth]; !a.PauseAutomatic || a.PauseCause != models.PauseCausePlatform {
			t.Errorf("%s is paused by %q: %s", demo.ActivationOAuth, a.PauseCause, a.PauseReason)
		}

		// A start after the story was made adds nothing.
		if ok, err := demo.PrepareStory(ctx, store, false); err != nil || ok {
			t.Fatalf("PrepareStory on a ready story = %v, %v", ok, err)
		}
		if err := demo.Story(ctx, store, wh, runner, dir); err != nil {
			t.Fatal(err)
		}
		for name, a := range byName {
			if runs, _ := store.ListRuns(ctx, models.DefaultWorkspaceID, a.ID, 100); len(runs) == 0 || runs[0].ID != latest[name].ID {
				t.Errorf("telling the story again ran %s again", name)
			}
		}

		// A demo OAuth Sandbox holding a live grant (as after Re-authorize): removing the
		// demo revokes it at the built-in authorization server.
		live, err := wh.ConnectSandboxOAuth(ctx, models.Actor{WorkspaceID: models.DefaultWorkspaceID, Type: models.ActorSystem, Name: "demo data", Role: models.RoleAdmin}, "Sandbox CRM (OAuth), authorized again", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.MarkDemo(ctx, models.DefaultWorkspaceID, models.DemoPlatform, live.ID); err != nil {
			t.Fatal(err)
		}
		if err := demo.Remove(ctx, store, wh, models.Actor{WorkspaceID: models.DefaultWorkspaceID, Type: models.ActorSystem, Name: "test", Role: models.RoleAdmin}, dir); err != nil {
			t.Fatal(err)
		}
		ps, _ = store.ListPlatforms(ctx, models.DefaultWorkspaceID)
		acts, _ = store.ListActivations(ctx, models.DefaultWorkspaceID, models.ActivationFilter{})
		srcs, _ := store.ListSources(ctx, models.DefaultWorkspaceID)
		if len(ps)+len(acts)+len(srcs) != 0 {
			t.Errorf("after Remove: %d platforms, %d activations, %d sources", len(ps), len(acts), len(srcs))
		}
		for name, r := range latest {
			if _, err := store.RunByID(ctx, models.DefaultWorkspaceID, r.ID); !models.IsNotFound(err) {
				t.Errorf("%s's run is still there: %v", name, err)
			}
		}
		// Nothing is left about the demo's objects: no incident (the failures, the pauses,
		// the broken platform), no validation issue, no live grant of the OAuth Sandbox.
		for table, where := range map[string]string{"incidents": "1 = 1", "validation_issues": "1 = 1", "sandbox_grants": "revoked_at IS NULL"} {
			var n int64
			if err := store.DB().Table(table).Where("workspace_id = ? AND "+where, models.DefaultWorkspaceID).Count(&n).Error; err != nil || n != 0 {
				t.Errorf("after Remove, %d rows of %s (%v)", n, table, err)
			}
		}
	})
}
