package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	"sluice/connectors"
	"sluice/models"
	"sluice/secrets"
	"sluice/sources/postgres"
)

// TestKeysRotateCommand runs `sluice keys` as an operator would on a SQLite install: a
// wrong old key is refused with a message saying so and changes nothing; the right one
// re-seals, after which the new key alone opens everything and `keys check` passes.
func TestKeysRotateCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	oldKey, newKey, wrongKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)
	b64 := base64.StdEncoding.EncodeToString
	exec := func(env map[string]string, args ...string) (string, error) {
		env["SLUICE_DATA_DIR"], env["SLUICE_CONFIG"] = dir, filepath.Join(dir, "absent.yaml")
		var out bytes.Buffer
		err := run(ctx, args, &out, func(k string) string { return env[k] })
		return out.String(), err
	}
	if _, err := exec(map[string]string{"SLUICE_SECRET_KEY": b64(oldKey)}, "migrate"); err != nil {
		t.Fatal(err)
	}
	open := func(key []byte) *models.Store {
		box, err := secrets.New(key)
		if err != nil {
			t.Fatal(err)
		}
		s, err := models.Open("sqlite://"+filepath.Join(dir, "sluice.db"), box)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	before := open(oldKey)
	src, err := before.CreateSource(ctx, firstWorkspaceActor(), postgres.New().Spec(), models.SourceInput{Name: "Warehouse",
		Config: connectors.Config{"host": "db.internal", "database": "dw", "user": "sluice", "password": "warehouse-password"}})
	if err != nil {
		t.Fatal(err)
	}
	sealed := func() string {
		got, err := before.SourceByID(ctx, src.WorkspaceID, src.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.SecretsSealed
	}
	stored := sealed()

	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"wrong old key", map[string]string{"SLUICE_SECRET_KEY": b64(newKey), oldKeyEnv: b64(wrongKey)}, "Nothing was changed"},
		{"no old key", map[string]string{"SLUICE_SECRET_KEY": b64(newKey)}, "set SLUICE_OLD_SECRET_KEY"},
		{"old key is the current one", map[string]string{"SLUICE_SECRET_KEY": b64(oldKey), oldKeyEnv: b64(oldKey)}, "is the current key"},
		{"old key malformed", map[string]string{"SLUICE_SECRET_KEY": b64(newKey), oldKeyEnv: "not-a-key"}, "SLUICE_OLD_SECRET_KEY"},
	} {
		out, err := exec(tc.env, "keys", "rotate")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: keys rotate = %q, %v; want an error saying %q", tc.name, out, err, tc.want)
		}
		if got := sealed(); got != stored {
			t.Fatalf("%s: a refused rotation changed the source's sealed secrets", tc.name)
		}
	}
	if _, err := open(newKey).SourceConfig(src); err == nil {
		t.Fatal("the new key opens secrets before any rotation: the test proves nothing")
	}
	if out, err := exec(map[string]string{"SLUICE_SECRET_KEY": b64(newKey) + "," + b64(oldKey)}, "keys", "check"); err == nil || !strings.Contains(out, "1 only under the old key") {
		t.Fatalf("keys check before rotation = %q, %v; want a failure counting 1 under the old key", out, err)
	}

	out, err := exec(map[string]string{"SLUICE_SECRET_KEY": b64(newKey), oldKeyEnv: b64(oldKey)}, "keys", "rotate")
	if err != nil || !strings.Contains(out, "re-sealed 1 secrets") {
		t.Fatalf("keys rotate = %q, %v", out, err)
	}
	if sealed() == stored {
		t.Fatal("the rotation left the source's secrets as they were")
	}
	after := open(newKey)
	rotated, err := after.SourceByID(ctx, src.WorkspaceID, src.ID)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := after.SourceConfig(rotated)
	if err != nil || cfg["password"] != "warehouse-password" {
		t.Fatalf("the new key alone opens %v, %v", cfg, err)
	}
	if out, err := exec(map[string]string{"SLUICE_SECRET_KEY": b64(newKey)}, "keys", "check"); err != nil || !strings.Contains(out, "0 only under the old key, 0 under no key") {
		t.Fatalf("keys check with the new key alone = %q, %v", out, err)
	}
	if out, err := exec(map[string]string{"SLUICE_SECRET_KEY": b64(newKey), oldKeyEnv: b64(oldKey)}, "keys", "rotate"); err != nil || !strings.Contains(out, "re-sealed 0 secrets") {
		t.Fatalf("a second keys rotate = %q, %v; want nothing to do", out, err)
	}
	if _, err := exec(map[string]string{"SLUICE_SECRET_KEY": b64(newKey)}, "keys", "spin"); err == nil || !strings.Contains(err.Error(), "usage: sluice keys") {
		t.Fatalf("keys spin: err = %v, want the usage", err)
	}
}
