package models_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"sluice/internal/testutil"
	"sluice/models"
)

// must is a value of a call that must succeed: must(f())(t).
func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// The activations page's rows are ListActivations' page, filter and keyset alike, with
// the segment's and platform's names and the last run's id, status, time and sent count;
// another workspace reads none of them.
func TestActivationRows(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, a := testutil.Admin(t, s)
		if f, err := s.FirstSteps(ctx, a.WorkspaceID); err != nil || f != (models.FirstSteps{}) {
			t.Fatalf("FirstSteps on an empty workspace = %+v, %v", f, err)
		}
		ids := activations(t, s, a, 7)
		if f, err := s.FirstSteps(ctx, a.WorkspaceID); err != nil || !f.CanCreateActivation() || !f.Model {
			t.Fatalf("FirstSteps with a model, a segment and a platform = %+v, %v", f, err)
		}
		r := must(s.EnqueueRun(ctx, a.WorkspaceID, ids[2], models.TriggerManual, nil, false))(t)
		if err := s.DB().Exec("UPDATE runs SET sent = 42 WHERE id = ?", r.ID).Error; err != nil {
			t.Fatal(err)
		}
		if err := s.SetActivationHealth(ctx, a.WorkspaceID, ids[2], r.ID, models.HealthFailed); err != nil {
			t.Fatal(err)
		}
		r = must(s.RunByID(ctx, a.WorkspaceID, r.ID))(t) // as stored (PostgreSQL keeps microseconds)
		if _, err := s.Pause(ctx, a, ids[4], "", "by hand"); err != nil {
			t.Fatal(err)
		}
		for _, f := range []models.ActivationFilter{{}, {After: "A2", Limit: 3}, {Status: models.HealthFailed}, {Status: models.ActivationPaused}, {Search: "a5"}} {
			want, err := s.ListActivations(ctx, a.WorkspaceID, f)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := s.ActivationRows(ctx, a.WorkspaceID, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(want) || len(rows) == 0 {
				t.Fatalf("%+v: %d rows, ListActivations has %d", f, len(rows), len(want))
			}
			for i, row := range rows {
				got, w := row.Activation, want[i]
				if got.ID != w.ID || got.Name != w.Name || got.Status != w.Status || got.Health != w.Health || got.ScheduleJSON != w.ScheduleJSON ||
					got.PauseReason != w.PauseReason || got.PauseAutomatic != w.PauseAutomatic || got.LastRunID != w.LastRunID ||
					got.SegmentID != w.SegmentID || got.PlatformID != w.PlatformID || got.WorkspaceID != a.WorkspaceID {
					t.Errorf("%+v row %d = %+v, want %+v", f, i, got, w)
				}
				if row.SegmentName != "G" || row.PlatformName != "P" {
					t.Errorf("row %s names: segment %q, platform %q", got.Name, row.SegmentName, row.PlatformName)
				}
				if got.ID == ids[2] {
					lr := row.LastRun
					if lr.ID != r.ID || lr.Status != models.RunQueued || lr.Sent != 42 || !lr.CreatedAt.Equal(r.CreatedAt) {
						t.Errorf("last run = %+v, want %s queued, 42 sent, at %s", lr, r.ID, r.CreatedAt)
					}
				} else if row.LastRun.ID != "" {
					t.Errorf("row %s has a last run %+v", got.Name, row.LastRun)
				}
			}
		}
		if rows, err := s.ActivationRows(ctx, "another-workspace", models.ActivationFilter{}); err != nil || len(rows) != 0 {
			t.Fatalf("another workspace reads %d rows (%v)", len(rows), err)
		}
	})
}

// A run is read with its activation's ref in one query; another workspace's run is not
// found, and neither is an unknown one.
func TestRunWithActivation(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, a := testutil.Admin(t, s)
		ids := activations(t, s, a, 1)
		act := must(s.ActivationByID(ctx, a.WorkspaceID, ids[0]))(t)
		r := must(s.EnqueueRun(ctx, a.WorkspaceID, ids[0], models.TriggerAPI, nil, false))(t)
		want := must(s.RunByID(ctx, a.WorkspaceID, r.ID))(t)
		got, ref, err := s.RunWithActivation(ctx, a.WorkspaceID, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != want.ID || got.ActivationID != want.ActivationID || got.Status != want.Status || got.Trigger != want.Trigger ||
			!got.CreatedAt.Equal(want.CreatedAt) || got.WorkspaceID != a.WorkspaceID {
			t.Errorf("run = %+v, want %+v", got, want)
		}
		if ref != act.Ref() {
			t.Errorf("ref = %+v, want %+v", ref, act.Ref())
		}
		for _, c := range []struct{ ws, id string }{{"another-workspace", r.ID}, {a.WorkspaceID, "no-such-run"}} {
			if _, _, err := s.RunWithActivation(ctx, c.ws, c.id); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("RunWithActivation(%s, %s): err = %v, want ErrNotFound", c.ws, c.id, err)
			}
		}
	})
}

// An activation is read with its segment's name and model, the model's source and its
// platform's name and kind; a segment's model and source alike; both scoped.
func TestActivationWithParts(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, a := testutil.Admin(t, s)
		ids := activations(t, s, a, 1)
		act := must(s.ActivationByID(ctx, a.WorkspaceID, ids[0]))(t)
		seg := must(s.SegmentByID(ctx, a.WorkspaceID, act.SegmentID))(t)
		m := must(s.ModelByID(ctx, a.WorkspaceID, seg.ModelID))(t)
		got, parts, err := s.ActivationWithParts(ctx, a.WorkspaceID, act.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != act.ID || got.Name != act.Name || got.SettingsJSON != act.SettingsJSON || got.MappingsJSON != act.MappingsJSON {
			t.Errorf("activation = %+v, want %+v", got, act)
		}
		want := models.ActivationParts{SegmentName: seg.Name, Model: models.SegmentModel{ModelID: m.ID, SourceID: m.SourceID},
			PlatformName: "P", PlatformKind: "webhook"}
		if parts != want {
			t.Errorf("parts = %+v, want %+v", parts, want)
		}
		if sm, err := s.SegmentModelOf(ctx, a.WorkspaceID, seg.ID); err != nil || sm != want.Model {
			t.Errorf("SegmentModelOf = %+v, %v; want %+v", sm, err, want.Model)
		}
		// An open incident on it and an open issue on its source show in its parts.
		ev := models.IncidentEvent{WorkspaceID: a.WorkspaceID, ObjectType: models.IncidentActivation, ObjectID: act.ID, ObjectName: act.Name,
			Event: models.EventRunFailed, Category: "timeout", Message: "slow"}
		if _, err := s.OpenIncident(ctx, ev, nil, nil); err != nil {
			t.Fatal(err)
		}
		if _, parts, err = s.ActivationWithParts(ctx, a.WorkspaceID, act.ID); err != nil || !parts.OpenIncident || parts.OpenIssues {
			t.Errorf("with an open incident: parts %+v, %v", parts, err)
		}
		if _, err := s.RecordIssues(ctx, a.WorkspaceID, "source", m.SourceID, []models.IssueInput{{Kind: "connection", Message: "down"}}, nil); err != nil {
			t.Fatal(err)
		}
		if _, parts, err = s.ActivationWithParts(ctx, a.WorkspaceID, act.ID); err != nil || !parts.OpenIncident || !parts.OpenIssues {
			t.Errorf("with an open issue on its source: parts %+v, %v", parts, err)
		}
		if _, _, err := s.ActivationWithParts(ctx, "another-workspace", act.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("another workspace's activation: err = %v", err)
		}
		if _, err := s.SegmentModelOf(ctx, "another-workspace", seg.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("another workspace's segment: err = %v", err)
		}
	})
}

// Run summaries are ListRuns' runs in its order, with the columns a history shows.
func TestListRunSummaries(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, a := testutil.Admin(t, s)
		ids := activations(t, s, a, 2)
		for i := range 4 {
			r, err := s.EnqueueRun(ctx, a.WorkspaceID, ids[0], models.TriggerManual, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.DB().Exec(`UPDATE runs SET status = ?, started_at = created_at, finished_at = created_at, queried = ?, added = 1, changed = 2,
				removed = 3, sent = 4, rejected = 5, source_issues = 6, error_category = 'timeout', error_message = 'slow', error_side = 'destination'
				WHERE id = ?`, models.RunFailed, 10+i, r.ID).Error; err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.EnqueueRun(ctx, a.WorkspaceID, ids[1], models.TriggerManual, nil, false); err != nil {
			t.Fatal(err)
		}
		want := must(s.ListRuns(ctx, a.WorkspaceID, ids[0], 3))(t)
		got := must(s.ListRunSummaries(ctx, a.WorkspaceID, ids[0], 3))(t)
		if len(got) != 3 || len(want) != 3 {
			t.Fatalf("%d summaries, %d runs; want 3", len(got), len(want))
		}
		for i := range got {
			g, w := got[i], want[i]
			if g.ID != w.ID || g.ActivationID != w.ActivationID || g.WorkspaceID != w.WorkspaceID || g.Status != w.Status || g.Trigger != w.Trigger ||
				!g.CreatedAt.Equal(w.CreatedAt) || g.StartedAt == nil || !g.StartedAt.Equal(*w.StartedAt) || g.FinishedAt == nil ||
				!g.FinishedAt.Equal(*w.FinishedAt) || g.RunCounts != w.RunCounts || g.ErrorCategory != w.ErrorCategory ||
				g.ErrorMessage != w.ErrorMessage || g.ErrorSide != w.ErrorSide {
				t.Errorf("summary %d = %+v, want %+v", i, g, w)
			}
		}
		if other, err := s.ListRunSummaries(ctx, "another-workspace", ids[0], 3); err != nil || len(other) != 0 {
			t.Fatalf("another workspace reads %d runs (%v)", len(other), err)
		}
	})
}

// Keyset pages of incidents give every incident of the filter once, newest first, also
// across incidents opened at the same instant and when the one a cursor names is gone.
func TestIncidentsBeforePages(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, a := testutil.Admin(t, s)
		clk := newClock(s)
		open := func(ws, object string) {
			t.Helper()
			ev := models.IncidentEvent{WorkspaceID: ws, ObjectType: models.IncidentActivation, ObjectID: object, ObjectName: object,
				Event: models.EventRunFailed, Category: "timeout", Message: "slow"}
			if _, err := s.OpenIncident(ctx, ev, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 9 {
			if i%3 != 0 { // three at each instant: only the id orders them
				clk.Add(time.Second)
			}
			open(a.WorkspaceID, fmt.Sprint("act", i))
		}
		other := must(s.CreateWorkspace(ctx, "Globex"))(t)
		open(other.ID, "theirs")
		if _, err := s.ResolveIncidents(ctx, a.WorkspaceID, models.IncidentActivation, "act4", models.EventRunFailed, nil, nil); err != nil {
			t.Fatal(err)
		}
		f := models.IncidentFilter{Status: models.IncidentsOpen}
		want, total, err := s.Incidents(ctx, a.WorkspaceID, models.IncidentFilter{Status: models.IncidentsOpen, Limit: 100})
		if err != nil || total != 8 {
			t.Fatalf("Incidents: %d open, %v; want 8", total, err)
		}
		got := walkPages(t, func(cursor *models.IncidentCursor) ([]models.Incident, error) {
			return s.IncidentsBefore(ctx, a.WorkspaceID, f, cursor, 3)
		}, func(in models.Incident) (string, *models.IncidentCursor) {
			return in.ID, &models.IncidentCursor{OpenedAt: in.OpenedAt, ID: in.ID}
		})
		var wantIDs []string
		for _, in := range want {
			wantIDs = append(wantIDs, in.ID)
		}
		if !slices.Equal(got, wantIDs) {
			t.Fatalf("pages gave %v, newest first is %v", got, wantIDs)
		}
		gone := want[2]
		if err := s.DB().Exec("DELETE FROM incidents WHERE id = ?", gone.ID).Error; err != nil {
			t.Fatal(err)
		}
		rest := must(s.IncidentsBefore(ctx, a.WorkspaceID, f, &models.IncidentCursor{OpenedAt: gone.OpenedAt, ID: gone.ID}, 100))(t)
		if len(rest) != 5 || rest[0].ID != want[3].ID {
			t.Fatalf("after the deleted %s: %d incidents from %v, want 5 from %s", gone.ID, len(rest), rest, want[3].ID)
		}
		resolved, err := s.IncidentsBefore(ctx, a.WorkspaceID, models.IncidentFilter{Status: models.IncidentsResolved}, nil, 10)
		if err != nil || len(resolved) != 1 || resolved[0].ObjectID != "act4" {
			t.Fatalf("resolved = %v, %v; want act4's", resolved, err)
		}
		one, err := s.IncidentsBefore(ctx, a.WorkspaceID, models.IncidentFilter{ObjectType: models.IncidentActivation, ObjectID: "act7"}, nil, 10)
		if err != nil || len(one) != 1 || one[0].ObjectID != "act7" {
			t.Fatalf("act7's incidents = %v, %v", one, err)
		}
	})
}

// The first page of each stage's issues, read in one query, is what RunIssues reads of
// each stage, with where the next page starts.
func TestFirstRunIssues(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, a := testutil.Admin(t, s)
		ids := activations(t, s, a, 1)
		r := must(s.EnqueueRun(ctx, a.WorkspaceID, ids[0], models.TriggerManual, nil, false))(t)
		var issues []models.RunIssue
		for i := range 7 {
			stage := "source"
			if i%3 == 2 {
				stage = "destination"
			}
			issues = append(issues, models.RunIssue{RunID: r.ID, PrimaryKey: fmt.Sprint("k", i), Stage: stage, Code: "bad", Message: "bad"})
		}
		if err := s.AddRunIssues(ctx, issues); err != nil {
			t.Fatal(err)
		}
		stages := []string{"source", "destination"}
		pages, next, err := s.FirstRunIssues(ctx, r, stages, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, stage := range stages {
			want, wantNext, err := s.RunIssues(ctx, r, models.IssueFilter{Stage: stage, Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			var got, wantIDs []string
			for _, is := range pages[stage] {
				got = append(got, is.ID)
			}
			for _, is := range want {
				wantIDs = append(wantIDs, is.ID)
			}
			if !slices.Equal(got, wantIDs) || next[stage] != wantNext {
				t.Errorf("%s: %v next %q, RunIssues has %v next %q", stage, got, next[stage], wantIDs, wantNext)
			}
		}
		if next["source"] == "" || next["destination"] != "" || len(pages["destination"]) != 2 {
			t.Errorf("5 source issues and 2 rejections, 3 a page: next %v, %d rejections", next, len(pages["destination"]))
		}
	})
}
