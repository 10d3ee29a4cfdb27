package models_test

import (
	"context"
	"testing"
	"time"

	"sluice/internal/testutil"
	"sluice/models"
)

func TestPlatformSenders(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		c := newClock(s)
		const fresh = time.Minute
		beat := func(platform, owner string, want int) {
			t.Helper()
			n, err := s.BeatPlatformSender(ctx, platform, owner, fresh)
			if err != nil {
				t.Fatal(err)
			}
			if n != want {
				t.Fatalf("%s beating %s counts %d senders, want %d", owner, platform, n, want)
			}
		}
		beat("p1", "a", 1)
		beat("p1", "a", 1) // a beat refreshes the row, it adds none
		beat("p1", "b", 2)
		beat("p2", "a", 1) // platforms are counted apart
		c.Add(30 * time.Second)
		beat("p1", "a", 2) // b's row is 30s old: still fresh
		c.Add(31 * time.Second)
		beat("p1", "a", 1) // b's is 61s old: stopped without saying so
		// Pruning deletes b's row for p1 and a's for p2, both older than a minute.
		if n, err := s.PrunePlatformSenders(ctx, fresh); err != nil || n != 2 {
			t.Fatalf("pruned %d rows (%v), want 2", n, err)
		}
		var left int64
		if err := s.DB().Table("platform_senders").Count(&left).Error; err != nil || left != 1 {
			t.Fatalf("%d rows left after pruning (%v), want a's for p1", left, err)
		}
		beat("p1", "b", 2)
		if err := s.RemovePlatformSender(ctx, "p1", "a"); err != nil {
			t.Fatal(err)
		}
		beat("p1", "b", 1)
		if err := s.RemovePlatformSender(ctx, "p1", "nobody"); err != nil {
			t.Fatalf("removing a row that is not there: %v", err)
		}
	})
}
