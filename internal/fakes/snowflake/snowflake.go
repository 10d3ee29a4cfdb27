// Package snowflake is a fake of Snowflake's SQL API v2, as strict as the documented
// service, for the snowflake source's tests, the browser tests and the benchmarks. It
// is an httptest.Server answering
//
//   - POST /api/v2/statements: one statement (a second is refused, as with the default
//     MULTI_STATEMENT_COUNT of 1), with ? bind variables in "bindings" ({"1": {"type":
//     "TEXT", "value": "…"}}), "timeout", and the "warehouse", "role", "database" and
//     "schema" of the session. It answers 200 with a ResultSet (resultSetMetaData with
//     rowType and partitionInfo, and partition 0's rows in "data", every value a string
//     in the jsonv2 format) when the statement ends within SyncWait (45 s, as documented),
//     otherwise, or with ?async=true, 202 with a QueryStatus to poll.
//   - GET /api/v2/statements/{statementHandle}[?partition=N]: 202 while running, then the
//     ResultSet, or partition N's rows.
//   - POST /api/v2/statements/{statementHandle}/cancel.
//
// Every request needs key-pair authentication exactly as documented: Authorization:
// Bearer <JWT>, X-Snowflake-Authorization-Token-Type: KEYPAIR_JWT, an RS256 JWT with iss
// ACCOUNT.USER.SHA256:<public key fingerprint> and sub ACCOUNT.USER signed with a key of
// the user, living at most an hour; otherwise 401 with Snowflake's 390144 "JWT token is
// invalid. [uuid]" (390303 "Invalid OAuth access token" without the token type header,
// since the API then reads the token as OAuth, its documented default). A User-Agent is
// required; Accept and Content-Type are optional, but a body of another media type is
// 415, as the SQL API's OpenAPI spec (snowflakedb/snowflake-rest-api-specs) has them.
// Errors of statements are the documented
// QueryFailureStatus (code, message, sqlState, statementHandle, createdOn,
// statementStatusUrl): 422 when the statement failed, 408 when it ran past its timeout;
// 403 when the network policy refuses the caller (Block), 429 when throttled (Throttle),
// 404 for an unknown handle.
//
// Roles and grants are enforced. Each Snowflake role is a PostgreSQL role of the fake's
// database; SELECT and USAGE on schemas are PostgreSQL grants, so what a role may read,
// and what INFORMATION_SCHEMA shows it, is PostgreSQL's own answer. USAGE on the
// database and on warehouses, and the warehouses' state (STARTED or SUSPENDED, with
// AUTO_RESUME) are kept by the fake: a statement that reads a table needs a warehouse the
// role may use that is running or resumes by itself, or it fails with 000606 "No active
// warehouse selected in the current session", as Snowflake answers.
//
// SQL runs on the local PostgreSQL after translate.go has rewritten the subset the
// connector emits (quoting and case folding, three-part names, string literals, bind
// variables, SYSDATE, DATEADD, TO_VARCHAR, COLLATE 'utf8', CURRENT_*); anything else is
// an error the way Snowflake words it. SHOW WAREHOUSES [LIKE '…'] is answered from the
// fake's warehouses. The Snowflake database is the PostgreSQL database (Options.Database
// names it), its schemas are PostgreSQL schemas (upper case, as Snowflake folds them),
// and INFORMATION_SCHEMA.SCHEMATA, TABLES and COLUMNS are views with Snowflake's column
// names and type names over PostgreSQL's information schema.
//
// Results are written to files a partition at a time, so the fake's memory stays
// bounded whatever the result's size, as the real service keeps results on its side.
//
// Sources: "Snowflake SQL API reference", "Submitting a request to execute SQL
// statements", "Handling responses", "Getting details about an error", "Using key-pair
// authentication" (docs.snowflake.com/en/developer-guide/sql-api/...), "Key Pair
// Authentication: Troubleshooting" (user-guide/key-pair-auth-troubleshooting) and
// "SHOW WAREHOUSES". Where the docs publish no wording (a missing Accept header, a
// statement handle that does not exist, a warehouse suspended without AUTO_RESUME), the
// fake's own is marked so in errors.go.
package snowflake

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults.
const (
	// Account is the account identifier the fake answers for, as a JWT carries it.
	Account = "SLUICE-TEST"
	// Database is the Snowflake database name of the fake's PostgreSQL database.
	Database = "ANALYTICS"
	// SyncWait is how long a POST waits for its statement before answering 202: the
	// documented 45 seconds.
	SyncWait = 45 * time.Second
	// PartitionRows is the rows of one result partition.
	PartitionRows = 10000
)

// Options configure the fake.
type Options struct {
	// PostgresURL is a fresh PostgreSQL database the fake owns while it runs
	// (testutil.PostgresURL gives one per test).
	PostgresURL string
	Account     string
	Database    string
	// PartitionRows and SyncWait override the defaults above.
	PartitionRows int
	SyncWait      time.Duration
	// Now is the clock JWTs are checked against (nil: time.Now).
	Now func() time.Time
	// RefuseUnknownDatabase fails a statement whose request names a database that does
	// not exist or that the role may not use (002043) instead of running it with no
	// current database (CURRENT_DATABASE() NULL): the docs do not say which Snowflake
	// does, so the connector is tested against both.
	RefuseUnknownDatabase bool
}

type user struct {
	name        string
	keys        []*rsa.PublicKey
	defaultRole string
	roles       map[string]bool
}

// Warehouse is a virtual warehouse as SHOW WAREHOUSES describes it.
type Warehouse struct {
	Name string
	// State is "STARTED" or "SUSPENDED".
	State      string
	AutoResume bool
}

// Server is the fake. Its methods change its state and read what it recorded; all are
// safe while requests are served.
type Server struct {
	*httptest.Server
	opts   Options
	pool   *pgxpool.Pool
	prefix string // of the PostgreSQL roles standing for Snowflake roles
	dir    string

	mu         sync.Mutex
	users      map[string]*user
	roles      map[string]bool
	warehouses map[string]*Warehouse
	whUsage    map[string]map[string]bool // warehouse → roles
	dbUsage    map[string]bool            // roles with USAGE on the database
	statements map[string]*statement
	blocked    bool
	throttle   int
	requests   int
	failures   []string
	received   []string // statements received, in order
}

// New starts a fake on opts.PostgresURL and prepares its INFORMATION_SCHEMA; Close
// stops it and drops the roles it made.
func New(opts Options) (*Server, error) {
	if opts.Account == "" {
		opts.Account = Account
	}
	if opts.Database == "" {
		opts.Database = Database
	}
	if opts.PartitionRows <= 0 {
		opts.PartitionRows = PartitionRows
	}
	if opts.SyncWait <= 0 {
		opts.SyncWait = SyncWait
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	cfg, err := pgxpool.ParseConfig(opts.PostgresURL)
	if err != nil {
		return nil, fmt.Errorf("snowflake fake: %w", err)
	}
	cfg.MaxConns = 8
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	ctx := context.Background()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("snowflake fake: %w", err)
	}
	if _, err := pool.Exec(ctx, informationSchemaSQL); err != nil {
		pool.Close()
		return nil, fmt.Errorf("snowflake fake: information schema: %w", err)
	}
	dir, err := os.MkdirTemp("", "snowflake-fake-")
	if err != nil {
		pool.Close()
		return nil, err
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	s := &Server{opts: opts, pool: pool, prefix: "sf_" + hex.EncodeToString(b) + "_", dir: dir,
		users: map[string]*user{}, roles: map[string]bool{}, warehouses: map[string]*Warehouse{},
		whUsage: map[string]map[string]bool{}, dbUsage: map[string]bool{}, statements: map[string]*statement{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v2/statements", s.submit)
	mux.HandleFunc("GET /api/v2/statements/{handle}", s.status)
	mux.HandleFunc("POST /api/v2/statements/{handle}/cancel", s.cancel)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"code": "390404", "message": "Not found (the fake's wording)."})
	})
	s.Server = httptest.NewServer(mux)
	return s, nil
}

// informationSchemaSQL makes Snowflake's INFORMATION_SCHEMA views over PostgreSQL's:
// upper-case column names and Snowflake's type names (TEXT, NUMBER, FLOAT…). PostgreSQL's
// views show only what the current role may use, as Snowflake's do.
const informationSchemaSQL = `
CREATE SCHEMA IF NOT EXISTS "INFORMATION_SCHEMA";
GRANT USAGE ON SCHEMA "INFORMATION_SCHEMA" TO PUBLIC;
CREATE OR REPLACE VIEW "INFORMATION_SCHEMA"."SCHEMATA" AS
  SELECT current_database()::text AS "CATALOG_NAME", schema_name::text AS "SCHEMA_NAME"
  FROM information_schema.schemata
  WHERE schema_name NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'public') AND schema_name NOT LIKE 'pg\_%';
CREATE OR REPLACE VIEW "INFORMATION_SCHEMA"."TABLES" AS
  SELECT table_catalog::text AS "TABLE_CATALOG", table_schema::text AS "TABLE_SCHEMA", table_name::text AS "TABLE_NAME",
         CASE table_type WHEN 'BASE TABLE' THEN 'BASE TABLE' ELSE 'VIEW' END AS "TABLE_TYPE"
  FROM information_schema.tables
  WHERE table_schema NOT IN ('pg_catalog', 'information_schema', 'public');
CREATE OR REPLACE VIEW "INFORMATION_SCHEMA"."COLUMNS" AS
  SELECT table_catalog::text AS "TABLE_CATALOG", table_schema::text AS "TABLE_SCHEMA", table_name::text AS "TABLE_NAME",
         column_name::text AS "COLUMN_NAME", ordinal_position::int AS "ORDINAL_POSITION",
         CASE data_type
           WHEN 'integer' THEN 'NUMBER' WHEN 'bigint' THEN 'NUMBER' WHEN 'smallint' THEN 'NUMBER' WHEN 'numeric' THEN 'NUMBER'
           WHEN 'text' THEN 'TEXT' WHEN 'character varying' THEN 'TEXT' WHEN 'character' THEN 'TEXT'
           WHEN 'double precision' THEN 'FLOAT' WHEN 'real' THEN 'FLOAT'
           WHEN 'boolean' THEN 'BOOLEAN' WHEN 'date' THEN 'DATE'
           WHEN 'timestamp without time zone' THEN 'TIMESTAMP_NTZ' WHEN 'timestamp with time zone' THEN 'TIMESTAMP_TZ'
           WHEN 'time without time zone' THEN 'TIME'
           WHEN 'jsonb' THEN 'VARIANT' WHEN 'json' THEN 'VARIANT' WHEN 'bytea' THEN 'BINARY'
           WHEN 'ARRAY' THEN 'ARRAY'
           ELSE upper(data_type) END AS "DATA_TYPE",
         CASE WHEN data_type IN ('integer', 'bigint', 'smallint') THEN 38 WHEN data_type = 'numeric' THEN coalesce(numeric_precision, 38) END AS "NUMERIC_PRECISION",
         CASE WHEN data_type IN ('integer', 'bigint', 'smallint') THEN 0 WHEN data_type = 'numeric' THEN coalesce(numeric_scale, 0) END AS "NUMERIC_SCALE",
         is_nullable::text AS "IS_NULLABLE"
  FROM information_schema.columns
  WHERE table_schema NOT IN ('pg_catalog', 'information_schema', 'public');
GRANT SELECT ON ALL TABLES IN SCHEMA "INFORMATION_SCHEMA" TO PUBLIC;
`

// Close stops the server, removes result files and drops the fake's roles.
func (s *Server) Close() {
	s.Server.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.mu.Lock()
	roles := make([]string, 0, len(s.roles))
	for r := range s.roles {
		roles = append(roles, s.pgRole(r))
	}
	for _, st := range s.statements {
		st.stop()
	}
	s.mu.Unlock()
	for _, r := range roles {
		_, _ = s.pool.Exec(ctx, "DROP OWNED BY "+pgx.Identifier{r}.Sanitize())
		_, _ = s.pool.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{r}.Sanitize())
	}
	s.pool.Close()
	_ = os.RemoveAll(s.dir)
}

func (s *Server) now() time.Time { return s.opts.Now() }

// pgRole is the PostgreSQL role standing for a Snowflake role.
func (s *Server) pgRole(role string) string { return s.prefix + role }

// Exec runs SQL on the fake's PostgreSQL database as its owner, to make tables and
// rows: tests speak PostgreSQL here, with upper-case quoted schema and table names for
// what Snowflake would fold to upper case.
func (s *Server) Exec(ctx context.Context, sql string, args ...any) error {
	_, err := s.pool.Exec(ctx, sql, args...)
	return err
}

// Pool is the fake's PostgreSQL pool, for tests that load many rows (CopyFrom).
func (s *Server) Pool() *pgxpool.Pool { return s.pool }

// AddRole creates a role.
func (s *Server) AddRole(ctx context.Context, role string) error {
	if _, err := s.pool.Exec(ctx, "CREATE ROLE "+pgx.Identifier{s.pgRole(role)}.Sanitize()+" NOLOGIN"); err != nil {
		return err
	}
	s.mu.Lock()
	s.roles[role] = true
	s.mu.Unlock()
	return nil
}

// AddUser creates a user with a public key (ALTER USER … SET RSA_PUBLIC_KEY) and the
// roles granted to it, the first its DEFAULT_ROLE.
func (s *Server) AddUser(name string, key *rsa.PublicKey, roles ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := &user{name: name, roles: map[string]bool{}}
	if key != nil {
		u.keys = []*rsa.PublicKey{key}
	}
	for i, r := range roles {
		if i == 0 {
			u.defaultRole = r
		}
		u.roles[r] = true
	}
	s.users[name] = u
}

// SetUserKeys replaces a user's public keys (RSA_PUBLIC_KEY and RSA_PUBLIC_KEY_2): a
// key rotated away makes JWTs signed with the old one fail.
func (s *Server) SetUserKeys(name string, keys ...*rsa.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[name]; u != nil {
		u.keys = keys
	}
}

// AddWarehouse creates a warehouse.
func (s *Server) AddWarehouse(w Warehouse) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := w
	s.warehouses[w.Name] = &cp
	if s.whUsage[w.Name] == nil {
		s.whUsage[w.Name] = map[string]bool{}
	}
}

// SetWarehouse changes a warehouse's state and AUTO_RESUME.
func (s *Server) SetWarehouse(name, state string, autoResume bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w := s.warehouses[name]; w != nil {
		w.State, w.AutoResume = state, autoResume
	}
}

// WarehouseState is a warehouse's state now ("" for none).
func (s *Server) WarehouseState(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w := s.warehouses[name]; w != nil {
		return w.State
	}
	return ""
}

// GrantWarehouse grants USAGE on a warehouse to a role (revoke with false).
func (s *Server) GrantWarehouse(role, warehouse string, grant bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.whUsage[warehouse] == nil {
		s.whUsage[warehouse] = map[string]bool{}
	}
	s.whUsage[warehouse][role] = grant
}

// GrantDatabase grants USAGE on the database to a role (revoke with false).
func (s *Server) GrantDatabase(role string, grant bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dbUsage[role] = grant
}

// GrantSchema grants (or revokes) USAGE on a schema to a role.
func (s *Server) GrantSchema(ctx context.Context, role, schema string, grant bool) error {
	verb := "GRANT USAGE ON SCHEMA %s TO %s"
	if !grant {
		verb = "REVOKE USAGE ON SCHEMA %s FROM %s"
	}
	_, err := s.pool.Exec(ctx, fmt.Sprintf(verb, quote(schema), quote(s.pgRole(role))))
	return err
}

// GrantSelect grants (or revokes) SELECT on a table or view to a role.
func (s *Server) GrantSelect(ctx context.Context, role, schema, table string, grant bool) error {
	verb := "GRANT SELECT ON %s.%s TO %s"
	if !grant {
		verb = "REVOKE SELECT ON %s.%s FROM %s"
	}
	_, err := s.pool.Exec(ctx, fmt.Sprintf(verb, quote(schema), quote(table), quote(s.pgRole(role))))
	return err
}

// Block makes the account's network policy refuse every request (403), or lets them in.
func (s *Server) Block(blocked bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocked = blocked
}

// Throttle answers the next n requests 429.
func (s *Server) Throttle(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = n
}

// Requests is how many requests the fake received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// LoginFailures are the reasons of the JWTs refused so far, as
// SYSTEM$GET_LOGIN_FAILURE_DETAILS would name them.
func (s *Server) LoginFailures() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.failures...)
}

// Statements are the statements received so far, in order.
func (s *Server) Statements() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.received...)
}

// Running is how many statements are executing now.
func (s *Server) Running() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, st := range s.statements {
		select {
		case <-st.done:
		default:
			n++
		}
	}
	return n
}

// session is what a statement runs as: the user, the role and the warehouse, database
// and schema in use (empty when the one asked for does not exist or may not be used, as
// CURRENT_DATABASE() and the like answer NULL then).
type session struct {
	account, user, role, warehouse, database, schema string
}

func (sess *session) databaseVisible(name string) bool {
	return name != "" && name == sess.database
}

func (sess *session) current(fn string) (string, bool) {
	switch fn {
	case "CURRENT_ROLE":
		return sess.role, true
	case "CURRENT_WAREHOUSE":
		return sess.warehouse, true
	case "CURRENT_DATABASE":
		return sess.database, true
	case "CURRENT_SCHEMA":
		return sess.schema, true
	case "CURRENT_USER":
		return sess.user, true
	case "CURRENT_ACCOUNT":
		return strings.SplitN(sess.account, "-", 2)[len(strings.SplitN(sess.account, "-", 2))-1], true
	case "CURRENT_VERSION":
		return "9.0.0", true
	}
	return "", false
}
