package googleads_test

import (
	"testing"

	"sluice/connectors"
	"sluice/connectors/connectortest"
	"sluice/destinations/googleads"
	fake "sluice/internal/fakes/googleads"
)

// TestConformance runs the connector kit against the fake Google Ads API (on loopback,
// hence private networks allowed). The failing config carries a developer token the
// fake does not know, so every call is refused with DEVELOPER_TOKEN_INVALID.
func TestConformance(t *testing.T) {
	srv := fake.New(fake.Options{})
	t.Cleanup(srv.Close)
	cfg := connectors.Config{"developer_token": srv.DeveloperToken(), "customer_id": "123-456-7890", "access_level": "basic"}
	failing := connectors.Config{"developer_token": "not-the-developer-token", "customer_id": "1234567890"}
	connectortest.Destination(t, googleads.New(googleads.Options{BaseURL: srv.URL, AllowPrivate: true}), connectortest.DestinationEnv{
		Config:  cfg,
		Failing: failing,
		Invalid: []connectortest.Invalid{
			{Name: "a customer ID of 9 digits", Config: with(cfg, "customer_id", "123-456-789"), Field: "customer_id"},
			{Name: "a customer ID with letters", Config: with(cfg, "customer_id", "123-456-78a0"), Field: "customer_id"},
			{Name: "a login customer ID of 11 digits", Config: with(cfg, "login_customer_id", "12345678901"), Field: "login_customer_id"},
		},
		Received: func() []connectortest.Request {
			var out []connectortest.Request
			for _, r := range srv.Took() {
				out = append(out, connectortest.Request{Records: r.Records, Bytes: r.Bytes})
			}
			return out
		},
		Settings: map[string]map[string]string{
			googleads.ActionExportAudience:    {"user_list": "111"},
			googleads.ActionAdjustConversions: {"conversion_action": "222", "adjustment_type": "RESTATEMENT"},
		},
		Tokens: connectors.StaticToken(srv.AccessToken()),
	})
}

func with(cfg connectors.Config, k, v string) connectors.Config {
	out := connectors.Config{}
	for key, val := range cfg {
		out[key] = val
	}
	out[k] = v
	return out
}
