package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"sluice/demo"
	"sluice/internal/testutil"
	"sluice/sources/sqlite"
)

// Three Sluice processes on one PostgreSQL database, three activations on an
// every-minute cron, for three minutes of real time: every minute's tick becomes exactly
// one run of each activation, run once, whichever instance ticked or claimed it.
func TestThreeInstancesRunEachTickOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("takes three minutes")
	}
	t.Parallel()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{}`)) }))
	defer hook.Close()
	dbURL := testutil.PostgresURL(t)
	// One data dir for all: any instance may run a sync, and SQLite sources read
	// only files in its warehouses directory.
	data := t.TempDir()
	env := []string{"SLUICE_DATABASE_URL=" + dbURL, "SLUICE_SECRET_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"SLUICE_ALLOW_PRIVATE_NETWORKS=true", "SLUICE_BOOTSTRAP_TOKEN=" + bootstrapToken, "SLUICE_DATA_DIR=" + data}
	first := startSluice(t, env...)
	second := startSluice(t, env...)
	third := startSluice(t, env...)

	warehouse := filepath.Join(sqlite.Dir(data), "warehouse.db")
	if err := demo.WriteWarehouse(context.Background(), warehouse, 300); err != nil {
		t.Fatal(err)
	}
	var src, model, seg, platform struct{ ID string }
	api(t, first, "POST", "/sources", map[string]any{"name": "W", "kind": "sqlite", "config": map[string]any{"path": warehouse}}, &src)
	api(t, second, "POST", "/models", map[string]any{"source_id": src.ID, "name": "Customers", "table": "customers", "primary_key": "id"}, &model)
	api(t, third, "POST", "/segments", map[string]any{"model_id": model.ID, "name": "All", "conditions": map[string]any{"all": []any{}}}, &seg)
	api(t, second, "POST", "/platforms", map[string]any{"name": "Hook", "kind": "webhook", "config": map[string]any{"url": hook.URL}}, &platform)
	var acts []string
	for _, name := range []string{"A", "B", "C"} {
		var a struct{ ID string }
		api(t, first, "POST", "/activations", map[string]any{"name": name, "segment_id": seg.ID, "platform_id": platform.ID, "action": "sync_records",
			"mappings": []map[string]string{{"from": "email", "to": "email", "type": "email"}},
			"schedule": map[string]string{"kind": "cron", "expr": "* * * * *", "timezone": "UTC"}}, &a)
		acts = append(acts, a.ID)
	}
	begin := time.Now().UTC()
	time.Sleep(3*time.Minute + 30*time.Second) // the ticker runs every 15 s; let the last tick's run finish
	end := time.Now().UTC().Add(-30 * time.Second)

	// Minute boundaries after creation and at least 30 s before the end were ticked.
	var want []time.Time
	for m := begin.Truncate(time.Minute).Add(time.Minute); !m.After(end); m = m.Add(time.Minute) {
		want = append(want, m)
	}
	if len(want) < 3 {
		t.Fatalf("only %d minute boundaries in the window", len(want))
	}
	for _, id := range acts {
		var runs struct {
			Items []struct {
				ID           string
				Status       string
				Trigger      string
				ScheduledFor *time.Time `json:"scheduled_for"`
			} `json:"items"`
		}
		api(t, first, "GET", "/activations/"+id+"/runs?limit=100", nil, &runs)
		per := map[time.Time]int{}
		for _, r := range runs.Items {
			if r.Trigger != "schedule" || r.ScheduledFor == nil {
				t.Fatalf("unexpected run %+v", r)
			}
			per[r.ScheduledFor.UTC()]++
			if r.Status != "succeeded" && r.Status != "succeeded_with_warnings" && r.Status != "queued" && r.Status != "running" {
				t.Errorf("run %s for %v is %s", r.ID, r.ScheduledFor, r.Status)
			}
		}
		for _, m := range want {
			if per[m] != 1 {
				t.Errorf("activation %s: %d runs for the tick of %v, want exactly 1 (all: %v)", id, per[m], m, per)
			}
		}
	}
}
