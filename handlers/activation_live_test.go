package handlers_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"sluice/models"
)

// While a run of an activation is in flight, its page shows the run's progress polling
// every second (the run page's fragment), with the stage and rows as they go; once the
// run is over the fragment stops polling and asks for a reload, and the page shows the
// finished run in its history and no live panel.
func TestActivationPageFollowsItsRunInFlight(t *testing.T) {
	t.Parallel()
	eachRunFixture(t, func(t *testing.T, f *runFixture) {
		page := "/activations/" + f.act.ID
		if n := f.browser.get(page).want(t, http.StatusOK).Count(t, "[data-testid=live-run], [hx-trigger]"); n != 0 {
			t.Fatalf("with no run in flight the page polls (%d elements)", n)
		}
		r := f.startRun(t)
		if err := f.app.store.Heartbeat(t.Context(), r.ID, "test-worker", time.Minute, "extract", 1234); err != nil {
			t.Fatal(err)
		}
		for _, tab := range []string{"", "?tab=runs"} {
			res := f.browser.get(page+tab).want(t, http.StatusOK)
			box := res.Doc(t).Find("[data-testid=live-run] [data-testid=run-progress]")
			if trig, _ := box.Attr("hx-trigger"); trig != "every 1s" {
				t.Fatalf("tab %q: the run in flight does not poll (hx-trigger %q)", tab, trig)
			}
			if get, _ := box.Attr("hx-get"); get != "/runs/"+r.ID+"/progress" {
				t.Errorf("tab %q: polls %q", tab, get)
			}
			if got := res.Text(t, "[data-testid=live-run] [data-testid=progress-processed]"); got != "1,234" {
				t.Errorf("tab %q: processed %q", tab, got)
			}
			if got := res.Text(t, "[data-testid=live-run] [data-testid=progress-stage]"); !strings.Contains(got, "Extracting") {
				t.Errorf("tab %q: stage %q", tab, got)
			}
			if href, _ := res.Doc(t).Find("[data-testid=live-run-link]").Attr("href"); href != "/runs/"+r.ID {
				t.Errorf("tab %q: the run's link %q", tab, href)
			}
		}
		if err := f.app.store.Heartbeat(t.Context(), r.ID, "test-worker", time.Minute, "load", 5000); err != nil {
			t.Fatal(err)
		}
		part := f.browser.get("/runs/"+r.ID+"/progress", "HX-Request", "true").want(t, http.StatusOK)
		if got := part.Text(t, "[data-testid=progress-processed]"); got != "5,000" {
			t.Errorf("the polled fragment says %q rows", got)
		}

		f.finish(t, r, models.RunOutcome{Status: models.RunSucceeded, Counts: models.RunCounts{Queried: 5000, Added: 5000, Sent: 5000}})
		part = f.browser.get("/runs/"+r.ID+"/progress", "HX-Request", "true").want(t, http.StatusOK)
		if trig, has := part.Doc(t).Find("[data-testid=run-progress]").Attr("hx-trigger"); has || part.Header.Get("HX-Refresh") != "true" {
			t.Errorf("the finished run's fragment: hx-trigger %q, HX-Refresh %q", trig, part.Header.Get("HX-Refresh"))
		}
		res := f.browser.get(page+"?tab=runs").want(t, http.StatusOK)
		if n := res.Count(t, "[data-testid=live-run]"); n != 0 {
			t.Error("the page of a finished run still shows it live")
		}
		if got := res.Doc(t).Find("[data-testid=run-row]").First().Text(); !strings.Contains(got, "Succeeded") || !strings.Contains(got, "5000") {
			t.Errorf("the history's newest row %q", strings.Join(strings.Fields(got), " "))
		}
	})
}
