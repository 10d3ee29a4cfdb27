package databricks_test

import (
	"context"
	"strings"
	"testing"

	"sluice/connectors"
	"sluice/internal/fakes/bastion"
	"sluice/sources/sshtunnel"
)

// A Databricks workspace reached through an SSH bastion: the statements travel over the
// tunnel and the five checks pass; a key the bastion refuses fails the connection check
// naming the bastion.
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
	var n int
	if err := src.Query(context.Background(), "SELECT id FROM main.sales.customers", nil, func([]any) error { n++; return nil }); err != nil || n != 12 {
		t.Fatalf("query through the tunnel: %d rows, %v", n, err)
	}
	if b.Forwarded() == 0 {
		t.Fatal("nothing went through the bastion")
	}
}
