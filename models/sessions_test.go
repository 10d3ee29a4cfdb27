package models_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"sluice/internal/testutil"
	"sluice/models"
)

func TestSessions(t *testing.T) {
	t.Parallel()
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		ada, a := testutil.Admin(t, s)
		bob, err := s.CreateUser(ctx, a, models.NewUser{Email: "bob@example.com", Password: testutil.Password, Role: models.RoleEditor})
		if err != nil {
			t.Fatal(err)
		}
		start := func(u *models.User) string {
			t.Helper()
			token, err := s.CreateSession(ctx, u, "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0", "192.0.2.7", "")
			if err != nil {
				t.Fatal(err)
			}
			return token
		}
		live := func(token string) bool {
			t.Helper()
			in, err := s.SessionUser(ctx, token)
			switch {
			case errors.Is(err, models.ErrNotFound):
				return false
			case err != nil:
				t.Fatal(err)
			}
			return in != nil
		}

		t.Run("only a hash is stored", func(t *testing.T) {
			token := start(bob)
			in, err := s.SessionUser(ctx, token)
			if err != nil {
				t.Fatal(err)
			}
			id, u := in.SessionID, in.User
			if u.ID != bob.ID || u.Role != models.RoleEditor || u.Email != bob.Email {
				t.Fatalf("SessionUser = %q, %+v", id, u)
			}
			if ws, err := s.WorkspaceByID(ctx, bob.WorkspaceID); err != nil || in.Workspace.ID != ws.ID || in.Workspace.Name != ws.Name ||
				!in.Workspace.CreatedAt.Equal(ws.CreatedAt) || (in.Workspace.SetupCompletedAt == nil) != (ws.SetupCompletedAt == nil) {
				t.Fatalf("SessionUser's workspace = %+v, want %+v (%v)", in.Workspace, ws, err)
			}
			var rows []models.Session
			if err := s.DB().Find(&rows).Error; err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				if r.ID == token || r.TokenHash == token || r.UserAgent == token || r.IP == token {
					t.Errorf("session row %s keeps the token itself", r.ID)
				}
				if r.ID == id && r.TokenHash != models.HashToken(token) {
					t.Errorf("session row %s keeps %q, want the token's SHA-256", r.ID, r.TokenHash)
				}
			}
			if live("") || live(token+"x") || live(models.HashToken(token)) {
				t.Error("an empty, wrong or hashed token finds a session")
			}
		})

		t.Run("sign-in replaces the browser's previous session", func(t *testing.T) {
			old := start(bob)
			fresh, err := s.CreateSession(ctx, bob, "", "", old)
			if err != nil {
				t.Fatal(err)
			}
			if live(old) || !live(fresh) {
				t.Errorf("old live %v, new live %v", live(old), live(fresh))
			}
		})

		t.Run("sign-out", func(t *testing.T) {
			token, other := start(bob), start(bob)
			if err := s.SignOut(ctx, testutil.ActorOf(bob), token); err != nil {
				t.Fatal(err)
			}
			if live(token) || !live(other) {
				t.Errorf("after sign-out: that session live %v, the other %v", live(token), live(other))
			}
			if e := latestEntry(t, s, models.DefaultWorkspaceID); e.Action != "user.sign_out" || e.ActorID != bob.ID {
				t.Errorf("audit entry %s by %s", e.Action, e.ActorName)
			}
		})

		t.Run("role change", func(t *testing.T) {
			token, admins := start(bob), start(ada)
			if _, err := s.UpdateUserRole(ctx, a, bob.ID, models.RoleViewer); err != nil {
				t.Fatal(err)
			}
			if live(token) || !live(admins) {
				t.Errorf("after bob's role change: bob live %v, ada live %v", live(token), live(admins))
			}
			// Saving the same role again changes nothing, and ends nothing.
			token = start(bob)
			if _, err := s.UpdateUserRole(ctx, a, bob.ID, models.RoleViewer); err != nil || !live(token) {
				t.Errorf("an unchanged role ended the session (%v)", err)
			}
			// A refused change (the last admin) leaves the session alone.
			if _, err := s.UpdateUserRole(ctx, a, ada.ID, models.RoleViewer); err == nil || !live(admins) {
				t.Errorf("refused change: err %v, ada live %v", err, live(admins))
			}
		})

		t.Run("visits are noted at most once a minute", func(t *testing.T) {
			token := start(bob)
			seen := func() time.Time {
				var row models.Session
				if err := s.DB().Where("token_hash = ?", models.HashToken(token)).Take(&row).Error; err != nil {
					t.Fatal(err)
				}
				return row.LastSeenAt
			}
			first := seen()
			live(token)
			if !seen().Equal(first) {
				t.Error("a visit within the minute wrote last_seen_at")
			}
			old := time.Now().UTC().Add(-2 * time.Minute)
			if err := s.DB().Model(&models.Session{}).Where("token_hash = ?", models.HashToken(token)).Update("last_seen_at", old).Error; err != nil {
				t.Fatal(err)
			}
			live(token)
			if !seen().After(old.Add(time.Minute)) {
				t.Error("a visit after a minute did not note last_seen_at")
			}
		})

		t.Run("expiry", func(t *testing.T) {
			token := start(bob)
			if err := s.DB().Model(&models.Session{}).Where("token_hash = ?", models.HashToken(token)).
				Update("expires_at", time.Now().UTC().Add(-time.Second)).Error; err != nil {
				t.Fatal(err)
			}
			if live(token) {
				t.Error("an expired session still signs in")
			}
			n, err := s.PruneSessions(ctx)
			if err != nil || n != 1 {
				t.Errorf("PruneSessions = %d, %v; want 1", n, err)
			}
		})

		t.Run("a session lasts seven days from sign-in", func(t *testing.T) {
			token := start(bob)
			var row models.Session
			if err := s.DB().Where("token_hash = ?", models.HashToken(token)).Take(&row).Error; err != nil {
				t.Fatal(err)
			}
			if d := row.ExpiresAt.Sub(row.CreatedAt); d != 7*24*time.Hour {
				t.Errorf("lifetime %v", d)
			}
		})

		t.Run("end one, end all, list", func(t *testing.T) {
			t1, t2, mine := start(bob), start(bob), start(ada)
			list, err := s.ListSessions(ctx, models.DefaultWorkspaceID)
			if err != nil {
				t.Fatal(err)
			}
			var bobs []models.Session
			for _, r := range list {
				if r.UserID == bob.ID {
					bobs = append(bobs, r)
				}
				if r.IP != "192.0.2.7" || !strings.Contains(r.UserAgent, "Firefox") {
					t.Errorf("session %s: ip %q, agent %q", r.ID, r.IP, r.UserAgent)
				}
			}
			if len(bobs) < 2 {
				t.Fatalf("%d sessions of bob listed, want at least 2", len(bobs))
			}
			if _, err := s.EndSession(ctx, a, bobs[0].ID); err != nil {
				t.Fatal(err)
			}
			if live(t1) && live(t2) {
				t.Error("EndSession ended neither")
			}
			if _, err := s.EndSession(ctx, a, bobs[0].ID); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("ending it twice: %v, want ErrNotFound", err)
			}
			if n, err := s.EndUserSessions(ctx, a, bob.ID); err != nil || n < 1 {
				t.Errorf("EndUserSessions = %d, %v", n, err)
			}
			if live(t1) || live(t2) || !live(mine) {
				t.Errorf("after ending all of bob's: %v %v, ada's %v", live(t1), live(t2), live(mine))
			}
			e := latestEntry(t, s, models.DefaultWorkspaceID)
			if e.Action != "session.end_all" || e.ResourceID != bob.ID || e.AfterJSON == nil || strings.Contains(*e.AfterJSON, "hash") {
				t.Errorf("audit entry %s %s %v", e.Action, e.ResourceID, e.AfterJSON)
			}
		})

		t.Run("removal", func(t *testing.T) {
			token := start(bob)
			if err := s.DeleteUser(ctx, a, bob.ID); err != nil {
				t.Fatal(err)
			}
			if live(token) {
				t.Error("a removed user's session still signs in")
			}
		})
	})
}
