// Package metaads is the Meta Ads destination: it adds the records of a segment to a
// customer list custom audience of an ad account, and removes those that leave it, over
// the Graph API's Marketing API, version v25.0.
//
// It is coded from Meta's public documentation:
//   - "Custom Audience Users" (POST and DELETE /{custom_audience_id}/users, payload
//     {schema, data}, at most 10,000 users a call, the answer's audience_id, session_id,
//     num_received, num_invalid_entries, invalid_entry_samples):
//     https://developers.facebook.com/docs/marketing-api/reference/custom-audience/users
//   - "Customer List Custom Audiences" and its hashing and normalization rules (EMAIL
//     trimmed and lower-cased; PHONE digits only with the country code, no + nor leading
//     zeros; FN and LN lower-case letters; SHA-256 as lower-case hex):
//     https://developers.facebook.com/docs/marketing-api/audiences/guides/custom-audiences
//   - "Ad Account Customaudiences" (GET /act_{ad_account_id}/customaudiences):
//     https://developers.facebook.com/docs/marketing-api/reference/ad-account/customaudiences
//   - "Marketing API Rate Limiting" (the ad account's score: 9,000 points decaying over
//     300 s on the Standard tier, writes scoring 3; the custom_audience business use case;
//     codes 4, 17, 613, 80003):
//     https://developers.facebook.com/docs/marketing-api/overview/rate-limiting
//   - "Rate Limits" (X-Business-Use-Case-Usage and estimated_time_to_regain_access):
//     https://developers.facebook.com/docs/graph-api/overview/rate-limiting
//   - "Handling Errors" (the error object; 190, 102, 10, 200-299, 4, 17, 341):
//     https://developers.facebook.com/docs/graph-api/guides/error-handling
//   - "Manually Build a Login Flow" and "Long-Lived Access Tokens" (Facebook Login):
//     https://developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow
//     https://developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived
//
// The request shapes were checked against Meta's own Python client
// (facebook-python-business-sdk, v25.0: CustomAudienceMixin.format_params and
// normalize_key).
package metaads

import (
	"context"
	"net/url"
	"strings"

	"sluice/connectors"
	"sluice/destinations/httpdest"
)

// Kind is the registry key of the Meta Ads connector.
const Kind = "metaads"

// APIVersion is the Graph API version every request names.
const APIVersion = "v25.0"

// DefaultBaseURL is the Graph API's documented production host.
const DefaultBaseURL = "https://graph.facebook.com"

// ActionExportAudience adds records to a custom audience and removes those that leave.
const ActionExportAudience = "export_audience"

// SettingAudience is the export_audience setting naming the custom audience.
const SettingAudience = "audience_id"

// MaxUsers is the documented most users one /users call takes.
const MaxUsers = 10000

// The pace. The limit that binds a customer list upload is the ad account's score
// ("Marketing API Rate Limiting"): on the Standard tier (Full access, which an app
// serving other businesses' ad accounts has) at most 9,000 points, decaying over 300 s,
// a write scoring 3 — 3,000 users calls per 300 s window, 10 a second on average. The
// custom_audience business use case allows at least 190,000 calls an hour per ad account
// on that tier (52/s), so it never binds first; the Development tier's 60 points would
// allow 20 writes per 300 s, too few for any production use.
//
// A token bucket lets Burst + RequestsPerSecond·W requests through in any window of W
// seconds. For W = 300: 30 + 9.4·300 = 2,850 calls = 95% of 3,000. For the hour of the
// business use case: 30 + 9.4·3,600 = 33,870, 18% of 190,000. The one read a run makes
// per audience (scoring 1) fits in the remaining 5%.
const (
	RequestsPerSecond = 9.4
	Burst             = 30
)

// Options configure the connector.
type Options struct {
	// BaseURL is the Graph API's host ("" is DefaultBaseURL): tests point it at a fake.
	BaseURL string
	// AllowPrivate lets requests go to loopback and private addresses (tests, demos).
	AllowPrivate bool
}

// New returns the Meta Ads connector.
func New(o Options) connectors.DestinationConnector {
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	return &connector{opts: o}
}

type connector struct {
	opts Options
}

// Spec describes the kind. Meta gives Facebook Login's user access tokens no refresh
// token: a long-lived one lasts about 60 days, and consenting again renews it. PKCE is
// off: Facebook Login documents it only for its OpenID Connect flow (marked as still in
// testing), not for the code flow whose token grants Marketing API access.
func (c *connector) Spec() connectors.DestinationSpec {
	return connectors.DestinationSpec{
		Kind:  Kind,
		Label: "Meta Ads",
		Auth:  connectors.AuthOAuth,
		OAuth: &connectors.OAuthSpec{
			Provider: "meta",
			AuthURL:  "https://www.facebook.com/" + APIVersion + "/dialog/oauth",
			TokenURL: "https://graph.facebook.com/" + APIVersion + "/oauth/access_token",
			Scopes:   []string{"ads_management"},
			// Facebook Login's code gives a token that lasts hours; this trade gives one of
			// about 60 days ("Long-Lived Access Tokens", Facebook Login guides).
			LongLivedGrant: "fb_exchange_token",
		},
		Config: []connectors.FieldSpec{
			{Name: "ad_account_id", Label: "Ad account ID", Type: connectors.FieldString, Required: true,
				Help: "The ad account whose custom audiences Sluice fills, as Ads Manager shows it (e.g. 1234567890 or act_1234567890)."},
		},
		Actions:           []connectors.Action{exportAudience()},
		RequestsPerSecond: RequestsPerSecond,
		Burst:             Burst,
	}
}

func exportAudience() connectors.Action {
	return connectors.Action{
		Name:  ActionExportAudience,
		Label: "Export to a custom audience",
		Fields: []connectors.ActionField{
			{Name: "email", Label: "E-mail", Kind: connectors.KindEmail, Identifier: true},
			{Name: "phone", Label: "Phone", Kind: connectors.KindPhone, Identifier: true},
			{Name: "first_name", Label: "First name", Kind: connectors.KindString},
			{Name: "last_name", Label: "Last name", Kind: connectors.KindString},
		},
		BatchSize: MaxUsers,
		Removals:  true,
		Settings: []connectors.FieldSpec{
			{Name: SettingAudience, Label: "Custom audience", Type: connectors.FieldString, Required: true,
				Help: "The customer list custom audience of the ad account that receives the records."},
		},
	}
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
	account, ok := parseAccountID(cfg["ad_account_id"])
	if !ok {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: "ad_account_id",
			Message: "The ad account ID must be the number Ads Manager shows, with or without act_ before it (e.g. act_1234567890)."}
	}
	if tokens == nil {
		return nil, &connectors.Error{Category: connectors.CategoryCredentials,
			Message: "This Meta Ads platform has not been authorized yet: connect it to Facebook."}
	}
	if _, err := url.Parse(c.opts.BaseURL); err != nil {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Message: "The Graph API address is not a valid URL.", Err: err}
	}
	client := httpdest.NewClient(httpdest.Options{Name: "Meta", AllowPrivate: c.opts.AllowPrivate})
	return &destination{base: c.opts.BaseURL, account: account, tokens: tokens, client: client, audiences: map[string]string{}}, nil
}

// parseAccountID takes "act_123" or "123" and returns "123".
func parseAccountID(v string) (string, bool) {
	v = strings.TrimPrefix(v, "act_")
	return v, isDigits(v)
}

func isDigits(v string) bool {
	if v == "" || len(v) > 32 {
		return false
	}
	for _, r := range v {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
