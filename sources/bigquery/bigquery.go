// Package bigquery is the Google BigQuery source connector.
//
// It speaks the BigQuery REST API v2 through Google's official client,
// cloud.google.com/go/bigquery: query jobs (jobs.insert, then jobs.getQueryResults to
// wait and to read the results page by page with pageToken and maxResults; jobs.query
// for the short validation statements), dry runs (the schema of a SQL model, the bytes a
// query would scan), datasets.list/get and tables.list/get for the catalogue. The
// official client was chosen over hand-written REST calls because it already follows
// the documented retry rules (5xx and backendError with backoff), job polling and
// result paging; it adds a large dependency tree (gRPC, OpenTelemetry, Arrow), measured
// in docs/benchmarks.md. The Storage Read API is not used: it needs gRPC, which a local
// fake cannot stand in for, and paged results already stream in bounded memory.
//
// Authentication is a service-account key (JSON, stored as a secret). The client's own
// credential loading is bypassed on purpose: the key is turned into a JWT-bearer token
// source with golang.org/x/oauth2/google (RS256 assertion signed with the key, traded at
// the key's token_uri, or at <base URL>/token when SLUICE_API_URL_BIGQUERY points Sluice
// at another endpoint such as a local fake), and that token source is handed to the
// client as its HTTP client. Token errors are wrapped so the client does not retry them
// (a refused key stays refused), and are worded for the key field.
//
// Settings: project ID (where query jobs run and where the dataset lives), dataset (the
// models' tables), location (where jobs run: the dataset's, US by default) and the key.
//
// A Sluice whose only way out is an SSH bastion reaches BigQuery through it (sshtunnel,
// the form's tunnel fields): the HTTP transport handed to the client dials every
// connection as a direct-tcpip channel from the bastion, the API's
// (bigquery.googleapis.com:443) and the token endpoint's (oauth2.googleapis.com:443)
// alike, and TLS still ends at Google, so the bastion forwards bytes it cannot read.
//
// The SQL dialect is GoogleSQL (dialect.go): backtick identifiers, @p1-style named
// parameters, LOWER(…) LIKE LOWER(…) for case-insensitive matches (GoogleSQL has no
// ILIKE), TIMESTAMP_SUB/DATETIME_SUB per column type, and key order by BYTES.
//
// Read-only: BigQuery has no read-only session. Sluice's statements are SELECTs it
// builds, with a model's SQL only ever inside "SELECT … FROM (model) AS m", where DML,
// DDL or a script does not parse; the service account needs no more than BigQuery Job
// User on the project and BigQuery Data Viewer on the dataset, which cannot write.
//
// Docs followed: the REST reference of jobs.query, jobs.insert, jobs.getQueryResults,
// jobs.cancel, datasets.get, tables.get (cloud.google.com/bigquery/docs/reference/rest);
// "Troubleshoot errors" (error reasons and codes); "BigQuery IAM roles and permissions";
// "Running parameterized queries"; GoogleSQL's "Conversion rules" (parameter coercion),
// "Collation" and "Data types"; "Estimate and control costs" (dry runs); "Using OAuth
// 2.0 for Server to Server Applications".
package bigquery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	bq "cloud.google.com/go/bigquery"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/option"

	"sluice/connectors"
	"sluice/sources/sshtunnel"
)

// Kind is the registry key of the BigQuery connector.
const Kind = "bigquery"

// Timeouts. A validation step is a catalogue call or a dry run; an extraction is one
// query job whose results are read while the destination loads (see
// postgres.DefaultQueryTimeout for why an hour), and BigQuery stops the job by itself
// after it (jobTimeoutMs) even if Sluice went away.
const (
	DefaultStageTimeout = 30 * time.Second
	DefaultQueryTimeout = time.Hour
	// PageRows is how many rows one getQueryResults page asks for: a page is held in
	// memory while its rows are handed over, so this bounds the connector's memory
	// (BigQuery also cuts a page at 10 MB).
	PageRows = 10000
)

// Options configure the connector.
type Options struct {
	// BaseURL replaces https://bigquery.googleapis.com (a local fake, a proxy): the API
	// is reached at BaseURL/bigquery/v2/ and tokens at BaseURL/token. Empty: Google's
	// documented endpoints, the token one from the key's token_uri.
	BaseURL string
}

// New returns the BigQuery source connector, for main to register.
func New(o Options) connectors.SourceConnector {
	return &connector{baseURL: strings.TrimRight(o.BaseURL, "/"), stageTimeout: DefaultStageTimeout, queryTimeout: DefaultQueryTimeout}
}

type connector struct {
	baseURL      string
	stageTimeout time.Duration
	queryTimeout time.Duration
}

// Spec is the form: the project, the dataset, where it lives, the key, and the SSH
// tunnel for a Sluice whose only way out is a bastion.
func (c *connector) Spec() connectors.SourceSpec {
	return connectors.SourceSpec{
		Kind:  Kind,
		Label: "Google BigQuery",
		Fields: append([]connectors.FieldSpec{
			{Name: "project_id", Label: "Project ID", Type: connectors.FieldString, Required: true,
				Help: "The Google Cloud project that runs Sluice's query jobs and holds the dataset, e.g. acme-analytics."},
			{Name: "dataset", Label: "Dataset", Type: connectors.FieldString, Required: true,
				Help: "The dataset whose tables and views models read, e.g. marketing."},
			{Name: "location", Label: "Location", Type: connectors.FieldString, Default: "US",
				Help: "Where the dataset lives: US, EU or a region such as europe-west1. Query jobs run there."},
			{Name: "service_account_key", Label: "Service account key (JSON)", Type: connectors.FieldText, Secret: true, Required: true,
				Help: "The JSON key of a service account with BigQuery Job User on the project and BigQuery Data Viewer on the dataset."},
		}, sshtunnel.Fields()...),
	}
}

// settings are a checked config.
type settings struct {
	project  string
	dataset  string
	location string
	email    string // the service account's, for messages
}

// serviceAccountKey is what the key file must hold.
type serviceAccountKey struct {
	Type        string `json:"type"`
	ClientEmail string `json:"client_email"`
	PrivateKey  string `json:"private_key"`
	TokenURI    string `json:"token_uri"`
}

// A project ID: 6 to 30 lower-case letters, digits and hyphens, starting with a letter
// (domain-scoped ones have a "domain:" prefix). A dataset: letters, digits, underscores.
var (
	projectPattern = regexp.MustCompile(`^([a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	datasetPattern = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
)

func (c *connector) settings(in connectors.Config) (settings, []byte, error) {
	cfg := connectors.Config{}
	for k, v := range in {
		cfg[k] = strings.TrimSpace(v)
	}
	if err := cfg.Validate(c.Spec().Fields); err != nil {
		return settings{}, nil, err
	}
	set := settings{project: cfg["project_id"], dataset: cfg["dataset"], location: cfg["location"]}
	if !projectPattern.MatchString(set.project) {
		return settings{}, nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: "project_id",
			Message: "Project ID is the project's ID (6 to 30 lower-case letters, digits and hyphens, e.g. acme-analytics), not its name or number."}
	}
	if !datasetPattern.MatchString(set.dataset) {
		return settings{}, nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: "dataset",
			Message: "Dataset is a dataset ID: letters, digits and underscores only, without the project."}
	}
	key := []byte(cfg["service_account_key"])
	var k serviceAccountKey
	if err := json.Unmarshal(key, &k); err != nil {
		return settings{}, nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: "service_account_key",
			Message: "The service account key is not JSON. Paste the whole key file the Google Cloud console downloaded (IAM & Admin › Service accounts › Keys › Add key › JSON)."}
	}
	if k.Type != "service_account" || k.ClientEmail == "" || k.PrivateKey == "" {
		return settings{}, nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: "service_account_key",
			Message: `The key is not a service account key: it needs "type": "service_account", a client_email and a private_key. Create a JSON key for a service account.`}
	}
	set.email = k.ClientEmail
	return set, key, nil
}

// Open checks the config and prepares a client without calling Google: a refused key or
// a missing grant is for Validate to word, so such a source can still be opened and
// shown as broken.
func (c *connector) Open(ctx context.Context, cfg connectors.Config) (connectors.Source, error) {
	set, key, err := c.settings(cfg)
	if err != nil {
		return nil, err
	}
	jwt, err := google.JWTConfigFromJSON(key, bq.Scope)
	if err != nil {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: "service_account_key",
			Message: "The service account key's private key cannot be read. Paste the key file exactly as downloaded."}
	}
	tc, tunneled, err := sshtunnel.FromConfig(cfg)
	if err != nil {
		return nil, err
	}
	var tunnel *sshtunnel.Tunnel // nil: direct
	if tunneled {
		tc.Service = "Google's BigQuery API" // no host field: the bastion's egress is the fix
		if tunnel, err = tc.Open(); err != nil {
			return nil, err
		}
	}
	opts := []option.ClientOption{}
	if c.baseURL != "" {
		jwt.TokenURL = c.baseURL + "/token"
		opts = append(opts, option.WithEndpoint(c.baseURL+"/bigquery/v2/"))
	}
	// Through a tunnel, both the API and the token endpoint are reached over the
	// bastion (TLS still ends at Google); the transport's other settings stay.
	base := tunnel.Transport(&http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	})
	failed := &lastFailure{base: base}
	tokenCtx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: failed, Timeout: 30 * time.Second})
	ts := oauth2.ReuseTokenSource(nil, jwt.TokenSource(tokenCtx))
	httpClient := &http.Client{Transport: &authTransport{source: ts, base: base, failed: failed}}
	opts = append(opts, option.WithHTTPClient(httpClient))
	client, err := bq.NewClient(ctx, set.project, opts...)
	if err != nil {
		_ = tunnel.Close()
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Message: "The BigQuery client could not be set up.", Detail: err.Error(), Err: err}
	}
	client.Location = set.location
	return &source{set: set, client: client, tokens: &tokenSource{source: ts, failed: failed}, transport: base, tunnel: tunnel,
		stageTimeout: c.stageTimeout, queryTimeout: c.queryTimeout}, nil
}

// authTransport adds the bearer token to each request. A token that cannot be had is
// returned as tokenError, whose text says nothing the client's retry rules match
// ("connection refused"…): a refused key must not be retried until the deadline.
type authTransport struct {
	source oauth2.TokenSource
	base   http.RoundTripper
	failed *lastFailure
}

func (t *authTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	tok, err := t.failed.token(t.source)
	if err != nil {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, &tokenError{err: err}
	}
	r2 := r.Clone(r.Context())
	tok.SetAuthHeader(r2)
	return t.base.RoundTrip(r2)
}

// lastFailure is the token endpoint's transport, keeping the connector error of its
// last failed request: oauth2 keeps only the text of a transport error ("cannot fetch
// token: %v"), and the SSH tunnel's errors (which hop failed, and how to fix it) must
// reach the checks and the runs whole.
type lastFailure struct {
	base http.RoundTripper

	mu  sync.Mutex
	err *connectors.Error
}

func (f *lastFailure) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := f.base.RoundTrip(r)
	if ce, ok := connectors.AsError(err); ok {
		f.mu.Lock()
		f.err = ce
		f.mu.Unlock()
	}
	return resp, err
}

// token is ts's token; on failure, the connector error of the request that failed when
// oauth2's error is its text, else oauth2's.
func (f *lastFailure) token(ts oauth2.TokenSource) (*oauth2.Token, error) {
	tok, err := ts.Token()
	if err == nil {
		return tok, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil && strings.Contains(err.Error(), f.err.Error()) {
		return nil, f.err
	}
	return nil, err
}

// tokenSource is the source's tokens, failing with the token endpoint's connector
// error when there is one (lastFailure).
type tokenSource struct {
	source oauth2.TokenSource
	failed *lastFailure
}

func (s *tokenSource) Token() (*oauth2.Token, error) { return s.failed.token(s.source) }

// tokenError is a failure to get an access token for the service account.
type tokenError struct{ err error }

func (e *tokenError) Error() string { return "google: no access token for the service account" }
func (e *tokenError) Unwrap() error { return e.err }

// source is an open BigQuery client.
type source struct {
	set          settings
	client       *bq.Client
	tokens       oauth2.TokenSource
	transport    *http.Transport
	tunnel       *sshtunnel.Tunnel // nil without an SSH tunnel
	stageTimeout time.Duration
	queryTimeout time.Duration
}

// Dialect is GoogleSQL's.
func (s *source) Dialect() connectors.Dialect { return Dialect{} }

// Close ends the client, its idle connections and the SSH tunnel, if any.
func (s *source) Close() error {
	err := s.client.Close()
	s.transport.CloseIdleConnections()
	return errors.Join(err, s.tunnel.Close())
}

// PresentedHostKey is the host key the SSH bastion presented (connectors.HostKeyReporter);
// "" without a tunnel or before a connection.
func (s *source) PresentedHostKey() string { return s.tunnel.PresentedHostKey() }

func (s *source) fail(op string, err error) error {
	return fmt.Errorf("%s: %s: %w", Kind, op, s.set.classify(err))
}
