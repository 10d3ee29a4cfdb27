package klaviyo_test

import (
	"testing"
	"time"

	"sluice/connectors"
	"sluice/connectors/connectortest"
	"sluice/destinations/klaviyo"
	fake "sluice/internal/fakes/klaviyo"
)

// testKey is the private key the fakes take.
const testKey = "pk_test_0123456789abcdef0123456789abcdef01"

// newFake starts a fake Klaviyo for one test.
func newFake(t testing.TB) *fake.Server {
	t.Helper()
	f := fake.New(testKey)
	t.Cleanup(f.Close)
	return f
}

// connector is the connector pointed at f, polling jobs every few milliseconds.
func connector(f *fake.Server) connectors.DestinationConnector {
	return klaviyo.New(klaviyo.Options{BaseURL: f.URL, AllowPrivate: true, PollInterval: 5 * time.Millisecond, JobTimeout: 10 * time.Second})
}

// TestConformance runs the connector kit on the fake: the working config's key is the
// fake's, the failing config's key is one the fake refuses (401). The kit's records
// reach the fake as profiles of bulk import jobs; list removals name profile ids.
func TestConformance(t *testing.T) {
	f := newFake(t)
	listID := f.AddList("Kit list")
	connectortest.Destination(t, connector(f), connectortest.DestinationEnv{
		Config:  connectors.Config{"api_key": testKey},
		Failing: connectors.Config{"api_key": "pk_revoked_key_0000000000000000000000000"},
		Invalid: []connectortest.Invalid{
			{Name: "a public key", Config: connectors.Config{"api_key": "AbC123"}, Field: "api_key"},
			{Name: "a key with a space", Config: connectors.Config{"api_key": "pk_abc def"}, Field: "api_key"},
		},
		Received: func() []connectortest.Request {
			var out []connectortest.Request
			for _, r := range f.TakeReceived() {
				if r.Profiles > 0 {
					out = append(out, connectortest.Request{Records: r.Profiles, Bytes: r.Bytes})
				}
			}
			return out
		},
		Settings: map[string]map[string]string{
			klaviyo.ActionExportList: {"list_id": listID},
		},
	})
}
