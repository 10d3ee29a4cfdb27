// Package databricks is a fake Databricks workspace for tests: an httptest.Server that
// answers the SQL Statement Execution API 2.0 and the workspace's OAuth token endpoint
// as Databricks documents them, runs the statements on a local PostgreSQL database, and
// keeps Unity Catalog's grants, which it enforces and shows in information_schema.
//
// Coded from these pages of the Databricks documentation (docs.databricks.com):
//
//   - Statement Execution API reference, /api/workspace/statementexecution: execute
//     (POST /api/2.0/sql/statements), get status (GET .../{statement_id}), get result
//     chunk (GET .../{statement_id}/result/chunks/{chunk_index}), cancel (POST
//     .../{statement_id}/cancel); the StatementResponse, ResultManifest, ResultData,
//     ExternalLink and ServiceError objects (checked against the field names of the
//     official Go SDK's service/sql model);
//   - "Statement Execution API: Run SQL on warehouses" (dev-tools/sql-execution-tutorial);
//   - "Authorize unattended access to Databricks resources with a service principal
//     using OAuth" (dev-tools/auth/oauth-m2m): POST /oidc/v1/token, client_credentials,
//     scope all-apis, the client authenticated with HTTP Basic;
//   - "Databricks personal access token authentication" (dev-tools/auth/pat);
//   - SQL reference: parameter markers, information_schema (CATALOG_PRIVILEGES,
//     SCHEMA_PRIVILEGES, TABLE_PRIVILEGES, TABLES, COLUMNS, SCHEMATA), error classes
//     (TABLE_OR_VIEW_NOT_FOUND, INSUFFICIENT_PERMISSIONS, NO_SUCH_CATALOG_EXCEPTION,
//     SCHEMA_NOT_FOUND, PARSE_SYNTAX_ERROR, UNRESOLVED_ROUTINE…), collation (UTF8_BINARY).
//
// What it enforces:
//
//   - Authorization: Bearer <token> on every API request: a missing or non-Bearer
//     header is 401 {"error_code":401,"message":"Credential was not sent or was of an
//     unsupported type for this API."}; an unknown, revoked or expired token is 403
//     {"error_code":403,"message":"Invalid access token."} with the
//     X-Databricks-Reason-Phrase header (both as the workspace answers them; error_code
//     is a number there, not a string).
//   - The token endpoint takes grant_type=client_credentials and scope all-apis from a
//     client authenticated by Basic auth (or client_id and client_secret in the form);
//     a wrong secret is 401 invalid_client, another scope 400 invalid_scope.
//   - The request body: warehouse_id and statement required; wait_timeout 0s or 5s to
//     50s; on_wait_timeout CONTINUE or CANCEL; disposition INLINE or EXTERNAL_LINKS;
//     format JSON_ARRAY (ARROW_STREAM and CSV only with EXTERNAL_LINKS, and this fake
//     writes none of them: 400); parameters [{name, value, type}] bound to :name markers,
//     checked by casting (an unbound marker fails the statement: UNBOUND_SQL_PARAMETER).
//     Anything else is 400 INVALID_PARAMETER_VALUE, as the API answers.
//   - A warehouse that does not exist is 404; one the principal may not use (CAN USE)
//     is 403 PERMISSION_DENIED; a stopped warehouse starts on the first statement and
//     the statement stays PENDING until it runs ("waiting for warehouse").
//   - Statements fail as Databricks fails them: HTTP 200, status.state FAILED,
//     status.error {error_code: BAD_REQUEST, message: "[CLASS] … SQLSTATE: …"},
//     status.sql_state. Unity Catalog checks run first: USE CATALOG, USE SCHEMA and
//     SELECT on every relation read, or ownership.
//   - INLINE results over 25 MiB fail; EXTERNAL_LINKS chunks are served at
//     presigned-style URLs that expire (15 minutes) and refuse an Authorization header
//     the way cloud storage does (400: only one auth mechanism allowed).
//
// What it does not do: it knows only the SQL Sluice sends (see sql.go); it stores all
// timestamps as PostgreSQL timestamptz in UTC (the warehouse's session time zone here is
// UTC); it resolves a backticked identifier with its case kept, where Databricks
// ignores case.
package databricks

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Documented limits.
const (
	// InlineLimit is the largest result the INLINE disposition returns.
	InlineLimit = 25 << 20
	// LinkLifetime is how long an external link is valid.
	LinkLifetime = 15 * time.Minute
	// TokenLifetime is how long an OAuth access token is valid.
	TokenLifetime = time.Hour
)

// Answers' texts, as the workspace answers them.
const (
	MsgNoCredential = "Credential was not sent or was of an unsupported type for this API."
	MsgInvalidToken = "Invalid access token."
)

// Warehouse states.
const (
	whRunning  = "RUNNING"
	whStopped  = "STOPPED"
	whStarting = "STARTING"
)

type warehouse struct {
	state   string
	users   map[string]bool // principals with CAN USE; nil: everyone
	readyAt time.Time
}

// Fake is a Databricks workspace. Its zero value is not usable: call New.
type Fake struct {
	srv    *httptest.Server
	pool   *pgxpool.Pool
	dir    string
	secret []byte

	mu          sync.Mutex
	tokens      map[string]string // PAT or OAuth access token → principal
	expires     map[string]time.Time
	clients     map[string]string // OAuth client id → secret
	warehouses  map[string]*warehouse
	statements  map[string]*stmtState
	startDelay  time.Duration
	chunkRows   int
	requests    []Request
	down        bool
	tokenIssued int
	expireLinks int // links still to hand out already expired
}

// Request is what the fake received, for tests to assert on.
type Request struct {
	Method, Path  string
	Authorization string
	Body          string
}

// New starts a fake workspace on the PostgreSQL database at pgURL (which it owns: it
// creates its own schemas there), with one running warehouse, WarehouseID, and the
// catalog "main" with the schema "default". Close it when done.
func New(ctx context.Context, pgURL string) (*Fake, error) {
	cfg, err := pgxpool.ParseConfig(pgURL)
	if err != nil {
		return nil, err
	}
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	cfg.ConnConfig.RuntimeParams["datestyle"] = "ISO"
	cfg.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "databricks-fake-*")
	if err != nil {
		pool.Close()
		return nil, err
	}
	f := &Fake{pool: pool, dir: dir, secret: randomBytes(32),
		tokens: map[string]string{}, expires: map[string]time.Time{}, clients: map[string]string{},
		warehouses: map[string]*warehouse{WarehouseID: {state: whRunning}},
		statements: map[string]*stmtState{}, chunkRows: 10_000, startDelay: 300 * time.Millisecond}
	if _, err := pool.Exec(ctx, ucSetup); err != nil {
		f.Close()
		return nil, fmt.Errorf("databricks fake: set up unity catalog: %w", err)
	}
	if err := f.CreateCatalog(ctx, "main"); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.CreateSchema(ctx, "main", "default"); err != nil {
		f.Close()
		return nil, err
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	return f, nil
}

// WarehouseID is the warehouse New creates.
const WarehouseID = "1234567890abcdef"

// URL is the workspace's address, http://127.0.0.1:port.
func (f *Fake) URL() string { return f.srv.URL }

// Host is the workspace's host:port, as a user would enter it.
func (f *Fake) Host() string { return strings.TrimPrefix(f.srv.URL, "http://") }

// Close stops the server, cancels running statements and removes stored results.
func (f *Fake) Close() {
	if f.srv != nil {
		f.srv.Close()
	}
	f.mu.Lock()
	for _, st := range f.statements {
		st.cancel()
	}
	f.mu.Unlock()
	f.pool.Close()
	_ = os.RemoveAll(f.dir)
}

// Pool is the fake's PostgreSQL pool, for a test to create and fill tables in the
// schemas PGSchema names.
func (f *Fake) Pool() *pgxpool.Pool { return f.pool }

// AddUser creates a user (an e-mail) and returns a personal access token for them.
func (f *Fake) AddUser(email string) string {
	tok := "dapi" + hex.EncodeToString(randomBytes(16))
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens[tok] = email
	return tok
}

// AddServicePrincipal creates a service principal with an OAuth secret; its name (what
// current_user() returns and grants name) is its application (client) ID.
func (f *Fake) AddServicePrincipal() (clientID, secret string) {
	b := randomBytes(16)
	clientID = fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	secret = "dose" + hex.EncodeToString(randomBytes(16))
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clients[clientID] = secret
	return clientID, secret
}

// RevokeToken makes a token (PAT or access token) invalid.
func (f *Fake) RevokeToken(tok string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.tokens, tok)
}

// AddWarehouse adds a running warehouse.
func (f *Fake) AddWarehouse(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.warehouses[id] = &warehouse{state: whRunning}
}

// StopWarehouse stops a warehouse; the next statement starts it, which takes
// SetStartDelay.
func (f *Fake) StopWarehouse(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if w := f.warehouses[id]; w != nil {
		w.state = whStopped
	}
}

// SetStartDelay sets how long a stopped warehouse takes to start.
func (f *Fake) SetStartDelay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.startDelay = d
}

// RestrictWarehouse lets only the given principals use a warehouse (CAN USE).
func (f *Fake) RestrictWarehouse(id string, principals ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if w := f.warehouses[id]; w != nil {
		w.users = map[string]bool{}
		for _, p := range principals {
			w.users[p] = true
		}
	}
}

// SetChunkRows sets how many rows a result chunk holds.
func (f *Fake) SetChunkRows(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.chunkRows = n
}

// ExpireNextLinks makes the next n external links it hands out expired already, as a
// link is when a client comes back to it after 15 minutes.
func (f *Fake) ExpireNextLinks(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expireLinks = n
}

// SetDown makes every request answer 503 TEMPORARILY_UNAVAILABLE.
func (f *Fake) SetDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// Requests lists what the fake received, oldest first.
func (f *Fake) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.requests...)
}

// TokensIssued counts the OAuth access tokens the token endpoint gave.
func (f *Fake) TokensIssued() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenIssued
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// apiError writes the workspace's error body.
func apiError(w http.ResponseWriter, status int, code any, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error_code": code, "message": msg})
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	rec := Request{Method: r.Method, Path: r.URL.Path, Authorization: r.Header.Get("Authorization")}
	down := f.down
	f.mu.Unlock()
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(r.Body, 1<<20))
		rec.Body = string(body)
	}
	f.mu.Lock()
	if len(f.requests) < 10_000 {
		f.requests = append(f.requests, rec)
	}
	f.mu.Unlock()
	if down {
		apiError(w, http.StatusServiceUnavailable, "TEMPORARILY_UNAVAILABLE", "The service is temporarily unavailable. Please try again later.")
		return
	}
	switch {
	case strings.HasPrefix(r.URL.Path, "/_results/"):
		f.serveLink(w, r)
		return
	case r.URL.Path == "/oidc/v1/token":
		f.token(w, r, body)
		return
	}
	principal, ok := f.authenticate(w, r)
	if !ok {
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/api/2.0/sql/statements")
	switch {
	case path == "" || path == "/":
		if r.Method != http.MethodPost {
			apiError(w, http.StatusMethodNotAllowed, "BAD_REQUEST", "Method not allowed.")
			return
		}
		f.execute(w, r, principal, body)
	case strings.HasPrefix(path, "/"):
		parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
		f.statementCall(w, r, principal, parts)
	default:
		apiError(w, http.StatusNotFound, "ENDPOINT_NOT_FOUND", "No API found for '"+r.Method+" "+r.URL.Path+"'")
	}
}

// authenticate checks the Bearer token and answers the principal.
func (f *Fake) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		apiError(w, http.StatusUnauthorized, 401, MsgNoCredential)
		return "", false
	}
	f.mu.Lock()
	principal, known := f.tokens[tok]
	exp, hasExp := f.expires[tok]
	f.mu.Unlock()
	if !known || hasExp && time.Now().After(exp) {
		w.Header().Set("X-Databricks-Reason-Phrase", MsgInvalidToken)
		apiError(w, http.StatusForbidden, 403, MsgInvalidToken)
		return "", false
	}
	return principal, true
}

// token is the workspace's OAuth token endpoint for machine-to-machine access.
func (f *Fake) token(w http.ResponseWriter, r *http.Request, body []byte) {
	oauthError := func(status int, code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	if r.Method != http.MethodPost {
		oauthError(http.StatusMethodNotAllowed, "invalid_request", "POST only")
		return
	}
	values, err := url.ParseQuery(string(body))
	form := map[string]string{}
	for k, v := range values {
		form[k] = v[0]
	}
	if err != nil {
		oauthError(http.StatusBadRequest, "invalid_request", "The request body is not a form.")
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = form["client_id"], form["client_secret"]
	}
	if form["grant_type"] != "client_credentials" {
		oauthError(http.StatusBadRequest, "unsupported_grant_type", "Only client_credentials is supported for service principals.")
		return
	}
	f.mu.Lock()
	want, ok := f.clients[id]
	f.mu.Unlock()
	if !ok || !hmac.Equal([]byte(want), []byte(secret)) {
		oauthError(http.StatusUnauthorized, "invalid_client", "Client authentication failed")
		return
	}
	if form["scope"] != "all-apis" {
		oauthError(http.StatusBadRequest, "invalid_scope", "The requested scope is invalid, unknown, or malformed.")
		return
	}
	tok := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	f.mu.Lock()
	f.tokens[tok] = id
	f.expires[tok] = time.Now().Add(TokenLifetime)
	f.tokenIssued++
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer",
		"expires_in": int(TokenLifetime.Seconds()), "scope": "all-apis"})
}

// sign is the signature of an external link: statement, chunk and expiry.
func (f *Fake) sign(id string, chunk int, exp int64) string {
	m := hmac.New(sha256.New, f.secret)
	fmt.Fprintf(m, "%s/%d/%d", id, chunk, exp)
	return hex.EncodeToString(m.Sum(nil))
}
