package migrations_test

import (
	"testing"
	"time"

	"sluice/internal/testutil"
	"sluice/migrations"
	"sluice/models"
)

// TestMigrationMakesOrganizations: 00027 gives every existing workspace an organization,
// every user a membership with the role they had, and the first admin of each workspace
// the organization's ownership.
func TestMigrationMakesOrganizations(t *testing.T) {
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
			if err := migrations.UpTo(t.Context(), sqlDB, s.Dialect(), 26); err != nil {
				t.Fatal(err)
			}
			db := s.DB()
			const other = "00000000-0000-7000-8000-0000000000aa"
			if err := db.Exec(`INSERT INTO workspaces (id, name, created_at) VALUES (?, 'Globex', CURRENT_TIMESTAMP)`, other).Error; err != nil {
				t.Fatal(err)
			}
			base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			users := []struct {
				id, ws, email, role string
			}{
				{"u1", models.DefaultWorkspaceID, "bob@acme.example", "admin"}, // second admin of Acme
				{"u2", models.DefaultWorkspaceID, "ada@acme.example", "admin"}, // first admin of Acme
				{"u3", models.DefaultWorkspaceID, "carl@acme.example", "viewer"},
				{"u4", other, "dora@globex.example", "editor"},
				{"u5", other, "eve@globex.example", "admin"},
			}
			created := map[string]time.Time{"u1": base.Add(2 * time.Hour), "u2": base.Add(time.Hour), "u3": base, "u4": base, "u5": base.Add(time.Hour)}
			for _, u := range users {
				if err := db.Exec(`INSERT INTO users (id, workspace_id, email, name, password_hash, role, created_at, updated_at)
					VALUES (?, ?, ?, '', 'x', ?, ?, ?)`, u.id, u.ws, u.email, u.role, created[u.id], created[u.id]).Error; err != nil {
					t.Fatal(err)
				}
			}

			if _, err := s.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}

			for _, ws := range []string{models.DefaultWorkspaceID, other} {
				w, err := s.WorkspaceByID(t.Context(), ws)
				if err != nil {
					t.Fatal(err)
				}
				if w.OrganizationID != ws {
					t.Errorf("workspace %s: organization %q, want one of its own (%s)", w.Name, w.OrganizationID, ws)
				}
			}
			var orgs int64
			if err := db.Model(&models.Organization{}).Count(&orgs).Error; err != nil || orgs != 2 {
				t.Errorf("organizations: %d (%v), want 2", orgs, err)
			}
			wantOwner := map[string]bool{"u2": true, "u5": true}
			for _, u := range users {
				got, err := s.UserByID(t.Context(), u.ws, u.id)
				if err != nil {
					t.Fatalf("%s in its workspace: %v", u.email, err)
				}
				if string(got.Role) != u.role || got.Owner != wantOwner[u.id] || got.OrganizationID != u.ws || got.WorkspaceID != u.ws {
					t.Errorf("%s: role %s owner %v organization %s home %s; want %s, %v, %s, %s",
						u.email, got.Role, got.Owner, got.OrganizationID, got.WorkspaceID, u.role, wantOwner[u.id], u.ws, u.ws)
				}
				ws, err := s.WorkspacesOf(t.Context(), u.id)
				if err != nil || len(ws) != 1 || ws[0].ID != u.ws || string(ws[0].Role) != u.role {
					t.Errorf("%s's workspaces: %+v (%v), want only %s as %s", u.email, ws, err, u.ws, u.role)
				}
			}
		})
	}
}
