package models_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"sluice/internal/testutil"
	"sluice/models"
)

// fieldOf is the Field of a *models.FieldError in err's chain, "" when there is none.
func fieldOf(err error) string {
	var fe *models.FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return ""
}

// wantField fails unless err is a *models.FieldError about field (and so ErrInvalid).
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	if got := fieldOf(err); got != field {
		t.Fatalf("err = %v, want a *models.FieldError on %q (got field %q)", err, field, got)
	}
	if !errors.Is(err, models.ErrInvalid) {
		t.Fatalf("err = %v, want it to wrap models.ErrInvalid", err)
	}
}

// addUser creates a user through the store as a, with the test password.
func addUser(t *testing.T, s *models.Store, a models.Actor, email string, role models.Role) *models.User {
	t.Helper()
	u, err := s.CreateUser(t.Context(), a, models.NewUser{Email: email, Password: testutil.Password, Role: role})
	if err != nil {
		t.Fatalf("create %s: %v", email, err)
	}
	return u
}

// otherWorkspace creates a second tenant with one admin and returns that admin's actor.
func otherWorkspace(t *testing.T, s *models.Store) (*models.User, models.Actor) {
	t.Helper()
	w, err := s.CreateWorkspace(t.Context(), "Globex")
	if err != nil {
		t.Fatal(err)
	}
	sys := models.Actor{WorkspaceID: w.ID, Type: models.ActorSystem, Name: "test"}
	u := addUser(t, s, sys, "boss@globex.example", models.RoleAdmin)
	return u, testutil.ActorOf(u)
}

// getUser loads a user, failing the test when it is not there.
func getUser(t *testing.T, s *models.Store, workspaceID, id string) *models.User {
	t.Helper()
	u, err := s.UserByID(t.Context(), workspaceID, id)
	if err != nil {
		t.Fatalf("user %s: %v", id, err)
	}
	return u
}

// countUsers is the number of users in a workspace.
func countUsers(t *testing.T, s *models.Store, workspaceID string) int {
	t.Helper()
	users, err := s.ListUsers(t.Context(), workspaceID)
	if err != nil {
		t.Fatal(err)
	}
	return len(users)
}

// needsSetup is s.NeedsSetup, failing the test on error.
func needsSetup(t *testing.T, s *models.Store) bool {
	t.Helper()
	need, err := s.NeedsSetup(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return need
}

// workspaceByID loads a workspace, failing the test on error.
func workspaceByID(t *testing.T, s *models.Store, id string) *models.Workspace {
	t.Helper()
	w, err := s.WorkspaceByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// allEntries is every audit entry of a workspace, newest first.
func allEntries(t *testing.T, s *models.Store, workspaceID string) []models.AuditEntry {
	t.Helper()
	entries, next, err := s.ListAuditEntries(t.Context(), workspaceID, models.AuditFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	if next != "" {
		t.Fatalf("more than 500 audit entries in a test")
	}
	return entries
}

// latestEntry is the newest audit entry of a workspace.
func latestEntry(t *testing.T, s *models.Store, workspaceID string) models.AuditEntry {
	t.Helper()
	entries, _, err := s.ListAuditEntries(t.Context(), workspaceID, models.AuditFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("no audit entry in workspace %s", workspaceID)
	}
	return entries[0]
}

// rowText is every column of the rows a query returns, as text, for "this value is
// stored nowhere" checks.
func rowText(t *testing.T, s *models.Store, query string, args ...any) []string {
	t.Helper()
	rows, err := s.DB().Raw(query, args...).Rows()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			out = append(out, fmt.Sprintf("%s=%v", cols[i], v))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSetupFirstAdmin(t *testing.T) {
	t.Parallel()
	good := models.NewUser{Email: "  Ada@Example.COM ", Name: " Ada ", Password: testutil.Password}
	invalid := []struct {
		name      string
		workspace string
		user      models.NewUser
		field     string
	}{
		{"empty workspace", "   ", good, "workspace"},
		{"workspace over 100 characters", strings.Repeat("w", 101), good, "workspace"},
		{"empty e-mail", "Acme", models.NewUser{Email: " ", Password: testutil.Password}, "email"},
		{"e-mail without @", "Acme", models.NewUser{Email: "ada.example.com", Password: testutil.Password}, "email"},
		{"e-mail with a display name", "Acme", models.NewUser{Email: "Ada <ada@example.com>", Password: testutil.Password}, "email"},
		{"e-mail without a dot", "Acme", models.NewUser{Email: "ada@localhost", Password: testutil.Password}, "email"},
		{"password of 9 characters", "Acme", models.NewUser{Email: "ada@example.com", Password: "123456789"}, "password"},
		{"password of 73 bytes", "Acme", models.NewUser{Email: "ada@example.com", Password: strings.Repeat("p", 73)}, "password"},
		{"password of 37 runes but 74 bytes", "Acme", models.NewUser{Email: "ada@example.com", Password: strings.Repeat("é", 37)}, "password"},
	}
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		for _, tc := range invalid {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.SetupFirstAdmin(ctx, tc.workspace, tc.user)
				wantField(t, err, tc.field)
				if need := needsSetup(t, s); !need {
					t.Fatal("a refused setup ended setup")
				}
			})
		}

		if need := needsSetup(t, s); !need {
			t.Fatal("NeedsSetup = false on a new database")
		}
		// Exactly 72 bytes is the most bcrypt takes, so it is allowed.
		pw72 := strings.Repeat("x", 72)
		u, err := s.SetupFirstAdmin(ctx, "  Acme Corp ", models.NewUser{Email: good.Email, Name: good.Name, Password: pw72, Role: models.RoleViewer})
		if err != nil {
			t.Fatalf("SetupFirstAdmin: %v", err)
		}
		if u.Email != "ada@example.com" || u.Name != "Ada" {
			t.Errorf("user = %q %q, want the e-mail lower-cased and both trimmed", u.Email, u.Name)
		}
		if u.Role != models.RoleAdmin {
			t.Errorf("role = %q, want admin whatever the input said", u.Role)
		}
		if u.WorkspaceID != models.DefaultWorkspaceID {
			t.Errorf("workspace = %q, want the default workspace", u.WorkspaceID)
		}
		if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(pw72)) != nil {
			t.Errorf("stored password hash does not match the password")
		}
		if need := needsSetup(t, s); need {
			t.Error("NeedsSetup = true after setup")
		}
		w := workspaceByID(t, s, models.DefaultWorkspaceID)
		if w.Name != "Acme Corp" {
			t.Errorf("workspace name = %q, want %q", w.Name, "Acme Corp")
		}
		if w.SetupCompletedAt == nil {
			t.Error("SetupCompletedAt not set")
		}

		_, err = s.SetupFirstAdmin(ctx, "Other", models.NewUser{Email: "eve@example.com", Password: testutil.Password})
		if !errors.Is(err, models.ErrSetupDone) {
			t.Fatalf("second setup: err = %v, want ErrSetupDone", err)
		}
		if n := countUsers(t, s, models.DefaultWorkspaceID); n != 1 {
			t.Errorf("%d users after a refused second setup, want 1", n)
		}
		if w := workspaceByID(t, s, models.DefaultWorkspaceID); w.Name != "Acme Corp" {
			t.Errorf("second setup renamed the workspace to %q", w.Name)
		}
	})
}

func TestSetupIsOverOnceAnyUserExists(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// addUser makes a user some other way than /setup; it returns the workspace
		// whose user it made.
		addUser func(t *testing.T, s *models.Store) string
	}{
		{"user of the default workspace (sluice user create)", func(t *testing.T, s *models.Store) string {
			sys := models.Actor{WorkspaceID: models.DefaultWorkspaceID, Type: models.ActorSystem, Name: "cli"}
			addUser(t, s, sys, "ops@example.com", models.RoleAdmin)
			return models.DefaultWorkspaceID
		}},
		{"user of another workspace", func(t *testing.T, s *models.Store) string {
			boss, _ := otherWorkspace(t, s)
			return boss.WorkspaceID
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			testutil.EachStore(t, func(t *testing.T, s *models.Store) {
				ws := tc.addUser(t, s)
				if needsSetup(t, s) {
					t.Error("NeedsSetup = true with a user")
				}
				if w := workspaceByID(t, s, ws); w.SetupCompletedAt == nil {
					t.Error("the user's workspace is not marked set up")
				}
				_, err := s.SetupFirstAdmin(t.Context(), "Late", models.NewUser{Email: "late@example.com", Password: testutil.Password})
				if !errors.Is(err, models.ErrSetupDone) {
					t.Fatalf("SetupFirstAdmin: err = %v, want ErrSetupDone", err)
				}
				if w := workspaceByID(t, s, models.DefaultWorkspaceID); w.Name == "Late" {
					t.Error("a refused setup renamed the workspace")
				}
			})
		})
	}
}

func TestSetupFirstAdminSucceedsOnceUnderRace(t *testing.T) {
	t.Parallel()
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		const n = 4
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = s.SetupFirstAdmin(t.Context(), "Acme", models.NewUser{Email: fmt.Sprintf("admin%d@example.com", i), Password: testutil.Password})
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, models.ErrSetupDone):
				t.Errorf("concurrent setup: err = %v, want nil or ErrSetupDone", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d setups succeeded, want exactly 1", ok)
		}
		if n := countUsers(t, s, models.DefaultWorkspaceID); n != 1 {
			t.Errorf("%d users, want 1", n)
		}
	})
}

func TestCreateUser(t *testing.T) {
	t.Parallel()
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		_, admin := testutil.Admin(t, s)
		bob, err := s.CreateUser(ctx, admin, models.NewUser{Email: " Bob@Example.com", Name: "Bob", Password: testutil.Password, Role: models.RoleEditor})
		if err != nil {
			t.Fatal(err)
		}
		if bob.Email != "bob@example.com" || bob.Role != models.RoleEditor || bob.WorkspaceID != admin.WorkspaceID {
			t.Errorf("created %+v", bob)
		}

		tests := []struct {
			name  string
			user  models.NewUser
			field string
		}{
			{"same e-mail", models.NewUser{Email: "bob@example.com", Password: testutil.Password, Role: models.RoleViewer}, "email"},
			{"same e-mail in capitals", models.NewUser{Email: "BOB@EXAMPLE.COM", Password: testutil.Password, Role: models.RoleViewer}, "email"},
			{"admin's e-mail, mixed case", models.NewUser{Email: " Admin@Example.com ", Password: testutil.Password, Role: models.RoleViewer}, "email"},
			{"unknown role", models.NewUser{Email: "carol@example.com", Password: testutil.Password, Role: "owner"}, "role"},
			{"empty role", models.NewUser{Email: "carol@example.com", Password: testutil.Password}, "role"},
			{"role in capitals", models.NewUser{Email: "carol@example.com", Password: testutil.Password, Role: "Admin"}, "role"},
			{"short password", models.NewUser{Email: "carol@example.com", Password: "short", Role: models.RoleViewer}, "password"},
			{"name over 100 characters", models.NewUser{Email: "carol@example.com", Name: strings.Repeat("n", 101), Password: testutil.Password, Role: models.RoleViewer}, "name"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				before := len(allEntries(t, s, admin.WorkspaceID))
				_, err := s.CreateUser(ctx, admin, tc.user)
				wantField(t, err, tc.field)
				if n := countUsers(t, s, admin.WorkspaceID); n != 2 {
					t.Errorf("%d users, want 2: a refused create must not add one", n)
				}
				if after := len(allEntries(t, s, admin.WorkspaceID)); after != before {
					t.Errorf("a refused create wrote %d audit entries", after-before)
				}
			})
		}
	})
}

func TestLastAdminIsKept(t *testing.T) {
	t.Parallel()
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		ada, adaActor := testutil.Admin(t, s)
		bob := addUser(t, s, adaActor, "bob@example.com", models.RoleEditor)
		// A token or Sluice itself is not the admin, so "you cannot remove yourself"
		// does not hide the last-admin rule.
		tokenActor := models.Actor{WorkspaceID: ada.WorkspaceID, Type: models.ActorToken, ID: "tok", Name: "token ci", Role: models.RoleAdmin}

		for _, role := range []models.Role{models.RoleEditor, models.RoleOperator, models.RoleViewer} {
			t.Run("demote last admin to "+string(role), func(t *testing.T) {
				_, err := s.UpdateUserRole(ctx, adaActor, ada.ID, role)
				wantField(t, err, "role")
				if u := getUser(t, s, ada.WorkspaceID, ada.ID); u.Role != models.RoleAdmin {
					t.Errorf("role = %q after a refused demotion", u.Role)
				}
			})
		}
		t.Run("remove last admin", func(t *testing.T) {
			wantField(t, s.DeleteUser(ctx, tokenActor, ada.ID), "user")
			getUser(t, s, ada.WorkspaceID, ada.ID)
		})
		t.Run("admin to admin is a no-op", func(t *testing.T) {
			if _, err := s.UpdateUserRole(ctx, adaActor, ada.ID, models.RoleAdmin); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("invalid role", func(t *testing.T) {
			_, err := s.UpdateUserRole(ctx, adaActor, bob.ID, "root")
			wantField(t, err, "role")
		})

		// With a second admin, either may go, until one is left again.
		if _, err := s.UpdateUserRole(ctx, adaActor, bob.ID, models.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateUserRole(ctx, tokenActor, ada.ID, models.RoleViewer); err != nil {
			t.Fatalf("demoting one of two admins: %v", err)
		}
		_, err := s.UpdateUserRole(ctx, tokenActor, bob.ID, models.RoleEditor)
		wantField(t, err, "role")
		wantField(t, s.DeleteUser(ctx, tokenActor, bob.ID), "user")
		if _, err := s.UpdateUserRole(ctx, tokenActor, ada.ID, models.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteUser(ctx, tokenActor, bob.ID); err != nil {
			t.Fatalf("removing one of two admins: %v", err)
		}
		wantField(t, s.DeleteUser(ctx, tokenActor, ada.ID), "user")
	})
}

func TestDeleteUser(t *testing.T) {
	t.Parallel()
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		ada, adaActor := testutil.Admin(t, s)
		bob := addUser(t, s, adaActor, "bob@example.com", models.RoleAdmin)
		carol := addUser(t, s, adaActor, "carol@example.com", models.RoleViewer)

		// Not the last admin, yet nobody removes themselves.
		wantField(t, s.DeleteUser(ctx, adaActor, ada.ID), "user")
		getUser(t, s, ada.WorkspaceID, ada.ID)

		if err := s.DeleteUser(ctx, adaActor, carol.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UserByID(ctx, ada.WorkspaceID, carol.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("removed user: err = %v, want ErrNotFound", err)
		}
		if err := s.DeleteUser(ctx, adaActor, carol.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("removing twice: err = %v, want ErrNotFound", err)
		}
		// Ada owns the organization and has no other workspace: she stays.
		wantField(t, s.DeleteUser(ctx, testutil.ActorOf(bob), ada.ID), "user")
		// Bob, an admin who owns nothing, may go.
		if err := s.DeleteUser(ctx, adaActor, bob.ID); err != nil {
			t.Fatalf("ada removes another admin: %v", err)
		}
	})
}

func TestOtherWorkspaceUserIsNotFound(t *testing.T) {
	t.Parallel()
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		_, a := testutil.Admin(t, s)
		boss, _ := otherWorkspace(t, s)
		// A user of workspace B who is not its last admin, so only scoping can refuse.
		sys := models.Actor{WorkspaceID: boss.WorkspaceID, Type: models.ActorSystem, Name: "test"}
		bob := addUser(t, s, sys, "bob@globex.example", models.RoleEditor)

		tests := []struct {
			name string
			do   func() error
		}{
			{"UserByID", func() error { _, err := s.UserByID(ctx, a.WorkspaceID, bob.ID); return err }},
			{"UpdateUserRole", func() error { _, err := s.UpdateUserRole(ctx, a, bob.ID, models.RoleViewer); return err }},
			{"UpdateUserRole to admin", func() error { _, err := s.UpdateUserRole(ctx, a, bob.ID, models.RoleAdmin); return err }},
			{"DeleteUser", func() error { return s.DeleteUser(ctx, a, bob.ID) }},
			{"DeleteUser of B's admin", func() error { return s.DeleteUser(ctx, a, boss.ID) }},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if err := tc.do(); !errors.Is(err, models.ErrNotFound) {
					t.Fatalf("err = %v, want ErrNotFound", err)
				}
			})
		}
		if u := getUser(t, s, bob.WorkspaceID, bob.ID); u.Role != models.RoleEditor {
			t.Errorf("B's user now has role %q", u.Role)
		}
		getUser(t, s, boss.WorkspaceID, boss.ID)
		users, err := s.ListUsers(ctx, a.WorkspaceID)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range users {
			if u.WorkspaceID != a.WorkspaceID {
				t.Errorf("ListUsers of A returned %s of workspace %s", u.Email, u.WorkspaceID)
			}
		}
	})
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		ada, _ := testutil.Admin(t, s)
		if ada.LastSignInAt != nil {
			t.Fatal("LastSignInAt set before any sign-in")
		}
		tests := []struct {
			name            string
			email, password string
			wantErr         error
		}{
			{"right password", "admin@example.com", testutil.Password, nil},
			{"e-mail in capitals with spaces", "  ADMIN@example.com ", testutil.Password, nil},
			{"wrong password", "admin@example.com", testutil.Password + "!", models.ErrBadCredentials},
			{"password in other case", "admin@example.com", strings.ToUpper(testutil.Password), models.ErrBadCredentials},
			{"empty password", "admin@example.com", "", models.ErrBadCredentials},
			{"unknown e-mail", "nobody@example.com", testutil.Password, models.ErrBadCredentials},
			{"the stored hash as password", "admin@example.com", ada.PasswordHash, models.ErrBadCredentials},
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				start := time.Now()
				u, err := s.Authenticate(ctx, tc.email, tc.password, fmt.Sprintf("192.0.2.%d", i))
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if tc.wantErr != nil {
					if u != nil {
						t.Errorf("a failed sign-in returned user %s", u.Email)
					}
					return
				}
				if u.ID != ada.ID {
					t.Errorf("signed in as %s, want %s", u.ID, ada.ID)
				}
				got := getUser(t, s, ada.WorkspaceID, ada.ID).LastSignInAt
				if got == nil || got.Before(start.Add(-time.Second)) || got.After(time.Now().Add(time.Second)) {
					t.Errorf("LastSignInAt = %v, want about %v", got, start)
				}
				e := latestEntry(t, s, ada.WorkspaceID)
				if e.Action != "user.sign_in" || e.ActorID != ada.ID || e.ResourceID != ada.ID {
					t.Errorf("latest audit entry = %s by %s on %s, want user.sign_in by and on %s", e.Action, e.ActorID, e.ResourceID, ada.ID)
				}
			})
		}
	})
}

func TestAuthenticateThrottlesPerIP(t *testing.T) {
	t.Parallel()
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		testutil.Admin(t, s)
		const ip = "203.0.113.50"
		for i := range 20 {
			if _, err := s.Authenticate(ctx, fmt.Sprintf("guess%d@example.com", i), "wrong password", ip); !errors.Is(err, models.ErrBadCredentials) {
				t.Fatalf("failure %d: err = %v, want ErrBadCredentials", i+1, err)
			}
		}
		if _, err := s.Authenticate(ctx, "admin@example.com", testutil.Password, ip); !errors.Is(err, models.ErrThrottled) {
			t.Errorf("21st try from the address: err = %v, want ErrThrottled", err)
		}
		if _, err := s.Authenticate(ctx, "admin@example.com", testutil.Password, "203.0.113.51"); err != nil {
			t.Errorf("another address: err = %v, want it to sign in", err)
		}
	})
}

func TestAPITokens(t *testing.T) {
	t.Parallel()
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		_, a := testutil.Admin(t, s)
		_, b := otherWorkspace(t, s)

		tok, plain, err := s.CreateAPIToken(ctx, a, " terraform ", models.RoleEditor)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(plain, "slu_") || len(plain) < 30 {
			t.Errorf("plaintext %q, want slu_ and at least 160 random bits", plain)
		}
		sum := sha256.Sum256([]byte(plain))
		if tok.TokenHash != hex.EncodeToString(sum[:]) || tok.TokenHash != models.HashToken(plain) {
			t.Errorf("TokenHash = %q, want the hex SHA-256 of the token", tok.TokenHash)
		}
		if tok.Name != "terraform" || tok.Role != models.RoleEditor || tok.WorkspaceID != a.WorkspaceID || tok.CreatedBy != a.Name {
			t.Errorf("token = %+v", tok)
		}
		if _, plain2, _ := s.CreateAPIToken(ctx, a, "second", models.RoleViewer); plain2 == plain {
			t.Error("two tokens with the same value")
		}

		// What is stored: the hash, and a short prefix to recognise the token by.
		secret := strings.TrimPrefix(plain, tok.TokenPrefix)
		if len(secret) < 20 {
			t.Fatalf("prefix %q shows too much of %q", tok.TokenPrefix, plain)
		}
		cols := rowText(t, s, "SELECT * FROM api_tokens WHERE id = ?", tok.ID)
		if !slices.Contains(cols, "token_hash="+tok.TokenHash) {
			t.Errorf("row %v does not hold the hash", cols)
		}
		for _, table := range []string{"api_tokens", "audit_entries"} {
			for _, col := range rowText(t, s, "SELECT * FROM "+table) {
				if strings.Contains(col, plain) || strings.Contains(col, secret) {
					t.Errorf("%s stores the token: %s", table, col)
				}
			}
		}

		found, err := s.APITokenByValue(ctx, plain)
		if err != nil {
			t.Fatal(err)
		}
		if found.ID != tok.ID || found.LastUsedAt == nil {
			t.Errorf("APITokenByValue = %s (last used %v), want %s with its use noted", found.ID, found.LastUsedAt, tok.ID)
		}
		for _, v := range []string{"slu_unknown", "", tok.TokenHash, tok.TokenPrefix, strings.ToUpper(plain)} {
			if _, err := s.APITokenByValue(ctx, v); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("APITokenByValue(%q): err = %v, want ErrNotFound", v, err)
			}
		}

		t.Run("invalid input", func(t *testing.T) {
			tests := []struct{ name, tokenName, role, field string }{
				{"empty name", "  ", "viewer", "name"},
				{"long name", strings.Repeat("n", 101), "viewer", "name"},
				{"unknown role", "ci", "superuser", "role"},
			}
			for _, tc := range tests {
				_, _, err := s.CreateAPIToken(ctx, a, tc.tokenName, models.Role(tc.role))
				wantField(t, err, tc.field)
			}
		})

		if ts, err := s.ListAPITokens(ctx, b.WorkspaceID); err != nil || len(ts) != 0 {
			t.Errorf("workspace B lists %d of A's tokens", len(ts))
		}
		if err := s.DeleteAPIToken(ctx, b, tok.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("delete from another workspace: err = %v, want ErrNotFound", err)
		}
		if _, err := s.APITokenByValue(ctx, plain); err != nil {
			t.Errorf("token stopped working after a refused delete: %v", err)
		}
		if err := s.DeleteAPIToken(ctx, a, tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.APITokenByValue(ctx, plain); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("revoked token: err = %v, want ErrNotFound", err)
		}
		if err := s.DeleteAPIToken(ctx, a, tok.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("second delete: err = %v, want ErrNotFound", err)
		}
	})
}

func TestEnsureBootstrapToken(t *testing.T) {
	t.Parallel()
	const value = "bootstrap-token-1234567890"
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		steps := []struct {
			name        string
			value       string
			wantCreated bool
			wantErr     bool
		}{
			{"15 characters", "123456789012345", false, true},
			{"empty", "", false, true},
			{"first call", value, true, false},
			{"second call", value, false, false},
			{"another value once a token exists", "another-bootstrap-value", false, false},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				created, err := s.EnsureBootstrapToken(ctx, st.value)
				if (err != nil) != st.wantErr || created != st.wantCreated {
					t.Fatalf("EnsureBootstrapToken(%q) = %v, %v; want created %v, error %v", st.value, created, err, st.wantCreated, st.wantErr)
				}
			})
		}
		tok, err := s.APITokenByValue(ctx, value)
		if err != nil {
			t.Fatal(err)
		}
		if tok.Role != models.RoleAdmin || tok.WorkspaceID != models.DefaultWorkspaceID {
			t.Errorf("bootstrap token is %s in %s, want admin in the default workspace", tok.Role, tok.WorkspaceID)
		}
		if _, err := s.APITokenByValue(ctx, "another-bootstrap-value"); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("a later value became a token: err = %v", err)
		}
		if ts, err := s.ListAPITokens(ctx, models.DefaultWorkspaceID); err != nil || len(ts) != 1 {
			t.Errorf("%d tokens (err %v), want 1", len(ts), err)
		}
		e := latestEntry(t, s, models.DefaultWorkspaceID)
		if e.Action != "api_token.create" || e.ActorType != models.ActorSystem {
			t.Errorf("audit entry %s by %s, want api_token.create by system", e.Action, e.ActorType)
		}
	})
}

func TestEnsureBootstrapTokenWithExistingToken(t *testing.T) {
	t.Parallel()
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		_, a := testutil.Admin(t, s)
		if _, _, err := s.CreateAPIToken(t.Context(), a, "ci", models.RoleViewer); err != nil {
			t.Fatal(err)
		}
		created, err := s.EnsureBootstrapToken(t.Context(), "bootstrap-token-1234567890")
		if err != nil || created {
			t.Fatalf("EnsureBootstrapToken = %v, %v; want false, nil when a token exists", created, err)
		}
		if _, err := s.APITokenByValue(t.Context(), "bootstrap-token-1234567890"); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("bootstrap value became a token: err = %v", err)
		}
	})
}

func TestAuditTrail(t *testing.T) {
	t.Parallel()
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		var (
			ada      *models.User
			a        models.Actor
			bob      *models.User
			tok      *models.APIToken
			secrets  []string // must appear in no audit entry
			password = "s3cret-Pa55word!"
		)
		type snap map[string]any
		steps := []struct {
			action, resourceType string
			do                   func(t *testing.T) (resourceID string)
			before, after        snap // nil: no snapshot
		}{
			{"workspace.setup", "user", func(t *testing.T) string {
				var err error
				if ada, err = s.SetupFirstAdmin(ctx, "Acme", models.NewUser{Email: "ada@example.com", Name: "Ada", Password: password}); err != nil {
					t.Fatal(err)
				}
				a = testutil.ActorOf(ada)
				secrets = append(secrets, ada.PasswordHash)
				return ada.ID
			}, nil, snap{"email": "ada@example.com", "name": "Ada", "role": "admin"}},
			{"user.create", "user", func(t *testing.T) string {
				var err error
				if bob, err = s.CreateUser(ctx, a, models.NewUser{Email: "bob@example.com", Password: password, Role: models.RoleViewer}); err != nil {
					t.Fatal(err)
				}
				secrets = append(secrets, bob.PasswordHash)
				return bob.ID
			}, nil, snap{"email": "bob@example.com", "name": "", "role": "viewer"}},
			{"user.update", "user", func(t *testing.T) string {
				if _, err := s.UpdateUserRole(ctx, a, bob.ID, models.RoleEditor); err != nil {
					t.Fatal(err)
				}
				return bob.ID
			}, snap{"email": "bob@example.com", "name": "", "role": "viewer"}, snap{"email": "bob@example.com", "name": "", "role": "editor"}},
			{"api_token.create", "api_token", func(t *testing.T) string {
				var plain string
				var err error
				tok, plain, err = s.CreateAPIToken(ctx, a, "ci", models.RoleOperator)
				if err != nil {
					t.Fatal(err)
				}
				secrets = append(secrets, plain, tok.TokenHash)
				return tok.ID
			}, nil, snap{"name": "ci", "role": "operator", "prefix": prefixOf(&tok)}},
			{"api_token.delete", "api_token", func(t *testing.T) string {
				if err := s.DeleteAPIToken(ctx, a, tok.ID); err != nil {
					t.Fatal(err)
				}
				return tok.ID
			}, snap{"name": "ci", "role": "operator", "prefix": prefixOf(&tok)}, nil},
			{"user.sign_in", "session", func(t *testing.T) string {
				if _, err := s.Authenticate(ctx, "bob@example.com", password, "192.0.2.1"); err != nil {
					t.Fatal(err)
				}
				return bob.ID
			}, nil, nil},
			{"user.sign_out", "session", func(t *testing.T) string {
				if err := s.RecordSignOut(ctx, testutil.ActorOf(bob)); err != nil {
					t.Fatal(err)
				}
				return bob.ID
			}, nil, nil},
			{"user.delete", "user", func(t *testing.T) string {
				if err := s.DeleteUser(ctx, a, bob.ID); err != nil {
					t.Fatal(err)
				}
				return bob.ID
			}, snap{"email": "bob@example.com", "name": "", "role": "editor"}, nil},
		}
		for _, st := range steps {
			ok := t.Run(st.action, func(t *testing.T) {
				n := len(allEntries(t, s, models.DefaultWorkspaceID))
				id := st.do(t)
				if got := len(allEntries(t, s, models.DefaultWorkspaceID)); got != n+1 {
					t.Fatalf("%d new audit entries, want 1", got-n)
				}
				e := latestEntry(t, s, models.DefaultWorkspaceID)
				if e.Action != st.action || e.ResourceType != st.resourceType || e.ResourceID != id {
					t.Errorf("entry = %s %s %s, want %s %s %s", e.Action, e.ResourceType, e.ResourceID, st.action, st.resourceType, id)
				}
				if e.ActorType != models.ActorUser || e.ActorID == "" || e.ActorName == "" {
					t.Errorf("actor = %q %q %q, want the user who acted", e.ActorType, e.ActorID, e.ActorName)
				}
				checkSnapshot(t, "before", e.BeforeJSON, st.before)
				checkSnapshot(t, "after", e.AfterJSON, st.after)
			})
			if !ok {
				return // later steps build on this one
			}
		}

		t.Run("refused changes write nothing", func(t *testing.T) {
			n := len(allEntries(t, s, models.DefaultWorkspaceID))
			_, err := s.UpdateUserRole(ctx, a, ada.ID, models.RoleViewer)
			wantField(t, err, "role")
			wantField(t, s.DeleteUser(ctx, a, ada.ID), "user")
			_, err = s.CreateUser(ctx, a, models.NewUser{Email: "ada@example.com", Password: password, Role: models.RoleViewer})
			wantField(t, err, "email")
			if _, err := s.Authenticate(ctx, "ada@example.com", "wrong password", "192.0.2.2"); !errors.Is(err, models.ErrBadCredentials) {
				t.Fatal(err)
			}
			if got := len(allEntries(t, s, models.DefaultWorkspaceID)); got != n {
				t.Errorf("%d audit entries for refused changes, want 0", got-n)
			}
		})

		t.Run("no secrets", func(t *testing.T) {
			for _, e := range allEntries(t, s, models.DefaultWorkspaceID) {
				for _, js := range []*string{e.BeforeJSON, e.AfterJSON} {
					if js == nil {
						continue
					}
					for _, bad := range append([]string{"password", "$2a$", password}, secrets...) {
						if strings.Contains(strings.ToLower(*js), strings.ToLower(bad)) {
							t.Errorf("%s entry holds %q: %s", e.Action, bad, *js)
						}
					}
				}
			}
		})
	})
}

// prefixOf reads the token's prefix late: when the snapshot is compared, after the step made the token.
func prefixOf(t **models.APIToken) func() string {
	return func() string { return (*t).TokenPrefix }
}

// checkSnapshot compares an audit JSON snapshot with want; func values are read late.
func checkSnapshot[M ~map[string]any](t *testing.T, which string, js *string, want M) {
	t.Helper()
	if want == nil {
		if js != nil {
			t.Errorf("%s = %s, want none", which, *js)
		}
		return
	}
	if js == nil {
		t.Errorf("%s missing, want %v", which, want)
		return
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(*js), &got); err != nil {
		t.Fatalf("%s is not JSON: %v", which, err)
	}
	if len(got) != len(want) {
		t.Errorf("%s = %s, want exactly the keys of %v", which, *js, want)
	}
	for k, v := range want {
		if f, ok := v.(func() string); ok {
			v = f()
		}
		if got[k] != v {
			t.Errorf("%s[%q] = %v, want %v", which, k, got[k], v)
		}
	}
}

func TestListAuditEntries(t *testing.T) {
	t.Parallel()
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		ada, a := testutil.Admin(t, s)                               // workspace.setup
		bob := addUser(t, s, a, "bob@example.com", models.RoleAdmin) // user.create
		bobActor := testutil.ActorOf(bob)
		carol := addUser(t, s, bobActor, "carol@example.com", models.RoleViewer)        // user.create by bob
		if _, _, err := s.CreateAPIToken(ctx, a, "ci", models.RoleViewer); err != nil { // api_token.create
			t.Fatal(err)
		}
		if _, _, err := s.CreateAPIToken(ctx, bobActor, "etl", models.RoleEditor); err != nil { // api_token.create by bob
			t.Fatal(err)
		}
		if _, err := s.UpdateUserRole(ctx, a, carol.ID, models.RoleOperator); err != nil { // user.update
			t.Fatal(err)
		}
		_, b := otherWorkspace(t, s)
		if _, _, err := s.CreateAPIToken(ctx, b, "globex-ci", models.RoleViewer); err != nil {
			t.Fatal(err)
		}

		all := allEntries(t, s, ada.WorkspaceID)
		if len(all) != 6 {
			t.Fatalf("%d entries in A, want 6", len(all))
		}
		mid := all[3].At // the third-oldest entry

		type pick func(models.AuditEntry) bool
		tests := []struct {
			name   string
			ws     string
			filter models.AuditFilter
			want   pick // which of A's entries the filter keeps
			count  int
		}{
			{"no filter", ada.WorkspaceID, models.AuditFilter{}, func(models.AuditEntry) bool { return true }, 6},
			{"actor", ada.WorkspaceID, models.AuditFilter{ActorID: bob.ID}, func(e models.AuditEntry) bool { return e.ActorID == bob.ID }, 2},
			{"resource type", ada.WorkspaceID, models.AuditFilter{ResourceType: "api_token"}, func(e models.AuditEntry) bool { return e.ResourceType == "api_token" }, 2},
			{"actor and resource type", ada.WorkspaceID, models.AuditFilter{ActorID: ada.ID, ResourceType: "user"}, func(e models.AuditEntry) bool {
				return e.ActorID == ada.ID && e.ResourceType == "user"
			}, 3},
			{"from (inclusive)", ada.WorkspaceID, models.AuditFilter{From: mid}, func(e models.AuditEntry) bool { return !e.At.Before(mid) }, 4},
			{"to (exclusive)", ada.WorkspaceID, models.AuditFilter{To: mid}, func(e models.AuditEntry) bool { return e.At.Before(mid) }, 2},
			{"from in another time zone", ada.WorkspaceID, models.AuditFilter{From: mid.In(time.FixedZone("UTC+5", 5*3600))}, func(e models.AuditEntry) bool { return !e.At.Before(mid) }, 4},
			{"from and to", ada.WorkspaceID, models.AuditFilter{From: all[4].At, To: all[1].At}, func(e models.AuditEntry) bool {
				return !e.At.Before(all[4].At) && e.At.Before(all[1].At)
			}, 3},
			{"to before everything", ada.WorkspaceID, models.AuditFilter{To: all[5].At.Add(-time.Hour)}, func(models.AuditEntry) bool { return false }, 0},
			{"unknown actor", ada.WorkspaceID, models.AuditFilter{ActorID: "nobody"}, func(models.AuditEntry) bool { return false }, 0},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, next, err := s.ListAuditEntries(ctx, tc.ws, tc.filter)
				if err != nil {
					t.Fatal(err)
				}
				if next != "" {
					t.Errorf("next cursor %q on a short list", next)
				}
				var want []string
				for _, e := range all {
					if tc.want(e) {
						want = append(want, e.ID)
					}
				}
				if ids := idsOf(got); !slices.Equal(ids, want) || len(ids) != tc.count {
					t.Errorf("got %v, want %v (%d entries)", actionsOf(got), want, tc.count)
				}
			})
		}

		t.Run("scoped to the workspace", func(t *testing.T) {
			inB := allEntries(t, s, b.WorkspaceID)
			if len(inB) != 2 { // B's admin created, then B's token
				t.Fatalf("%d entries in B, want 2: %v", len(inB), actionsOf(inB))
			}
			for _, e := range inB {
				if e.WorkspaceID != b.WorkspaceID || slices.Contains(idsOf(all), e.ID) {
					t.Errorf("entry %s %s crosses workspaces", e.Action, e.ID)
				}
			}
			got, _, err := s.ListAuditEntries(ctx, ada.WorkspaceID, models.AuditFilter{ActorID: b.ID})
			if err != nil || len(got) != 0 {
				t.Errorf("A filtered by B's admin: %v, %v; want nothing", actionsOf(got), err)
			}
		})

		t.Run("pages", func(t *testing.T) {
			for _, f := range []models.AuditFilter{{Limit: 2}, {Limit: 4}, {Limit: 1, ResourceType: "user"}} {
				var walked []models.AuditEntry
				cursor, pages := "", 0
				for {
					f.Cursor = cursor
					page, next, err := s.ListAuditEntries(ctx, ada.WorkspaceID, f)
					if err != nil {
						t.Fatal(err)
					}
					pages++
					if len(page) > f.Limit || len(page) == 0 {
						t.Fatalf("page %d has %d entries, limit %d", pages, len(page), f.Limit)
					}
					walked = append(walked, page...)
					if next == "" {
						break
					}
					if pages > 10 {
						t.Fatal("pagination does not end")
					}
					cursor = next
				}
				var want []string
				for _, e := range all {
					if f.ResourceType == "" || e.ResourceType == f.ResourceType {
						want = append(want, e.ID)
					}
				}
				if got := idsOf(walked); !slices.Equal(got, want) {
					t.Errorf("limit %d %q: walked %v, want %v", f.Limit, f.ResourceType, got, want)
				}
				if wantPages := (len(want) + f.Limit - 1) / f.Limit; pages != wantPages {
					t.Errorf("limit %d: %d pages, want %d", f.Limit, pages, wantPages)
				}
			}
			for i := 1; i < len(all); i++ {
				prev, cur := all[i-1], all[i]
				if cur.At.After(prev.At) || (cur.At.Equal(prev.At) && cur.ID > prev.ID) {
					t.Errorf("entry %d (%s) is newer than entry %d (%s)", i, cur.At, i-1, prev.At)
				}
			}
			if seen := idsOf(all); len(slices.Compact(slices.Sorted(slices.Values(seen)))) != len(seen) {
				t.Errorf("duplicate entries: %v", seen)
			}
		})

		t.Run("pages through entries of the same instant", func(t *testing.T) {
			// Entries made within one clock tick tie on "at"; the id breaks the tie.
			w, err := s.CreateWorkspace(ctx, "Ties")
			if err != nil {
				t.Fatal(err)
			}
			at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
			// Inserted out of id order, so neither insertion nor its reverse is the answer.
			for _, i := range []int{2, 0, 4, 1, 3} {
				id := fmt.Sprintf("0190000-tie-%d", i)
				e := models.AuditEntry{ID: id, WorkspaceID: w.ID, At: at, ActorType: models.ActorSystem, Action: "test.tie", ResourceType: "test"}
				if err := s.DB().Create(&e).Error; err != nil {
					t.Fatal(err)
				}
			}
			want := []string{"0190000-tie-4", "0190000-tie-3", "0190000-tie-2", "0190000-tie-1", "0190000-tie-0"}
			var got []string
			cursor := ""
			for range 10 {
				page, next, err := s.ListAuditEntries(ctx, w.ID, models.AuditFilter{Limit: 2, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, idsOf(page)...)
				if cursor = next; cursor == "" {
					break
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("walked %v, want %v", got, want)
			}
		})

		t.Run("bad cursor", func(t *testing.T) {
			for _, c := range []string{
				"garbage!!",
				base64.RawURLEncoding.EncodeToString([]byte("no separator")),
				base64.RawURLEncoding.EncodeToString([]byte("yesterday|0190")),
				base64.StdEncoding.EncodeToString([]byte(time.Now().Format(time.RFC3339Nano)+"|x")) + "==",
			} {
				_, _, err := s.ListAuditEntries(ctx, ada.WorkspaceID, models.AuditFilter{Cursor: c})
				if !errors.Is(err, models.ErrInvalid) || !errors.Is(err, models.ErrBadCursor) {
					t.Errorf("cursor %q: err = %v, want one wrapping ErrInvalid", c, err)
				}
			}
		})
	})
}

func idsOf(entries []models.AuditEntry) []string {
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.ID
	}
	return ids
}

func actionsOf(entries []models.AuditEntry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Action + "@" + e.At.Format(time.RFC3339Nano)
	}
	return out
}
