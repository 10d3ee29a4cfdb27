package metaads_test

import (
	"testing"

	"sluice/connectors"
	"sluice/connectors/connectortest"
	"sluice/destinations/metaads"
	fake "sluice/internal/fakes/metaads"
)

// Fixtures of the fake: an ad account with a customer list audience, and a user token
// granted ads_management.
const (
	accountID  = "1234567890"
	audienceID = "23850000000000001"
	userToken  = "EAAGtestusertoken0123456789"
)

// newFake starts a fake Graph API holding the fixtures.
func newFake(t testing.TB) *fake.Server {
	t.Helper()
	f := fake.New()
	t.Cleanup(f.Close)
	f.AddToken(userToken, "ads_management")
	f.AddAccount(accountID, "Acme Ads")
	f.AddAudience(accountID, audienceID, "VIP customers")
	return f
}

// TestConformance runs the connector kit against the fake. The failing config names an
// ad account that does not exist: Check answers 100/33 and Write finds the audience in
// another account.
func TestConformance(t *testing.T) {
	f := newFake(t)
	c := metaads.New(metaads.Options{BaseURL: f.URL, AllowPrivate: true})
	connectortest.Destination(t, c, connectortest.DestinationEnv{
		Config:  connectors.Config{"ad_account_id": "act_" + accountID},
		Failing: connectors.Config{"ad_account_id": "999"},
		Invalid: []connectortest.Invalid{
			{Name: "a name for an ad account id", Config: connectors.Config{"ad_account_id": "Acme Ads"}, Field: "ad_account_id"},
			{Name: "act_ alone", Config: connectors.Config{"ad_account_id": "act_"}, Field: "ad_account_id"},
		},
		Received: func() []connectortest.Request {
			var out []connectortest.Request
			for _, r := range f.Received() {
				out = append(out, connectortest.Request{Records: r.Rows, Bytes: r.Bytes})
			}
			return out
		},
		Settings: map[string]map[string]string{metaads.ActionExportAudience: {metaads.SettingAudience: audienceID}},
		Tokens:   connectors.StaticToken(userToken),
	})
}
