package models_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"sluice/internal/testutil"
	"sluice/models"
)

// A run's wait is stored by the worker holding it, bounded, read back by its page and
// its answer, and gone once the run ends.
func TestRunWaitIsStoredThenClearedAtTheEnd(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, a := testutil.Admin(t, s)
		act := activations(t, s, a, 1)[0]
		if _, err := s.EnqueueRun(ctx, a.WorkspaceID, act, models.TriggerManual, nil, false); err != nil {
			t.Fatal(err)
		}
		run, err := s.ClaimRun(ctx, "worker-1", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		since := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		w := models.RunWait{Kind: models.WaitBackoff, Object: "Acme CRM", Since: since, Until: since.Add(10 * time.Second),
			Attempt: 2, MaxAttempts: 5, LastAnswer: "503 " + strings.Repeat("x", 500)}
		if err := s.SetRunWait(ctx, run.ID, "worker-2", &w); !errors.Is(err, models.ErrLeaseLost) {
			t.Fatalf("another worker's wait: %v, want ErrLeaseLost", err)
		}
		if err := s.SetRunWait(ctx, run.ID, "worker-1", &w); err != nil {
			t.Fatal(err)
		}
		got, err := s.RunByID(ctx, a.WorkspaceID, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		gw := got.Wait()
		if gw == nil || gw.Kind != models.WaitBackoff || gw.Object != "Acme CRM" || !gw.Since.Equal(since) || gw.Attempt != 2 ||
			len([]rune(gw.LastAnswer)) != 200 || !strings.HasSuffix(gw.LastAnswer, "…") {
			t.Fatalf("stored wait: %+v", gw)
		}
		shown, err := s.ListRuns(ctx, a.WorkspaceID, act, 10)
		if err != nil || len(shown) != 1 || shown[0].Wait() == nil {
			t.Fatalf("the runs' list does not carry the wait: %v %+v", err, shown)
		}
		if err := s.SetRunWait(ctx, run.ID, "worker-1", nil); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.RunByID(ctx, a.WorkspaceID, run.ID); got.WaitJSON != nil {
			t.Fatalf("the wait was not cleared: %s", *got.WaitJSON)
		}
		if err := s.SetRunWait(ctx, run.ID, "worker-1", &w); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishRun(ctx, run.ID, "worker-1", models.RunOutcome{Status: models.RunSucceeded}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.RunByID(ctx, a.WorkspaceID, run.ID); got.WaitJSON != nil || got.Wait() != nil {
			t.Fatal("a finished run still says what it waits for")
		}

		// A run whose process died while it waited: the reaper empties its wait too.
		if _, err := s.EnqueueRun(ctx, a.WorkspaceID, act, models.TriggerManual, nil, false); err != nil {
			t.Fatal(err)
		}
		dying, err := s.ClaimRun(ctx, "worker-1", 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetRunWait(ctx, dying.ID, "worker-1", &w); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		if reaped, err := s.ReapRuns(ctx); err != nil || len(reaped) != 1 {
			t.Fatalf("reaped %v, %v", reaped, err)
		}
		if got, _ := s.RunByID(ctx, a.WorkspaceID, dying.ID); got.Status != models.RunInterrupted || got.WaitJSON != nil {
			t.Fatalf("the reaped run: %s, wait %v", got.Status, got.WaitJSON)
		}
	})
}

func TestRunWaitSentence(t *testing.T) {
	since := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		w    models.RunWait
		at   time.Duration
		want string
	}{
		{models.RunWait{Kind: models.WaitRequest, Object: "Acme webhook", Since: since, Timeout: 30 * time.Second, Attempt: 2, MaxAttempts: 5, LastAnswer: "503 Service Unavailable"},
			31 * time.Second, "Waiting for the platform Acme webhook to answer: 31 s so far, timeout 30 s, try 2 of 5; last answer: 503 Service Unavailable."},
		{models.RunWait{Kind: models.WaitBackoff, Object: "Acme webhook", Since: since, Until: since.Add(20 * time.Second), Attempt: 3, MaxAttempts: 5, LastAnswer: "429 Too Many Requests"},
			5 * time.Second, "Waiting before trying the platform Acme webhook again: 15 s left, try 3 of 5; last answer: 429 Too Many Requests."},
		{models.RunWait{Kind: models.WaitBackoff, Object: "Acme webhook", Since: since, Until: since.Add(3 * time.Second), Attempt: 2, MaxAttempts: 5, LastAnswer: "503 Service Unavailable"},
			3 * time.Second, "Trying the platform Acme webhook again now, try 2 of 5; last answer: 503 Service Unavailable."},
		{models.RunWait{Kind: models.WaitQuery, Object: "Sales warehouse", Since: since},
			150 * time.Second, "Waiting for the source Sales warehouse to send the segment's first rows: 2 min 30 s so far."},
	} {
		if got := tc.w.Sentence(since.Add(tc.at)); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}
