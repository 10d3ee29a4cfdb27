package redshift_test

import (
	"maps"
	"net"
	"strconv"
	"testing"

	"sluice/connectors"
	"sluice/connectors/connectortest"
	"sluice/sources/redshift"
)

// TestConformance runs the connector kit on the local PostgreSQL database shaped like
// Redshift. The failing config points at a closed port. The keys are not read in order
// there: Redshift's COLLATE(…, 'case_sensitive') is not PostgreSQL syntax, so the kit
// only checks that the dialect orders keys (TestDialect checks its SQL).
func TestConformance(t *testing.T) {
	r := newRedshiftLike(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	with := func(kv ...string) connectors.Config {
		cfg := maps.Clone(r.cfg)
		for i := 0; i+1 < len(kv); i += 2 {
			cfg[kv[i]] = kv[i+1]
		}
		return cfg
	}
	connectortest.Source(t, redshift.New(), connectortest.SourceEnv{
		Config:  r.cfg,
		Failing: with("host", "127.0.0.1", "port", closed),
		Invalid: []connectortest.Invalid{{Name: "port 0", Config: with("port", "0"), Field: "port"}},
	})
}
