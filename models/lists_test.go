package models_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"sluice/internal/testutil"
	"sluice/models"
)

// Keyset pages of the activations list, walked to the end, give the whole list in its
// order, each activation once, with the filter still applied.
func TestListActivationsKeysetPages(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, a := testutil.Admin(t, s)
		ids := activations(t, s, a, 12)
		if _, err := s.Pause(ctx, a, ids[3], "", "by hand"); err != nil {
			t.Fatal(err)
		}
		all, err := s.ListActivations(ctx, a.WorkspaceID, models.ActivationFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var paged []string
		after := ""
		for range 10 {
			page, err := s.ListActivations(ctx, a.WorkspaceID, models.ActivationFilter{After: after, Limit: 5})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > 5 {
				t.Fatalf("a page of %d, limit 5", len(page))
			}
			if len(page) == 0 {
				break
			}
			for _, act := range page {
				paged = append(paged, act.Name)
			}
			after = page[len(page)-1].Name
		}
		var want []string
		for _, act := range all {
			want = append(want, act.Name)
		}
		if len(want) != 12 || !slices.Equal(paged, want) {
			t.Fatalf("pages gave %v, the whole list is %v", paged, want)
		}
		paused, err := s.ListActivations(ctx, a.WorkspaceID, models.ActivationFilter{Status: models.ActivationPaused, After: "A", Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		if len(paused) != 1 || paused[0].ID != ids[3] {
			t.Fatalf("paused page = %v, want only %s", paused, ids[3])
		}
	})
}

// Keyset pages of an activation's runs give every run once, newest first, also across
// runs created at the same instant and when the run a cursor names is gone.
func TestListRunsBeforePages(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, a := testutil.Admin(t, s)
		ids := activations(t, s, a, 2)
		var runIDs []string
		for range 7 {
			r, err := s.EnqueueRun(ctx, a.WorkspaceID, ids[0], models.TriggerManual, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			runIDs = append(runIDs, r.ID)
		}
		if _, err := s.EnqueueRun(ctx, a.WorkspaceID, ids[1], models.TriggerManual, nil, false); err != nil {
			t.Fatal(err)
		}
		// Three runs share one instant: only the id orders them.
		tie := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		if err := s.DB().Exec("UPDATE runs SET created_at = ? WHERE id IN ?", tie, runIDs[2:5]).Error; err != nil {
			t.Fatal(err)
		}
		want, err := s.ListRuns(ctx, a.WorkspaceID, ids[0], 100)
		if err != nil {
			t.Fatal(err)
		}
		got := walkPages(t, func(cursor *models.RunCursor) ([]models.Run, error) {
			return s.ListRunsBefore(ctx, a.WorkspaceID, ids[0], cursor, 3)
		}, func(r models.Run) (string, *models.RunCursor) {
			return r.ID, &models.RunCursor{CreatedAt: r.CreatedAt, ID: r.ID}
		})
		var wantIDs []string
		for _, r := range want {
			wantIDs = append(wantIDs, r.ID)
		}
		if len(wantIDs) != 7 || !slices.Equal(got, wantIDs) {
			t.Fatalf("pages gave %v, newest first is %v", got, wantIDs)
		}
		// A cursor naming a deleted run still goes on with the runs after it.
		gone := want[2]
		if err := s.DB().Exec("DELETE FROM runs WHERE id = ?", gone.ID).Error; err != nil {
			t.Fatal(err)
		}
		rest, err := s.ListRunsBefore(ctx, a.WorkspaceID, ids[0], &models.RunCursor{CreatedAt: gone.CreatedAt, ID: gone.ID}, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(rest) != 4 || rest[0].ID != want[3].ID {
			t.Fatalf("after the deleted %s: %d runs from %v, want 4 from %s", gone.ID, len(rest), rest, want[3].ID)
		}
	})
}

// walkPages reads keyset pages from the start until one is empty (ten at most) and
// returns the ids of what they held, in order; at tells an item's id and the cursor
// of the page after it.
func walkPages[T, C any](t *testing.T, page func(*C) ([]T, error), at func(T) (string, *C)) []string {
	t.Helper()
	var ids []string
	var cursor *C
	for range 10 {
		items, err := page(cursor)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) == 0 {
			break
		}
		for _, it := range items {
			var id string
			id, cursor = at(it)
			ids = append(ids, id)
		}
	}
	return ids
}

// RunsByIDs answers the workspace's runs asked for, in one map, and leaves out unknown
// ids and other workspaces' runs.
func TestRunsByIDs(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, a := testutil.Admin(t, s)
		ids := activations(t, s, a, 2)
		r1, err := s.EnqueueRun(ctx, a.WorkspaceID, ids[0], models.TriggerManual, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := s.EnqueueRun(ctx, a.WorkspaceID, ids[1], models.TriggerManual, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.RunsByIDs(ctx, a.WorkspaceID, []string{r1.ID, r2.ID, "no-such-run"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[r1.ID] == nil || got[r1.ID].ActivationID != ids[0] || got[r2.ID] == nil {
			t.Fatalf("RunsByIDs = %v", got)
		}
		other, err := s.RunsByIDs(ctx, "another-workspace", []string{r1.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(other) != 0 {
			t.Fatalf("another workspace read %v", other)
		}
		none, err := s.RunsByIDs(ctx, a.WorkspaceID, nil)
		if err != nil || len(none) != 0 {
			t.Fatalf("no ids: %v, %v", none, err)
		}
	})
}
