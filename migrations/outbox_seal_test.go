package migrations_test

import (
	"strings"
	"testing"
	"time"

	"sluice/internal/testutil"
	"sluice/migrations"
	"sluice/models"
)

// TestMigrationKeepsQueuedInvitationsSending: 00034 seals invitation bodies from then
// on; an invitation queued before it is sealed at start and still sends as it was
// written, while one already sent loses its link. Entries of the audit log about workspaces join the organization's
// trail.
func TestMigrationKeepsQueuedInvitationsSending(t *testing.T) {
	for _, d := range testutil.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			s, err := models.Open(d.URL(t), testutil.Secrets(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			sqlDB, err := s.DB().DB()
			if err != nil {
				t.Fatal(err)
			}
			if err := migrations.UpTo(t.Context(), sqlDB, s.Dialect(), 33); err != nil {
				t.Fatal(err)
			}
			db := s.DB()
			body := `{"kind":"invitation","title":"Ada invites you to Acme","buttons":[{"label":"Accept the invitation","url":"https://sluice.example/invitation?token=old-link"}],"occurred_at":"2026-01-01T00:00:00Z"}`
			past := time.Now().Add(-time.Hour).UTC()
			for _, row := range []struct{ id, status string }{{"pending-1", "pending"}, {"sent-1", "sent"}} {
				if err := db.Exec(`INSERT INTO alert_outbox (id, workspace_id, channel, target, target_label, payload, status, next_attempt_at, created_at)
					VALUES (?, ?, 'email', 'grace@acme.example', 'grace@acme.example', ?, ?, ?, ?)`,
					row.id, models.DefaultWorkspaceID, body, row.status, past, past).Error; err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Exec(`INSERT INTO audit_entries (id, workspace_id, at, actor_type, action, resource_type, resource_id, resource_name)
				VALUES ('e1', ?, ?, 'user', 'workspace.create', 'workspace', 'w2', 'Staging'), ('e2', ?, ?, 'user', 'source.create', 'source', 's1', 'Warehouse')`,
				models.DefaultWorkspaceID, past, models.DefaultWorkspaceID, past).Error; err != nil {
				t.Fatal(err)
			}

			if _, err := s.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}

			claimed, err := s.ClaimAlerts(t.Context(), 10, time.Minute)
			if err != nil || len(claimed) != 1 || claimed[0].ID != "pending-1" {
				t.Fatalf("claimed after the migration: %+v, %v; want the pending invitation", claimed, err)
			}
			if got, err := s.AlertPayload(&claimed[0]); err != nil || string(got) != body {
				t.Errorf("the queued invitation sends %q (%v), want it as written", got, err)
			}
			if claimed[0].Payload != "{}" || claimed[0].PayloadSealed == "" || strings.Contains(claimed[0].PayloadSealed, "old-link") {
				t.Errorf("the queued invitation is stored as %q / %q, want its body sealed", claimed[0].Payload, claimed[0].PayloadSealed)
			}
			var sent string
			if err := db.Raw(`SELECT payload FROM alert_outbox WHERE id = 'sent-1'`).Scan(&sent).Error; err != nil {
				t.Fatal(err)
			}
			if strings.Contains(sent, "old-link") || !strings.Contains(sent, "Ada invites you") {
				t.Errorf("the sent invitation's stored body = %q, want it without its link", sent)
			}
			var orgs []string
			if err := db.Raw(`SELECT organization_id FROM audit_entries ORDER BY id`).Scan(&orgs).Error; err != nil {
				t.Fatal(err)
			}
			if len(orgs) != 2 || orgs[0] != models.DefaultWorkspaceID || orgs[1] != "" {
				t.Errorf("audit entries' organizations = %q, want the workspace's creation in the organization's trail only", orgs)
			}
		})
	}
}
