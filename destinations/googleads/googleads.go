// Package googleads is the Google Ads platform: Customer Match audiences and conversion
// adjustments over the Google Ads API's REST interface, version v23
// (https://googleads.googleapis.com/v23).
//
// It is coded from Google's public documentation:
//   - "REST interface: Make an API call" and "API call structure" (headers
//     Authorization: Bearer, developer-token, login-customer-id):
//     https://developers.google.com/google-ads/api/rest/overview,
//     https://developers.google.com/google-ads/api/docs/concepts/call-structure
//   - "Get started with Customer Match" (OfflineUserDataJobService: create, addOperations
//     with enablePartialFailure, run; SHA-256 of trimmed, lower-cased e-mails and of
//     E.164 phone numbers; creation and removal never in one job):
//     https://developers.google.com/google-ads/api/docs/remarketing/audience-types/customer-match
//   - "Conversion adjustments" (ConversionAdjustmentUploadService,
//     uploadConversionAdjustments with partialFailure; ENHANCEMENT, RESTATEMENT,
//     RETRACTION; "yyyy-mm-dd hh:mm:ss+|-hh:mm"):
//     https://developers.google.com/google-ads/api/docs/conversions/upload-adjustments
//   - "Partial failures" (partialFailureError, a GoogleAdsFailure whose errors point at
//     their operation by index):
//     https://developers.google.com/google-ads/api/docs/best-practices/partial-failures
//   - "API limits and quotas", "Access levels and permissible use", "Rate sheet" and
//     "Rate limits" (daily operations by access level, 2,000 adjustments and 100,000
//     identifiers a request, RESOURCE_EXHAUSTED with QuotaErrorDetails.retryDelay):
//     https://developers.google.com/google-ads/api/docs/best-practices/quotas,
//     https://developers.google.com/google-ads/api/docs/access-levels,
//     https://developers.google.com/google-ads/api/docs/rate-sheet,
//     https://developers.google.com/google-ads/api/docs/productionize/rate-limits
//   - "Using OAuth 2.0 to Access Google APIs" (endpoints, access_type=offline,
//     prompt=consent, PKCE): https://developers.google.com/identity/protocols/oauth2/web-server
//   - the v23 service and error protos (googleapis/googleapis, google/ads/googleads/v23).
package googleads

import (
	"context"
	"strings"

	"sluice/connectors"
	"sluice/destinations/httpdest"
)

// Kind is the registry key of the Google Ads connector.
const Kind = "googleads"

// Version is the Google Ads API version the connector speaks.
const Version = "v23"

// ProductionURL is the API's documented host.
const ProductionURL = "https://googleads.googleapis.com"

// Scope is the OAuth scope of the Google Ads API.
const Scope = "https://www.googleapis.com/auth/adwords"

// Actions.
const (
	ActionExportAudience    = "export_audience"
	ActionAdjustConversions = "adjust_conversions"
)

// Documented request limits. Customer Match takes up to 100,000 identifiers per
// addOperations request and advises about 10,000; a record carries at most an e-mail
// and a phone, so 10,000 records stay within both. Conversion adjustments: fewer than
// 2,001 per upload (TOO_MANY_ADJUSTMENTS_IN_REQUEST).
const (
	AudienceBatchSize   = 10000
	AdjustmentBatchSize = 2000
)

// Access levels of a developer token, and the API operations a day each allows
// ("API limits and quotas"). Every request Sluice makes counts as one operation
// (search, job create, addOperations, run and uploadConversionAdjustments are not
// mutates: "all other requests count as one operation").
const (
	AccessExplorer = "explorer" // 2,880 operations a day on production accounts
	AccessBasic    = "basic"    // 15,000 operations a day
	AccessStandard = "standard" // no daily cap; only the unpublished per-second buckets
)

// Pacing. The limits Google publishes are daily counts of operations per developer
// token, by access level; the per-second rate limits (per customer and per Cloud
// project, token buckets that vary with server load) have no published numbers. One
// Write costs at most 6 requests: an audience batch with both upserts and removals
// needs two jobs (creation and removal may not share one: CONFLICTING_OPERATION), each
// created, given its operations and run. A token bucket lets Burst + RPS·W Writes
// through in any window of W seconds, so for a daily limit L:
//
//	6·(Burst + RPS·86,400) ≤ 0.95·L
//
// Basic, L = 15,000: 0.95·15,000/6 = 2,375 Writes a day; Burst 5 and
// RPS = 2,370/86,400 = 0.0274305… give exactly 2,375 (14,250 requests, 95%).
// Explorer, L = 2,880: 456 Writes a day; Burst 2, RPS = 454/86,400.
// Standard: no daily window; one Write a second (at most 6 requests) keeps well under
// any per-second bucket Google is known to apply, and a 429's retryDelay holds every
// sender when it is not.
const (
	BasicPerSecond    = 2370.0 / 86400
	BasicBurst        = 5
	ExplorerPerSecond = 454.0 / 86400
	ExplorerBurst     = 2
	StandardPerSecond = 1.0
	StandardBurst     = 1
	// RequestsPerWrite is the most requests one Write sends (a batch within BatchSize).
	RequestsPerWrite = 6
)

// Options configure the connector.
type Options struct {
	// BaseURL is the API's host ("" is ProductionURL): tests point it at a fake.
	BaseURL string
	// AllowPrivate lets requests go to loopback and private addresses (tests, demos).
	AllowPrivate bool
}

// New returns the Google Ads connector.
func New(o Options) connectors.DestinationConnector {
	if o.BaseURL == "" {
		o.BaseURL = ProductionURL
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	return &connector{opts: o}
}

type connector struct{ opts Options }

// Spec describes the form, the two actions and the pacing of a Basic developer token.
func (c *connector) Spec() connectors.DestinationSpec {
	return connectors.DestinationSpec{
		Kind:  Kind,
		Label: "Google Ads",
		Auth:  connectors.AuthOAuth,
		OAuth: &connectors.OAuthSpec{
			Provider: "google",
			AuthURL:  "https://accounts.google.com/o/oauth2/v2/auth",
			TokenURL: "https://oauth2.googleapis.com/token",
			Scopes:   []string{Scope},
			PKCE:     true,
			// A refresh token comes back only with offline access, and again on a second
			// consent only when the consent screen is shown.
			AuthParams: map[string]string{"access_type": "offline", "prompt": "consent"},
		},
		Config: []connectors.FieldSpec{
			{Name: "developer_token", Label: "Developer token", Type: connectors.FieldPassword, Required: true, Secret: true,
				Help: "Your Google Ads API developer token, from the API Center of your manager account. Stored encrypted, never shown back."},
			{Name: "customer_id", Label: "Customer ID", Type: connectors.FieldString, Required: true,
				Help: "The 10-digit ID of the Google Ads account to send to, as shown at the top of Google Ads (123-456-7890); dashes are removed."},
			{Name: "login_customer_id", Label: "Login customer ID", Type: connectors.FieldString,
				Help: "When you reach the account through a manager account, that manager's 10-digit ID."},
			{Name: "access_level", Label: "Developer token access level", Type: connectors.FieldSelect, Default: AccessBasic,
				Options: []string{AccessExplorer, AccessBasic, AccessStandard},
				Help:    "As shown in the API Center: Sluice paces its requests to stay under the daily operations this level allows (Explorer 2,880, Basic 15,000, Standard unlimited)."},
		},
		Actions:           []connectors.Action{exportAudience(), adjustConversions()},
		RequestsPerSecond: BasicPerSecond,
		Burst:             BasicBurst,
	}
}

func exportAudience() connectors.Action {
	return connectors.Action{
		Name:  ActionExportAudience,
		Label: "Export audience (Customer Match)",
		Fields: []connectors.ActionField{
			{Name: "email", Label: "E-mail", Kind: connectors.KindEmail, Identifier: true},
			{Name: "phone", Label: "Phone (E.164)", Kind: connectors.KindPhone, Identifier: true},
		},
		BatchSize: AudienceBatchSize,
		Removals:  true,
		Settings: []connectors.FieldSpec{
			{Name: "user_list", Label: "Customer list", Type: connectors.FieldString, Required: true,
				Help: "The Customer Match list (CRM-based user list) the audience is kept in."},
		},
	}
}

func adjustConversions() connectors.Action {
	return connectors.Action{
		Name:  ActionAdjustConversions,
		Label: "Adjust conversions",
		Fields: []connectors.ActionField{
			{Name: "order_id", Label: "Order ID", Kind: connectors.KindString, Required: true, Identifier: true},
			{Name: "adjustment_date_time", Label: "Adjustment time", Kind: connectors.KindDatetime, Required: true},
			{Name: "restatement_value", Label: "Restated value", Kind: connectors.KindNumber},
			{Name: "currency_code", Label: "Currency (ISO 4217)", Kind: connectors.KindString},
			{Name: "email", Label: "E-mail (enhancements)", Kind: connectors.KindEmail},
			{Name: "phone", Label: "Phone (enhancements)", Kind: connectors.KindPhone},
		},
		BatchSize: AdjustmentBatchSize,
		Settings: []connectors.FieldSpec{
			{Name: "conversion_action", Label: "Conversion action", Type: connectors.FieldString, Required: true,
				Help: "The conversion action whose conversions are adjusted."},
			{Name: "adjustment_type", Label: "Adjustment", Type: connectors.FieldSelect, Required: true,
				Options: []string{"RESTATEMENT", "RETRACTION", "ENHANCEMENT"},
				Help:    "RESTATEMENT changes a conversion's value, RETRACTION removes the conversion, ENHANCEMENT adds hashed e-mail and phone to it."},
		},
	}
}

// settings are a validated config.
type settings struct {
	developerToken string
	customerID     string
	loginID        string
	accessLevel    string
}

// Open checks the config; it sends nothing (Check does).
func (c *connector) Open(_ context.Context, in connectors.Config, tokens connectors.Tokens) (connectors.Destination, error) {
	cfg := connectors.Config{}
	for k, v := range in {
		cfg[k] = strings.TrimSpace(v)
	}
	if err := cfg.Validate(c.Spec().Config); err != nil {
		return nil, err
	}
	cid, ok := customerID(cfg["customer_id"])
	if !ok {
		return nil, configError("customer_id", "The customer ID must be the account's 10 digits, e.g. 123-456-7890.")
	}
	login := ""
	if cfg["login_customer_id"] != "" {
		if login, ok = customerID(cfg["login_customer_id"]); !ok {
			return nil, configError("login_customer_id", "The login customer ID must be the manager account's 10 digits, e.g. 123-456-7890.")
		}
	}
	if tokens == nil {
		return nil, &connectors.Error{Category: connectors.CategoryCredentials,
			Message: "This Google Ads platform has not been authorized yet: authorize it with Google first."}
	}
	return &destination{
		set:    settings{developerToken: cfg["developer_token"], customerID: cid, loginID: login, accessLevel: cfg["access_level"]},
		base:   c.opts.BaseURL + "/" + Version,
		tokens: tokens,
		client: httpdest.NewClient(httpdest.Options{Name: "Google Ads", AllowPrivate: c.opts.AllowPrivate}),
	}, nil
}

// customerID removes the dashes and spaces of a customer ID and checks its 10 digits.
func customerID(s string) (string, bool) {
	s = strings.NewReplacer("-", "", " ", "").Replace(s)
	if len(s) != 10 {
		return "", false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return "", false
		}
	}
	return s, true
}

// dashed is a customer ID as Google Ads shows it: 123-456-7890.
func dashed(id string) string {
	if len(id) != 10 {
		return id
	}
	return id[:3] + "-" + id[3:6] + "-" + id[6:]
}

func configError(field, message string) *connectors.Error {
	return &connectors.Error{Category: connectors.CategoryConfiguration, Field: field, Message: message}
}
