package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"sluice/models"
)

// The incidents page with open and resolved incidents, as a person sees it.
func TestIncidentsPageInChromium(t *testing.T) {
	dbURL := "sqlite://" + filepath.Join(t.TempDir(), "sluice.db")
	base := startSluice(t, "SLUICE_DATABASE_URL="+dbURL)
	ctx := newBrowser(t)
	shots := newScreenshots(t)
	shots.n = 180
	run(t, ctx, "set up", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))

	store, err := models.Open(dbURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ws := models.DefaultWorkspaceID
	events := []models.IncidentEvent{
		{ObjectType: models.IncidentActivation, ObjectID: "a1", ObjectName: "VIP customers → Meta", Event: models.EventRunFailed, Category: "rate_limit",
			Message: "The platform answered 429 Too Many Requests for 3 batches in a row.", RunID: "r1"},
		{ObjectType: models.IncidentSource, ObjectID: "s1", ObjectName: "Warehouse", Event: models.EventSourceBroken,
			Message: "Could not connect: password authentication failed for user \"sluice\"."},
		{ObjectType: models.IncidentPlatform, ObjectID: "p1", ObjectName: "Google Ads", Event: models.EventPlatformBroken, Category: "credentials",
			Message: "The platform refused Sluice's credentials (401)."},
		{ObjectType: models.IncidentActivation, ObjectID: "a2", ObjectName: "Newsletter", Event: models.EventThresholdPassed,
			Message: "32.0% of rows had source issues (threshold 10%)."},
	}
	for i, ev := range events {
		ev.WorkspaceID = ws
		for range i + 1 {
			if _, err := store.OpenIncident(t.Context(), ev, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := store.ResolveIncidents(t.Context(), ws, models.IncidentPlatform, "p1", models.EventPlatformBroken, nil, nil); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "open incidents", chromedp.Navigate(base+"/incidents"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=incidents-table]`)), shots.take("incidents-open"))
	n := read(t, ctx, "count open", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=incident-row]').length`))
	if n != 3 {
		t.Errorf("%d open incidents shown, want 3", n)
	}
	run(t, ctx, "resolved incidents", chromedp.Click(chromedp.CSS(`[data-testid=tab-resolved]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=incident-resolved]`)), shots.take("incidents-resolved"))
	body := read(t, ctx, "read", chromedp.Evaluate[string](`document.body.innerText`))
	if !strings.Contains(body, "Google Ads") || strings.Contains(body, "Newsletter") {
		t.Errorf("resolved tab:\n%s", body)
	}
}
