package jobstest

import (
	"context"
	"strings"
	"testing"

	"sluice/connectors"
	"sluice/internal/fakes/bastion"
	"sluice/models"
	"sluice/sources/sshtunnel"
)

// ThroughTunnel is Setup with the source reached through bastion b, and the tunnel's
// part of a whole activation proved for a source kind with the tunnel's fields: the
// first validation pins b's host key; the first run reads the warehouse through b (first
// checks its counts against what the warehouse holds); a key b no longer accepts, then a
// changed host key, fail a run as credentials in words naming the bastion (and both
// fingerprints) and leave the source broken by the same words, each until fixed (the
// key installed again and the source validated; the new host key accepted by an
// admin), and the run after each fix succeeds. The environment is answered for
// more runs.
func ThroughTunnel(t *testing.T, a Activation, b *bastion.Server, first func(*models.Run)) *Env {
	t.Helper()
	cfg, pub := b.TunnelConfig(t, a.Config)
	a.Generated = connectors.Config{sshtunnel.FieldPrivateKey: cfg[sshtunnel.FieldPrivateKey], sshtunnel.FieldPublicKey: pub}
	delete(cfg, sshtunnel.FieldPrivateKey)
	delete(cfg, sshtunnel.FieldPublicKey)
	a.Config = cfg
	b.Authorize(pub)
	env := Setup(t, a)
	ctx := context.Background()
	addr := b.Host() + ":" + b.Port()
	if got := env.Source.PublicConfig()[sshtunnel.FieldHostKey]; got != b.HostKey() {
		t.Fatalf("pinned host key = %q, want the bastion's %q", got, b.HostKey())
	}
	// A run the bastion refuses fails as credentials, its fix on the source's page; the
	// runner validates the source again, which records it broken by the same words
	// (and pauses the activation until a validation passes).
	refused := func(step, want string) {
		t.Helper()
		r := env.Run()
		if r.Status != models.RunFailed || r.ErrorCategory != string(connectors.CategoryCredentials) || !strings.Contains(r.ErrorMessage, want) {
			t.Fatalf("%s: %s %s %q, want a credentials failure saying %q", step, r.Status, r.ErrorCategory, r.ErrorMessage, want)
		}
		if fix, ok := models.RunFixPlace(r.ErrorSide, r.ErrorCategory); !ok || fix.Route != "sources.show" {
			t.Errorf("%s: the failed run's fix is %+v %v (side %q), not the source's page", step, fix, ok, r.ErrorSide)
		}
		src, err := env.Store.SourceByID(ctx, env.Admin.WorkspaceID, env.Source.ID)
		if err != nil {
			t.Fatal(err)
		}
		if f := src.FailedCheck(); src.Status != models.SourceBroken || f == nil || f.Stage != connectors.StageConnection || !strings.Contains(f.Message, want) {
			t.Fatalf("%s: the source is %s, its failed check %+v", step, src.Status, f)
		}
	}
	fixed := func(step string, src *models.Source, err error) {
		t.Helper()
		if err != nil || src.Status != models.SourceConnected {
			t.Fatalf("%s: %+v %v", step, src, err)
		}
		r := env.Run()
		if r.Status != models.RunSucceeded && r.Status != models.RunWarnings {
			t.Fatalf("run after %s: %s %+v (%s)", step, r.Status, r.RunCounts, r.ErrorMessage)
		}
	}

	before := b.Forwarded()
	r := env.Run()
	if r.Status != models.RunSucceeded && r.Status != models.RunWarnings {
		t.Fatalf("first run: %s %+v (%s)", r.Status, r.RunCounts, r.ErrorMessage)
	}
	first(r)
	if b.Forwarded() == before {
		t.Fatal("the run did not read the warehouse through the bastion")
	}

	// Sluice's key is removed from the bastion, then installed again.
	b.Deauthorize(pub)
	refused("run with a key the bastion refuses", "The SSH bastion "+addr+" refused Sluice's key for user "+bastion.User+".")
	b.Authorize(pub)
	src, err := env.Service.ValidateSource(ctx, env.Admin.WorkspaceID, env.Source.ID)
	fixed("installing the key again", src, err)

	// The bastion's host key changes: refused until an admin accepts the new one.
	oldFP := b.HostKeyFingerprint()
	b.ChangeHostKey()
	refused("run after the host key changed", "The host key of the SSH bastion "+addr+" changed: Sluice pinned "+oldFP+
		" and the bastion now presents "+b.HostKeyFingerprint()+".")
	src, err = env.Service.AcceptTunnelHostKey(ctx, env.Admin, env.Source.ID, b.HostKeyFingerprint())
	fixed("accepting the new host key", src, err)
	return env
}
