package models_test

import (
	"testing"
	"time"

	"sluice/internal/testutil"
	"sluice/models"
)

// An incident opens once and alerts; repeats are counted silently but for one reminder
// a day; resolving sends one notice, and the next failure opens a new incident. Every
// notice is in the outbox in the incident's transaction.
func TestIncidentLifecycle(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		_, admin := testutil.Admin(t, s)
		now := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
		models.SetClock(s, func() time.Time { return now })
		to := []models.AlertRecipient{{Channel: models.ChannelEmail, Target: "ops@example.com"}}
		var notices []string
		render := func(inc *models.Incident, kind string) ([]byte, error) {
			notices = append(notices, kind)
			return []byte(`{"kind":"` + kind + `"}`), nil
		}
		ev := models.IncidentEvent{WorkspaceID: admin.WorkspaceID, ObjectType: models.IncidentSource, ObjectID: "src1", ObjectName: "Warehouse",
			Event: models.EventSourceBroken, Message: "password authentication failed"}
		c, err := s.OpenIncident(ctx, ev, to, render)
		if err != nil || c.Notice != models.NoticeOpened || c.Alerts != 1 {
			t.Fatalf("open: %+v %v", c, err)
		}
		for _, step := range []time.Duration{time.Hour, 22 * time.Hour, 2 * time.Hour, time.Hour} {
			now = now.Add(step)
			if c, err = s.OpenIncident(ctx, ev, to, render); err != nil {
				t.Fatal(err)
			}
		}
		if c.Incident.Occurrences != 5 || c.Incident.RemindedAt == nil {
			t.Fatalf("after repeats: %+v", c.Incident)
		}
		if want := []string{"opened", "reminder"}; len(notices) != 2 || notices[1] != want[1] {
			t.Fatalf("notices %v, want %v", notices, want)
		}
		open, _ := s.HasOpenIncident(ctx, admin.WorkspaceID, models.IncidentSource, "src1", models.EventSourceBroken)
		if !open {
			t.Fatal("not open")
		}
		done, err := s.ResolveIncidents(ctx, admin.WorkspaceID, models.IncidentSource, "src1", models.EventSourceBroken, to, render)
		if err != nil || len(done) != 1 || done[0].Notice != models.NoticeResolved {
			t.Fatalf("resolve: %+v %v", done, err)
		}
		if again, _ := s.ResolveIncidents(ctx, admin.WorkspaceID, models.IncidentSource, "src1", models.EventSourceBroken, to, render); len(again) != 0 {
			t.Fatal("resolved twice")
		}
		if c, err = s.OpenIncident(ctx, ev, to, render); err != nil || c.Notice != models.NoticeOpened {
			t.Fatalf("reopen: %+v %v", c, err)
		}
		list, total, err := s.Incidents(ctx, admin.WorkspaceID, models.IncidentFilter{Status: models.IncidentsResolved})
		if err != nil || total != 1 || list[0].Occurrences != 5 {
			t.Fatalf("resolved list: %+v %d %v", list, total, err)
		}
		claimed, err := s.ClaimAlerts(ctx, 10, time.Minute)
		if err != nil || len(claimed) != 4 {
			t.Fatalf("outbox holds %d messages, want 4 (opened, reminder, resolved, opened): %v", len(claimed), err)
		}
	})
}
