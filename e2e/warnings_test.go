package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sluice/models"
	"sluice/secrets"
)

// The Models list, a model page with an issue, and a run with sync warnings, as a person
// sees them (screenshots).
func TestIssueAndSyncWarningsPages(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{}`)) }))
	defer hook.Close()
	data := t.TempDir()
	base := startSluice(t, "SLUICE_ALLOW_PRIVATE_NETWORKS=true", "SLUICE_BOOTSTRAP_TOKEN="+bootstrapToken, "SLUICE_DATA_DIR="+data)

	var segs struct {
		Items []struct{ ID, Name, ModelID string } `json:"items"`
	}
	api(t, base, "GET", "/segments", nil, &segs)
	var platform struct{ ID string }
	api(t, base, "POST", "/platforms", map[string]any{"name": "CRM", "kind": "webhook", "config": map[string]any{"url": hook.URL}}, &platform)
	var act struct{ ID string }
	api(t, base, "POST", "/activations", map[string]any{"name": "VIPs to CRM", "segment_id": segs.Items[0].ID, "platform_id": platform.ID,
		"action": "sync_records", "mappings": []map[string]string{{"from": "email", "to": "email", "type": "email"}, {"from": "country", "to": "country"}}, "schedule": map[string]string{"kind": "manual"}}, &act)
	var queued struct{ ID, Status string }
	api(t, base, "POST", "/activations/"+act.ID+"/runs", nil, &queued)
	for i := 0; i < 100 && (queued.Status == "queued" || queued.Status == "running"); i++ {
		time.Sleep(100 * time.Millisecond)
		api(t, base, "GET", "/runs/"+queued.ID, nil, &queued)
	}

	// What validation and the run's end would have found, written into the app's store.
	box, err := secrets.New(make([]byte, secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	st, err := models.Open("sqlite://"+filepath.Join(data, "sluice.db"), box)
	if err != nil {
		t.Fatal(err)
	}
	ctx0 := context.Background()
	seg, err := st.SegmentByID(ctx0, models.DefaultWorkspaceID, segs.Items[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.RecordIssues(ctx0, models.DefaultWorkspaceID, models.IssueObjectModel, seg.ModelID, []models.IssueInput{
		{Column: "country", Kind: models.IssueAltered, Message: "Column country is missing from model Customers (renamed or dropped)."}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.AddRunWarnings(ctx0, []models.RunWarning{
		{WorkspaceID: models.DefaultWorkspaceID, RunID: queued.ID, Kind: models.WarnAudienceDrop, ObjectType: models.WarnObjectSegment, ObjectID: seg.ID,
			Message: "The audience dropped from 120 rows to 48 rows since the last run (60% fewer). If that is not expected, check the segment's conditions and the model's data."},
		{WorkspaceID: models.DefaultWorkspaceID, RunID: queued.ID, Kind: models.WarnSlowRun, ObjectType: models.WarnObjectRun, ObjectID: queued.ID,
			Message: "This run took 4.2s, more than 3 times the usual 0.9s (the median of the last 10 successful runs). See the stages of this run for where the time went."},
	}); err != nil {
		t.Fatal(err)
	}

	ctx := newBrowser(t)
	shots := newScreenshots(t)
	shots.n = 70
	run(t, ctx, "set up", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))
	run(t, ctx, "models list", chromedp.Navigate(base+"/models"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=issue-warning]`)), shots.take("models-list-issues"))
	run(t, ctx, "model page", chromedp.Navigate(base+"/models/"+seg.ModelID), chromedp.WaitVisible(chromedp.CSS(`[data-testid=column-issue-seen]`)), shots.take("model-issue"))
	run(t, ctx, "activation page", chromedp.Navigate(base+"/activations/"+act.ID), chromedp.WaitVisible(chromedp.CSS(`[data-testid=dependency-warning]`)), shots.take("activation-warnings"))
	run(t, ctx, "run page", chromedp.Navigate(base+"/runs/"+queued.ID), chromedp.WaitVisible(chromedp.CSS(`[data-testid=sync-warning]`)), shots.take("run-warnings"))
}
