package handlers_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sluice/config"
	"sluice/connectors"
	"sluice/core"
	"sluice/demo"
	"sluice/destinations/webhook"
	"sluice/internal/testutil"
	"sluice/models"
	"sluice/sources/sqlite"
)

// "Remove demo data" is the admins' (CSRF-checked): it deletes every demo object and the
// warehouse, keeps what users made, and the banner goes; the first steps then tick what
// is left.
func TestRemoveDemoData(t *testing.T) {
	t.Parallel()
	for _, d := range testutil.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			store := testutil.Store(t, d.URL(t))
			cfg := config.Default()
			cfg.DataDir = t.TempDir()
			a := serveWith(t, store, cfg)
			reg := connectors.NewRegistry()
			reg.RegisterSource(sqlite.New(sqlite.Dir(cfg.DataDir)))
			reg.RegisterDestination(webhook.New(true))
			wh := core.New(store, reg)
			if seeded, err := demo.Seed(ctx, store, wh, cfg.DataDir); err != nil || !seeded {
				t.Fatalf("Seed = %v, %v", seeded, err)
			}
			adminUser, admin := signedInAdmin(t, a)
			by := testutil.ActorOf(adminUser)
			mine, err := wh.CreatePlatform(ctx, by, "webhook", models.PlatformInput{Name: "My CRM", Config: connectors.Config{"url": "http://127.0.0.1:9/hook"}})
			if err != nil {
				t.Fatal(err)
			}
			_, editor := signedInAs(t, a, by, "ed@example.com", models.RoleEditor)

			// Without its story, the banner speaks of the data alone; while the story's
			// platforms and activations are made, it says so.
			if page := editor.get("/activations").want(t, http.StatusOK); !strings.Contains(page.Body, "build an activation on them") {
				t.Fatalf("the banner of the demo's data alone:\n%s", page.Body)
			}
			if ok, err := demo.PrepareStory(ctx, store, true); err != nil || !ok {
				t.Fatalf("PrepareStory = %v, %v", ok, err)
			}
			page := editor.get("/activations").want(t, http.StatusOK)
			if page.Count(t, "[data-testid=demo-banner][data-state=preparing]") != 1 || !strings.Contains(page.Body, "Preparing the demo…") {
				t.Fatalf("the banner does not say the demo is being prepared:\n%s", page.Body)
			}
			// It asks every two seconds whether the demo is ready, and reloads once it is.
			if page.Count(t, "[data-testid=demo-banner] [hx-get='/settings/demo/story'][hx-trigger='every 2s']") != 1 {
				t.Fatalf("the preparing banner does not poll:\n%s", page.Body)
			}
			if r := editor.get("/settings/demo/story").want(t, http.StatusNoContent); r.Header.Get("HX-Refresh") != "" {
				t.Fatal("the page reloads while the demo is still being prepared")
			}
			// Not all of it is recorded as the demo's yet: removing it waits.
			admin.do(http.MethodDelete, "/settings/demo", nil, "X-CSRF-Token", admin.csrf("/activations"), "HX-Request", "true").want(t, http.StatusOK)
			if srcs, _ := store.ListSources(ctx, models.DefaultWorkspaceID); len(srcs) != 1 {
				t.Fatalf("the demo was removed while being prepared: %+v", srcs)
			}
			if page := admin.get("/activations").want(t, http.StatusOK); !strings.Contains(page.Body, "The demo is still being prepared") {
				t.Fatalf("no word that the removal waits:\n%s", page.Body)
			}
			if err := store.SetDemoStory(ctx, models.DefaultWorkspaceID, models.DemoStoryStopped); err != nil {
				t.Fatal(err)
			}
			if page := editor.get("/activations").want(t, http.StatusOK); !strings.Contains(page.Body, "stopped part way: Sluice's log says why") {
				t.Fatalf("the banner does not say the story stopped:\n%s", page.Body)
			}
			if err := store.SetDemoStory(ctx, models.DefaultWorkspaceID, models.DemoStoryReady); err != nil {
				t.Fatal(err)
			}
			if r := editor.get("/settings/demo/story").want(t, http.StatusOK); r.Header.Get("HX-Refresh") != "true" {
				t.Fatal("the page is not reloaded once the demo is ready")
			}
			page = editor.get("/activations").want(t, http.StatusOK)
			if page.Count(t, "[data-testid=demo-banner][data-state=ready]") != 1 || page.Count(t, "[data-testid=remove-demo]") != 0 ||
				!strings.Contains(page.Body, "find the one that failed and follow its fix") {
				t.Fatalf("an editor sees the banner without its button:\n%s", page.Body)
			}
			token := admin.csrf("/activations")
			editor.do(http.MethodDelete, "/settings/demo", nil, "X-CSRF-Token", editor.csrf("/activations")).want(t, http.StatusForbidden)
			admin.do(http.MethodDelete, "/settings/demo", nil).want(t, http.StatusForbidden)
			if srcs, _ := store.ListSources(ctx, models.DefaultWorkspaceID); len(srcs) != 1 {
				t.Fatalf("a refused removal removed the source: %+v", srcs)
			}

			page = admin.get("/activations").want(t, http.StatusOK)
			if page.Count(t, "[data-testid=remove-demo][hx-confirm]") != 1 {
				t.Fatalf("the admin's banner has no confirmed Remove button:\n%s", page.Body)
			}
			r := admin.do(http.MethodDelete, "/settings/demo", nil, "X-CSRF-Token", token, "HX-Request", "true").want(t, http.StatusOK)
			if r.Header.Get("HX-Redirect") != "/activations" {
				t.Fatalf("removal redirects to %q", r.Header.Get("HX-Redirect"))
			}
			srcs, _ := store.ListSources(ctx, models.DefaultWorkspaceID)
			dms, _ := store.ListModels(ctx, models.DefaultWorkspaceID, "")
			segs, _ := store.ListSegments(ctx, models.DefaultWorkspaceID, "")
			acts, _ := store.ListActivations(ctx, models.DefaultWorkspaceID, models.ActivationFilter{})
			if len(srcs)+len(dms)+len(segs)+len(acts) != 0 {
				t.Errorf("left after removal: %d sources, %d models, %d segments, %d activations", len(srcs), len(dms), len(segs), len(acts))
			}
			plats, _ := store.ListPlatforms(ctx, models.DefaultWorkspaceID)
			if len(plats) != 1 || plats[0].ID != mine.ID {
				t.Errorf("platforms after removal: %+v, want only the user's", plats)
			}
			if _, err := os.Stat(filepath.Join(sqlite.Dir(cfg.DataDir), demo.WarehouseFile)); !os.IsNotExist(err) {
				t.Errorf("the demo warehouse is still there: %v", err)
			}
			page = admin.get("/activations").want(t, http.StatusOK)
			if page.Count(t, "[data-testid=demo-banner]") != 0 {
				t.Error("the banner is still shown")
			}
			if got := page.Count(t, "[data-testid=first-step][data-done=true]"); got != 1 || page.Count(t, "[data-testid=first-step]") != 4 {
				t.Errorf("%d first steps ticked with only a platform left, want 1:\n%s", got, page.Body)
			}
			// Removed is removed: the next start does not seed it again.
			if again, err := demo.Seed(ctx, store, wh, cfg.DataDir); err != nil || again {
				t.Errorf("Seed after removal = %v, %v; want a no-op", again, err)
			}
		})
	}
}
