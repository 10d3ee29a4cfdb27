// Package hubspot is the HubSpot CRM destination: it creates or updates contacts and
// companies with the CRM v3 objects API's batch upsert, matched by a property whose
// values are unique (a contact's e-mail by default), over OAuth 2.0.
//
// It is coded from HubSpot's public documentation, CRM API v3:
//   - "Create or update a batch of contacts by unique property values" and "… of
//     companies …", https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/contacts/batch/upsert-contacts
//     and …/companies/batch/upsert-companies (POST /crm/v3/objects/{object}/batch/upsert)
//   - "Error handling", https://developers.hubspot.com/docs/api-reference/error-handling
//     (401, 403 MISSING_SCOPES, 207 Multi-Status with objectWriteTraceId)
//   - "API usage guidelines and limits", https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines,
//     and the changelog "New and Improved HubSpot API Limits" (OAuth apps: 100 requests
//     per 10 seconds per account) and "Rate limit headers will now appear for OAuth
//     authenticated calls" (X-HubSpot-RateLimit-*)
//   - "Properties API", GET /crm/v3/properties/{object} (hasUniqueValue),
//     https://developers.hubspot.com/docs/api-reference/legacy/crm/properties/get-properties
//   - "Retrieve account details", GET /account-info/v3/details (scope oauth),
//     https://developers.hubspot.com/docs/api-reference/legacy/account/account-information/get-account-details
//   - "OAuth Quickstart Guide" and "Working with OAuth",
//     https://developers.hubspot.com/docs/api/oauth-quickstart-guide (authorization code
//     grant; no PKCE is documented, so none is sent)
//
// HubSpot does not hash identifiers: records carry plain values. Contacts match their
// e-mail regardless of case ("The Contacts API automatically de-duplicates email
// addresses"), so e-mails are sent lower-cased, as HubSpot stores them.
package hubspot

import (
	"context"
	"regexp"
	"strings"

	"sluice/connectors"
	"sluice/destinations/httpdest"
)

// Kind is the registry key of the HubSpot connector.
const Kind = "hubspot"

// BaseURL is HubSpot's documented API host.
const BaseURL = "https://api.hubapi.com"

// Actions.
const (
	ActionSyncContacts  = "sync_contacts"
	ActionSyncCompanies = "sync_companies"
)

// SettingIDProperty is each action's one setting: the unique property records match by.
const SettingIDProperty = "id_property"

// MaxInputs is the most inputs HubSpot takes in one batch request.
const MaxInputs = 100

// The documented limit for OAuth apps is 100 requests per rolling 10 seconds per
// account, and no per-second limit besides (search excepted, which this connector
// does not use). A token bucket lets Burst + RequestsPerSecond·W requests through in
// any window of W seconds: 2 + 9.3·10 = 95 in 10 s, 95% of the limit. Split between
// two instances, each bucket holds floor(2·½) = 1, so the two still let through at most
// 2 + 93 = 95. The account's limit is shared with every other app installed in it,
// which this margin does not cover: their 429s are waited out (Retry-After).
const (
	RequestsPerSecond = 9.3
	Burst             = 2
)

// Scopes are the CRM scopes Sluice asks for: read and write contacts and companies, read
// their property definitions (the settings' choices), and oauth (account details).
var Scopes = []string{
	"oauth",
	"crm.objects.contacts.read", "crm.objects.contacts.write",
	"crm.objects.companies.read", "crm.objects.companies.write",
	"crm.schemas.contacts.read", "crm.schemas.companies.read",
}

// Options configure the connector.
type Options struct {
	// BaseURL is the API's address ("" is BaseURL): a local fake in tests and demos.
	BaseURL string
	// AllowPrivate lets BaseURL be a loopback or private address.
	AllowPrivate bool
}

// New returns the HubSpot connector.
func New(o Options) connectors.DestinationConnector {
	if o.BaseURL == "" {
		o.BaseURL = BaseURL
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	return &connector{opts: o}
}

type connector struct {
	opts Options
}

// objects maps each action to the CRM object it writes.
var objects = map[string]string{ActionSyncContacts: "contacts", ActionSyncCompanies: "companies"}

// Spec describes the kind. The only config field is the account's Hub ID, optional: set,
// it pins the platform to that account, so a re-authorization into another account
// fails instead of writing there.
func (c *connector) Spec() connectors.DestinationSpec {
	str := func(name, label string) connectors.ActionField {
		return connectors.ActionField{Name: name, Label: label, Kind: connectors.KindString}
	}
	return connectors.DestinationSpec{
		Kind:  Kind,
		Label: "HubSpot",
		Auth:  connectors.AuthOAuth,
		Config: []connectors.FieldSpec{
			{Name: "portal_id", Label: "Hub ID", Type: connectors.FieldString,
				Help: "The HubSpot account's Hub ID (in HubSpot, the account menu shows it). When set, Sluice checks the authorization is for this account before writing."},
		},
		OAuth: &connectors.OAuthSpec{
			Provider: Kind,
			AuthURL:  "https://app.hubspot.com/oauth/authorize",
			TokenURL: "https://api.hubapi.com/oauth/v1/token",
			Scopes:   Scopes,
		},
		Actions: []connectors.Action{
			{
				Name: ActionSyncContacts, Label: "Sync contacts",
				Fields: []connectors.ActionField{
					{Name: "email", Label: "Email", Kind: connectors.KindEmail, Identifier: true},
					str("firstname", "First name"), str("lastname", "Last name"),
					{Name: "phone", Label: "Phone number", Kind: connectors.KindPhone},
					str("company", "Company name"), str("jobtitle", "Job title"),
					str("city", "City"), str("country", "Country/Region"),
				},
				Custom:    true, // any contact property, by its internal name
				BatchSize: MaxInputs,
				Settings: []connectors.FieldSpec{{Name: SettingIDProperty, Label: "Match contacts by", Type: connectors.FieldString,
					Required: true, Default: "email",
					Help: "The contact property whose value identifies a contact: email, or a property with unique values. Its value comes from the field mapped to it, or else the record's key."}},
			},
			{
				// Companies have no unique default property (a domain may be shared), so
				// they match by a unique-value property of the account, which has no
				// fixed name: every company field is a custom one.
				Name: ActionSyncCompanies, Label: "Sync companies",
				Custom:    true,
				BatchSize: MaxInputs,
				Settings: []connectors.FieldSpec{{Name: SettingIDProperty, Label: "Match companies by", Type: connectors.FieldString,
					Required: true,
					Help:     "A company property with unique values (created in HubSpot with \"Require unique values\"). Its value comes from the field mapped to it, or else the record's key."}},
			},
		},
		RequestsPerSecond: RequestsPerSecond,
		Burst:             Burst,
	}
}

var digits = regexp.MustCompile(`^[0-9]{1,12}$`)

// Open checks the config; it sends nothing (Check does).
func (c *connector) Open(_ context.Context, cfg connectors.Config, tokens connectors.Tokens) (connectors.Destination, error) {
	portal := strings.TrimSpace(cfg["portal_id"])
	if portal != "" && !digits.MatchString(portal) {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: "portal_id",
			Message: "The Hub ID is a number, e.g. 62515: copy it from HubSpot's account menu."}
	}
	if tokens == nil {
		return nil, &connectors.Error{Category: connectors.CategoryCredentials,
			Message: "The HubSpot platform is not authorized yet: authorize it with HubSpot."}
	}
	return &destination{
		base:   c.opts.BaseURL,
		portal: portal,
		tokens: tokens,
		client: httpdest.NewClient(httpdest.Options{Name: "HubSpot", AllowPrivate: c.opts.AllowPrivate}),
		known:  map[string]bool{},
	}, nil
}
