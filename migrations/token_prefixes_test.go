package migrations_test

import (
	"encoding/json"
	"strings"
	"testing"

	"sluice/internal/testutil"
	"sluice/migrations"
	"sluice/models"
)

// TestMigrationBlanksClearTokenPrefixes: before 00007 a token's first 12 characters were
// kept and shown, which for a chosen SLUICE_BOOTSTRAP_TOKEN is most of the secret. The
// migration keeps "slu_" and 4 characters of generated tokens, nothing of others, in
// api_tokens and in the tokens' audit entries.
func TestMigrationBlanksClearTokenPrefixes(t *testing.T) {
	for _, d := range testutil.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			url := d.URL(t)
			s, err := models.Open(url, testutil.Secrets(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			sqlDB, err := s.DB().DB()
			if err != nil {
				t.Fatal(err)
			}
			if err := migrations.UpTo(t.Context(), sqlDB, s.Dialect(), 6); err != nil {
				t.Fatal(err)
			}
			db := s.DB()
			ws := models.DefaultWorkspaceID
			for _, row := range [][]any{
				{"t1", "bootstrap", "h1", "my-bootstrap"},
				{"t2", "ci", "h2", "slu_abcdefgh"},
				{"t3", "upper", "h3", "SLU_ABCDEFGH"},
			} {
				if err := db.Exec(`INSERT INTO api_tokens (id, workspace_id, name, token_hash, token_prefix, role, created_at)
					VALUES (?, ?, ?, ?, ?, 'admin', CURRENT_TIMESTAMP)`, row[0], ws, row[1], row[2], row[3]).Error; err != nil {
					t.Fatal(err)
				}
			}
			audit := []struct{ id, action, before, after string }{
				{"a1", "api_token.create", "", `{"name":"bootstrap","role":"admin","prefix":"my-bootstrap"}`},
				{"a2", "api_token.delete", `{"name":"ci","role":"viewer","prefix":"slu_abcdefgh"}`, ""},
				{"a3", "source.create", "", `{"name":"x","prefix":"keep-me-as-is"}`},
			}
			for _, e := range audit {
				if err := db.Exec(`INSERT INTO audit_entries (id, workspace_id, at, actor_type, action, resource_type, before_json, after_json)
					VALUES (?, ?, CURRENT_TIMESTAMP, 'system', ?, ?, NULLIF(?, ''), NULLIF(?, ''))`,
					e.id, ws, e.action, strings.SplitN(e.action, ".", 2)[0], e.before, e.after).Error; err != nil {
					t.Fatal(err)
				}
			}

			if _, err := s.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"t1": "", "t2": "slu_abcd", "t3": ""}
			var tokens []models.APIToken
			if err := db.Find(&tokens).Error; err != nil {
				t.Fatal(err)
			}
			for _, tok := range tokens {
				if tok.TokenPrefix != want[tok.ID] {
					t.Errorf("token %s: prefix %q, want %q", tok.ID, tok.TokenPrefix, want[tok.ID])
				}
			}
			wantAudit := map[string]string{"a1": "", "a2": "slu_abcd", "a3": "keep-me-as-is"}
			var entries []models.AuditEntry
			if err := db.Find(&entries).Error; err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				snap := e.AfterJSON
				if snap == nil {
					snap = e.BeforeJSON
				}
				var v map[string]string
				if err := json.Unmarshal([]byte(*snap), &v); err != nil {
					t.Fatalf("entry %s: %v", e.ID, err)
				}
				if v["prefix"] != wantAudit[e.ID] || v["name"] == "" {
					t.Errorf("entry %s: %s, want prefix %q and the rest kept", e.ID, *snap, wantAudit[e.ID])
				}
			}
		})
	}
}
