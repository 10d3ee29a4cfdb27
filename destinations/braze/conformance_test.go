package braze_test

import (
	"testing"

	"sluice/connectors"
	"sluice/connectors/connectortest"
	"sluice/destinations/braze"
	fakebraze "sluice/internal/fakes/braze"
)

// TestConformance runs the connector kit against two fake Braze instances on loopback
// (hence private networks allowed, and the fakes' certificates trusted): one that takes
// the key, and one whose key was revoked.
func TestConformance(t *testing.T) {
	ok := fakebraze.New(t, testKey)
	refusing := fakebraze.New(t, testKey)
	refusing.Revoke()
	pool := ok.RootCAs()
	pool.AddCert(refusing.Certificate())
	cfg := func(kv ...string) connectors.Config {
		c := connectors.Config{"rest_endpoint": ok.URL, "api_key": testKey}
		for i := 0; i+1 < len(kv); i += 2 {
			c[kv[i]] = kv[i+1]
		}
		return c
	}
	connectortest.Destination(t, braze.New(braze.Options{AllowPrivate: true, RootCAs: pool}), connectortest.DestinationEnv{
		Config:  cfg(),
		Failing: cfg("rest_endpoint", refusing.URL),
		Invalid: []connectortest.Invalid{
			{Name: "an http endpoint", Config: cfg("rest_endpoint", "http://rest.iad-01.braze.com"), Field: "rest_endpoint"},
			{Name: "an endpoint with a path", Config: cfg("rest_endpoint", "https://rest.iad-01.braze.com/users/track"), Field: "rest_endpoint"},
			{Name: "an endpoint with a query", Config: cfg("rest_endpoint", "https://rest.iad-01.braze.com/?api_key=x"), Field: "rest_endpoint"},
			{Name: "an endpoint without a host", Config: cfg("rest_endpoint", "https:///"), Field: "rest_endpoint"},
			{Name: "a key with a space", Config: cfg("api_key", "two words"), Field: "api_key"},
		},
		Received: func() []connectortest.Request {
			var out []connectortest.Request
			for _, r := range ok.Received() {
				out = append(out, connectortest.Request{Records: r.Objects, Bytes: len(r.Body)})
			}
			return out
		},
		Settings: map[string]map[string]string{
			braze.ActionSyncUsers:  {braze.SettingMatchBy: braze.MatchExternalID},
			braze.ActionExportList: {braze.SettingAttribute: "sluice_audiences", braze.SettingValue: "kit", braze.SettingMatchBy: braze.MatchEmail},
		},
	})
}
