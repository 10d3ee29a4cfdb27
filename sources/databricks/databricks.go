// Package databricks is the Databricks source connector. It reads a Unity Catalog
// workspace through the SQL Statement Execution API 2.0 over net/http: statements go to
// a SQL warehouse as POST /api/2.0/sql/statements, are polled with GET
// /api/2.0/sql/statements/{id}, cancelled with POST .../cancel, and their results read
// chunk by chunk.
//
// Why this API and not a driver: it is Databricks' documented, versioned REST interface
// for running SQL on a warehouse, it needs nothing but HTTPS (no Thrift, no cgo), it
// binds named parameters (:p1) server-side, and it serves results of any size as
// chunks behind short-lived links, which keeps an extraction's memory at one row
// whatever the segment's size. It is also what a faithful local fake can speak.
//
// It follows these pages of the Databricks documentation (docs.databricks.com):
//
//   - REST API reference, Statement Execution (/api/workspace/statementexecution) and
//     the tutorial "Statement Execution API: Run SQL on warehouses": the request
//     (warehouse_id, catalog, schema, statement, parameters [{name, value, type}],
//     wait_timeout, on_wait_timeout, disposition, format), the states (PENDING,
//     RUNNING, SUCCEEDED, FAILED, CANCELED, CLOSED), a failure as HTTP 200 with
//     status.error, and results: INLINE (JSON_ARRAY, at most 25 MiB) or EXTERNAL_LINKS
//     (chunks at presigned URLs fetched WITHOUT the Authorization header, as the
//     reference requires);
//   - "Databricks personal access token authentication" and "Authorize unattended
//     access to Databricks resources with a service principal using OAuth" (M2M: POST
//     https://<host>/oidc/v1/token, grant_type=client_credentials, scope all-apis,
//     golang.org/x/oauth2/clientcredentials);
//   - SQL language reference: parameter markers, information_schema (CATALOGS,
//     SCHEMATA, TABLES, COLUMNS, CATALOG_PRIVILEGES, SCHEMA_PRIVILEGES,
//     TABLE_PRIVILEGES), is_account_group_member, current_user, collation
//     (UTF8_BINARY), ilike, make_dt_interval, and the error classes it words
//     (INSUFFICIENT_PERMISSIONS, TABLE_OR_VIEW_NOT_FOUND, NO_SUCH_CATALOG_EXCEPTION,
//     SCHEMA_NOT_FOUND).
//
// How it reads:
//
//   - Every statement is submitted with wait_timeout 0s and polled (5 ms doubling to
//     one second), so that its id is known at once and a cancelled or timed-out
//     context cancels it on the warehouse too.
//   - Catalogue and validation statements use INLINE (small answers); Query uses
//     EXTERNAL_LINKS with JSON_ARRAY, reads one chunk at a time and decodes it as a
//     stream, so memory holds one row (and one HTTP buffer), not one chunk.
//   - Databricks has no read-only session. Sluice only ever sends SELECT statements
//     (a model's SQL runs as a subquery, where Databricks refuses anything but a
//     query), and the principal needs no more than USE CATALOG, USE SCHEMA and SELECT:
//     the grants stage says which of those are missing.
//   - The five checks: connection runs SELECT current_user() (the workspace, the
//     credentials, the warehouse); access finds the catalog in
//     system.information_schema.catalogs and USE CATALOG in its catalog_privileges
//     (or ownership); schema looks in information_schema.schemata; grants reads USE
//     SCHEMA from schema_privileges and, without models, SELECT on every table from
//     table_privileges (granted directly, inherited from the schema or catalog, or to
//     a group: is_account_group_member), and with models reads what each model reads
//     with LIMIT 0, Unity Catalog naming any privilege missing; lineage reads each
//     model with LIMIT 0 and calls a table gone only on TABLE_OR_VIEW_NOT_FOUND.
//   - A stopped warehouse starts on the first statement (the statement waits PENDING);
//     validation waits up to its stage timeout and says so in words if it is still
//     starting.
package databricks

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"sluice/connectors"
	"sluice/sources/sshtunnel"
)

// Kind is the registry key of the Databricks connector.
const Kind = "databricks"

// The authentication methods offered.
const (
	AuthToken = "personal_access_token"
	AuthOAuth = "oauth_m2m"
)

// Timeouts: each validation statement, and every other query (a sync reads its segment
// as one statement whose chunks are read while the destination loads).
const (
	DefaultStatementTimeout = 30 * time.Second
	DefaultQueryTimeout     = time.Hour
	requestTimeout          = time.Minute
)

// Options configure the connector.
type Options struct {
	// BaseURL replaces https://<host> (a local fake in tests and demos).
	BaseURL string
	// HTTPClient is used for every request (nil: a client with sane timeouts).
	HTTPClient *http.Client
}

// New returns the Databricks source connector, for main to register.
func New(opts Options) connectors.SourceConnector {
	hc := opts.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.ResponseHeaderTimeout = requestTimeout
		tr.MaxIdleConnsPerHost = 8
		hc = &http.Client{Transport: tr}
	}
	return &connector{baseURL: strings.TrimRight(opts.BaseURL, "/"), hc: hc,
		statementTimeout: DefaultStatementTimeout, queryTimeout: DefaultQueryTimeout}
}

type connector struct {
	baseURL          string
	hc               *http.Client
	statementTimeout time.Duration
	queryTimeout     time.Duration
}

// Spec describes the form: the workspace, the warehouse that runs the statements, where
// models read (catalog and schema), and how Sluice signs in.
func (c *connector) Spec() connectors.SourceSpec {
	return connectors.SourceSpec{
		Kind:  Kind,
		Label: "Databricks",
		Fields: append([]connectors.FieldSpec{
			{Name: "host", Label: "Workspace host", Type: connectors.FieldString, Required: true,
				Help: "The workspace's address, e.g. dbc-a1b2c3d4-e5f6.cloud.databricks.com or adb-1234567890123456.7.azuredatabricks.net."},
			{Name: "warehouse", Label: "SQL warehouse", Type: connectors.FieldString, Required: true,
				Help: "The warehouse's HTTP path or ID, from its Connection details, e.g. /sql/1.0/warehouses/1234567890abcdef."},
			{Name: "catalog", Label: "Catalog", Type: connectors.FieldString, Required: true,
				Help: "The Unity Catalog catalog whose tables models read, e.g. main."},
			{Name: "schema", Label: "Schema", Type: connectors.FieldString, Default: "default",
				Help: "The schema (database) in that catalog."},
			{Name: "auth", Label: "Authentication", Type: connectors.FieldSelect, Options: []string{AuthToken, AuthOAuth}, Default: AuthToken,
				Help: "A personal access token, or OAuth machine-to-machine for a service principal (recommended)."},
			{Name: "token", Label: "Personal access token", Type: connectors.FieldPassword, Secret: true,
				Help: "With personal_access_token: a token of the user Sluice reads as (dapi…)."},
			{Name: "client_id", Label: "OAuth client ID", Type: connectors.FieldString,
				Help: "With oauth_m2m: the service principal's application (client) ID."},
			{Name: "client_secret", Label: "OAuth secret", Type: connectors.FieldPassword, Secret: true,
				Help: "With oauth_m2m: an OAuth secret of that service principal."},
		}, sshtunnel.Fields()...),
	}
}

// settings are a validated config, kept for wording messages.
type settings struct {
	host, warehouse, catalog, schema, auth, clientID string
	base                                             string // https://host, or the override
}

// who names the principal the settings sign in as, for messages.
func (s settings) who() string {
	if s.auth == AuthOAuth {
		return "service principal " + s.clientID
	}
	return "the token's user"
}

var (
	warehousePath = regexp.MustCompile(`^/?sql/(?:1\.0|protocolv1/o/[0-9]+/[^/]+)/(?:warehouses|endpoints)/([0-9a-zA-Z]+)/?$`)
	warehouseID   = regexp.MustCompile(`^[0-9a-zA-Z]+$`)
	hostRE        = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$`)
	nameRE        = regexp.MustCompile(`^[^.\x00` + "`" + `]+$`)
)

func configErr(field, msg string) error {
	return &connectors.Error{Category: connectors.CategoryConfiguration, Field: field, Message: msg}
}

func (c *connector) settings(in connectors.Config) (settings, connectors.Config, error) {
	cfg := connectors.Config{}
	for k, v := range in {
		cfg[k] = strings.TrimSpace(v)
	}
	if err := cfg.Validate(c.Spec().Fields); err != nil {
		return settings{}, nil, err
	}
	host := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(cfg["host"], "https://"), "http://"), "/")
	if !hostRE.MatchString(host) {
		return settings{}, nil, configErr("host", "Workspace host must be a host name such as dbc-a1b2c3d4-e5f6.cloud.databricks.com, without a path.")
	}
	wh := cfg["warehouse"]
	if m := warehousePath.FindStringSubmatch(wh); m != nil {
		wh = m[1]
	}
	if !warehouseID.MatchString(wh) {
		return settings{}, nil, configErr("warehouse", "SQL warehouse must be the warehouse's ID or its HTTP path, e.g. /sql/1.0/warehouses/1234567890abcdef.")
	}
	for _, f := range []string{"catalog", "schema"} {
		if !nameRE.MatchString(cfg[f]) {
			return settings{}, nil, configErr(f, fmt.Sprintf("%s must be one name, without dots or backticks.", map[string]string{"catalog": "Catalog", "schema": "Schema"}[f]))
		}
	}
	set := settings{host: host, warehouse: wh, catalog: strings.ToLower(cfg["catalog"]), schema: strings.ToLower(cfg["schema"]),
		auth: cfg["auth"], clientID: cfg["client_id"], base: "https://" + host}
	if c.baseURL != "" {
		set.base = c.baseURL
	}
	switch set.auth {
	case AuthToken:
		if cfg["token"] == "" {
			return settings{}, nil, configErr("token", "Personal access token is required with personal_access_token authentication.")
		}
	case AuthOAuth:
		if cfg["client_id"] == "" {
			return settings{}, nil, configErr("client_id", "OAuth client ID is required with oauth_m2m authentication.")
		}
		if cfg["client_secret"] == "" {
			return settings{}, nil, configErr("client_secret", "OAuth secret is required with oauth_m2m authentication.")
		}
	}
	return set, cfg, nil
}

// Open checks the config and prepares the client without calling Databricks: whether
// the workspace answers and the credentials work is the connection stage's to say.
func (c *connector) Open(ctx context.Context, in connectors.Config) (connectors.Source, error) {
	set, cfg, err := c.settings(in)
	if err != nil {
		return nil, err
	}
	s := &source{set: set, hc: c.hc, statementTimeout: c.statementTimeout, queryTimeout: c.queryTimeout}
	if s.tunnel, err = sshtunnel.Open(in); err != nil {
		return nil, err
	}
	s.hc = s.tunnel.HTTPClient(c.hc)
	if set.auth == AuthOAuth {
		cc := clientcredentials.Config{ClientID: cfg["client_id"], ClientSecret: cfg["client_secret"],
			TokenURL: set.base + "/oidc/v1/token", Scopes: []string{"all-apis"}, AuthStyle: oauth2.AuthStyleInHeader}
		// The token source outlives Open's ctx: it refreshes on later calls, through
		// the source's client.
		s.tokens = cc.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, s.hc))
	} else {
		s.tokens = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: cfg["token"], TokenType: "Bearer"})
	}
	return s, nil
}

// source is an open workspace connection: settings, an HTTP client and a token source.
type source struct {
	set              settings
	hc               *http.Client
	tunnel           *sshtunnel.Tunnel // nil without an SSH tunnel
	tokens           oauth2.TokenSource
	statementTimeout time.Duration
	queryTimeout     time.Duration
}

// Dialect is Databricks SQL, naming tables in the configured catalog.
func (s *source) Dialect() connectors.Dialect { return Dialect{Catalog: s.set.catalog} }

// Close releases the SSH tunnel, if any; nothing else is held between calls (without a
// tunnel, the HTTP client's idle connections belong to the connector, shared by its
// sources).
func (s *source) Close() error { return s.tunnel.Close() }

// PresentedHostKey is the host key the SSH bastion presented (connectors.HostKeyReporter);
// "" without a tunnel or before a connection.
func (s *source) PresentedHostKey() string { return s.tunnel.PresentedHostKey() }

func (s *source) schemaOr(schema string) string {
	if schema == "" {
		return s.set.schema
	}
	return strings.ToLower(schema)
}

func escapePath(s string) string { return url.PathEscape(s) }
