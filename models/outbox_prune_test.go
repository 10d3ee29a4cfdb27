package models_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"sluice/internal/testutil"
	"sluice/models"
)

// TestPruneSentAlerts: retention deletes messages sent before the cutoff and keeps
// pending ones, failed ones, and those sent since.
func TestPruneSentAlerts(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		ws := models.DefaultWorkspaceID
		start := time.Now().UTC().Add(-40 * 24 * time.Hour)
		now := start
		models.SetClock(s, func() time.Time { return now })
		alert := models.NewAlert{WorkspaceID: ws, Channel: models.ChannelEmail, Target: "ops@example.com", Payload: []byte(`{"title":"a"}`)}
		enqueueAndClaim := func() models.OutboxMessage {
			t.Helper()
			if _, err := s.EnqueueAlerts(ctx, alert); err != nil {
				t.Fatal(err)
			}
			got, err := s.ClaimAlerts(ctx, 1, time.Minute)
			if err != nil || len(got) != 1 {
				t.Fatalf("claim: %d, %v", len(got), err)
			}
			return got[0]
		}

		old := enqueueAndClaim() // sent 40 days ago
		if err := s.MarkAlertSent(ctx, &old); err != nil {
			t.Fatal(err)
		}
		failed := enqueueAndClaim() // failed 40 days ago
		if err := s.MarkAlertFailed(ctx, &failed, "no SMTP server is configured (SLUICE_SMTP_URL)", true, models.DefaultAlertRetry); err != nil {
			t.Fatal(err)
		}
		now = start.Add(39 * 24 * time.Hour)
		recent := enqueueAndClaim() // sent yesterday
		if err := s.MarkAlertSent(ctx, &recent); err != nil {
			t.Fatal(err)
		}
		now = start
		pending, err := s.EnqueueAlerts(ctx, alert) // queued 40 days ago, never sent
		if err != nil {
			t.Fatal(err)
		}

		n, err := s.PruneSentAlerts(ctx, time.Now().Add(-30*24*time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("pruned %d, %v; want 1", n, err)
		}
		if _, err := s.AlertByID(ctx, ws, old.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("the old sent message: %v, want ErrNotFound", err)
		}
		for name, id := range map[string]string{"failed": failed.ID, "pending": pending[0].ID, "recent": recent.ID} {
			if _, err := s.AlertByID(ctx, ws, id); err != nil {
				t.Errorf("the %s message was pruned: %v", name, err)
			}
		}
	})
}
