package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"sluice/models"
)

func envFor(dir string) func(string) string {
	env := map[string]string{"SLUICE_DATA_DIR": dir, "SLUICE_CONFIG": filepath.Join(dir, "absent.yaml")}
	return func(k string) string { return env[k] }
}

func TestCommands(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	getenv := envFor(dir)
	exec := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, args, &out, getenv)
		return out.String(), err
	}

	out, err := exec("version")
	if err != nil || !strings.HasPrefix(out, "sluice ") {
		t.Fatalf("version = %q, %v", out, err)
	}
	out, err = exec("migrate")
	if err != nil || !strings.HasPrefix(out, "database at version ") {
		t.Fatalf("migrate = %q, %v", out, err)
	}
	if _, err := exec("user", "create", "--email", "ops@acme.example", "--password", "a long passphrase", "--role", "ADMIN"); err != nil {
		t.Fatalf("user create: %v", err)
	}
	if _, err := exec("user", "create", "--email", "bad", "--password", "a long passphrase", "--role", "admin"); err == nil || !strings.Contains(err.Error(), "e-mail") {
		t.Fatalf("user create with a bad e-mail: err = %v", err)
	}
	token, err := exec("token", "create", "--role", "viewer", "--name", "ci")
	if err != nil || !strings.HasPrefix(token, "slu_") {
		t.Fatalf("token create = %q, %v", token, err)
	}
	if _, err := exec("token", "create", "--role", "root"); err == nil {
		t.Fatal("token create accepted an unknown role")
	}
	if _, err := exec("frobnicate"); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("unknown command: err = %v", err)
	}

	// What the commands made is really there: the user ended setup, the token works.
	store, err := models.Open("sqlite://"+filepath.Join(dir, "sluice.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if need, _ := store.NeedsSetup(ctx); need {
		t.Error("after `user create` the installation still asks for setup")
	}
	tok, err := store.APITokenByValue(ctx, strings.TrimSpace(token))
	if err != nil || tok.Role != models.RoleViewer || tok.WorkspaceID != models.DefaultWorkspaceID {
		t.Fatalf("created token = %+v, %v", tok, err)
	}
}

// TestUserCreateNeverChangesAPassword: `user create` for an e-mail that has an account
// refuses a --password (naming the account and what to do) and leaves the password as
// it was; without --password it adds the account to the first workspace with the role.
func TestUserCreateNeverChangesAPassword(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	getenv := envFor(dir)
	exec := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, args, &out, getenv)
		return out.String(), err
	}
	if _, err := exec("user", "create", "--email", "ops@acme.example", "--password", "the first passphrase", "--role", "admin"); err != nil {
		t.Fatalf("user create: %v", err)
	}
	// dora has an account in a second workspace of the organization only.
	store, err := models.Open("sqlite://"+filepath.Join(dir, "sluice.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := store.Authenticate(ctx, "ops@acme.example", "the first passphrase", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	owner := models.Actor{WorkspaceID: models.DefaultWorkspaceID, Type: models.ActorUser, ID: ops.ID, Name: ops.Email, Role: models.RoleAdmin}
	staging, err := store.AddWorkspace(ctx, owner, "Staging")
	if err != nil {
		t.Fatal(err)
	}
	owner.WorkspaceID = staging.ID
	if _, err := store.CreateUser(ctx, owner, models.NewUser{Email: "dora@acme.example", Password: "dora's own passphrase", Role: models.RoleEditor}); err != nil {
		t.Fatal(err)
	}
	store.Close()

	out, err := exec("user", "create", "--email", "dora@acme.example", "--password", "a replacement passphrase", "--role", "viewer")
	if err == nil || !strings.Contains(err.Error(), "dora@acme.example already has an account") || !strings.Contains(err.Error(), "Leave the password out") {
		t.Errorf("user create for dora with a password = %q, %v; want a refusal saying to leave it out", out, err)
	}
	// ops is a member of the first workspace already: refused as such.
	out, err = exec("user", "create", "--email", "ops@acme.example", "--password", "a replacement passphrase", "--role", "viewer")
	if err == nil || !strings.Contains(err.Error(), "ops@acme.example is already a member") {
		t.Errorf("user create for ops with a password = %q, %v; want a refusal", out, err)
	}
	out, err = exec("user", "create", "--email", "dora@acme.example", "--role", "viewer")
	if err != nil || !strings.Contains(out, "added dora@acme.example (viewer), who keeps their own password") {
		t.Fatalf("user create for dora without a password = %q, %v", out, err)
	}
	if _, err := exec("user", "create", "--email", "new@acme.example", "--role", "viewer"); err == nil || !strings.Contains(err.Error(), "password") {
		t.Errorf("a new account without a password: err = %v", err)
	}

	store, err = models.Open("sqlite://"+filepath.Join(dir, "sluice.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Authenticate(ctx, "ops@acme.example", "the first passphrase", "192.0.2.1"); err != nil {
		t.Errorf("ops no longer signs in with their own password: %v", err)
	}
	dora, err := store.Authenticate(ctx, "dora@acme.example", "dora's own passphrase", "192.0.2.1")
	if err != nil {
		t.Fatalf("dora no longer signs in with her own password: %v", err)
	}
	if u, err := store.UserByID(ctx, models.DefaultWorkspaceID, dora.ID); err != nil || u.Role != models.RoleViewer {
		t.Errorf("dora in the first workspace: %+v, %v; want a viewer", u, err)
	}
}
