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
// reached through an SSH bastion (jobstest.ThroughTunnel: the host key pinned at the
// first validation, runs through the tunnel, a refused key and a changed host key
// failing runs naming the bastion until fixed); then an admin accepts only the host key
// offered, and a new key pair is refused until installed. Every one of these changes is
// in the audit log, the private key in none.
func TestActivationRunsThroughSSHTunnel(t *testing.T) {
	w := newWarehouse(t)
	w.exec(t, `CREATE SCHEMA crm`,
		`CREATE TABLE crm.customers (id integer PRIMARY KEY, email text)`,
		`INSERT INTO crm.customers SELECT i, 'c' || i || '@example.com' FROM generate_series(1, 12) AS i`)
	b := bastion.Start(t)
	in := &hookInbox{records: map[string]map[string]any{}}
	env := jobstest.ThroughTunnel(t, jobstest.Activation{
		Source: postgres.New(), Config: with(w.cfg, "schema", "crm"),
		Table: connectors.Table{Schema: "crm", Name: "customers"}, PrimaryKey: "id",
		Condition: segments.All(segments.Leaf("email", segments.OpIsNotNull, nil)),
		Mappings:  []models.Mapping{{From: "email", To: "email", Type: "email"}}, Hook: in,
	}, b, func(r *models.Run) {
		if r.Queried != 12 || r.Sent != 12 || in.len() != 12 {
			t.Fatalf("first run: %+v, %d at the destination", r.RunCounts, in.len())
		}
	})
	ctx := context.Background()
	ws, id := env.Admin.WorkspaceID, env.Source.ID
	w.exec(t, `UPDATE crm.customers SET email = 'one@example.com' WHERE id = 1`)
	if r := env.Run(); r.Status != models.RunSucceeded || r.Changed != 1 || r.Sent != 1 {
		t.Fatalf("run of a change: %s %+v (%s)", r.Status, r.RunCounts, r.ErrorMessage)
	}

	// The host key changes again: the validation keeps the new key as offered, and
	// accepting another fingerprint than the one offered changes nothing.
	oldFP := b.HostKeyFingerprint()
	b.ChangeHostKey()
	newFP := b.HostKeyFingerprint()
	src, err := env.Service.ValidateSource(ctx, ws, id)
	if err != nil {
		t.Fatal(err)
	}
	if f := src.FailedCheck(); src.Status != models.SourceBroken || f == nil || !strings.Contains(f.Message, oldFP) || !strings.Contains(f.Message, newFP) {
		t.Fatalf("validation after the host key changed: %s %+v", src.Status, f)
	}
	if got := src.PublicConfig()[sshtunnel.FieldOfferedHostKey]; got != b.HostKey() {
		t.Fatalf("offered host key = %q, want the bastion's new one", got)
	}
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

	// A new key pair: the bastion refuses it until its public key is installed (the
	// failed validation pauses the activation; the next one resumes it).
	if src, err = env.Service.RegenerateTunnelKey(ctx, env.Admin, id); err != nil {
		t.Fatal(err)
	}
	oldPub := env.Source.PublicConfig()[sshtunnel.FieldPublicKey]
	newPub := src.PublicConfig()[sshtunnel.FieldPublicKey]
	f := src.FailedCheck()
	if oldPub == "" || newPub == oldPub || !strings.HasPrefix(newPub, "ssh-ed25519 ") || f == nil || f.Stage != connectors.StageConnection ||
		!strings.Contains(f.Message, "refused Sluice's key for user sluice") {
		t.Fatalf("after a new key: public key %q, failed check %+v", newPub, f)
	}
	b.Authorize(newPub)
	if src, err = env.Service.ValidateSource(ctx, ws, id); err != nil || src.Status != models.SourceConnected {
		t.Fatalf("validation with the new key installed: %+v %v", src, err)
	}
	if r := env.Run(); r.Status != models.RunSucceeded {
		t.Fatalf("run with the new key installed: %s %s", r.Status, r.ErrorMessage)
	}

	got := strings.Join(auditActions(t, env), " ")
	for _, want := range []string{"source.create", "source.tunnel_host_key_pin", "source.tunnel_host_key_change", "source.tunnel_host_key_accept", "source.tunnel_key_generate"} {
		if !strings.Contains(got, want) {
			t.Errorf("audit log %q lacks %s", got, want)
		}
	}
}
