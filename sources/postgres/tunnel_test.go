package postgres_test

import (
	"context"
	"strings"
	"testing"

	"sluice/connectors"
	"sluice/internal/fakes/bastion"
	"sluice/sources/postgres"
	"sluice/sources/sshtunnel"
)

// tunnelConfig is w's config reached through b, logging in with a new key that b
// authorizes when authorize is true.
func tunnelConfig(t *testing.T, w *warehouse, b *bastion.Server, authorize bool) connectors.Config {
	t.Helper()
	priv, pub, err := sshtunnel.NewKey("sluice-test")
	if err != nil {
		t.Fatal(err)
	}
	if authorize {
		b.Authorize(pub)
	}
	return with(w.cfg, sshtunnel.FieldEnabled, "true", sshtunnel.FieldHost, b.Host(), sshtunnel.FieldPort, b.Port(),
		sshtunnel.FieldUser, "sluice", sshtunnel.FieldPrivateKey, priv, sshtunnel.FieldPublicKey, pub)
}

// TestValidatesAndQueriesThroughSSHTunnel: every connection goes over the bastion, the
// five checks pass, the first connection reports the host key to pin, and a query
// streams through the tunnel.
func TestValidatesAndQueriesThroughSSHTunnel(t *testing.T) {
	w := newWarehouse(t)
	w.seed(t)
	b := bastion.Start(t)
	cfg := tunnelConfig(t, w, b, true)
	cfg["schema"] = "sales"
	src := open(t, postgres.New(), cfg)
	checks := validate(t, src, []connectors.ModelRef{{Name: "customers", Relation: connectors.Relation{Table: &connectors.Table{Name: "customers"}}}})
	expectAllOK(t, checks)
	if msg := checks[0].Message; !strings.Contains(msg, "through the SSH bastion sluice@"+b.Host()+":"+b.Port()) || !strings.Contains(msg, b.HostKeyFingerprint()) {
		t.Errorf("connection check = %q, want the bastion and its host key's fingerprint", msg)
	}
	if got := src.(connectors.HostKeyReporter).PresentedHostKey(); got != b.HostKey() {
		t.Errorf("presented host key = %q, want %q", got, b.HostKey())
	}
	var ids []string
	err := src.Query(context.Background(), `SELECT id::text FROM sales.customers ORDER BY id`, nil, func(row []any) error {
		ids = append(ids, row[0].(string))
		return nil
	})
	if err != nil || strings.Join(ids, ",") != "1,2" {
		t.Fatalf("query through the tunnel: %v %v", ids, err)
	}
	if b.Logins() == 0 || b.Forwarded() < 2 {
		t.Errorf("the bastion saw %d logins and %d forwarded connections: the warehouse was not reached through it", b.Logins(), b.Forwarded())
	}
}

// TestSSHTunnelFailuresNameTheirHop: each hop that fails is named in the connection
// check's words, with the category and field that lead to its fix.
func TestSSHTunnelFailuresNameTheirHop(t *testing.T) {
	w := newWarehouse(t)
	b := bastion.Start(t)
	const skipped = "Skipped: fix the connection first."
	fail := func(t *testing.T, cfg connectors.Config, want string, category connectors.Category, field string) {
		t.Helper()
		src := open(t, postgres.New(), cfg)
		expectFailure(t, validate(t, src, nil), connectors.StageConnection, want, skipped)
		err := src.Query(context.Background(), "SELECT 1", nil, func([]any) error { return nil })
		ce, ok := connectors.AsError(err)
		if !ok || ce.Category != category || ce.Field != field || !strings.Contains(ce.Message, want) {
			t.Errorf("query error = %#v, want %s on %s saying %q", err, category, field, want)
		}
	}
	bastionAddr := b.Host() + ":" + b.Port()

	t.Run("bastion unreachable", func(t *testing.T) {
		port := closedPort(t)
		fail(t, with(tunnelConfig(t, w, b, true), sshtunnel.FieldPort, port),
			"Cannot reach the SSH bastion 127.0.0.1:"+port+": the connection was refused.", connectors.CategoryConnection, sshtunnel.FieldHost)
	})
	t.Run("key refused", func(t *testing.T) {
		fail(t, tunnelConfig(t, w, b, false),
			"The SSH bastion "+bastionAddr+" refused Sluice's key for user sluice.", connectors.CategoryCredentials, sshtunnel.FieldUser)
	})
	t.Run("host key changed", func(t *testing.T) {
		pinned := b.HostKey()
		cfg := with(tunnelConfig(t, w, b, true), sshtunnel.FieldHostKey, pinned)
		src := open(t, postgres.New(), cfg)
		expectAllOK(t, validate(t, src, nil)) // the pinned key is the bastion's: it connects
		b.ChangeHostKey()
		t.Cleanup(func() { b.ChangeHostKey() })
		fail(t, cfg, "The host key of the SSH bastion "+bastionAddr+" changed: Sluice pinned "+sshtunnel.Fingerprint(pinned)+
			" and the bastion now presents "+b.HostKeyFingerprint()+".", connectors.CategoryCredentials, sshtunnel.FieldHost)
	})
	t.Run("warehouse unreachable from the bastion", func(t *testing.T) {
		port := closedPort(t)
		fail(t, with(tunnelConfig(t, w, b, true), "port", port),
			"The SSH bastion "+bastionAddr+" cannot reach the warehouse at "+w.cfg["host"]+":"+port+": connect failed", connectors.CategoryConnection, "host")
	})
	t.Run("forwarding off", func(t *testing.T) {
		b.RefuseForwarding(true)
		t.Cleanup(func() { b.RefuseForwarding(false) })
		fail(t, tunnelConfig(t, w, b, true),
			"The SSH bastion "+bastionAddr+" does not let user sluice open connections to", connectors.CategoryConnection, sshtunnel.FieldHost)
	})
	t.Run("no key yet", func(t *testing.T) {
		_, err := postgres.New().Open(context.Background(), with(tunnelConfig(t, w, b, true), sshtunnel.FieldPrivateKey, ""))
		if ce, ok := connectors.AsError(err); !ok || ce.Field != sshtunnel.FieldEnabled || !strings.Contains(ce.Message, "no SSH key") {
			t.Errorf("open without a key: %v", err)
		}
	})
}
