// Package snowflake is the Snowflake source connector. It speaks Snowflake's SQL API v2
// over net/http: POST /api/v2/statements to run one statement (bind variables in
// "bindings", "?" placeholders), GET /api/v2/statements/{handle} to poll a statement
// still running (202) and to fetch each further partition of its result
// (?partition=N), and POST /api/v2/statements/{handle}/cancel when the caller gives up.
//
// Why the SQL API and not the official driver (github.com/snowflakedb/gosnowflake): the
// driver speaks a private protocol (the /session/v1/login-request endpoints and their
// Arrow chunks), undocumented and changing with the driver's releases, so a faithful
// local fake of it — which every connector here is proven against — is not reasonable to
// build or to keep true. The SQL API is documented request by request, answer by answer,
// with its error bodies; internal/fakes/snowflake reproduces it.
//
// What follows from the SQL API:
//
//   - Key-pair authentication only. The SQL API takes a key-pair JWT or an OAuth token,
//     never a password (and Snowflake is retiring single-factor passwords for service
//     users). Each request carries "Authorization: Bearer <JWT>" and
//     "X-Snowflake-Authorization-Token-Type: KEYPAIR_JWT"; the JWT is RS256 with issuer
//     ACCOUNT.USER.SHA256:<fingerprint of the public key> and subject ACCOUNT.USER, and
//     lives an hour ("Using key-pair authentication"). The private key is a secret field
//     (sealed at rest, never shown back), with an optional passphrase for an encrypted
//     PKCS#8 key.
//   - Results come as a ResultSet: resultSetMetaData.rowType types the columns,
//     partitionInfo lists the partitions, and every value is a string in the jsonv2
//     format ("Handling responses": FIXED as decimal text, DATE as days since the epoch,
//     TIMESTAMP_* as seconds since the epoch, BOOLEAN as true/false). Query decodes them
//     into Go values and fetches the partitions one at a time, so memory holds at most
//     two partitions however large the result (bounded memory).
//   - Errors are the documented QueryFailureStatus (code, message, sqlState,
//     statementHandle) with HTTP 422, 408 for a statement past its timeout, and 401, 403,
//     404, 429 answers; errors.go words each for the user.
//   - Every statement carries its own warehouse, role, database and schema, and a
//     timeout (the "timeout" field, in seconds): the validation checks' 30 s, an hour
//     for the extraction. The session's TIMEZONE is UTC ("parameters"), as Sluice reads
//     timestamps without a time zone as UTC.
//   - Sluice only reads. The SQL API runs exactly one statement per request (a second is
//     refused with the default MULTI_STATEMENT_COUNT of 1) and every model's SQL is
//     wrapped as a subquery, so it can only be a query; what the role may read is the
//     role's grants: give Sluice a role with USAGE and SELECT only.
//
// Pages followed: docs.snowflake.com/en/developer-guide/sql-api/reference,
// …/sql-api/submitting-requests, …/sql-api/handling-responses, …/sql-api/handling-errors,
// …/sql-api/authenticating, user-guide/key-pair-auth, user-guide/key-pair-auth-troubleshooting,
// sql-reference/collation and sql-reference/sql/show-warehouses; and the SQL API's
// OpenAPI spec, specifications/sqlapi.yaml of github.com/snowflakedb/snowflake-rest-api-specs
// (headers, status codes, the ResultSet, QueryStatus and QueryFailureStatus schemas).
package snowflake

import (
	"context"
	"crypto/rsa"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"sluice/connectors"
	"sluice/sources/sshtunnel"
)

// Kind is the registry key of the Snowflake connector.
const Kind = "snowflake"

// The timeouts: each validation statement, and every other query (previews, counts and
// the sync's extraction, which stays open while the destination loads; see the
// postgres connector for why an hour).
const (
	DefaultStatementTimeout = 30 * time.Second
	DefaultQueryTimeout     = time.Hour
	// requestTimeout bounds one HTTP exchange; a statement running longer is polled.
	requestTimeout = 2 * time.Minute
)

// Options configure the connector.
type Options struct {
	// BaseURL replaces https://<account>.snowflakecomputing.com (a local fake, or
	// Snowflake's PrivateLink address); "" for the account's own.
	BaseURL string
	// HTTPClient is the client requests go through (nil: a client of its own).
	HTTPClient *http.Client
}

// New returns the Snowflake source connector, for main to register.
func New(opts Options) connectors.SourceConnector {
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: requestTimeout}
	}
	return &connector{base: strings.TrimRight(opts.BaseURL, "/"), client: client,
		statementTimeout: DefaultStatementTimeout, queryTimeout: DefaultQueryTimeout}
}

type connector struct {
	base             string
	client           *http.Client
	statementTimeout time.Duration
	queryTimeout     time.Duration
}

const keyHelp = "PEM, as rsa_key.p8 holds it (-----BEGIN PRIVATE KEY-----). No password: Snowflake's SQL API, which Sluice uses, " +
	"signs in with a key pair only. Make one with openssl genrsa 2048 | openssl pkcs8 -topk8 -nocrypt -out rsa_key.p8 " +
	"and give the user its public half (openssl rsa -in rsa_key.p8 -pubout): ALTER USER <user> SET RSA_PUBLIC_KEY='MIIB…';"

// Spec describes the form: which account, who Sluice signs in as (a user and its key),
// and the warehouse, role, database and schema its queries use.
func (c *connector) Spec() connectors.SourceSpec {
	return connectors.SourceSpec{
		Kind:  Kind,
		Label: "Snowflake",
		Fields: append([]connectors.FieldSpec{
			{Name: "account", Label: "Account identifier", Type: connectors.FieldString, Required: true,
				Help: "orgname-accountname, or the account locator with its region (xy12345.eu-west-1): what precedes .snowflakecomputing.com in your Snowflake URL."},
			{Name: "user", Label: "User", Type: connectors.FieldString, Required: true,
				Help: "A user for Sluice, e.g. SLUICE_READER (TYPE = SERVICE)."},
			{Name: "private_key", Label: "Private key", Type: connectors.FieldText, Required: true, Secret: true, Help: keyHelp},
			{Name: "private_key_passphrase", Label: "Private key passphrase", Type: connectors.FieldPassword, Secret: true,
				Help: "Only for an encrypted key (-----BEGIN ENCRYPTED PRIVATE KEY-----)."},
			{Name: "warehouse", Label: "Warehouse", Type: connectors.FieldString, Required: true,
				Help: "The virtual warehouse Sluice's queries run on, e.g. COMPUTE_WH. Give it AUTO_RESUME so syncs wake it."},
			{Name: "role", Label: "Role", Type: connectors.FieldString,
				Help: "A role with USAGE on the warehouse, database and schema and SELECT on the tables models read. Empty: the user's default role."},
			{Name: "database", Label: "Database", Type: connectors.FieldString, Required: true},
			{Name: "schema", Label: "Schema", Type: connectors.FieldString, Default: "PUBLIC",
				Help: "The schema whose tables and views models read. Names are folded to upper case as Snowflake folds unquoted names; write \"Mixed\" in double quotes to keep the case."},
		}, sshtunnel.Fields()...),
	}
}

// settings are a validated config.
type settings struct {
	account   string // as the user wrote it, normalized: what precedes .snowflakecomputing.com
	jwtAcct   string // the account as a JWT names it: upper case, without region
	user      string
	warehouse string
	role      string // "" for the user's default role
	database  string
	schema    string
}

var accountPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// identifier is a name as Snowflake resolves it in a request's fields: unquoted names
// fold to upper case; "quoted" ones keep their case.
func identifier(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && strings.HasPrefix(v, `"`) && strings.HasSuffix(v, `"`) {
		return strings.ReplaceAll(v[1:len(v)-1], `""`, `"`)
	}
	return strings.ToUpper(v)
}

// Open checks the config and reads the key without reaching Snowflake: whether the
// account answers and takes the key is the connection stage's to say in words.
func (c *connector) Open(ctx context.Context, in connectors.Config) (connectors.Source, error) {
	cfg := connectors.Config{}
	for k, v := range in {
		cfg[k] = strings.TrimSpace(v)
	}
	cfg["private_key_passphrase"] = in["private_key_passphrase"]
	if err := cfg.Validate(c.Spec().Fields); err != nil {
		return nil, err
	}
	account := strings.ToLower(cfg["account"])
	account = strings.TrimPrefix(strings.TrimPrefix(account, "https://"), "http://")
	account = strings.TrimSuffix(strings.TrimSuffix(account, "/"), ".snowflakecomputing.com")
	if !accountPattern.MatchString(account) {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: "account",
			Message: "The account identifier is not valid: write it as orgname-accountname (or xy12345.eu-west-1), what precedes .snowflakecomputing.com in your Snowflake URL."}
	}
	key, err := parseKey(cfg["private_key"], cfg["private_key_passphrase"])
	if err != nil {
		field := "private_key"
		if strings.Contains(err.Error(), "passphrase") {
			field = "private_key_passphrase"
		}
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: field,
			Message: "The private key cannot be used: " + err.Error() + "."}
	}
	set := settings{
		account: account,
		jwtAcct: strings.ToUpper(strings.SplitN(account, ".", 2)[0]),
		// Login names are case-insensitive, and a key-pair JWT names the user in upper case.
		user:      strings.ToUpper(identifier(cfg["user"])),
		warehouse: identifier(cfg["warehouse"]),
		role:      identifier(cfg["role"]),
		database:  identifier(cfg["database"]),
		schema:    identifier(cfg["schema"]),
	}
	base := c.base
	if base == "" {
		base = "https://" + strings.ReplaceAll(account, "_", "-") + ".snowflakecomputing.com"
	}
	src := &source{set: set, key: key, base: base, client: c.client,
		statementTimeout: c.statementTimeout, queryTimeout: c.queryTimeout, now: time.Now}
	if src.tunnel, err = sshtunnel.Open(in); err != nil {
		return nil, err
	}
	src.client = src.tunnel.HTTPClient(c.client)
	return src, nil
}

// source is a configured account. It holds no connection: each statement is its own
// request, signed with a JWT renewed before it expires.
type source struct {
	set              settings
	key              *rsa.PrivateKey
	base             string
	client           *http.Client
	tunnel           *sshtunnel.Tunnel // nil without an SSH tunnel
	statementTimeout time.Duration
	queryTimeout     time.Duration
	now              func() time.Time

	mu       sync.Mutex
	token    string
	tokenExp time.Time
}

// Dialect is Snowflake's SQL.
func (s *source) Dialect() connectors.Dialect { return Dialect{} }

// Close releases the SSH tunnel, if any; nothing else is held: every request stands
// alone.
func (s *source) Close() error { return s.tunnel.Close() }

// PresentedHostKey is the host key the SSH bastion presented (connectors.HostKeyReporter);
// "" without a tunnel or before a connection.
func (s *source) PresentedHostKey() string { return s.tunnel.PresentedHostKey() }

// jwt is the current token, signed anew when less than ten minutes are left.
func (s *source) jwt() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.token != "" && now.Add(10*time.Minute).Before(s.tokenExp) {
		return s.token, nil
	}
	tok, err := signJWT(s.key, s.set.jwtAcct, s.set.user, now)
	if err != nil {
		return "", err
	}
	s.token, s.tokenExp = tok, now.Add(jwtLifetime)
	return tok, nil
}

func (s *source) schemaOr(schema string) string {
	if schema == "" {
		return s.set.schema
	}
	return schema
}
