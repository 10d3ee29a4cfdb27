package models_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice/internal/testutil"
	"sluice/models"
)

const hook = "https://hooks.slack.com/services/T000/B000/very-secret"

func TestOutboxEnqueueClaimSend(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		ws := models.DefaultWorkspaceID
		enq, err := s.EnqueueAlerts(ctx,
			models.NewAlert{WorkspaceID: ws, Channel: models.ChannelEmail, Target: "Ops <ops@example.com>", Payload: []byte(`{"title":"a"}`)},
			models.NewAlert{WorkspaceID: ws, Channel: models.ChannelSlack, Target: hook, Payload: []byte(`{"title":"a"}`)})
		if err != nil {
			t.Fatal(err)
		}
		if len(enq) != 2 || enq[0].Target != "ops@example.com" || enq[1].TargetLabel != "Slack webhook on hooks.slack.com" {
			t.Fatalf("enqueued %+v", enq)
		}
		var raw string
		if err := s.DB().Raw("SELECT target FROM alert_outbox WHERE channel = 'slack'").Scan(&raw).Error; err != nil {
			t.Fatal(err)
		}
		if raw == "" || strings.Contains(raw, "very-secret") || strings.Contains(raw, "hooks.slack.com") {
			t.Errorf("the webhook URL is stored in clear: %q", raw)
		}

		got, err := s.ClaimAlerts(ctx, 10, time.Minute)
		if err != nil || len(got) != 2 {
			t.Fatalf("claim: %d, %v", len(got), err)
		}
		if again, err := s.ClaimAlerts(ctx, 10, time.Minute); err != nil || len(again) != 0 {
			t.Fatalf("claimed leased messages again: %d, %v", len(again), err)
		}
		for i := range got {
			m := &got[i]
			target, err := s.AlertTarget(m)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]string{models.ChannelEmail: "ops@example.com", models.ChannelSlack: hook}[m.Channel]; target != want {
				t.Errorf("%s target %q, want %q", m.Channel, target, want)
			}
			if err := s.MarkAlertSent(ctx, m); err != nil {
				t.Fatal(err)
			}
			if err := s.MarkAlertSent(ctx, m); !errors.Is(err, models.ErrClaimLost) {
				t.Errorf("second MarkAlertSent: %v, want ErrClaimLost", err)
			}
			stored, err := s.AlertByID(ctx, ws, m.ID)
			if err != nil || stored.Status != models.OutboxSent || stored.SentAt == nil || stored.Attempts != 1 {
				t.Errorf("stored %+v, %v", stored, err)
			}
		}
		if _, err := s.EnqueueAlerts(ctx, models.NewAlert{WorkspaceID: ws, Channel: "pager", Target: "x", Payload: []byte("{}")}); err == nil {
			t.Error("an unknown channel was enqueued")
		}
		if _, err := s.EnqueueAlerts(ctx, models.NewAlert{WorkspaceID: ws, Channel: models.ChannelEmail, Target: "nope", Payload: []byte("{}")}); err == nil {
			t.Error("a bad address was enqueued")
		}
	})
}

func TestOutboxRetriesWithBackoffThenFails(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		now := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
		models.SetClock(s, func() time.Time { return now })
		p := models.AlertRetry{MaxAttempts: 3, Base: time.Minute, Max: time.Hour}
		if _, err := s.EnqueueAlerts(ctx, models.NewAlert{WorkspaceID: models.DefaultWorkspaceID, Channel: models.ChannelEmail, Target: "ops@example.com", Payload: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
		for attempt, wait := range []time.Duration{time.Minute, 2 * time.Minute, 0} {
			got, err := s.ClaimAlerts(ctx, 10, 5*time.Minute)
			if err != nil || len(got) != 1 {
				t.Fatalf("attempt %d: claimed %d, %v", attempt+1, len(got), err)
			}
			if err := s.MarkAlertFailed(ctx, &got[0], "451 try later", false, p); err != nil {
				t.Fatal(err)
			}
			if wait == 0 {
				if got[0].Status != models.OutboxFailed {
					t.Fatalf("after %d attempts: %s, want failed", attempt+1, got[0].Status)
				}
				break
			}
			if got[0].Status != models.OutboxPending || !got[0].NextAttemptAt.Equal(now.Add(wait)) {
				t.Fatalf("attempt %d: %s next %v, want pending at +%v", attempt+1, got[0].Status, got[0].NextAttemptAt, wait)
			}
			now = now.Add(wait - time.Second)
			if early, _ := s.ClaimAlerts(ctx, 10, 5*time.Minute); len(early) != 0 {
				t.Fatalf("claimed before its backoff was over")
			}
			now = now.Add(time.Second)
		}
		failed, err := s.FailedAlerts(ctx, models.DefaultWorkspaceID, 10)
		if err != nil || len(failed) != 1 || failed[0].Attempts != 3 || failed[0].LastError != "451 try later" {
			t.Fatalf("failed list %+v, %v", failed, err)
		}
		if other, _ := s.FailedAlerts(ctx, "another-workspace", 10); len(other) != 0 {
			t.Error("another workspace sees the failures")
		}
		// A permanent failure is failed at once.
		if _, err := s.EnqueueAlerts(ctx, models.NewAlert{WorkspaceID: models.DefaultWorkspaceID, Channel: models.ChannelEmail, Target: "gone@example.com", Payload: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
		got, _ := s.ClaimAlerts(ctx, 10, time.Minute)
		if len(got) != 1 {
			t.Fatalf("claimed %d", len(got))
		}
		if err := s.MarkAlertFailed(ctx, &got[0], "550 no such user", true, p); err != nil || got[0].Status != models.OutboxFailed || got[0].Attempts != 1 {
			t.Fatalf("permanent: %+v, %v", got[0], err)
		}
	})
}

func TestAlertRetryDelay(t *testing.T) {
	p := models.DefaultAlertRetry
	var got []time.Duration
	for a := 1; a <= 8; a++ {
		got = append(got, p.Delay(a))
	}
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute, 30 * time.Minute, 30 * time.Minute}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays %v, want %v", got, want)
		}
	}
}

func TestOutboxClaimsAreDisjoint(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		var alerts []models.NewAlert
		for range 40 {
			alerts = append(alerts, models.NewAlert{WorkspaceID: models.DefaultWorkspaceID, Channel: models.ChannelEmail, Target: "ops@example.com", Payload: []byte("{}")})
		}
		if _, err := s.EnqueueAlerts(ctx, alerts...); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					got, err := s.ClaimAlerts(ctx, 3, time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, m := range got {
						seen[m.ID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(seen) != 40 {
			t.Errorf("claimed %d messages, want 40", len(seen))
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("%s claimed %d times", id, n)
			}
		}
	})
}
