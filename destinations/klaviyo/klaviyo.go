// Package klaviyo is the Klaviyo platform: it imports profiles, and adds them to a list
// or removes them from it, through Klaviyo's REST API at revision 2026-07-15 (the
// `revision` header of every request), authenticated with a private API key.
//
// It is coded from Klaviyo's public documentation:
//
//   - "API overview" (authentication, revision header, JSON:API, filtering, cursor
//     pagination), https://developers.klaviyo.com/en/v2026-07-15/reference/api-overview
//   - "Rate limits, status codes, and errors" (fixed windows of one second and one minute
//     per account, 429 with Retry-After, the XS/S/M/L/XL tiers),
//     https://developers.klaviyo.com/en/docs/rate_limits_and_error_handling
//   - "Bulk Import Profiles" (POST /api/profile-bulk-import-jobs: 10,000 profiles and 5 MB
//     a job, 100 KB a profile, burst 10/s, steady 150/m, scopes lists:write profiles:write),
//     https://developers.klaviyo.com/en/v2026-07-15/reference/bulk_import_profiles
//   - "Get Bulk Import Profiles Job" and "Get Errors for Bulk Import Profiles Job" (job
//     status, import errors with original_payload and source.pointer, pages of up to 100),
//     https://developers.klaviyo.com/en/v2026-07-15/reference/get_bulk_import_profiles_job,
//     https://developers.klaviyo.com/en/v2026-07-15/reference/get_errors_for_bulk_import_profiles_job
//   - "Bulk Import Profiles API" guide,
//     https://developers.klaviyo.com/en/docs/use_klaviyos_bulk_profile_import_api
//   - "Get Lists" (pages of 10, burst 75/s, steady 750/m, scope lists:read),
//     https://developers.klaviyo.com/en/v2026-07-15/reference/get_lists
//   - "Get Profiles" (filter any(email,[…]), pages of up to 100, scope profiles:read),
//     https://developers.klaviyo.com/en/v2026-07-15/reference/get_profiles
//   - "Remove Profiles from List" (DELETE /api/lists/{id}/relationships/profiles, 1,000
//     profiles a call, burst 10/s, steady 150/m),
//     https://developers.klaviyo.com/en/v2026-07-15/reference/remove_profiles_from_list
//   - "Get Accounts" (the cheap check of a key: burst 1/s, steady 15/m, accounts:read),
//     https://developers.klaviyo.com/en/v2026-07-15/reference/get_accounts
//
// and checked against the request and answer schemas of Klaviyo's OpenAPI description
// (github.com/klaviyo/openapi, openapi/stable, revision 2026-07-15).
//
// Klaviyo takes identifiers in clear (an e-mail, a phone number in E.164, an external
// id): nothing is hashed, and the engine's normalized values are sent as they are.
package klaviyo

import (
	"context"
	"regexp"
	"strings"
	"time"

	"sluice/connectors"
	"sluice/destinations/httpdest"
)

// Kind is the registry key of the Klaviyo connector.
const Kind = "klaviyo"

// Actions.
const (
	ActionSyncProfiles = "sync_profiles"
	ActionExportList   = "export_list"
)

// DefaultBaseURL is Klaviyo's production API (the OpenAPI description's server).
const DefaultBaseURL = "https://a.klaviyo.com"

// Revision is the API revision every request names in its revision header.
const Revision = "2026-07-15"

// JSONAPI is the media type of Klaviyo's requests and answers.
const JSONAPI = "application/vnd.api+json"

// Documented limits of one bulk import job, and of the calls removals make.
const (
	MaxJobProfiles  = 10000
	MaxJobBytes     = 5_000_000 // "5MB": the decimal reading, the stricter one
	MaxProfileBytes = 100_000   // "100KB" per profile
	maxRemovalIDs   = 1000      // Remove Profiles from List, per call
	maxLookup       = 100       // Get Profiles: page[size] at most 100, so one page per lookup
	maxListsPage    = 10        // Get Lists: page[size] at most 10
	maxOptionPages  = 100       // 1,000 lists is more than any account's form can show
)

// The pace of the one request per Write that carries records: Bulk Import Profiles,
// documented at burst 10/s and steady 150/m, counted in fixed windows per account. A
// token bucket lets Burst + RequestsPerSecond·W requests through in any window of W
// seconds, so, aiming at 95% of each window:
//
//	1 s:  Burst +  1·RequestsPerSecond ≤ 0.95·10  = 9.5
//	60 s: Burst + 60·RequestsPerSecond ≤ 0.95·150 = 142.5
//
// RequestsPerSecond 2.3 and Burst 4 give 6.3 in a second and 142 in a minute (94.7% of
// the steady limit), and 2.3/s sustained, 92% of 150/m.
const (
	RequestsPerSecond = 2.3
	Burst             = 4
)

// The pace of the requests a Write makes besides the import, each endpoint paced apart
// since Klaviyo counts each apart: polls of the job and reads of its errors (M tier,
// like the import: the same 2.3/s and 4); Get Profiles lookups for removals (L tier, 75/s
// and 750/m: 10 + 11·1 = 21 ≤ 71 and 10 + 11·60 = 670 ≤ 712); Remove Profiles from List
// (M tier). They are paced per opened platform; a 429 that still comes is waited out
// (polls) or returned as retryable (removals, which are safe to send again).
const (
	pollPerSecond   = 2.3
	pollBurst       = 4
	lookupPerSecond = 11
	lookupBurst     = 10
	removePerSecond = 2.3
	removeBurst     = 4
)

// Polling. Klaviyo processes a job in seconds to minutes; the wait between polls doubles
// from PollInterval up to maxPollInterval, and a job not done within JobTimeout is a
// timeout (retryable: importing the same profiles again is an upsert).
const (
	DefaultPollInterval = time.Second
	DefaultJobTimeout   = 10 * time.Minute
	maxPollInterval     = 15 * time.Second
)

// Options configure the connector.
type Options struct {
	// BaseURL is the API's address ("" is DefaultBaseURL): a fake's in tests.
	BaseURL string
	// AllowPrivate lets requests go to loopback and private addresses (tests, demos).
	AllowPrivate bool
	// PollInterval is the first wait before polling an import job (DefaultPollInterval
	// when 0): tests poll a fake in milliseconds.
	PollInterval time.Duration
	// JobTimeout bounds the wait for one import job (DefaultJobTimeout when 0).
	JobTimeout time.Duration
}

// New returns the Klaviyo connector.
func New(o Options) connectors.DestinationConnector {
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.JobTimeout <= 0 {
		o.JobTimeout = DefaultJobTimeout
	}
	return &connector{opts: o}
}

type connector struct {
	opts Options
}

// profileFields are the profile attributes Klaviyo names; any other mapped field goes
// into the profile's custom properties.
func profileFields() []connectors.ActionField {
	return []connectors.ActionField{
		{Name: "email", Label: "E-mail", Kind: connectors.KindEmail, Identifier: true},
		{Name: "phone_number", Label: "Phone number (E.164)", Kind: connectors.KindPhone, Identifier: true},
		{Name: "external_id", Label: "External ID", Kind: connectors.KindString, Identifier: true},
		{Name: "first_name", Label: "First name", Kind: connectors.KindString},
		{Name: "last_name", Label: "Last name", Kind: connectors.KindString},
		{Name: "organization", Label: "Organization", Kind: connectors.KindString},
		{Name: "title", Label: "Job title", Kind: connectors.KindString},
		{Name: "locale", Label: "Locale", Kind: connectors.KindString},
	}
}

// Spec describes the form and the actions.
func (c *connector) Spec() connectors.DestinationSpec {
	return connectors.DestinationSpec{
		Kind:  Kind,
		Label: "Klaviyo",
		Auth:  connectors.AuthAPIKey,
		Config: []connectors.FieldSpec{
			{Name: "api_key", Label: "Private API key", Type: connectors.FieldPassword, Required: true, Secret: true,
				Help: "A private API key (pk_…) from Klaviyo's Settings › API keys, with the scopes accounts:read, lists:read, lists:write, profiles:read and profiles:write. Stored encrypted, never shown back."},
		},
		Actions: []connectors.Action{
			{
				Name: ActionSyncProfiles, Label: "Sync profiles",
				Fields: profileFields(), Custom: true,
				BatchSize: MaxJobProfiles, MaxBatchBytes: MaxJobBytes,
				// The import only creates and updates: Klaviyo has no removal of a profile short of deleting the person's data.
				Removals: false,
			},
			{
				Name: ActionExportList, Label: "Add to a list",
				Fields: profileFields(), Custom: true,
				BatchSize: MaxJobProfiles, MaxBatchBytes: MaxJobBytes,
				Removals: true,
				Settings: []connectors.FieldSpec{
					{Name: "list_id", Label: "List", Type: connectors.FieldString, Required: true,
						Help: "The Klaviyo list the segment's profiles join, and leave when they leave the segment."},
				},
			},
		},
		RequestsPerSecond: RequestsPerSecond,
		Burst:             Burst,
	}
}

// publicKey is the shape of a Klaviyo public API key (site id), which the private API refuses.
var publicKey = regexp.MustCompile(`^[A-Za-z0-9]{6}$`)

// Open checks the config; it sends nothing (Check does).
func (c *connector) Open(_ context.Context, in connectors.Config, _ connectors.Tokens) (connectors.Destination, error) {
	cfg := connectors.Config{}
	for k, v := range in {
		cfg[k] = strings.TrimSpace(v)
	}
	if err := cfg.Validate(c.Spec().Config); err != nil {
		return nil, err
	}
	key := cfg["api_key"]
	if publicKey.MatchString(key) {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: "api_key",
			Message: "This looks like Klaviyo's public API key (six characters, the site id), which the private API refuses: enter a private API key (pk_…) from Settings › API keys."}
	}
	if strings.ContainsFunc(key, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: "api_key",
			Message: "The private API key has a space or control character in it: paste the key alone."}
	}
	return &destination{
		base:         c.opts.BaseURL,
		key:          key,
		pollInterval: c.opts.PollInterval,
		jobTimeout:   c.opts.JobTimeout,
		client:       httpdest.NewClient(httpdest.Options{Name: "Klaviyo", AllowPrivate: c.opts.AllowPrivate}),
		polls:        connectors.NewLimiter(pollPerSecond, pollBurst),
		lookups:      connectors.NewLimiter(lookupPerSecond, lookupBurst),
		removes:      connectors.NewLimiter(removePerSecond, removeBurst),
	}, nil
}
