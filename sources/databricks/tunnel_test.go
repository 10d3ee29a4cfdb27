package databricks_test

import (
	"context"
	"strings"
	"testing"

	"sluice/connectors"
	"sluice/internal/fakes/bastion"
	"sluice/jobs/jobstest"
	"sluice/models"
	"sluice/segments"
	"sluice/sources/databricks"
)

// A Databricks workspace reached through an SSH bastion: the statements travel over the
// tunnel and the five checks pass; a key the bastion refuses fails the connection check
// naming the bastion.
func TestThroughSSHTunnel(t *testing.T) {
	w := newWarehouse(t)
	b := bastion.Start(t)
	src := b.CheckSource(t, w.cfg, func(cfg connectors.Config) connectors.Source { return w.open(t, cfg) })
	var n int
	if err := src.Query(context.Background(), "SELECT id FROM main.sales.customers", nil, func([]any) error { n++; return nil }); err != nil || n != 12 {
		t.Fatalf("query through the tunnel: %d rows, %v", n, err)
	}
}

// TestActivationRunsThroughSSHTunnel is a whole activation from a Databricks workspace
// reached through an SSH bastion (jobstest.ThroughTunnel): the runs read the workspace
// through it, and a refused key or a changed host key fails a run naming the bastion.
func TestActivationRunsThroughSSHTunnel(t *testing.T) {
	w := newWarehouse(t)
	in := &inbox{records: map[string]map[string]any{}}
	jobstest.ThroughTunnel(t, jobstest.Activation{
		Source: databricks.New(databricks.Options{BaseURL: w.f.URL()}), Config: w.cfg,
		Table: connectors.Table{Schema: "sales", Name: "customers"}, PrimaryKey: "id",
		Condition: segments.All(segments.Leaf("id", segments.OpLte, 10)),
		Mappings:  []models.Mapping{{From: "email", To: "email", Type: "email"}},
		Hook:      in,
	}, bastion.Start(t), func(r *models.Run) {
		// Customers 1 to 10, every one sent.
		if rec, _, n := in.get("10"); r.Queried != 10 || r.Added != 10 || r.Sent != 10 || n != 10 || rec["email"] != "c10@example.com" {
			t.Fatalf("first run through the tunnel: %+v; the destination holds %d records, 10 is %v", r.RunCounts, n, rec)
		}
	})
}

// With OAuth machine-to-machine, the token request goes through the tunnel too, and its
// failure names the hop like any other request's, though oauth2 keeps only its text: in
// a query (a run) with a key the bastion refuses, and in the connection check when the
// bastion may not forward.
func TestOAuthThroughSSHTunnelNamesTheHop(t *testing.T) {
	w := newWarehouse(t)
	b := bastion.Start(t)
	id, secret := w.f.AddServicePrincipal()
	cfg, pub := b.TunnelConfig(t, with(w.cfg, "auth", databricks.AuthOAuth, "token", "", "client_id", id, "client_secret", secret))
	addr := b.Host() + ":" + b.Port()

	err := w.open(t, cfg).Query(context.Background(), "SELECT 1", nil, func([]any) error { return nil })
	want := "The SSH bastion " + addr + " refused Sluice's key for user " + bastion.User + "."
	if ce, ok := connectors.AsError(err); !ok || ce.Category != connectors.CategoryCredentials || !strings.Contains(ce.Message, want) {
		t.Errorf("query with a key the bastion refuses: %v, want a credentials error saying %q", err, want)
	}

	b.Authorize(pub)
	b.RefuseForwarding(true)
	checks := validate(t, w.open(t, cfg))
	want = "The SSH bastion " + addr + " does not let user " + bastion.User + " open connections to"
	if c := checks[0]; c.OK || !strings.Contains(c.Message, want) {
		t.Errorf("connection check with forwarding off: %+v, want it to say %q", c, want)
	}
}
