package models_test

import (
	"errors"
	"testing"
	"time"

	"sluice/internal/testutil"
	"sluice/models"
)

// An issue seen again moves last_seen_at, one not seen any more is resolved, a new one
// opens; a kind not checked is left as it was; other workspaces see nothing.
func TestRecordIssuesUpserts(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		_, a := testutil.Admin(t, s)
		ws := a.WorkspaceID
		clock := time.Date(2025, 3, 1, 0, 30, 0, 0, time.UTC)
		models.SetClock(s, func() time.Time { return clock })
		altered := models.IssueInput{Column: "email", Kind: models.IssueAltered, Message: "Column email of model Customers was renamed or dropped."}
		dups := models.IssueInput{Kind: models.IssueDuplicateKeys, Message: "Model Customers has duplicate keys."}

		open, err := s.RecordIssues(ctx, ws, models.IssueObjectModel, "m1", []models.IssueInput{altered, dups}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(open) != 2 {
			t.Fatalf("open = %+v, want 2", open)
		}
		first := open[0]

		clock = clock.Add(24 * time.Hour)
		retyped := models.IssueInput{Column: "age", Kind: models.IssueWrongType, Message: "Column age changed type."}
		// duplicate keys were not checked this time: the issue stays open.
		open, err = s.RecordIssues(ctx, ws, models.IssueObjectModel, "m1", []models.IssueInput{altered, retyped},
			[]string{models.IssueMissing, models.IssueAltered, models.IssueWrongType})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]models.ValidationIssue{}
		for _, is := range open {
			got[is.Column+"/"+is.Kind] = is
		}
		if len(got) != 3 {
			t.Fatalf("open = %+v, want email/altered, age/wrong_type and duplicate_keys", open)
		}
		e := got["email/altered"]
		if e.ID != first.ID || !e.FirstSeenAt.Equal(first.FirstSeenAt) || !e.LastSeenAt.Equal(clock) {
			t.Errorf("seen again: %+v, want id %s first seen %v last seen %v", e, first.ID, first.FirstSeenAt, clock)
		}
		if r := got["age/wrong_type"]; !r.FirstSeenAt.Equal(clock) || r.ResolvedAt != nil {
			t.Errorf("new issue %+v", r)
		}

		clock = clock.Add(time.Hour)
		open, err = s.RecordIssues(ctx, ws, models.IssueObjectModel, "m1", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(open) != 0 {
			t.Errorf("after a clean validation, open = %+v", open)
		}
		var resolved []models.ValidationIssue
		if err := s.DB().Where("object_id = ? AND resolved_at IS NOT NULL", "m1").Find(&resolved).Error; err != nil {
			t.Fatal(err)
		}
		if len(resolved) != 3 {
			t.Errorf("resolved = %d issues, want 3", len(resolved))
		}
		for _, r := range resolved {
			if !r.ResolvedAt.Equal(clock) {
				t.Errorf("resolved at %v, want %v", r.ResolvedAt, clock)
			}
		}
		// Seen again after being resolved: a new issue opens.
		open, err = s.RecordIssues(ctx, ws, models.IssueObjectModel, "m1", []models.IssueInput{altered}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(open) != 1 || open[0].ID == first.ID {
			t.Errorf("reopened = %+v, want a new issue", open)
		}

		if _, err := s.RecordIssues(ctx, ws, models.IssueObjectSource, "s1", []models.IssueInput{{Kind: "connection", Message: "Cannot reach."}}, nil); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			f    models.IssuesFilter
			want int
		}{
			{models.IssuesFilter{}, 2},
			{models.IssuesFilter{ObjectID: "s1"}, 1},
			{models.IssuesFilter{Kind: models.IssueAltered}, 1},
			{models.IssuesFilter{ObjectID: "s1", Kind: models.IssueAltered}, 0},
			{models.IssuesFilter{Limit: 1}, 1},
		} {
			got, err := s.OpenIssues(ctx, ws, c.f)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != c.want {
				t.Errorf("OpenIssues(%+v) = %d issues, want %d", c.f, len(got), c.want)
			}
		}
		_, other := otherWorkspace(t, s)
		if got, err := s.OpenIssues(ctx, other.WorkspaceID, models.IssuesFilter{}); err != nil || len(got) != 0 {
			t.Errorf("another workspace sees %+v, %v", got, err)
		}
	})
}

// A day is claimed once per workspace, however many callers try.
func TestClaimValidationDayOnce(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		_, a := testutil.Admin(t, s)
		day := time.Date(2025, 3, 1, 0, 40, 0, 0, time.UTC)
		for i, want := range []bool{true, false, false} {
			ok, err := s.ClaimValidationDay(ctx, a.WorkspaceID, day.Add(time.Duration(i)*time.Minute))
			if err != nil || ok != want {
				t.Errorf("claim %d = %v, %v; want %v", i, ok, err, want)
			}
		}
		if ok, err := s.ClaimValidationDay(ctx, a.WorkspaceID, day.Add(24*time.Hour)); err != nil || !ok {
			t.Errorf("next day = %v, %v", ok, err)
		}
	})
}

// A paused activation's tick is stored skipped once, with its reason; pauses and
// resumes are kept as events.
func TestSkippedTicksAndEvents(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		_, a := testutil.Admin(t, s)
		id := activations(t, s, a, 1)[0]
		tick := time.Date(2025, 3, 1, 6, 0, 0, 0, time.UTC)
		r, err := s.RecordSkippedTick(ctx, a.WorkspaceID, id, tick, "configuration", "The activation is paused: manual")
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != models.RunSkipped || r.FinishedAt == nil {
			t.Errorf("run %+v", r)
		}
		if _, err := s.RecordSkippedTick(ctx, a.WorkspaceID, id, tick, "configuration", "again"); !errors.Is(err, models.ErrConflict) {
			t.Errorf("second skipped tick: err = %v, want ErrConflict", err)
		}
		if _, err := s.EnqueueRun(ctx, a.WorkspaceID, id, models.TriggerSchedule, &tick, false); !errors.Is(err, models.ErrConflict) {
			t.Errorf("queued run on a skipped tick: err = %v, want ErrConflict", err)
		}

		sys := models.Actor{WorkspaceID: a.WorkspaceID, Type: models.ActorSystem, Name: "Sluice"}
		if _, err := s.Pause(ctx, sys, id, models.PauseCauseSchema, "paused automatically: column phone is missing from model Customers"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Resume(ctx, sys, id, models.PauseCauseSchema); err != nil {
			t.Fatal(err)
		}
		evs, err := s.ActivationEvents(ctx, a.WorkspaceID, id, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 || evs[0].Kind != models.EventResumed || evs[1].Kind != models.EventPaused ||
			!evs[1].Automatic || evs[1].Actor != "Sluice" || evs[1].Reason == "" || evs[0].Reason == "" {
			t.Errorf("events = %+v", evs)
		}
	})
}
