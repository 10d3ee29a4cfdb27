package bigquery

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// flexInt is an integer the API accepts as a JSON number or, for int64 fields, a
// string.
type flexInt struct {
	set bool
	n   int64
}

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" {
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("invalid integer %s", b)
	}
	f.set, f.n = true, n
	return nil
}

type datasetRef struct {
	ProjectID string `json:"projectId"`
	DatasetID string `json:"datasetId"`
}

type parameterType struct {
	Type             string          `json:"type"`
	ArrayType        json.RawMessage `json:"arrayType,omitempty"`
	StructTypes      json.RawMessage `json:"structTypes,omitempty"`
	RangeElementType json.RawMessage `json:"rangeElementType,omitempty"`
	Description      string          `json:"description,omitempty"`
}

type parameterValue struct {
	Value        *string         `json:"value"`
	ArrayValues  json.RawMessage `json:"arrayValues,omitempty"`
	StructValues json.RawMessage `json:"structValues,omitempty"`
	RangeValue   json.RawMessage `json:"rangeValue,omitempty"`
}

type queryParameter struct {
	Name           string          `json:"name,omitempty"`
	ParameterType  *parameterType  `json:"parameterType"`
	ParameterValue *parameterValue `json:"parameterValue"`
}

type formatOptions struct {
	UseInt64Timestamp bool `json:"useInt64Timestamp"`
}

// queryRequest is the body of jobs.query.
type queryRequest struct {
	Kind                 string            `json:"kind"`
	Query                string            `json:"query"`
	MaxResults           flexInt           `json:"maxResults"`
	DefaultDataset       *datasetRef       `json:"defaultDataset"`
	TimeoutMs            flexInt           `json:"timeoutMs"`
	JobTimeoutMs         flexInt           `json:"jobTimeoutMs"`
	DryRun               bool              `json:"dryRun"`
	PreserveNulls        bool              `json:"preserveNulls"`
	UseQueryCache        *bool             `json:"useQueryCache"`
	UseLegacySQL         *bool             `json:"useLegacySql"`
	ParameterMode        string            `json:"parameterMode"`
	QueryParameters      []queryParameter  `json:"queryParameters"`
	Location             string            `json:"location"`
	FormatOptions        *formatOptions    `json:"formatOptions"`
	ConnectionProperties json.RawMessage   `json:"connectionProperties"`
	Labels               map[string]string `json:"labels"`
	MaximumBytesBilled   flexInt           `json:"maximumBytesBilled"`
	RequestID            string            `json:"requestId"`
	CreateSession        bool              `json:"createSession"`
	JobCreationMode      string            `json:"jobCreationMode"`
	Reservation          string            `json:"reservation"`
	MaxSlots             flexInt           `json:"maxSlots"`
	WriteIncremental     bool              `json:"writeIncrementalResults"`
}

// jobQueryConfig is configuration.query of jobs.insert.
type jobQueryConfig struct {
	Query                              string            `json:"query"`
	UseLegacySQL                       *bool             `json:"useLegacySql"`
	ParameterMode                      string            `json:"parameterMode"`
	QueryParameters                    []queryParameter  `json:"queryParameters"`
	DefaultDataset                     *datasetRef       `json:"defaultDataset"`
	UseQueryCache                      *bool             `json:"useQueryCache"`
	Priority                           string            `json:"priority"`
	DestinationTable                   json.RawMessage   `json:"destinationTable"`
	CreateDisposition                  string            `json:"createDisposition"`
	WriteDisposition                   string            `json:"writeDisposition"`
	AllowLargeResults                  bool              `json:"allowLargeResults"`
	FlattenResults                     *bool             `json:"flattenResults"`
	MaximumBytesBilled                 flexInt           `json:"maximumBytesBilled"`
	MaximumBillingTier                 flexInt           `json:"maximumBillingTier"`
	ConnectionProperties               json.RawMessage   `json:"connectionProperties"`
	CreateSession                      bool              `json:"createSession"`
	Continuous                         bool              `json:"continuous"`
	TableDefinitions                   json.RawMessage   `json:"tableDefinitions"`
	TimePartitioning                   json.RawMessage   `json:"timePartitioning"`
	RangePartitioning                  json.RawMessage   `json:"rangePartitioning"`
	Clustering                         json.RawMessage   `json:"clustering"`
	SchemaUpdateOptions                []string          `json:"schemaUpdateOptions"`
	DestinationEncryptionConfiguration json.RawMessage   `json:"destinationEncryptionConfiguration"`
	UserDefinedFunctionResources       json.RawMessage   `json:"userDefinedFunctionResources"`
	ScriptOptions                      json.RawMessage   `json:"scriptOptions"`
	SystemVariables                    json.RawMessage   `json:"systemVariables"`
	PreserveNulls                      bool              `json:"preserveNulls"`
	Labels                             map[string]string `json:"labels"`
}

type jobReference struct {
	ProjectID string `json:"projectId"`
	JobID     string `json:"jobId"`
	Location  string `json:"location,omitempty"`
}

// jobResource is the body of jobs.insert (the fields a client may send).
type jobResource struct {
	Kind          string        `json:"kind"`
	JobReference  *jobReference `json:"jobReference"`
	Configuration *struct {
		Query        *jobQueryConfig   `json:"query"`
		DryRun       bool              `json:"dryRun"`
		JobTimeoutMs flexInt           `json:"jobTimeoutMs"`
		Labels       map[string]string `json:"labels"`
		JobType      string            `json:"jobType"`
		Reservation  string            `json:"reservation"`
		MaxSlots     flexInt           `json:"maxSlots"`
		Load         json.RawMessage   `json:"load"`
		Copy         json.RawMessage   `json:"copy"`
		Extract      json.RawMessage   `json:"extract"`
	} `json:"configuration"`
}

// jobSpec is what both jobs.query and jobs.insert ask for.
type jobSpec struct {
	caller         string
	jobID          string
	query          string
	legacy         *bool
	mode           string
	params         []queryParameter
	defaultDataset *datasetRef
	location       string
	dryRun         bool
	timeout        time.Duration
	config         map[string]any // configuration as jobs.get shows it
}

// job is one query job and, while its results are read, the cursor over them.
type job struct {
	s        *Server
	ref      jobReference
	caller   string
	spec     jobSpec
	pgSQL    string
	tables   []tableRef
	names    []string // the result's column names as BigQuery gives them, when known
	created  time.Time
	finished chan struct{}

	mu       sync.Mutex
	started  time.Time
	ended    time.Time
	err      *queryError
	fields   []pgconn.FieldDescription
	total    int64
	bytes    int64
	cancel   context.CancelFunc
	conn     *pgxpool.Conn
	tx       pgx.Tx
	position int64
	lastUse  time.Time
}

func newID(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// start checks a job's request and starts it. A refusal on the request itself (the
// project's jobs.create permission, a malformed request) comes back as an error with no
// job; a query that fails (syntax, a missing table, access to a table) comes back as a
// job already done with that error, as BigQuery reports it in the job's status.
func (s *Server) start(sp jobSpec) (*job, *queryError) {
	if !s.allowed(sp.caller, permJobsCreate, "", "") {
		return nil, s.deniedJobsCreate()
	}
	if strings.TrimSpace(sp.query) == "" {
		return nil, &queryError{reason: "invalid", message: "Required parameter is missing: query"}
	}
	j := &job{s: s, caller: sp.caller, spec: sp, created: time.Now(), finished: make(chan struct{}), lastUse: time.Now()}
	j.ref = jobReference{ProjectID: s.project, JobID: sp.jobID, Location: sp.location}
	if qe := s.check(j); qe != nil {
		j.err = qe
		j.ended = time.Now()
		close(j.finished)
	} else if sp.dryRun {
		j.dryRun()
	} else {
		ctx, cancel := context.WithCancel(context.Background())
		j.cancel = cancel
		go j.run(ctx)
	}
	if !sp.dryRun {
		s.mu.Lock()
		s.jobs[j.ref.JobID] = j
		s.mu.Unlock()
	}
	return j, nil
}

// check translates the query and checks what it reads: datasets, their location,
// access to each table, its existence.
func (s *Server) check(j *job) *queryError {
	sp := j.spec
	if sp.legacy == nil || *sp.legacy {
		return invalidQuery("This fake runs GoogleSQL only: set useLegacySql to false (the API's default is legacy SQL, which does not read backtick identifiers or parameters).")
	}
	named := map[string]string{}
	var positional []string
	mode := sp.mode
	if mode == "" && len(sp.params) > 0 {
		// Google's client sends no parameterMode: the service goes by the names.
		mode = "POSITIONAL"
		if sp.params[0].Name != "" {
			mode = "NAMED"
		}
	}
	for i, p := range sp.params {
		if p.ParameterType == nil || p.ParameterType.Type == "" {
			return invalidQuery("Query parameter %d has no parameterType", i+1)
		}
		if len(p.ParameterType.ArrayType) > 0 || len(p.ParameterType.StructTypes) > 0 {
			return invalidQuery("This fake supports scalar query parameters only")
		}
		var v *string
		if p.ParameterValue != nil {
			v = p.ParameterValue.Value
		}
		lit, err := paramLiteral(p.ParameterType.Type, v)
		if err != nil {
			return err.(*queryError)
		}
		switch mode {
		case "NAMED":
			if p.Name == "" {
				return invalidQuery("Named query parameters must have a name")
			}
			named[strings.ToLower(p.Name)] = lit
		case "POSITIONAL":
			if p.Name != "" {
				return invalidQuery("Positional query parameters must not have a name")
			}
			positional = append(positional, lit)
		default:
			return invalidQuery("Invalid parameterMode %q: NAMED or POSITIONAL", mode)
		}
	}
	var defDataset string
	if sp.defaultDataset != nil {
		defDataset = sp.defaultDataset.DatasetID
	}
	tr, err := translate(sp.query, s.project, defDataset, named, positional)
	if err != nil {
		var qe *queryError
		if errors.As(err, &qe) {
			return qe
		}
		return invalidQuery("%s", err.Error())
	}
	j.pgSQL, j.tables, j.names = tr.sql, tr.tables, tr.names
	location := sp.location
	for _, ref := range tr.tables {
		s.mu.Lock()
		dsLoc, exists := s.datasets[ref.dataset]
		canRead := s.can(j.caller, permTablesGetDat, ref.dataset, ref.table)
		s.mu.Unlock()
		if !exists {
			return &queryError{reason: "notFound", message: fmt.Sprintf("Not found: Dataset %s:%s", s.project, ref.dataset)}
		}
		if location == "" {
			location = dsLoc
		}
		if !strings.EqualFold(location, dsLoc) {
			return &queryError{reason: "notFound", message: fmt.Sprintf("Not found: Dataset %s:%s was not found in location %s", s.project, ref.dataset, location)}
		}
		if !canRead {
			return s.deniedQueryTable(ref)
		}
		if !s.tableExists(ref) {
			return &queryError{reason: "notFound", message: fmt.Sprintf("Not found: Table %s:%s.%s was not found in location %s", s.project, ref.dataset, ref.table, location)}
		}
	}
	if location == "" {
		location = DefaultLocation
	}
	j.ref.Location = location
	return s.checkTypes(tr)
}

// checkTypes refuses a column compared with date arithmetic of another type family, as
// GoogleSQL's signature matching does (TIMESTAMP_SUB gives a TIMESTAMP, DATETIME_SUB a
// DATETIME, DATE_SUB a DATE; a DATE coerces to DATETIME, nothing else converts).
func (s *Server) checkTypes(tr translation) *queryError {
	for _, c := range tr.checks {
		ref, ok := tr.aliases[strings.ToLower(c.alias)]
		if c.alias == "" && len(tr.tables) == 1 {
			ref, ok = tr.tables[0], true
		}
		if !ok {
			continue
		}
		var oid uint32
		var typmod int32
		err := s.pool.QueryRow(context.Background(), `SELECT a.atttypid, a.atttypmod FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = $3 AND a.attnum > 0 AND NOT a.attisdropped`, ref.dataset, ref.table, c.column).Scan(&oid, &typmod)
		if err != nil {
			continue // an unknown column is for PostgreSQL to report
		}
		col := bqType(oid, typmod)
		arith := strings.TrimSuffix(strings.TrimSuffix(c.fn, "_SUB"), "_ADD")
		compatible := col == arith || (col == "DATE" && arith == "DATETIME")
		if col == "TIMESTAMP" || col == "DATETIME" || col == "DATE" {
			if !compatible {
				return invalidQuery("No matching signature for operator %s for argument types: %s, %s. Supported signature: ANY %s ANY at %s", c.op, col, arith, c.op, c.at.at())
			}
		}
	}
	return nil
}

func (s *Server) tableExists(ref tableRef) bool {
	var n int
	err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'v', 'm', 'p')`, ref.dataset, ref.table).Scan(&n)
	return err == nil && n > 0
}

// begin opens the job's transaction: read only, in UTC, with the job's timeout.
func (j *job) begin(ctx context.Context) (*pgxpool.Conn, pgx.Tx, *queryError) {
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	conn, err := j.s.pool.Acquire(actx)
	cancel()
	if err != nil {
		return nil, nil, &queryError{reason: "backendError", message: "Error encountered during execution. Retrying may solve the problem."}
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err == nil {
		_, err = tx.Exec(ctx, fmt.Sprintf("SET LOCAL statement_timeout = %d; SET LOCAL timezone = 'UTC'", j.spec.timeout.Milliseconds()))
	}
	if err != nil {
		conn.Release()
		return nil, nil, pgError(err, j)
	}
	return conn, tx, nil
}

// dryRun describes the query without running it.
func (j *job) dryRun() {
	defer close(j.finished)
	ctx := context.Background()
	conn, tx, qe := j.begin(ctx)
	if qe != nil {
		j.err = qe
		return
	}
	defer func() {
		_ = tx.Rollback(ctx)
		conn.Release()
	}()
	sd, err := tx.Conn().PgConn().Prepare(ctx, "", j.pgSQL, nil)
	if err != nil {
		j.err = pgError(err, j)
		return
	}
	if qe := duplicateNames(sd.Fields, j.names); qe != nil {
		j.err = qe
		return
	}
	j.fields = sd.Fields
	for _, ref := range j.tables {
		var size int64
		_ = tx.QueryRow(ctx, "SELECT pg_table_size(to_regclass($1))", pgIdent(ref.dataset)+"."+pgIdent(ref.table)).Scan(&size)
		j.bytes += size
	}
	j.ended = time.Now()
}

// run executes the query behind a SCROLL cursor and counts its rows; pages are read
// from the cursor later.
func (j *job) run(ctx context.Context) {
	j.mu.Lock()
	j.started = time.Now()
	delay := j.s.jobDelayNow()
	j.mu.Unlock()
	fail := func(qe *queryError) {
		j.mu.Lock()
		j.err, j.ended = qe, time.Now()
		j.mu.Unlock()
		close(j.finished)
	}
	conn, tx, qe := j.begin(ctx)
	if qe != nil {
		fail(qe)
		return
	}
	sd, err := tx.Conn().PgConn().Prepare(ctx, "", j.pgSQL, nil)
	if err == nil {
		if qe := duplicateNames(sd.Fields, j.names); qe != nil {
			_ = tx.Rollback(context.Background())
			conn.Release()
			fail(qe)
			return
		}
		_, err = tx.Exec(ctx, "DECLARE sluice_job SCROLL CURSOR FOR "+j.pgSQL)
	}
	var total int64
	if err == nil {
		var ct pgconn.CommandTag
		ct, err = tx.Exec(ctx, "MOVE FORWARD ALL IN sluice_job")
		total = ct.RowsAffected()
	}
	if err == nil {
		_, err = tx.Exec(ctx, "MOVE ABSOLUTE 0 IN sluice_job")
	}
	if err == nil && delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err != nil {
		_ = tx.Rollback(context.Background())
		conn.Release()
		fail(pgError(err, j))
		return
	}
	var size int64
	for _, ref := range j.tables {
		var n int64
		_ = tx.QueryRow(ctx, "SELECT pg_table_size(to_regclass($1))", pgIdent(ref.dataset)+"."+pgIdent(ref.table)).Scan(&n)
		size += n
	}
	j.mu.Lock()
	j.fields, j.total, j.bytes = sd.Fields, total, size
	j.conn, j.tx, j.position = conn, tx, 0
	j.ended, j.lastUse = time.Now(), time.Now()
	j.mu.Unlock()
	close(j.finished)
}

func (s *Server) jobDelayNow() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jobDelay
}

func duplicateNames(fields []pgconn.FieldDescription, names []string) *queryError {
	seen := map[string]bool{}
	var dups []string
	for i, f := range fields {
		name := strings.ToLower(fieldName(f, i, names))
		if seen[name] {
			dups = append(dups, fieldName(f, i, names))
		}
		seen[name] = true
	}
	if len(dups) > 0 {
		return invalidQuery("Duplicate column names in the result are not supported. Found duplicate(s): %s", strings.Join(dups, ", "))
	}
	return nil
}

// fieldName is a result column's name as BigQuery gives it: its alias or column name,
// f0_, f1_… for an expression without an alias.
func fieldName(f pgconn.FieldDescription, i int, names []string) string {
	if len(names) == 0 || i >= len(names) {
		if f.Name == "?column?" {
			return fmt.Sprintf("f%d_", i)
		}
		return f.Name
	}
	if names[i] == "" {
		return fmt.Sprintf("f%d_", i)
	}
	return names[i]
}

// pgError words a PostgreSQL error of a translated query as BigQuery would.
func pgError(err error, j *job) *queryError {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "42703":
			name := pe.Message
			if a, b, ok := strings.Cut(pe.Message, `"`); ok {
				_ = a
				name, _, _ = strings.Cut(b, `"`)
				if _, col, ok := strings.Cut(name, "."); ok {
					name = col
				}
			}
			return invalidQuery("Unrecognized name: %s", name)
		case pe.Code == "42P01":
			return &queryError{reason: "notFound", message: "Not found: " + pe.Message}
		case pe.Code == "42883" || pe.Code == "42804" || pe.Code == "42846" || pe.Code == "42725":
			return invalidQuery("No matching signature: %s", pe.Message)
		case pe.Code == "57014":
			if j.spec.timeout > 0 {
				return &queryError{reason: "timeout", message: fmt.Sprintf("Job timed out after %s", j.spec.timeout)}
			}
			return &queryError{reason: "stopped", message: "Job execution was cancelled: User requested cancellation"}
		case pe.Code == "25006":
			return &queryError{reason: "accessDenied", message: "Access Denied: the query tried to change data"}
		case strings.HasPrefix(pe.Code, "42"), strings.HasPrefix(pe.Code, "22"):
			return invalidQuery("%s", pe.Message)
		}
		return &queryError{reason: "backendError", message: "Error encountered during execution: " + pe.Message}
	}
	if errors.Is(err, context.Canceled) {
		return &queryError{reason: "stopped", message: "Job execution was cancelled: User requested cancellation"}
	}
	return &queryError{reason: "backendError", message: "Error encountered during execution. Retrying may solve the problem."}
}

// wait waits up to d for the job to finish.
func (j *job) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-j.finished:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// release ends the job's cursor and gives its connection back.
func (j *job) release() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.releaseLocked()
}

func (j *job) releaseLocked() {
	if j.conn != nil {
		_ = j.tx.Rollback(context.Background())
		j.conn.Release()
		j.conn, j.tx = nil, nil
	}
}

// stop cancels a running job and releases its cursor.
func (j *job) stop() {
	if j.cancel != nil {
		j.cancel()
	}
	<-j.finished
	j.release()
}

func (j *job) idleSince(d time.Duration) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.conn != nil && time.Since(j.lastUse) > d
}

// reopen runs the query again for a page asked after the cursor was released.
func (j *job) reopenLocked(ctx context.Context) *queryError {
	conn, tx, qe := j.begin(ctx)
	if qe != nil {
		return qe
	}
	if _, err := tx.Exec(ctx, "DECLARE sluice_job SCROLL CURSOR FOR "+j.pgSQL); err != nil {
		_ = tx.Rollback(context.Background())
		conn.Release()
		return pgError(err, j)
	}
	j.conn, j.tx, j.position = conn, tx, 0
	return nil
}

// page writes up to max rows (max < 0: as many as fit the response limit) from offset
// as the rows array of a response, and returns the next offset.
func (j *job) page(ctx context.Context, offset, max int64, int64Timestamps bool) (json.RawMessage, int64, *queryError) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.lastUse = time.Now()
	var buf bytes.Buffer
	buf.WriteByte('[')
	if offset >= j.total {
		// Nothing is left to read: the cursor can go (a page asked later reopens it).
		j.releaseLocked()
	}
	if offset >= j.total || max == 0 {
		buf.WriteByte(']')
		return buf.Bytes(), offset, nil
	}
	if j.conn == nil {
		if qe := j.reopenLocked(ctx); qe != nil {
			return nil, 0, qe
		}
	}
	if j.position != offset {
		if _, err := j.tx.Exec(ctx, fmt.Sprintf("MOVE ABSOLUTE %d IN sluice_job", offset)); err != nil {
			j.releaseLocked()
			return nil, 0, pgError(err, j)
		}
		j.position = offset
	}
	served := int64(0)
	first := true
	for (max < 0 || served < max) && buf.Len() < MaxResponseBytes && j.position < j.total {
		n := int64(1000)
		if max >= 0 && max-served < n {
			n = max - served
		}
		rr := j.tx.Conn().PgConn().ExecParams(ctx, fmt.Sprintf("FETCH FORWARD %d FROM sluice_job", n), nil, nil, nil, nil)
		got := int64(0)
		for rr.NextRow() {
			if !first {
				buf.WriteByte(',')
			}
			first = false
			writeRow(&buf, j.fields, rr.Values(), int64Timestamps)
			got++
		}
		if _, err := rr.Close(); err != nil {
			j.releaseLocked()
			return nil, 0, pgError(err, j)
		}
		j.position += got
		served += got
		if got < n {
			break
		}
	}
	buf.WriteByte(']')
	next := offset + served
	if next >= j.total {
		j.releaseLocked()
	}
	return buf.Bytes(), next, nil
}

// --- Handlers. ---

func (s *Server) jobsQuery(w http.ResponseWriter, r *http.Request, caller string, body []byte) {
	var req queryRequest
	if !decodeStrict(w, body, &req) {
		return
	}
	timeout := 6 * time.Hour
	if req.JobTimeoutMs.set && req.JobTimeoutMs.n > 0 {
		timeout = time.Duration(req.JobTimeoutMs.n) * time.Millisecond
	}
	sp := jobSpec{caller: caller, jobID: newID("job_"), query: req.Query, legacy: req.UseLegacySQL, mode: req.ParameterMode,
		params: req.QueryParameters, defaultDataset: req.DefaultDataset, location: req.Location, dryRun: req.DryRun, timeout: timeout,
		config: map[string]any{"jobType": "QUERY", "query": map[string]any{"query": req.Query, "useLegacySql": false}}}
	j, qe := s.start(sp)
	if qe != nil {
		writeQueryError(w, qe)
		return
	}
	if j.err != nil {
		writeQueryError(w, j.err)
		return
	}
	resp := map[string]any{"kind": "bigquery#queryResponse", "jobReference": j.ref, "cacheHit": false}
	if req.DryRun {
		resp["jobReference"] = jobReference{ProjectID: s.project, Location: j.ref.Location}
		resp["jobComplete"] = true
		resp["schema"] = schemaOf(j.fields, j.names)
		resp["totalBytesProcessed"] = strconv.FormatInt(j.bytes, 10)
		writeJSON(w, http.StatusOK, resp)
		return
	}
	wait := DefaultWait
	if req.TimeoutMs.set {
		wait = time.Duration(req.TimeoutMs.n) * time.Millisecond
	}
	max := int64(-1)
	if req.MaxResults.set {
		max = req.MaxResults.n
	}
	useInt64 := req.FormatOptions != nil && req.FormatOptions.UseInt64Timestamp
	s.results(w, r, j, wait, 0, max, useInt64, resp)
}

// results answers a job's page, or jobComplete false when it is still running after wait.
func (s *Server) results(w http.ResponseWriter, r *http.Request, j *job, wait time.Duration, offset, max int64, useInt64 bool, resp map[string]any) {
	if !j.wait(r.Context(), wait) {
		resp["jobComplete"] = false
		writeJSON(w, http.StatusOK, resp)
		return
	}
	j.mu.Lock()
	qe := j.err
	j.mu.Unlock()
	if qe != nil {
		writeQueryError(w, qe)
		return
	}
	rows, next, qe := j.page(r.Context(), offset, max, useInt64)
	if qe != nil {
		writeQueryError(w, qe)
		return
	}
	resp["jobComplete"] = true
	resp["schema"] = schemaOf(j.fields, j.names)
	resp["totalRows"] = strconv.FormatInt(j.total, 10)
	resp["totalBytesProcessed"] = strconv.FormatInt(j.bytes, 10)
	if len(rows) > 2 {
		resp["rows"] = rows
	}
	if next < j.total {
		resp["pageToken"] = base64.RawURLEncoding.EncodeToString([]byte("o" + strconv.FormatInt(next, 10) + ":" + j.ref.JobID))
	}
	writeJSON(w, http.StatusOK, resp)
}

// lookup finds a caller's job, at the location asked (BigQuery: "Not found: Job
// project:LOCATION.id" when it is elsewhere or someone else's).
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, caller string) (*job, bool) {
	id := r.PathValue("job")
	loc := r.URL.Query().Get("location")
	s.mu.Lock()
	j := s.jobs[id]
	s.mu.Unlock()
	if j == nil || j.caller != caller || (loc != "" && !strings.EqualFold(loc, j.ref.Location)) {
		if loc == "" {
			loc = DefaultLocation
		}
		writeError(w, http.StatusNotFound, "notFound", fmt.Sprintf("Not found: Job %s:%s.%s", s.project, loc, id))
		return nil, false
	}
	return j, true
}

func (s *Server) getQueryResults(w http.ResponseWriter, r *http.Request, caller string, _ []byte) {
	j, ok := s.lookup(w, r, caller)
	if !ok {
		return
	}
	q := r.URL.Query()
	wait := DefaultWait
	if v := q.Get("timeoutMs"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "invalid", "Invalid value for timeoutMs: "+v)
			return
		}
		wait = time.Duration(n) * time.Millisecond
	}
	max := int64(-1)
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "invalid", "Invalid value for maxResults: "+v)
			return
		}
		max = n
	}
	var offset int64
	if tok := q.Get("pageToken"); tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		rest, ok := strings.CutPrefix(string(raw), "o")
		num, id, ok2 := strings.Cut(rest, ":")
		n, perr := strconv.ParseInt(num, 10, 64)
		if err != nil || !ok || !ok2 || perr != nil || id != j.ref.JobID {
			writeError(w, http.StatusBadRequest, "invalid", "Invalid page token: "+tok)
			return
		}
		offset = n
	} else if v := q.Get("startIndex"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "invalid", "Invalid value for startIndex: "+v)
			return
		}
		offset = n
	}
	useInt64 := q.Get("formatOptions.useInt64Timestamp") == "true"
	resp := map[string]any{"kind": "bigquery#getQueryResultsResponse", "jobReference": j.ref, "cacheHit": false, "etag": `"` + j.ref.JobID + `"`}
	s.results(w, r, j, wait, offset, max, useInt64, resp)
}

func (s *Server) jobsInsert(w http.ResponseWriter, r *http.Request, caller string, body []byte) {
	var req jobResource
	if !decodeStrict(w, body, &req) {
		return
	}
	if req.Configuration == nil || req.Configuration.Query == nil {
		writeError(w, http.StatusBadRequest, "invalid", "This fake runs query jobs only: configuration.query is required.")
		return
	}
	qc := req.Configuration.Query
	if len(qc.DestinationTable) > 0 || len(qc.TableDefinitions) > 0 || qc.Continuous {
		writeError(w, http.StatusBadRequest, "invalid", "This fake does not write destination tables nor read external tables.")
		return
	}
	id := newID("job_")
	location := ""
	if req.JobReference != nil {
		if req.JobReference.ProjectID != "" && req.JobReference.ProjectID != s.project {
			writeError(w, http.StatusBadRequest, "invalid", "The job's project must match the request's project.")
			return
		}
		if req.JobReference.JobID != "" {
			id = req.JobReference.JobID
		}
		location = req.JobReference.Location
	}
	s.mu.Lock()
	_, dup := s.jobs[id]
	s.mu.Unlock()
	if dup {
		writeError(w, http.StatusConflict, "duplicate", fmt.Sprintf("Already Exists: Job %s:%s.%s", s.project, location, id))
		return
	}
	timeout := 6 * time.Hour
	if t := req.Configuration.JobTimeoutMs; t.set && t.n > 0 {
		timeout = time.Duration(t.n) * time.Millisecond
	}
	var config map[string]any
	_ = json.Unmarshal(body, &struct {
		Configuration *map[string]any `json:"configuration"`
	}{&config})
	config["jobType"] = "QUERY"
	sp := jobSpec{caller: caller, jobID: id, query: qc.Query, legacy: qc.UseLegacySQL, mode: qc.ParameterMode,
		params: qc.QueryParameters, defaultDataset: qc.DefaultDataset, location: location, dryRun: req.Configuration.DryRun,
		timeout: timeout, config: config}
	j, qe := s.start(sp)
	if qe != nil {
		writeQueryError(w, qe)
		return
	}
	writeJSON(w, http.StatusOK, j.resource())
}

// resource is the job as jobs.insert and jobs.get show it.
func (j *job) resource() map[string]any {
	j.mu.Lock()
	defer j.mu.Unlock()
	ms := func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
	status := map[string]any{"state": "RUNNING"}
	select {
	case <-j.finished:
		status["state"] = "DONE"
	default:
	}
	stats := map[string]any{"creationTime": ms(j.created)}
	if !j.started.IsZero() {
		stats["startTime"] = ms(j.started)
	}
	if status["state"] == "DONE" {
		if j.err != nil {
			status["errorResult"] = j.err.proto()
			status["errors"] = []map[string]string{j.err.proto()}
		} else {
			bytes := strconv.FormatInt(j.bytes, 10)
			stats["totalBytesProcessed"] = bytes
			q := map[string]any{"totalBytesProcessed": bytes, "totalBytesBilled": bytes, "cacheHit": false, "statementType": "SELECT"}
			if j.spec.dryRun {
				q["schema"] = schemaOf(j.fields, j.names)
				q["totalBytesBilled"] = "0"
			}
			stats["query"] = q
		}
		if !j.ended.IsZero() {
			stats["endTime"] = ms(j.ended)
		}
	}
	return map[string]any{
		"kind":          "bigquery#job",
		"etag":          `"` + j.ref.JobID + `"`,
		"id":            j.s.project + ":" + j.ref.Location + "." + j.ref.JobID,
		"selfLink":      j.s.Endpoint() + "projects/" + j.s.project + "/jobs/" + j.ref.JobID + "?location=" + j.ref.Location,
		"user_email":    j.caller,
		"configuration": j.spec.config,
		"jobReference":  j.ref,
		"statistics":    stats,
		"status":        status,
	}
}

func (s *Server) jobsGet(w http.ResponseWriter, r *http.Request, caller string, _ []byte) {
	j, ok := s.lookup(w, r, caller)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, j.resource())
}

func (s *Server) jobsCancel(w http.ResponseWriter, r *http.Request, caller string, _ []byte) {
	j, ok := s.lookup(w, r, caller)
	if !ok {
		return
	}
	if j.cancel != nil {
		j.cancel()
	}
	<-j.finished
	// A running job ends "stopped" (run reports the cancelled context); a finished one
	// stays as it was, and only its cursor is let go.
	j.release()
	writeJSON(w, http.StatusOK, map[string]any{"kind": "bigquery#jobCancelResponse", "job": j.resource()})
}
