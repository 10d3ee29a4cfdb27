package snowflake_test

import (
	"strings"
	"testing"

	"sluice/connectors"
	"sluice/internal/fakes/bastion"
	"sluice/sources/sshtunnel"
)

// A Snowflake account reached through an SSH bastion (a PrivateLink endpoint only the
// bastion can reach): a key the bastion refuses fails the connection check naming the
// bastion; once it is installed the statements travel over the tunnel and the five
// checks pass.
func TestThroughSSHTunnel(t *testing.T) {
	w := newWarehouse(t)
	b := bastion.Start(t)
	priv, pub, err := sshtunnel.NewKey("sluice")
	if err != nil {
		t.Fatal(err)
	}
	cfg := with(w.cfg, sshtunnel.FieldEnabled, "true", sshtunnel.FieldHost, b.Host(), sshtunnel.FieldPort, b.Port(),
		sshtunnel.FieldUser, "sluice", sshtunnel.FieldPrivateKey, priv)

	refused := validate(t, w.open(t, cfg))
	if c := refused[0]; c.OK || !strings.Contains(c.Message, "The SSH bastion "+b.Host()+":"+b.Port()+" refused Sluice's key for user sluice.") || !refused[1].Skipped {
		t.Fatalf("with a key the bastion refuses: %+v", refused)
	}

	b.Authorize(pub)
	src := w.open(t, cfg)
	checks := validate(t, src)
	for _, c := range checks {
		if !c.OK {
			t.Fatalf("through the tunnel: %+v", checks)
		}
	}
	if !strings.Contains(checks[0].Message, "through the SSH bastion sluice@") || src.(connectors.HostKeyReporter).PresentedHostKey() != b.HostKey() {
		t.Errorf("connection check %q, presented host key %q", checks[0].Message, src.(connectors.HostKeyReporter).PresentedHostKey())
	}
	if got := rows(t, src, `SELECT "ID" FROM "PUBLIC"."CUSTOMERS"`); len(got) != 42 {
		t.Fatalf("query through the tunnel: %d rows", len(got))
	}
	if b.Forwarded() == 0 {
		t.Fatal("nothing went through the bastion")
	}
}
