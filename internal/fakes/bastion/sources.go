package bastion

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/sources/sshtunnel"
)

// User is the account on the bastion the helpers below log in as.
const User = "sluice"

// TunnelConfig is cfg reached through the bastion as User, with a new key pair: the
// private and public keys among the settings, as Sluice stores them once generated.
// pub is the public key, which the bastion refuses until Authorize is given it.
func (s *Server) TunnelConfig(t testing.TB, cfg connectors.Config) (tunneled connectors.Config, pub string) {
	t.Helper()
	priv, pub, err := sshtunnel.NewKey("sluice-test")
	if err != nil {
		t.Fatal(err)
	}
	tunneled = maps.Clone(cfg)
	maps.Copy(tunneled, connectors.Config{sshtunnel.FieldEnabled: "true", sshtunnel.FieldHost: s.Host(), sshtunnel.FieldPort: s.Port(),
		sshtunnel.FieldUser: User, sshtunnel.FieldPrivateKey: priv, sshtunnel.FieldPublicKey: pub})
	return tunneled, pub
}

// CheckSource proves that a source kind is reached through the bastion, as every kind
// with the tunnel's fields must be: opened (by open) from cfg with a tunnel whose key
// the bastion refuses, its connection check fails naming the bastion and the later
// stages are skipped; once the key is authorized, the five checks pass, the connection
// check names the bastion and its host key, the source reports the host key presented
// (for Sluice to pin), and the checks reached the warehouse through the bastion. It
// answers that source, open through the tunnel, for the caller's queries.
func (s *Server) CheckSource(t testing.TB, cfg connectors.Config, open func(connectors.Config) connectors.Source) connectors.Source {
	t.Helper()
	tunneled, pub := s.TunnelConfig(t, cfg)
	validate := func(src connectors.Source) []connectors.Check {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		checks := src.Validate(ctx, nil)
		if len(checks) != 5 {
			t.Fatalf("%d checks, want the five stages: %+v", len(checks), checks)
		}
		return checks
	}
	addr := s.Host() + ":" + s.Port()

	refused := validate(open(tunneled))
	if c := refused[0]; c.OK || !strings.Contains(c.Message, "The SSH bastion "+addr+" refused Sluice's key for user "+User+".") || !refused[1].Skipped {
		t.Fatalf("with a key the bastion refuses: %+v", refused)
	}

	s.Authorize(pub)
	before := s.Forwarded()
	src := open(tunneled)
	checks := validate(src)
	for _, c := range checks {
		if !c.OK {
			t.Fatalf("through the tunnel: %+v", checks)
		}
	}
	if msg := checks[0].Message; !strings.Contains(msg, " through the SSH bastion "+User+"@"+addr+" (host key "+s.HostKeyFingerprint()+")") {
		t.Errorf("the connection check %q does not name the bastion and its host key", msg)
	}
	if r, ok := src.(connectors.HostKeyReporter); !ok || r.PresentedHostKey() != s.HostKey() {
		t.Errorf("the source does not report the bastion's host key %q (reports it: %v)", s.HostKey(), ok)
	}
	if s.Forwarded() == before {
		t.Fatal("the checks passed without going through the bastion")
	}
	return src
}
