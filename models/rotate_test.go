package models_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/core"
	"sluice/destinations/webhook"
	"sluice/internal/testutil"
	"sluice/models"
	"sluice/secrets"
	"sluice/sources/postgres"
)

func rotationKey(b byte) []byte { return bytes.Repeat([]byte{b}, secrets.KeySize) }

// ring is a box sealing with the first key and opening with each.
func ring(t *testing.T, keys ...[]byte) *secrets.Box {
	t.Helper()
	box, err := secrets.New(bytes.Join(keys, nil))
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// rotationBox is what `sluice keys rotate` opens the store with: the new key, and the
// previous key it is given.
func rotationBox(t *testing.T, current, previous []byte) *secrets.Box {
	t.Helper()
	box, err := ring(t, current).WithPrevious(previous)
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// instance is one Sluice instance's store on the database at url, with its keys.
func instance(t *testing.T, url string, box *secrets.Box) *models.Store {
	t.Helper()
	s, err := models.Open(url, box)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

// crmKind is an OAuth platform whose Check shows its access token to api.
type crmKind struct{ api string }

func (k crmKind) Spec() connectors.DestinationSpec {
	return connectors.DestinationSpec{Kind: "crm", Label: "CRM", Auth: connectors.AuthOAuth,
		OAuth: &connectors.OAuthSpec{Provider: "crm", AuthURL: "https://crm.example/authorize", TokenURL: "https://crm.example/token", Scopes: []string{"contacts"}}}
}

func (k crmKind) Open(_ context.Context, _ connectors.Config, tokens connectors.Tokens) (connectors.Destination, error) {
	return crmPlatform{api: k.api, tokens: tokens}, nil
}

type crmPlatform struct {
	api    string
	tokens connectors.Tokens
}

func (p crmPlatform) Check(ctx context.Context) error {
	tok, err := p.tokens.AccessToken(ctx)
	if err != nil {
		return err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.api+"/crm/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the CRM answered %s", resp.Status)
	}
	return nil
}

func (crmPlatform) Write(context.Context, connectors.Batch) (*connectors.WriteResult, error) {
	return &connectors.WriteResult{}, nil
}

func (crmPlatform) Close() error { return nil }

// platformAPI is the webhook endpoint and the CRM's API: each answers 200 only to the
// credentials Sluice was given, so a Check passes only with every secret opened right.
func platformAPI(t *testing.T) (*httptest.Server, *sync.Map) {
	seen := &sync.Map{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/crm/me":
			if r.Header.Get("Authorization") != "Bearer crm-access-token" {
				http.Error(w, "bad token", http.StatusUnauthorized)
				return
			}
		default:
			body := new(bytes.Buffer)
			_, _ = body.ReadFrom(r.Body)
			if r.Header.Get("Authorization") != "Bearer hook-header-secret" ||
				r.Header.Get(webhook.HeaderSignature) != webhook.Sign([]byte("hook-signing-secret"), body.Bytes()) {
				http.Error(w, "bad credentials", http.StatusUnauthorized)
				return
			}
		}
		seen.Store(r.URL.Path, true)
	}))
	t.Cleanup(srv.Close)
	return srv, seen
}

// warehouseConfig is a source's settings for the local PostgreSQL database at raw.
func warehouseConfig(t *testing.T, raw string) connectors.Config {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return connectors.Config{"host": u.Hostname(), "port": u.Port(), "database": strings.TrimPrefix(u.Path, "/"),
		"user": u.User.Username(), "password": "warehouse-password", "sslmode": "disable"}
}

// sealedValues is every sealed column's values as stored, to prove a refused rotation
// wrote nothing.
func sealedValues(t *testing.T, s *models.Store) map[string][]string {
	out := map[string][]string{}
	for _, col := range models.SealedColumns() {
		table, column, _ := strings.Cut(col, ".")
		var vals []string
		if err := s.DB().Raw("SELECT " + column + " FROM " + table + " ORDER BY " + column).Scan(&vals).Error; err != nil {
			t.Fatal(err)
		}
		out[col] = vals
	}
	return out
}

// TestRotateSecrets is the key rotation end to end, on both databases: a store written
// under the old key, then by an instance already on the new key with the old one as
// fallback; a rotation given a wrong old key refuses and changes nothing; the right
// one re-seals every value, and a second run finds nothing to do; then, with the old
// key gone, every source and platform still opens and connects, the alert settings,
// the queued Slack alert and a consent under way still open, and nothing opens under
// the old key.
func TestRotateSecrets(t *testing.T) {
	oldKey, newKey, wrongKey := rotationKey(1), rotationKey(2), rotationKey(3)
	api, seen := platformAPI(t)
	for _, d := range testutil.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			ctx := t.Context()
			dbURL := d.URL(t)
			warehouse := testutil.PostgresURL(t)
			reg := connectors.NewRegistry()
			reg.RegisterSource(postgres.New())
			reg.RegisterDestination(webhook.New(true))
			reg.RegisterDestination(crmKind{api: api.URL})
			hookSpec, _ := reg.DestinationSpec(webhook.Kind)
			crmSpec, _ := reg.DestinationSpec("crm")
			pgSpec, _ := reg.SourceSpec(postgres.Kind)

			before := instance(t, dbURL, ring(t, oldKey))
			_, actor := testutil.Admin(t, before)
			if _, err := before.CreateSource(ctx, actor, pgSpec, models.SourceInput{Name: "Warehouse", Config: warehouseConfig(t, warehouse)}); err != nil {
				t.Fatal(err)
			}
			if _, err := before.CreatePlatform(ctx, actor, hookSpec, models.PlatformInput{Name: "Hook", Config: connectors.Config{
				"url": api.URL + "/hook", "headers": "Authorization: Bearer hook-header-secret", "signing_secret": "hook-signing-secret"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := before.CreatePlatform(ctx, actor, crmSpec, models.PlatformInput{Name: "CRM",
				Grant: &models.Grant{AccessToken: "crm-access-token", RefreshToken: "crm-refresh-token", Scopes: []string{"contacts"}}}); err != nil {
				t.Fatal(err)
			}
			slack := "https://hooks.slack.com/services/T0/B0/slack-secret"
			if _, err := before.PutAlertSettings(ctx, actor, models.AlertSettings{SlackWebhookURLs: []string{slack}}, false); err != nil {
				t.Fatal(err)
			}
			if _, err := before.EnqueueAlerts(ctx, models.NewAlert{WorkspaceID: actor.WorkspaceID, Channel: models.ChannelSlack, Target: slack, Payload: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
			invitation := `{"kind":"invitation","buttons":[{"label":"Accept","url":"https://sluice.example/invitation?token=live-link"}]}`
			if _, err := before.EnqueueAlerts(ctx, models.NewAlert{WorkspaceID: actor.WorkspaceID, Channel: models.ChannelEmail, Target: "grace@acme.example",
				Payload: []byte(invitation), Secret: true}); err != nil {
				t.Fatal(err)
			}
			if err := before.SaveOAuthStart(ctx, "state-1", models.OAuthStart{WorkspaceID: actor.WorkspaceID, Kind: "crm", Name: "CRM 2", Verifier: "pkce-verifier"}); err != nil {
				t.Fatal(err)
			}
			// An instance restarted on the new key, the old one as fallback, writes beside.
			during := instance(t, dbURL, ring(t, newKey, oldKey))
			if _, err := during.CreatePlatform(ctx, actor, hookSpec, models.PlatformInput{Name: "Hook 2", Config: connectors.Config{
				"url": api.URL + "/hook2", "headers": "Authorization: Bearer hook-header-secret", "signing_secret": "hook-signing-secret"}}); err != nil {
				t.Fatal(err)
			}

			stored := sealedValues(t, before)
			wrong := instance(t, dbURL, rotationBox(t, newKey, wrongKey))
			n, err := wrong.RotateSecrets(ctx)
			if !errors.Is(err, models.ErrUnreadableSecrets) || n != 0 || !strings.Contains(err.Error(), "source:") {
				t.Fatalf("rotation with a wrong old key = %d, %v; want ErrUnreadableSecrets naming the values", n, err)
			}
			if after := sealedValues(t, before); fmt.Sprint(after) != fmt.Sprint(stored) {
				t.Fatalf("a refused rotation changed sealed values:\nbefore %v\nafter  %v", stored, after)
			}

			rotation := instance(t, dbURL, rotationBox(t, newKey, oldKey))
			count, err := rotation.CountSecrets(ctx)
			// source, webhook, CRM settings (none), CRM grant, alert settings, outbox's
			// Slack target and invitation body, consent: seven under the old key; the
			// second webhook under the new one.
			if err != nil || count.Previous != 7 || count.Current != 1 || len(count.Unreadable) != 0 {
				t.Fatalf("before rotation: %+v, %v; want 7 under the old key, 1 under the new", count, err)
			}
			if n, err := rotation.RotateSecrets(ctx); n != 7 || err != nil {
				t.Fatalf("rotation = %d, %v; want 7 re-sealed", n, err)
			}
			if n, err := rotation.RotateSecrets(ctx); n != 0 || err != nil {
				t.Fatalf("second rotation = %d, %v; want nothing to do", n, err)
			}

			after := instance(t, dbURL, ring(t, newKey))
			if count, err := after.CountSecrets(ctx); err != nil || count.Current != 8 || count.Previous != 0 || len(count.Unreadable) != 0 {
				t.Fatalf("under the new key alone: %+v, %v; want all 8 current", count, err)
			}
			if count, err := instance(t, dbURL, ring(t, oldKey)).CountSecrets(ctx); err != nil || count.Current != 0 || len(count.Unreadable) != 8 {
				t.Fatalf("under the old key alone: %+v, %v; want none of 8 to open", count, err)
			}

			svc := core.New(after, reg)
			sources, err := after.ListSources(ctx, actor.WorkspaceID)
			if err != nil || len(sources) != 1 {
				t.Fatalf("sources = %d, %v", len(sources), err)
			}
			src, err := svc.OpenSource(ctx, &sources[0])
			if err != nil {
				t.Fatalf("open the source under the new key: %v", err)
			}
			if _, err := src.Schemas(ctx); err != nil {
				t.Fatalf("the source does not connect: %v", err)
			}
			src.Close()
			if cfg, _ := after.SourceConfig(&sources[0]); cfg["password"] != "warehouse-password" {
				t.Errorf("the source's password after rotation = %q", cfg["password"])
			}
			platforms, err := after.ListPlatforms(ctx, actor.WorkspaceID)
			if err != nil || len(platforms) != 3 {
				t.Fatalf("platforms = %d, %v", len(platforms), err)
			}
			seen.Clear()
			for i := range platforms {
				dest, _, err := svc.OpenPlatform(ctx, &platforms[i])
				if err != nil {
					t.Fatalf("open %s under the new key: %v", platforms[i].Name, err)
				}
				if err := dest.Check(ctx); err != nil {
					t.Errorf("%s does not connect after rotation: %v", platforms[i].Name, err)
				}
				dest.Close()
			}
			for _, path := range []string{"/hook", "/hook2", "/crm/me"} {
				if _, ok := seen.Load(path); !ok {
					t.Errorf("nothing reached %s with the right credentials", path)
				}
			}
			settings, err := after.AlertSettings(ctx, actor.WorkspaceID)
			if err != nil || !slices.Equal(settings.SlackWebhookURLs, []string{slack}) {
				t.Errorf("Slack webhooks after rotation = %v, %v", settings.SlackWebhookURLs, err)
			}
			claimed, err := after.ClaimAlerts(ctx, 10, time.Minute)
			if err != nil || len(claimed) != 2 {
				t.Fatalf("claimed alerts = %d, %v", len(claimed), err)
			}
			for i := range claimed {
				switch m := &claimed[i]; m.Channel {
				case models.ChannelSlack:
					if target, err := after.AlertTarget(m); err != nil || target != slack {
						t.Errorf("queued Slack alert's target after rotation = %q, %v", target, err)
					}
				default:
					if body, err := after.AlertPayload(m); err != nil || string(body) != invitation || strings.Contains(m.Payload, "live-link") {
						t.Errorf("queued invitation after rotation = %q (stored %q), %v", body, m.Payload, err)
					}
				}
			}
			if st, err := after.TakeOAuthStart(ctx, "state-1"); err != nil || st.Verifier != "pkce-verifier" {
				t.Errorf("consent under way after rotation = %+v, %v", st, err)
			}
		})
	}
}

// TestRotateSecretsBesideWrites re-seals more rows than one batch while another
// instance, on the new key with the old as fallback, changes each of them: no change is
// lost and every row ends under the new key.
func TestRotateSecretsBesideWrites(t *testing.T) {
	oldKey, newKey := rotationKey(1), rotationKey(2)
	const n = 250 // two and a half batches
	for _, d := range testutil.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			ctx := t.Context()
			dbURL := d.URL(t)
			spec := postgres.New().Spec()
			before := instance(t, dbURL, ring(t, oldKey))
			_, actor := testutil.Admin(t, before)
			ids := make([]string, n)
			for i := range ids {
				src, err := before.CreateSource(ctx, actor, spec, models.SourceInput{Name: fmt.Sprintf("Warehouse %d", i),
					Config: connectors.Config{"host": "db.internal", "database": "dw", "user": "sluice", "password": "old"}})
				if err != nil {
					t.Fatal(err)
				}
				ids[i] = src.ID
			}
			during := instance(t, dbURL, ring(t, newKey, oldKey))
			rotation := instance(t, dbURL, rotationBox(t, newKey, oldKey))
			var wg sync.WaitGroup
			var rotated int
			var rotateErr error
			wg.Add(1)
			go func() {
				defer wg.Done()
				rotated, rotateErr = rotation.RotateSecrets(ctx)
			}()
			for i, id := range ids {
				if _, err := during.UpdateSource(ctx, actor, id, spec, models.SourceInput{Name: fmt.Sprintf("Warehouse %d", i),
					Config: connectors.Config{"host": "db.internal", "database": "dw", "user": "sluice", "password": fmt.Sprintf("new-%d", i)}}); err != nil {
					t.Fatal(err)
				}
			}
			wg.Wait()
			if rotateErr != nil || rotated > n {
				t.Fatalf("rotation = %d, %v", rotated, rotateErr)
			}
			// What the writer did not re-seal itself, the rotation did; a second run ends it
			// in case every row was read before the writer reached it.
			if _, err := rotation.RotateSecrets(ctx); err != nil {
				t.Fatal(err)
			}
			after := instance(t, dbURL, ring(t, newKey))
			for i, id := range ids {
				src, err := after.SourceByID(ctx, actor.WorkspaceID, id)
				if err != nil {
					t.Fatal(err)
				}
				cfg, err := after.SourceConfig(src)
				if err != nil {
					t.Fatalf("source %d does not open under the new key: %v", i, err)
				}
				if want := fmt.Sprintf("new-%d", i); cfg["password"] != want {
					t.Fatalf("source %d's password = %q, want %q: a change was lost", i, cfg["password"], want)
				}
			}
		})
	}
}

// TestSealedColumnsAreAllRotated keeps the rotation's list whole: every column the
// schema names as sealed is in it.
func TestSealedColumnsAreAllRotated(t *testing.T) {
	s := testutil.Store(t, testutil.SQLiteURL(t))
	var tables []string
	if err := s.DB().Raw("SELECT name FROM sqlite_master WHERE type = 'table'").Scan(&tables).Error; err != nil {
		t.Fatal(err)
	}
	listed := models.SealedColumns()
	found := 0
	for _, table := range tables {
		var cols []string
		if err := s.DB().Raw("SELECT name FROM pragma_table_info(?)", table).Scan(&cols).Error; err != nil {
			t.Fatal(err)
		}
		for _, col := range cols {
			if strings.Contains(col, "sealed") {
				found++
				if !slices.Contains(listed, table+"."+col) {
					t.Errorf("%s.%s holds sealed values but a rotation does not re-seal it", table, col)
				}
			}
		}
	}
	if found < 5 {
		t.Fatalf("found %d sealed columns in the schema: the search is broken", found)
	}
}
