package models_test

import (
	"strings"
	"testing"

	"sluice/internal/testutil"
	"sluice/models"
)

// TestTokenPrefixShowsLittle: a generated token keeps "slu_" and 4 random characters to
// be told apart by; a chosen bootstrap value keeps nothing, in the token's row or in
// its audit entry (its first 12 characters used to be stored and shown).
func TestTokenPrefixShowsLittle(t *testing.T) {
	t.Parallel()
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		_, a := testutil.Admin(t, s)
		tok, plain, err := s.CreateAPIToken(ctx, a, "ci", models.RoleViewer)
		if err != nil {
			t.Fatal(err)
		}
		if tok.TokenPrefix != plain[:8] || !strings.HasPrefix(tok.TokenPrefix, "slu_") {
			t.Errorf("prefix %q of %q, want slu_ and 4 characters", tok.TokenPrefix, plain)
		}
		if got := tok.DisplayPrefix(); got != plain[:8]+"…" {
			t.Errorf("DisplayPrefix = %q", got)
		}

		const chosen = "Zq7-operator-chosen-value"
		if created, err := s.EnsureBootstrapToken(ctx, chosen); err == nil && created {
			t.Fatal("bootstrap token made while tokens exist")
		}
		if err := s.DB().Exec("DELETE FROM api_tokens").Error; err != nil {
			t.Fatal(err)
		}
		if created, err := s.EnsureBootstrapToken(ctx, chosen); err != nil || !created {
			t.Fatalf("EnsureBootstrapToken = %v, %v", created, err)
		}
		boot, err := s.APITokenByValue(ctx, chosen)
		if err != nil {
			t.Fatal(err)
		}
		if boot.TokenPrefix != "" || boot.DisplayPrefix() != "custom value" {
			t.Errorf("bootstrap token prefix %q, shown as %q; want none", boot.TokenPrefix, boot.DisplayPrefix())
		}
		for _, table := range []string{"api_tokens", "audit_entries"} {
			for _, col := range rowText(t, s, "SELECT * FROM "+table) {
				if strings.Contains(col, chosen[:3]) {
					t.Errorf("%s keeps part of the bootstrap token: %s", table, col)
				}
			}
		}
	})
}
