package snowflake_test

import (
	"testing"

	"sluice/connectors"
	"sluice/internal/fakes/bastion"
	"sluice/jobs/jobstest"
	"sluice/models"
	"sluice/segments"
	"sluice/sources/snowflake"
)

// A Snowflake account reached through an SSH bastion (a PrivateLink endpoint only the
// bastion can reach): a key the bastion refuses fails the connection check naming the
// bastion; once it is installed the statements travel over the tunnel and the five
// checks pass.
func TestThroughSSHTunnel(t *testing.T) {
	w := newWarehouse(t)
	b := bastion.Start(t)
	src := b.CheckSource(t, w.cfg, func(cfg connectors.Config) connectors.Source { return w.open(t, cfg) })
	if got := rows(t, src, `SELECT "ID" FROM "PUBLIC"."CUSTOMERS"`); len(got) != 42 {
		t.Fatalf("query through the tunnel: %d rows", len(got))
	}
}

// TestActivationRunsThroughSSHTunnel is a whole activation from a Snowflake account
// reached through an SSH bastion (jobstest.ThroughTunnel): the runs read the account
// through it, and a refused key or a changed host key fails a run naming the bastion.
func TestActivationRunsThroughSSHTunnel(t *testing.T) {
	w := newWarehouse(t)
	in := &inbox{records: map[string]map[string]any{}}
	jobstest.ThroughTunnel(t, jobstest.Activation{
		Source: snowflake.New(snowflake.Options{BaseURL: w.fake.URL}), Config: w.cfg,
		Table: connectors.Table{Schema: "PUBLIC", Name: "CUSTOMERS"}, PrimaryKey: "ID",
		Condition: segments.All(segments.Leaf("VIP", segments.OpEq, true)),
		Mappings:  []models.Mapping{{From: "EMAIL", To: "email", Type: "email"}, {From: "NAME", To: "name", Type: "string"}},
		Hook:      in,
	}, bastion.Start(t), func(r *models.Run) {
		// The 21 VIPs (ids 2 to 42, even), every one sent.
		in.mu.Lock()
		defer in.mu.Unlock()
		if r.Queried != 21 || r.Added != 21 || r.Sent != 21 || len(in.records) != 21 || in.records["42"]["email"] != "c42@example.com" {
			t.Fatalf("first run through the tunnel: %+v; the destination holds %d records", r.RunCounts, len(in.records))
		}
	})
}
