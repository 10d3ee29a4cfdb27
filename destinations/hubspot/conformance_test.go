package hubspot_test

import (
	"fmt"
	"testing"

	"sluice/connectors"
	"sluice/connectors/connectortest"
	"sluice/destinations/hubspot"
	fake "sluice/internal/fakes/hubspot"
)

// TestConformance runs the connector kit against the fake. The failing config pins the
// platform to a Hub ID the token is not for, so Check and Write refuse it.
func TestConformance(t *testing.T) {
	srv := fake.New(fake.Options{})
	defer srv.Close()
	c := hubspot.New(hubspot.Options{BaseURL: srv.URL, AllowPrivate: true})
	connectortest.Destination(t, c, connectortest.DestinationEnv{
		Config:  connectors.Config{"portal_id": fmt.Sprint(fake.PortalID)},
		Failing: connectors.Config{"portal_id": "1"},
		Invalid: []connectortest.Invalid{
			{Name: "a Hub ID in words", Config: connectors.Config{"portal_id": "my account"}, Field: "portal_id"},
		},
		Received: func() []connectortest.Request {
			var out []connectortest.Request
			for _, r := range srv.TakeReceived() {
				out = append(out, connectortest.Request{Records: r.Inputs, Bytes: r.Bytes})
			}
			return out
		},
		Settings: map[string]map[string]string{
			hubspot.ActionSyncContacts:  {hubspot.SettingIDProperty: "email"},
			hubspot.ActionSyncCompanies: {hubspot.SettingIDProperty: "company_id"},
		},
		Tokens: connectors.StaticToken(fake.Token),
		Fields: func(a connectors.Action, i int) map[string]any {
			if a.Name == hubspot.ActionSyncCompanies {
				return map[string]any{"company_id": fmt.Sprintf("co-%05d", i), "name": fmt.Sprintf("Company %d", i), "domain": fmt.Sprintf("c%d.example.com", i)}
			}
			return map[string]any{"email": fmt.Sprintf("kit%d@example.com", i), "firstname": fmt.Sprintf("Kit %d", i), "phone": fmt.Sprintf("+1415555%04d", i%10000)}
		},
	})
}
