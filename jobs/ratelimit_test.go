package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
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
	"sluice/sources/postgres"
)

// eventually fails the test unless cond holds within 5s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 5s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func senderRows(t *testing.T, s *models.Store, platformID string) int64 {
	t.Helper()
	var n int64
	if err := s.DB().Table("platform_senders").Where("platform_id = ?", platformID).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// Two instances on one database sending to one platform each pace half its rate, and
// the one left alone goes back to the whole of it.
func TestPlatformShareAcrossInstances(t *testing.T) {
	for _, d := range testutil.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			ctx := context.Background()
			url := d.URL(t)
			s1, s2 := testutil.Store(t, url), testutil.Store(t, url)
			opts := jobs.Options{Lease: 500 * time.Millisecond} // counts every 50ms, fresh for 1s
			log := slog.New(slog.DiscardHandler)
			r1, r2 := jobs.NewRunner(s1, nil, log, opts), jobs.NewRunner(s2, nil, log, opts)
			const platform = "platform-1"

			done1, err := r1.Sending(ctx, platform, 50)
			if err != nil {
				t.Fatal(err)
			}
			if sh := r1.PlatformShare(platform); sh != 1 {
				t.Fatalf("alone, the first instance paces %v of the rate", sh)
			}
			// A dead instance's row is neither counted nor kept.
			if err := s1.DB().Exec("INSERT INTO platform_senders (platform_id, owner, seen_at) VALUES (?, ?, ?)",
				platform, "dead", time.Now().UTC().Add(-time.Hour)).Error; err != nil {
				t.Fatal(err)
			}
			done2, err := r2.Sending(ctx, platform, 50)
			if err != nil {
				t.Fatal(err)
			}
			// The newcomer counts before its first request; the other at its next count.
			if sh := r2.PlatformShare(platform); sh != 0.5 {
				t.Fatalf("the second instance paces %v of the rate, want 1/2", sh)
			}
			eventually(t, "the first instance paces 1/2", func() bool { return r1.PlatformShare(platform) == 0.5 })
			eventually(t, "the dead instance's row is pruned", func() bool { return senderRows(t, s1, platform) == 2 })
			// A second run of one instance is no second instance.
			done1b, err := r1.Sending(ctx, platform, 50)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond) // several counts
			if sh1, sh2 := r1.PlatformShare(platform), r2.PlatformShare(platform); sh1 != 0.5 || sh2 != 0.5 {
				t.Fatalf("with two runs on one instance and one on another, shares %v and %v, want 1/2 each", sh1, sh2)
			}
			done1b()
			if n := senderRows(t, s1, platform); n != 2 {
				t.Fatalf("%d rows after one of the first instance's two runs ended, want 2", n)
			}

			// The second instance's run ends: its row goes at once, and the first
			// instance takes the whole rate back at its next count.
			done2()
			if n := senderRows(t, s1, platform); n != 1 {
				t.Fatalf("%d rows after the second instance stopped, want 1", n)
			}
			eventually(t, "the first instance paces the whole rate again", func() bool { return r1.PlatformShare(platform) == 1 })
			done1()
			if n := senderRows(t, s1, platform); n != 0 {
				t.Fatalf("%d rows after every run ended, want none", n)
			}
			// And it sends again at once.
			done1, err = r1.Sending(ctx, platform, 50)
			if err != nil {
				t.Fatal(err)
			}
			if n := senderRows(t, s1, platform); n != 1 {
				t.Fatalf("%d rows once sending again, want 1", n)
			}
			done1()
		})
	}
}

// pacedReceiver is a fast webhook endpoint that notes when each request came and from
// which activation.
type pacedReceiver struct {
	mu   sync.Mutex
	hits []hit
}

type hit struct {
	at         time.Time
	activation string
}

func (p *pacedReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ActivationID string `json:"activation_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	p.hits = append(p.hits, hit{time.Now(), body.ActivationID})
	p.mu.Unlock()
	_, _ = w.Write([]byte(`{"rejected":[]}`))
}

// between counts the requests that came in [from, to), per activation.
func (p *pacedReceiver) between(from, to time.Time) (int, map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, per := 0, map[string]int{}
	for _, h := range p.hits {
		if !h.at.Before(from) && h.at.Before(to) {
			n++
			per[h.activation]++
		}
	}
	return n, per
}

// Two instances running one activation each to one platform of 50 requests a second
// send it, together, no more than 50 a second.
func TestTwoInstancesKeepUnderThePlatformsRate(t *testing.T) {
	if testing.Short() {
		t.Skip("measures 3s of sending")
	}
	w := newWorld(t)
	ctx := w.ctx
	const rate, rows = 50, 400
	w.exec(fmt.Sprintf(`CREATE TABLE people AS SELECT g AS id, 'p' || g || '@example.com' AS email FROM generate_series(1, %d) g`, rows))
	src, err := w.store.SourceByID(ctx, w.admin.WorkspaceID, mustModel(t, w).SourceID)
	if err != nil {
		t.Fatal(err)
	}
	m, err := w.core.CreateModel(ctx, w.admin, core.ModelRequest{SourceID: src.ID, Name: "People", Table: &connectors.Table{Schema: "public", Name: "people"}, PrimaryKey: "id"})
	if err != nil {
		t.Fatal(err)
	}
	seg, err := w.core.SaveSegment(ctx, w.admin, "", core.SegmentRequest{ModelID: m.ID, Name: "All people", Conditions: segments.All()})
	if err != nil {
		t.Fatal(err)
	}
	rc := &pacedReceiver{}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	p, err := w.core.CreatePlatform(ctx, w.admin, "webhook", models.PlatformInput{Name: "Paced", Config: connectors.Config{
		"url": srv.URL, "batch_size": "1", "requests_per_second": fmt.Sprint(rate)}})
	if err != nil || p.Status != models.PlatformConnected {
		t.Fatalf("platform: %+v %v", p, err)
	}
	var acts []*models.Activation
	for _, name := range []string{"People to Paced A", "People to Paced B"} {
		a, err := w.core.CreateActivation(ctx, w.admin, models.ActivationInput{Name: name, SegmentID: seg.ID, PlatformID: p.ID,
			Action: "sync_records", Schedule: models.Schedule{Kind: "manual"},
			Mappings: []models.Mapping{{From: "email", To: "email", Type: "email"}}})
		if err != nil {
			t.Fatal(err)
		}
		acts = append(acts, a)
	}

	// Two instances on one database: each its own store, registry and runner.
	opts := jobs.Options{Lease: 2 * time.Second, Engine: engine.Options{BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond}}
	log := slog.New(slog.DiscardHandler)
	r1 := jobs.NewRunner(w.store, w.core, log, opts)
	s2 := testutil.Store(t, w.storeURL)
	reg := connectors.NewRegistry()
	reg.RegisterSource(postgres.New())
	reg.RegisterDestination(webhook.New(true))
	r2 := jobs.NewRunner(s2, core.New(s2, reg), log, opts)
	for _, a := range acts {
		if _, err := r1.RunNow(ctx, w.admin.WorkspaceID, a.ID, models.TriggerManual, false); err != nil {
			t.Fatal(err)
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, r := range []*jobs.Runner{r1, r2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !r.RunOne(runCtx) {
				t.Error("an instance claimed no run")
			}
		}()
	}
	// Past the first bursts and the first counts (every 200ms), 3s of steady sending.
	const window = 3 * time.Second
	time.Sleep(1500 * time.Millisecond)
	from := time.Now()
	time.Sleep(window)
	to := time.Now()
	stop()
	wg.Wait()

	n, per := rc.between(from, to)
	perSecond := float64(n) / to.Sub(from).Seconds()
	t.Logf("%d requests in %s: %.1f/s for a platform limit of %d/s; per activation %v", n, to.Sub(from).Round(time.Millisecond), perSecond, rate, per)
	// Each instance alone would send the whole rate: twice the limit together.
	if perSecond > rate*1.1 {
		t.Fatalf("together the instances sent %.1f requests a second, over the platform's %d", perSecond, rate)
	}
	if perSecond < rate*0.6 {
		t.Fatalf("together the instances sent only %.1f requests a second of the platform's %d", perSecond, rate)
	}
	for _, a := range acts {
		if per[a.ID] < rate/4*int(window/time.Second) {
			t.Fatalf("activation %s sent %d requests in the window, not its share: %v", a.Name, per[a.ID], per)
		}
	}
}

// mustModel is the model of the world's activation.
func mustModel(t *testing.T, w *world) *models.DataModel {
	t.Helper()
	seg, err := w.store.SegmentByID(w.ctx, w.admin.WorkspaceID, w.act.SegmentID)
	if err != nil {
		t.Fatal(err)
	}
	m, err := w.store.ModelByID(w.ctx, w.admin.WorkspaceID, seg.ModelID)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
