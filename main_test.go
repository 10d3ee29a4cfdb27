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
