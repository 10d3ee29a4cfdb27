package models_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/internal/testutil"
	"sluice/models"
)

// webhookSpec is the part of the webhook's spec these tests need: a URL that is not a
// secret field, and a secret.
var webhookSpec = connectors.DestinationSpec{Kind: "webhook", Config: []connectors.FieldSpec{
	{Name: "url", Label: "URL", Type: connectors.FieldString, Required: true},
	{Name: "batch_size", Label: "Batch size", Type: connectors.FieldInt, Default: "500"},
	{Name: "signing_secret", Label: "Signing secret", Type: connectors.FieldPassword, Secret: true},
}}

const (
	urlUser   = "hookuser-Qm4"
	urlPass   = "hookpass-Zr8"
	urlToken  = "tok-Vw3x9"
	secretURL = "https://" + urlUser + ":" + urlPass + "@hooks.example.com/in?token=" + urlToken + "&x=1"
	maskedURL = "https://***:***@hooks.example.com/in?token=***&x=***"
)

// noURLSecret fails the test when text holds any secret part of secretURL.
func noURLSecret(t *testing.T, where, text string) {
	t.Helper()
	for _, s := range []string{urlUser, urlPass, urlToken} {
		if strings.Contains(text, s) {
			t.Errorf("%s holds %q: %s", where, s, text)
		}
	}
}

// platformRow is the platform's row as the database holds it.
func platformRow(t *testing.T, s *models.Store, id string) string {
	t.Helper()
	return strings.Join(rowText(t, s, `SELECT config_json, secrets_sealed, status_message FROM platforms WHERE id = ?`, id), " ")
}

// A URL's user info and query string are stored sealed, shown masked in the plain
// settings and the audit log, and given whole to the connector; an update that sends the
// masked URL back keeps it, one that edits around the masks is refused, a new URL
// replaces it.
func TestPlatformURLSecretsAreSealed(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, a := testutil.Admin(t, s)
		p, err := s.CreatePlatform(ctx, a, webhookSpec, models.PlatformInput{Name: "Hook", Config: connectors.Config{"url": secretURL, "batch_size": "100"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := p.PublicConfig(); got["url"] != maskedURL || got["batch_size"] != "100" {
			t.Errorf("public config %v", got)
		}
		noURLSecret(t, "the platform's row", platformRow(t, s, p.ID))
		full, err := s.PlatformConfig(p)
		if err != nil || full["url"] != secretURL {
			t.Fatalf("the connector gets %v, %v", full, err)
		}

		// Sent back as shown: kept.
		p, err = s.UpdatePlatform(ctx, a, p.ID, webhookSpec, models.PlatformInput{Config: connectors.Config{"url": maskedURL, "batch_size": "200"}})
		if err != nil {
			t.Fatal(err)
		}
		if full, _ := s.PlatformConfig(p); full["url"] != secretURL || full["batch_size"] != "200" {
			t.Errorf("after the masked URL was sent back: %v", full)
		}
		if patched, err := s.PatchedPlatformConfig(p, nil, connectors.Config{"url": " " + maskedURL + " "}); err != nil || patched["url"] != secretURL {
			t.Errorf("patched with the masked URL: %v, %v", patched, err)
		}
		// Masks around another host or path: refused, never sent as "***".
		for _, u := range []string{"https://***:***@evil.example/in?token=***&x=***", "https://***:***@hooks.example.com/in?token=***&x=2"} {
			_, err = s.UpdatePlatform(ctx, a, p.ID, webhookSpec, models.PlatformInput{Config: connectors.Config{"url": u}})
			wantField(t, err, "config.url")
		}
		if full, _ := s.PlatformConfig(p); full["url"] != secretURL {
			t.Errorf("a refused update changed the URL: %v", full)
		}
		// A new URL replaces the old one, credentials and all.
		const newURL = "https://other:pw-New7@hooks.example.com/v2?key=k-New7"
		p, err = s.UpdatePlatform(ctx, a, p.ID, webhookSpec, models.PlatformInput{Config: connectors.Config{"url": newURL}})
		if err != nil {
			t.Fatal(err)
		}
		if full, _ := s.PlatformConfig(p); full["url"] != newURL || p.PublicConfig()["url"] != "https://***:***@hooks.example.com/v2?key=***" {
			t.Errorf("after a new URL: %v, shown %q", full, p.PublicConfig()["url"])
		}
		// A URL without secrets is plain, and replaces the sealed one.
		p, err = s.UpdatePlatform(ctx, a, p.ID, webhookSpec, models.PlatformInput{Config: connectors.Config{"url": "https://hooks.example.com/plain"}})
		if err != nil {
			t.Fatal(err)
		}
		if full, _ := s.PlatformConfig(p); full["url"] != "https://hooks.example.com/plain" || p.PublicConfig()["url"] != "https://hooks.example.com/plain" {
			t.Errorf("after a plain URL: %v", full)
		}
		// Creating a platform with a masked URL is refused: nothing stands behind the masks.
		_, err = s.CreatePlatform(ctx, a, webhookSpec, models.PlatformInput{Name: "Masked", Config: connectors.Config{"url": maskedURL}})
		wantField(t, err, "config.url")

		for _, e := range allEntries(t, s, a.WorkspaceID) {
			for _, snap := range []*string{e.BeforeJSON, e.AfterJSON} {
				if snap != nil {
					noURLSecret(t, "audit entry "+e.Action, *snap)
					if strings.Contains(*snap, "pw-New7") || strings.Contains(*snap, "k-New7") {
						t.Errorf("audit entry %s holds the new URL's secrets: %s", e.Action, *snap)
					}
				}
			}
		}
	})
}

// A database written before the rule, with a URL's secrets in clear in a platform's
// settings, its audit entries and its runs' samples, logs and errors, is brought under
// it at start: the URL sealed, everything else masked; the connector still gets the
// whole URL.
func TestMigrateSealsURLSecretsStoredInClear(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, a := testutil.Admin(t, s)
		act := activations(t, s, a, 1)[0]
		db := s.DB()
		var platformID string
		if err := db.Raw(`SELECT platform_id FROM activations WHERE id = ?`, act).Scan(&platformID).Error; err != nil {
			t.Fatal(err)
		}
		// As an older Sluice stored it: the URL in the plain settings, its secrets in
		// the audit entry, the exchange (password only hidden), a log line and the error.
		if err := db.Exec(`UPDATE platforms SET config_json = ? WHERE id = ?`, `{"url":"`+secretURL+`","batch_size":"100"}`, platformID).Error; err != nil {
			t.Fatal(err)
		}
		after := `{"name":"P","kind":"webhook","config":{"url":"` + strings.ReplaceAll(secretURL, "&", `\u0026`) + `"},"status":"connected"}`
		if err := db.Exec(`INSERT INTO audit_entries (id, workspace_id, at, actor_type, action, resource_type, resource_id, after_json) VALUES (?, ?, ?, 'user', 'platform.create', 'platform', ?, ?)`,
			"00000000-0000-7000-8000-0000000000aa", a.WorkspaceID, time.Now().UTC(), platformID, after).Error; err != nil {
			t.Fatal(err)
		}
		r, err := s.EnqueueRun(ctx, a.WorkspaceID, act, models.TriggerManual, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ClaimRun(ctx, "w", time.Minute); err != nil {
			t.Fatal(err)
		}
		oldShown := strings.Replace(secretURL, urlPass, "xxxxx", 1)
		if err := s.AddRunSample(ctx, r.ID, connectors.Exchange{Method: "POST", URL: oldShown, StatusCode: 500}); err != nil {
			t.Fatal(err)
		}
		failed := `Post "` + strings.Replace(secretURL, urlPass, "***", 1) + `": dial tcp: connection refused`
		if err := s.AddRunLogs(ctx, []models.RunLog{{RunID: r.ID, At: time.Now(), Level: "warn", Message: "Batch 1: " + failed}}); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishRun(ctx, r.ID, "w", models.RunOutcome{Status: models.RunFailed, ErrorCategory: "connection", ErrorMessage: "The webhook could not be reached.", ErrorDetail: failed}); err != nil {
			t.Fatal(err)
		}

		for range 2 { // the second start finds nothing left to do
			if _, err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
		}
		p, err := s.PlatformByID(ctx, a.WorkspaceID, platformID)
		if err != nil {
			t.Fatal(err)
		}
		noURLSecret(t, "the platform's row", platformRow(t, s, platformID))
		if got := p.PublicConfig(); got["url"] != maskedURL || got["batch_size"] != "100" {
			t.Errorf("public config after the move %v", got)
		}
		if full, err := s.PlatformConfig(p); err != nil || full["url"] != secretURL {
			t.Errorf("the connector gets %v, %v", full, err)
		}
		for _, q := range []string{
			`SELECT after_json FROM audit_entries WHERE id = '00000000-0000-7000-8000-0000000000aa'`,
			`SELECT exchange_json FROM run_samples`, `SELECT message FROM run_logs`, `SELECT error_detail FROM runs`,
		} {
			rows := rowText(t, s, q)
			if len(rows) == 0 {
				t.Fatalf("%s: no rows", q)
			}
			for _, row := range rows {
				noURLSecret(t, q, row)
				if !strings.Contains(row, "hooks.example.com/in?token=***") {
					t.Errorf("%s: the masked URL is not there: %s", q, row)
				}
			}
		}
		samples, err := s.ListRunSamples(ctx, a.WorkspaceID, r.ID)
		if err != nil || len(samples) != 1 || !strings.Contains(samples[0].ExchangeJSON, `"method":"POST"`) {
			t.Errorf("sample after masking: %+v %v", samples, err)
		}
	})
}
