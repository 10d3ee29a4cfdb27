package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"sluice/connectors"
	"sluice/internal/fakes/bastion"
	"sluice/jobs/jobstest"
	"sluice/models"
	"sluice/segments"
	"sluice/sources/postgres"
	"sluice/sources/sshtunnel"
)

// hookInbox is a webhook endpoint that acknowledges every record and keeps the latest
// of each key.
type hookInbox struct {
	mu      sync.Mutex
	records map[string]map[string]any
}

func (in *hookInbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Records []connectors.Record `json:"records"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	in.mu.Lock()
	for _, rec := range body.Records {
		if rec.Op == connectors.OpRemove {
			delete(in.records, rec.Key)
		} else {
			in.records[rec.Key] = rec.Fields
		}
	}
	in.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]any{"rejected": []any{}})
}

func (in *hookInbox) len() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.records)
}

// auditActions are the actions of a source's audit entries, oldest first.
func auditActions(t *testing.T, env *jobstest.Env) []string {
	t.Helper()
	entries, _, err := env.Store.ListAuditEntries(context.Background(), env.Admin.WorkspaceID, models.AuditFilter{ResourceType: "source", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		for _, js := range []*string{e.BeforeJSON, e.AfterJSON} {
			if js != nil && strings.Contains(*js, "PRIVATE KEY") {
				t.Errorf("audit entry %s holds the private key: %s", e.Action, *js)
			}
		}
		out = append(out, e.Action)
	}
	return out
}

// TestActivationRunsThroughSSHTunnel is a whole activation from a PostgreSQL source
// reached through an SSH bastion: the host key is pinned at the first validation, runs
// extract through the tunnel, a changed host key fails the run and the checks with both
// fingerprints until an admin accepts it, and a new key is refused until installed.
// Every one of these changes is in the audit log, the private key in none.
func TestActivationRunsThroughSSHTunnel(t *testing.T) {
	w := newWarehouse(t)
	w.exec(t, `CREATE SCHEMA crm`,
		`CREATE TABLE crm.customers (id integer PRIMARY KEY, email text)`,
		`INSERT INTO crm.customers SELECT i, 'c' || i || '@example.com' FROM generate_series(1, 12) AS i`)
	b := bastion.Start(t)
	priv, pub, err := sshtunnel.NewKey("sluice")
	if err != nil {
		t.Fatal(err)
	}
	b.Authorize(pub)
	cfg := with(w.cfg, "schema", "crm", sshtunnel.FieldEnabled, "true", sshtunnel.FieldHost, b.Host(),
		sshtunnel.FieldPort, b.Port(), sshtunnel.FieldUser, "sluice")
	in := &hookInbox{records: map[string]map[string]any{}}
	env := jobstest.Setup(t, jobstest.Activation{
		Source: postgres.New(), Config: cfg,
		Generated: connectors.Config{sshtunnel.FieldPrivateKey: priv, sshtunnel.FieldPublicKey: pub},
		Table:     connectors.Table{Schema: "crm", Name: "customers"}, PrimaryKey: "id",
		Condition: segments.All(segments.Leaf("email", segments.OpIsNotNull, nil)),
		Mappings:  []models.Mapping{{From: "email", To: "email", Type: "email"}}, Hook: in,
	})
	ctx := context.Background()
	ws, id := env.Admin.WorkspaceID, env.Source.ID

	// The first validation pinned the bastion's host key.
	if got := env.Source.PublicConfig()[sshtunnel.FieldHostKey]; got != b.HostKey() {
		t.Fatalf("pinned host key = %q, want the bastion's %q", got, b.HostKey())
	}
	before := b.Forwarded()
	r := env.Run()
	if r.Status != models.RunSucceeded || r.Queried != 12 || r.Sent != 12 || in.len() != 12 {
		t.Fatalf("first run: %s %+v (%s), %d at the destination", r.Status, r.RunCounts, r.ErrorMessage, in.len())
	}
	if b.Forwarded() <= before {
		t.Fatal("the run did not read the warehouse through the bastion")
	}

	// The bastion's host key changes: the run fails as credentials, naming the bastion.
	oldFP := b.HostKeyFingerprint()
	b.ChangeHostKey()
	newFP := b.HostKeyFingerprint()
	r = env.Run()
	if r.Status != models.RunFailed || r.ErrorCategory != string(connectors.CategoryCredentials) ||
		!strings.Contains(r.ErrorMessage, "The host key of the SSH bastion "+b.Host()+":"+b.Port()+" changed: Sluice pinned "+oldFP+" and the bastion now presents "+newFP) {
		t.Fatalf("run after the host key changed: %s %s %q", r.Status, r.ErrorCategory, r.ErrorMessage)
	}
	// Its fix is on the source's page, where the new key is accepted.
	if fix, ok := models.RunFixPlace(r.ErrorSide, r.ErrorCategory); !ok || fix.Route != "sources.show" {
		t.Errorf("the failed run's fix: %+v %v (side %q)", fix, ok, r.ErrorSide)
	}
	src, err := env.Service.ValidateSource(ctx, ws, id)
	if err != nil {
		t.Fatal(err)
	}
	f := src.FailedCheck()
	if src.Status != models.SourceBroken || f == nil || f.Stage != connectors.StageConnection || !strings.Contains(f.Message, oldFP) || !strings.Contains(f.Message, newFP) {
		t.Fatalf("validation after the host key changed: %s %+v", src.Status, f)
	}
	if got := src.PublicConfig()[sshtunnel.FieldOfferedHostKey]; got != b.HostKey() {
		t.Fatalf("offered host key = %q, want the bastion's new one", got)
	}
	// Accepting another fingerprint than the one offered changes nothing.
	var fe *models.FieldError
	if _, err := env.Service.AcceptTunnelHostKey(ctx, env.Admin, id, oldFP); !errors.As(err, &fe) || !strings.Contains(fe.Message, "changed again") {
		t.Fatalf("accept a fingerprint not offered: %v", err)
	}
	if src, err = env.Service.AcceptTunnelHostKey(ctx, env.Admin, id, newFP); err != nil || src.Status != models.SourceConnected {
		t.Fatalf("accept the new host key: %+v %v", src, err)
	}
	if cfg := src.PublicConfig(); cfg[sshtunnel.FieldHostKey] != b.HostKey() || cfg[sshtunnel.FieldOfferedHostKey] != "" {
		t.Fatalf("after accepting: pinned %q, offered %q", cfg[sshtunnel.FieldHostKey], cfg[sshtunnel.FieldOfferedHostKey])
	}
	w.exec(t, `UPDATE crm.customers SET email = 'one@example.com' WHERE id = 1`)
	if r = env.Run(); r.Status != models.RunSucceeded || r.Changed != 1 || r.Sent != 1 {
		t.Fatalf("run after accepting the new host key: %s %+v (%s)", r.Status, r.RunCounts, r.ErrorMessage)
	}

	// A new key pair: the bastion refuses it until its public key is installed (the
	// failed validation pauses the activation; the next one resumes it).
	if src, err = env.Service.RegenerateTunnelKey(ctx, env.Admin, id); err != nil {
		t.Fatal(err)
	}
	newPub := src.PublicConfig()[sshtunnel.FieldPublicKey]
	f = src.FailedCheck()
	if newPub == pub || !strings.HasPrefix(newPub, "ssh-ed25519 ") || f == nil || f.Stage != connectors.StageConnection ||
		!strings.Contains(f.Message, "refused Sluice's key for user sluice") {
		t.Fatalf("after a new key: public key %q, failed check %+v", newPub, f)
	}
	b.Authorize(newPub)
	if src, err = env.Service.ValidateSource(ctx, ws, id); err != nil || src.Status != models.SourceConnected {
		t.Fatalf("validation with the new key installed: %+v %v", src, err)
	}
	if r = env.Run(); r.Status != models.RunSucceeded {
		t.Fatalf("run with the new key installed: %s %s", r.Status, r.ErrorMessage)
	}

	got := strings.Join(auditActions(t, env), " ")
	for _, want := range []string{"source.create", "source.tunnel_host_key_pin", "source.tunnel_host_key_change", "source.tunnel_host_key_accept", "source.tunnel_key_generate"} {
		if !strings.Contains(got, want) {
			t.Errorf("audit log %q lacks %s", got, want)
		}
	}
}
