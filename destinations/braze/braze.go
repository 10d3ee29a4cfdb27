// Package braze is the Braze destination: it updates user profiles of a Braze workspace
// through the REST API's POST /users/track, and keeps audience membership in a custom
// attribute array of those profiles.
//
// Coded from the Braze REST API documentation (braze.com/docs, read December 2026; the
// REST API has no version number of its own, the paths are unversioned):
//
//   - "Track users" (POST /users/track): https://www.braze.com/docs/api/endpoints/user_data/post_user_track/
//   - "User attributes object": https://www.braze.com/docs/api/objects_filters/user_attributes_object/
//   - "Export custom attributes" (GET /custom_attributes): https://www.braze.com/docs/api/endpoints/export/custom_attributes/get_custom_attributes/
//   - "API errors and responses": https://www.braze.com/docs/api/errors/
//   - "Rate limits": https://www.braze.com/docs/api/api_limits/
//   - "REST API key" and "API URL" of "API basics": https://www.braze.com/docs/api/basics/
//
// A platform is a REST endpoint, the URL of the customer's Braze instance
// (https://rest.iad-01.braze.com, https://rest.fra-02.braze.eu…), and a REST API key
// sent as "Authorization: Bearer". The key needs the users.track permission to write,
// and custom_attributes.get for Check and for listing attributes. Each customer's
// endpoint is in the config, so the connector has no base URL of its own: tests point
// rest_endpoint at a fake on loopback and allow private networks.
//
// Two actions:
//
//   - sync_users sets profile attributes, users matched by external_id or by e-mail
//     (the match_by setting), 75 attributes objects per request as documented.
//   - export_list keeps an audience. Braze has no list or audience object that the REST
//     API writes to: its segments are filters over profile data, and what the documents
//     give for membership kept from outside is a custom attribute array, edited with
//     {"add": [value]} and {"remove": [value]} in the attributes object. So an upsert adds
//     the activation's value (e.g. the segment's name) to the array attribute its
//     settings name, a removal removes it, and a Braze segment filters on "attribute
//     includes value". Removals are sent with "_update_existing_only": true, so that
//     taking someone out of an audience never creates a profile.
//
// Braze answers 201 {"message": "success", "attributes_processed": n} when it took a
// request, with "errors": [{"type", "input_array", "index"}] for the objects it refused
// (these become WriteResult.Rejected, by index), and a fatal error's {"message"} with
// 4xx or 5xx otherwise. /users/track allows 3,000 requests per three seconds per
// workspace; 429 answers carry X-RateLimit-Limit, -Remaining and -Reset (the window's
// end in UTC epoch seconds), from which RetryAfter is derived when there is no
// Retry-After.
//
// Identifiers are sent as Braze documents them for /users/track: in clear, e-mail
// addresses as given (the engine trims them), phone numbers in E.164 ("+15043277269" in
// the "Update a user profile by phone number" example). Braze documents no hashing for
// this endpoint; nothing is hashed.
package braze

import (
	"context"
	"crypto/x509"
	"net/http"
	"net/url"
	"strings"
	"time"

	"sluice/connectors"
	"sluice/destinations/httpdest"
)

// Kind is the registry key of the Braze connector.
const Kind = "braze"

// Actions.
const (
	ActionSyncUsers  = "sync_users"
	ActionExportList = "export_list"
)

// BatchSize is the most attributes objects one /users/track request carries ("Each
// /users/track request can contain up to 75 event objects, 75 attribute objects, and 75
// purchase objects").
const BatchSize = 75

// The documented limit of /users/track is 3,000 requests per three seconds per
// workspace, 1,000 a second on average. A token bucket lets Burst + RequestsPerSecond·W
// requests through in any window of W seconds, so for the three-second window:
// 30 + 940·3 = 2,850 = 95% of 3,000; in any shorter window W the bucket allows
// 30 + 940·W ≤ 2,850 as well, so no window Braze counts in sees more than 95% of its
// limit, whichever instant it starts. The rest is the margin for clocks and in-flight
// requests. A small burst, because a large one would have to be paid for with a lower
// rate (150 + 900·3 is the same 2,850).
const (
	RequestsPerSecond = 940
	Burst             = 30
)

// Settings of the actions.
const (
	SettingMatchBy   = "match_by"
	SettingAttribute = "attribute"
	SettingValue     = "value"
)

// How users are matched (match_by).
const (
	MatchExternalID = "external_id"
	MatchEmail      = "email"
)

// Permissions of a Braze REST API key the connector needs.
const (
	PermUsersTrack          = "users.track"
	PermCustomAttributesGet = "custom_attributes.get"
)

// Paths of the endpoints used.
const (
	pathTrack      = "/users/track"
	pathAttributes = "/custom_attributes"
)

// Options configure the connector.
type Options struct {
	// AllowPrivate lets the REST endpoint be at a loopback or private address
	// (SLUICE_ALLOW_PRIVATE_NETWORKS): for tests and demos against a fake instance.
	AllowPrivate bool
	// Timeout bounds each request (httpdest.DefaultTimeout when 0).
	Timeout time.Duration
	// RootCAs, when set, are the only authorities trusted for the endpoint's TLS
	// certificate: a fake instance's own, in tests. Nil trusts the system's.
	RootCAs *x509.CertPool
	// Resolver resolves the endpoint's host at Open (net.DefaultResolver when nil).
	Resolver httpdest.Resolver
}

// New returns the Braze connector.
func New(o Options) connectors.DestinationConnector { return &connector{opts: o} }

type connector struct{ opts Options }

var matchBy = connectors.FieldSpec{Name: SettingMatchBy, Label: "Match users by", Type: connectors.FieldSelect,
	Options: []string{MatchExternalID, MatchEmail}, Default: MatchExternalID,
	Help: "Which identifier finds the user in Braze: the external ID (your user id in Braze) or the e-mail address. " +
		"Matched by e-mail, an external_id mapping is not sent, since Braze would match by it instead."}

// Spec describes the Braze kind.
func (c *connector) Spec() connectors.DestinationSpec {
	return connectors.DestinationSpec{
		Kind:  Kind,
		Label: "Braze",
		Auth:  connectors.AuthAPIKey,
		Config: []connectors.FieldSpec{
			{Name: "rest_endpoint", Label: "REST endpoint", Type: connectors.FieldString, Required: true,
				Help: "Your Braze instance's REST endpoint, as Braze shows it under Settings > APIs and Identifiers, e.g. https://rest.iad-01.braze.com or https://rest.fra-02.braze.eu. It must be https."},
			{Name: "api_key", Label: "REST API key", Type: connectors.FieldPassword, Secret: true, Required: true,
				Help: "A REST API key of the workspace (Settings > APIs and Identifiers), with the users.track and custom_attributes.get permissions. Stored encrypted, never shown back."},
		},
		Actions: []connectors.Action{
			{
				Name:  ActionSyncUsers,
				Label: "Sync user profiles",
				Fields: []connectors.ActionField{
					{Name: "external_id", Label: "External ID", Kind: connectors.KindString, Identifier: true},
					{Name: "email", Label: "E-mail", Kind: connectors.KindEmail, Identifier: true},
					{Name: "phone", Label: "Phone", Kind: connectors.KindPhone},
					{Name: "first_name", Label: "First name", Kind: connectors.KindString},
					{Name: "last_name", Label: "Last name", Kind: connectors.KindString},
					{Name: "country", Label: "Country (ISO 3166-1 alpha-2)", Kind: connectors.KindString},
					{Name: "language", Label: "Language (ISO 639-1)", Kind: connectors.KindString},
					{Name: "home_city", Label: "Home city", Kind: connectors.KindString},
					{Name: "dob", Label: "Date of birth", Kind: connectors.KindDatetime},
				},
				Custom:    true, // any other name is a custom attribute
				BatchSize: BatchSize,
				Settings:  []connectors.FieldSpec{matchBy},
			},
			{
				Name:  ActionExportList,
				Label: "Keep an audience in a custom attribute",
				Fields: []connectors.ActionField{
					{Name: "external_id", Label: "External ID", Kind: connectors.KindString, Identifier: true},
					{Name: "email", Label: "E-mail", Kind: connectors.KindEmail, Identifier: true},
				},
				BatchSize: BatchSize,
				Removals:  true,
				Settings: []connectors.FieldSpec{
					{Name: SettingAttribute, Label: "Array attribute", Type: connectors.FieldString, Required: true,
						Help: "The custom attribute array that holds the audiences a user is in, e.g. sluice_audiences. Braze creates it with the first value; a Braze segment then filters on it."},
					{Name: SettingValue, Label: "Audience value", Type: connectors.FieldString, Required: true,
						Help: "The value added to the array for users in the segment and removed when they leave it, e.g. the segment's name."},
					matchBy,
				},
			},
		},
		RequestsPerSecond: RequestsPerSecond,
		Burst:             Burst,
	}
}

// Open checks the config and that the endpoint is a public address; it sends nothing
// (Check does).
func (c *connector) Open(ctx context.Context, cfg connectors.Config, _ connectors.Tokens) (connectors.Destination, error) {
	in := connectors.Config{}
	for k, v := range cfg {
		in[k] = strings.TrimSpace(v)
	}
	if err := in.Validate(c.Spec().Config); err != nil {
		return nil, err
	}
	base, err := parseEndpoint(in["rest_endpoint"])
	if err != nil {
		return nil, err
	}
	key := in["api_key"]
	if strings.ContainsFunc(key, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, configError("api_key", "The REST API key has a space or a control character in it: paste the key alone, as Braze shows it.")
	}
	client := httpdest.NewClient(httpdest.Options{Name: "Braze", AllowPrivate: c.opts.AllowPrivate, Timeout: c.opts.Timeout})
	if c.opts.RootCAs != nil {
		if t, ok := client.HTTPClient().Transport.(*http.Transport); ok {
			t.TLSClientConfig = t.TLSClientConfig.Clone()
			t.TLSClientConfig.RootCAs = c.opts.RootCAs
		}
	}
	if !c.opts.AllowPrivate {
		if err := httpdest.CheckHost(ctx, c.opts.Resolver, base.Hostname()); err != nil {
			ce := client.TransportError(err)
			ce.Field = "rest_endpoint"
			return nil, ce
		}
	}
	return &destination{base: base, key: key, client: client, checked: map[string]error{}}, nil
}

// parseEndpoint reads the REST endpoint: https, a host, nothing after it. A bare host
// name, as people copy it, is taken as https.
func parseEndpoint(raw string) (*url.URL, error) {
	const example = "write it as Braze shows it, e.g. https://rest.iad-01.braze.com."
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: "rest_endpoint",
			Message: "The REST endpoint is not a valid URL: " + example, Detail: connectors.MaskURLs(err.Error()), Err: err}
	}
	switch {
	case u.Scheme != "https":
		return nil, configError("rest_endpoint", "The REST endpoint must start with https://: Braze's API is only served over HTTPS.")
	case u.Hostname() == "":
		return nil, configError("rest_endpoint", "The REST endpoint has no host: "+example)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return nil, configError("rest_endpoint", "The REST endpoint is the instance's address alone, without user, query or fragment: "+example)
	case u.Path != "" && u.Path != "/":
		return nil, configError("rest_endpoint", "The REST endpoint is the instance's address alone, without a path such as "+u.Path+": "+example)
	}
	return &url.URL{Scheme: "https", Host: u.Host}, nil
}

func configError(field, message string) *connectors.Error {
	return &connectors.Error{Category: connectors.CategoryConfiguration, Field: field, Message: message}
}
