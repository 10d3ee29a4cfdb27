package handlers_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"testing"
	"time"

	"sluice/models"
)

// While a run waits for a slow platform, its live progress (on its page, in the fragment
// htmx polls, and on its activation's page) and its API answer say so in plain words,
// naming the platform; once the wait ends, and once the run is over, they do not.
func TestRunPageSaysWhatTheRunWaitsFor(t *testing.T) {
	t.Parallel()
	eachRunFixture(t, func(t *testing.T, f *runFixture) {
		r := f.startRun(t)
		if err := f.app.store.Heartbeat(t.Context(), r.ID, "test-worker", time.Minute, "extract", 300); err != nil {
			t.Fatal(err)
		}
		wait := models.RunWait{Kind: models.WaitRequest, Object: "Hook", Since: time.Now().Add(-31 * time.Second),
			Timeout: 30 * time.Second, Attempt: 2, MaxAttempts: 5, LastAnswer: "503 Service Unavailable"}
		if err := f.app.store.SetRunWait(t.Context(), r.ID, "test-worker", &wait); err != nil {
			t.Fatal(err)
		}
		words := regexp.MustCompile(`^Waiting for the platform Hook to answer: 3[1-9] s so far, timeout 30 s, try 2 of 5; last answer: 503 Service Unavailable\.$`)
		for _, where := range []struct{ path, sel string }{
			{"/runs/" + r.ID + "/progress", "[data-testid=progress-wait]"},
			{"/runs/" + r.ID, "[data-testid=run-progress] [data-testid=progress-wait]"},
			{"/activations/" + f.act.ID, "[data-testid=live-run] [data-testid=progress-wait]"},
		} {
			res := f.browser.get(where.path).want(t, http.StatusOK)
			if got := res.Text(t, where.sel); !words.MatchString(got) {
				t.Errorf("%s says %q", where.path, got)
			}
		}

		var answer struct {
			Wait *struct {
				Kind           string   `json:"kind"`
				Object         string   `json:"object"`
				TimeoutSeconds *float64 `json:"timeout_seconds"`
				Attempt        *int     `json:"attempt"`
				MaxAttempts    *int     `json:"max_attempts"`
				LastAnswer     *string  `json:"last_answer"`
				Message        string   `json:"message"`
			} `json:"wait"`
		}
		res := f.admin.get("/runs/"+r.ID).want(t, http.StatusOK)
		if err := json.Unmarshal([]byte(res.Body), &answer); err != nil {
			t.Fatal(err)
		}
		w := answer.Wait
		if w == nil || w.Kind != "destination_request" || w.Object != "Hook" || w.TimeoutSeconds == nil || *w.TimeoutSeconds != 30 ||
			w.Attempt == nil || *w.Attempt != 2 || w.MaxAttempts == nil || *w.MaxAttempts != 5 ||
			w.LastAnswer == nil || *w.LastAnswer != "503 Service Unavailable" || !words.MatchString(w.Message) {
			t.Fatalf("the API's wait: %s", res.Body)
		}

		// The wait ended: nothing is said of it.
		if err := f.app.store.SetRunWait(t.Context(), r.ID, "test-worker", nil); err != nil {
			t.Fatal(err)
		}
		if n := f.browser.get("/runs/"+r.ID+"/progress", "HX-Request", "true").want(t, http.StatusOK).Count(t, "[data-testid=progress-wait]"); n != 0 {
			t.Error("the progress still shows a wait that ended")
		}

		// A run that ends while it waits says nothing of the wait either.
		if err := f.app.store.SetRunWait(t.Context(), r.ID, "test-worker", &wait); err != nil {
			t.Fatal(err)
		}
		f.finish(t, r, models.RunOutcome{Status: models.RunSucceeded})
		res = f.admin.get("/runs/"+r.ID).want(t, http.StatusOK)
		answer.Wait = nil
		if err := json.Unmarshal([]byte(res.Body), &answer); err != nil || answer.Wait != nil {
			t.Fatalf("a finished run's answer has a wait: %s (%v)", res.Body, err)
		}
	})
}
