// Package bigquery is a fake of the Google BigQuery REST API v2 and of Google's OAuth 2.0
// token endpoint for service accounts, as strict as the documented services, that runs
// the queries it is sent on a local PostgreSQL database. An httptest.Server answers:
//
//   - POST /token: the JWT bearer grant of "Using OAuth 2.0 for Server to Server
//     Applications" (grant_type urn:ietf:params:oauth:grant-type:jwt-bearer). The
//     assertion's RS256 signature is checked against the public key of the service
//     account key it names (kid), its iss, aud (this endpoint), scope and a lifetime of
//     at most an hour; failures answer 400 with Google's invalid_grant bodies ("Invalid
//     JWT Signature.", "Invalid grant: account not found", the iat/exp one).
//   - /bigquery/v2/projects/{projectId}/…: jobs.query (POST …/queries),
//     jobs.getQueryResults (GET …/queries/{jobId}), jobs.insert (POST …/jobs), jobs.get,
//     jobs.cancel, datasets.list, datasets.get, tables.list and tables.get, with a bearer
//     token from /token. Errors carry the documented error object (error.code,
//     error.message, error.errors[].reason: notFound, accessDenied, invalidQuery,
//     backendError, …, error.status) with BigQuery's wording for each case (see
//     errors.go).
//
// What it enforces, as BigQuery does: IAM roles per service account on the project, on
// datasets and on tables (roles/bigquery.jobUser to create jobs; dataViewer to read a
// table; metadataViewer to list and describe), each dataset's location against the
// job's, legacy SQL off only when the request says so (the API's default is legacy SQL,
// which would not parse backticks), every table qualified with its dataset unless a
// default dataset is given, named or positional parameters with their declared types,
// result pages by pageToken or startIndex with maxResults and the 10 MB response limit,
// int64 timestamps when formatOptions.useInt64Timestamp asks for them, request bodies
// without unknown fields, at most 100 API requests a second per user per method (403
// rateLimitExceeded over it). Jobs run asynchronously: jobs.query and getQueryResults wait
// up to timeoutMs and answer jobComplete false after, so clients poll (SetJobDelay
// makes every job take that long).
//
// The SQL is GoogleSQL's subset that the bigquery connector writes, translated to
// PostgreSQL (translate.go); anything else is an invalidQuery error, never run as it
// stands. PostgreSQL converts between its date and time types where GoogleSQL does not,
// so the fake itself refuses a column compared with date arithmetic of another type
// (a DATETIME column against TIMESTAMP_SUB(…)), with BigQuery's "No matching
// signature"; other type mismatches PostgreSQL would accept are not caught. Each dataset is a PostgreSQL schema of the database Options.PostgresURL names;
// results are read through a SCROLL cursor per job, page by page, so a million-row
// result is never held in the fake's memory. Dry runs report the schema and, as
// totalBytesProcessed, the size of the tables the query reads (BigQuery counts only
// the columns it reads; the fake's figure is an upper bound).
//
// Sources: the REST reference of jobs.query, jobs.getQueryResults, jobs.insert, jobs.get,
// jobs.cancel, datasets.get, datasets.list, tables.get, tables.list
// (cloud.google.com/bigquery/docs/reference/rest/v2), "Troubleshoot errors"
// (cloud.google.com/bigquery/docs/error-messages), "BigQuery IAM roles and permissions",
// "Running parameterized queries", "Using OAuth 2.0 for Server to Server Applications"
// (developers.google.com/identity/protocols/oauth2/service-account) and Google Cloud's
// API error model (cloud.google.com/apis/design/errors).
package bigquery

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults of a fake.
const (
	DefaultProject  = "sluice-fake"
	DefaultLocation = "US"
	// MaxResponseBytes is the documented limit of one page of query results.
	MaxResponseBytes = 10 << 20
	// DefaultRequestsPerSecond is the documented limit of API requests per second per
	// user per method.
	DefaultRequestsPerSecond = 100
	// DefaultWait is how long jobs.query and getQueryResults wait for a job when the
	// request gives no timeoutMs (the documented 10 seconds).
	DefaultWait = 10 * time.Second
)

// Options configure a fake.
type Options struct {
	// PostgresURL is the database the fake's datasets live in (one per fake; tests make
	// it with internal/testutil.PostgresURL).
	PostgresURL string
	// Project is the one project the fake serves (default DefaultProject).
	Project string
	// RequestsPerSecond limits each user's API requests to each method (default the
	// documented 100 a second per user per method, "Quotas and limits": API
	// requests); over it, 403 rateLimitExceeded.
	RequestsPerSecond float64
}

// Server is a running fake.
type Server struct {
	*httptest.Server
	project string
	pool    *pgxpool.Pool

	mu        sync.Mutex
	accounts  map[string]*account // by e-mail
	tokens    map[string]accessToken
	datasets  map[string]string // name → location
	roles     map[grantKey]map[string]bool
	jobs      map[string]*job // by jobId
	down      bool
	jobDelay  time.Duration
	requests  []Request
	rate      float64
	buckets   map[string]*bucket // per user and method
	stopReap  chan struct{}
	reapDone  chan struct{}
	closeOnce sync.Once
}

// Request is one API request the fake received, for tests to assert on.
type Request struct {
	Method string
	Path   string
	Query  string
	Body   string
}

// New starts a fake on the given PostgreSQL database. Close stops it and releases its
// connections.
func New(o Options) (*Server, error) {
	if o.Project == "" {
		o.Project = DefaultProject
	}
	if o.RequestsPerSecond <= 0 {
		o.RequestsPerSecond = DefaultRequestsPerSecond
	}
	cfg, err := pgxpool.ParseConfig(o.PostgresURL)
	if err != nil {
		return nil, fmt.Errorf("fake bigquery: %w", err)
	}
	cfg.MaxConns = 24
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("fake bigquery: %w", err)
	}
	s := &Server{
		project:  o.Project,
		pool:     pool,
		accounts: map[string]*account{},
		tokens:   map[string]accessToken{},
		datasets: map[string]string{},
		roles:    map[grantKey]map[string]bool{},
		jobs:     map[string]*job{},
		rate:     o.RequestsPerSecond,
		buckets:  map[string]*bucket{},
		stopReap: make(chan struct{}),
		reapDone: make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", s.token)
	const v2 = "/bigquery/v2/projects/{project}"
	mux.HandleFunc("POST "+v2+"/queries", s.api(s.jobsQuery))
	mux.HandleFunc("GET "+v2+"/queries/{job}", s.api(s.getQueryResults))
	mux.HandleFunc("POST "+v2+"/jobs", s.api(s.jobsInsert))
	mux.HandleFunc("GET "+v2+"/jobs/{job}", s.api(s.jobsGet))
	mux.HandleFunc("POST "+v2+"/jobs/{job}/cancel", s.api(s.jobsCancel))
	mux.HandleFunc("GET "+v2+"/datasets", s.api(s.datasetsList))
	mux.HandleFunc("GET "+v2+"/datasets/{dataset}", s.api(s.datasetsGet))
	mux.HandleFunc("GET "+v2+"/datasets/{dataset}/tables", s.api(s.tablesList))
	mux.HandleFunc("GET "+v2+"/datasets/{dataset}/tables/{table}", s.api(s.tablesGet))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "notFound", fmt.Sprintf("Not found: URL %s %s", r.Method, r.URL.Path))
	})
	s.Server = httptest.NewServer(mux)
	go s.reap()
	return s, nil
}

// Close stops the server, ends every job's cursor and closes the pool.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.Server.Close()
		close(s.stopReap)
		<-s.reapDone
		s.mu.Lock()
		jobs := make([]*job, 0, len(s.jobs))
		for _, j := range s.jobs {
			jobs = append(jobs, j)
		}
		s.mu.Unlock()
		for _, j := range jobs {
			j.stop()
		}
		s.pool.Close()
	})
}

// Project is the project the fake serves.
func (s *Server) Project() string { return s.project }

// Endpoint is the base path a client is pointed at (option.WithEndpoint).
func (s *Server) Endpoint() string { return s.URL + "/bigquery/v2/" }

// TokenURL is the fake's OAuth token endpoint.
func (s *Server) TokenURL() string { return s.URL + "/token" }

// CreateDataset makes a dataset (a PostgreSQL schema) in a location ("" for US).
func (s *Server) CreateDataset(ctx context.Context, name, location string) error {
	if location == "" {
		location = DefaultLocation
	}
	if _, err := s.pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgIdent(name)); err != nil {
		return fmt.Errorf("fake bigquery: create dataset %s: %w", name, err)
	}
	s.mu.Lock()
	s.datasets[name] = location
	s.mu.Unlock()
	return nil
}

// Exec runs PostgreSQL statements on the fake's database, for tests to make tables
// (datasets are schemas) and rows.
func (s *Server) Exec(ctx context.Context, sql string, args ...any) error {
	_, err := s.pool.Exec(ctx, sql, args...)
	return err
}

// Pool is the fake's PostgreSQL pool, for tests that load data in bulk.
func (s *Server) Pool() *pgxpool.Pool { return s.pool }

// Down makes every API request fail with 503 backendError until Up.
func (s *Server) Down() { s.set(func() { s.down = true }) }

// Up ends Down.
func (s *Server) Up() { s.set(func() { s.down = false }) }

// SetJobDelay makes every job take at least d before it is complete, so clients poll.
func (s *Server) SetJobDelay(d time.Duration) { s.set(func() { s.jobDelay = d }) }

// Requests lists the API requests received so far (token requests excepted).
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// OpenJobs counts the jobs whose results still hold a cursor.
func (s *Server) OpenJobs() int {
	s.mu.Lock()
	jobs := make([]*job, 0, len(s.jobs))
	for _, j := range s.jobs {
		jobs = append(jobs, j)
	}
	s.mu.Unlock()
	n := 0
	for _, j := range jobs {
		j.mu.Lock()
		if j.conn != nil {
			n++
		}
		j.mu.Unlock()
	}
	return n
}

func (s *Server) set(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

// reap ends the cursors of jobs nobody read for two minutes, as BigQuery's results
// outlive the reader but a fake's connections should not.
func (s *Server) reap() {
	defer close(s.reapDone)
	t := time.NewTicker(15 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stopReap:
			return
		case <-t.C:
		}
		s.mu.Lock()
		var idle []*job
		for _, j := range s.jobs {
			if j.idleSince(2 * time.Minute) {
				idle = append(idle, j)
			}
		}
		s.mu.Unlock()
		for _, j := range idle {
			j.release()
		}
	}
}

// api wraps an API handler: the fake's Down switch, the bearer token, the project, and
// a record of the request.
func (s *Server) api(h func(w http.ResponseWriter, r *http.Request, caller string, body []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(r)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid", "Request body is too large or unreadable.")
			return
		}
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: string(body)})
		down := s.down
		s.mu.Unlock()
		if down {
			writeError(w, http.StatusServiceUnavailable, "backendError", "Error encountered during execution. Retrying may solve the problem.")
			return
		}
		caller, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		if !s.admit(caller + " " + r.Pattern) {
			writeAPIError(w, http.StatusForbidden, "PERMISSION_DENIED",
				"Exceeded rate limits: too many api requests per user per method for this user_method. For more information, see https://cloud.google.com/bigquery/docs/troubleshoot-quotas",
				errorItem{Message: "Exceeded rate limits: too many api requests per user per method for this user_method. For more information, see https://cloud.google.com/bigquery/docs/troubleshoot-quotas",
					Domain: "usageLimits", Reason: "rateLimitExceeded"})
			return
		}
		if p := r.PathValue("project"); p != s.project {
			writeError(w, http.StatusNotFound, "notFound", "Not found: Project "+p)
			return
		}
		h(w, r, caller, body)
	}
}

const maxBody = 1 << 20

func readBody(r *http.Request) ([]byte, error) {
	defer r.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Body.Read(buf)
		b.Write(buf[:n])
		if b.Len() > maxBody {
			return nil, fmt.Errorf("body over %d bytes", maxBody)
		}
		if err != nil {
			break
		}
	}
	return []byte(b.String()), nil
}

// decodeStrict decodes a request body, refusing unknown fields as the API does.
func decodeStrict(w http.ResponseWriter, body []byte, v any) bool {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		msg := "Invalid JSON payload received. " + err.Error()
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			msg = fmt.Sprintf("Invalid JSON payload received. Unknown name %s: Cannot find field.", name)
		}
		writeError(w, http.StatusBadRequest, "invalid", msg)
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// bucket is a token bucket of one user's requests.
type bucket struct {
	tokens float64
	last   time.Time
}

// admit takes a token of the bucket of a caller's method (the rate per second, a burst
// of one second's worth), or reports that none is left.
func (s *Server) admit(caller string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	b := s.buckets[caller]
	if b == nil {
		b = &bucket{tokens: s.rate, last: now}
		s.buckets[caller] = b
	}
	b.tokens = min(s.rate, b.tokens+now.Sub(b.last).Seconds()*s.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
