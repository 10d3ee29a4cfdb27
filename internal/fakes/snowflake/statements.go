package snowflake

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// Binding is one bind variable of a request: its Snowflake type and its value as text.
type Binding struct {
	Type  string  `json:"type"`
	Value *string `json:"value"`
}

// request is the body of POST /api/v2/statements.
type request struct {
	Statement  *string            `json:"statement"`
	Timeout    *int               `json:"timeout"`
	Database   string             `json:"database"`
	Schema     string             `json:"schema"`
	Warehouse  string             `json:"warehouse"`
	Role       string             `json:"role"`
	Bindings   map[string]Binding `json:"bindings"`
	Parameters map[string]any     `json:"parameters"`
}

// column is one entry of resultSetMetaData.rowType.
type column struct {
	Name      string `json:"name"`
	Database  string `json:"database"`
	Schema    string `json:"schema"`
	Table     string `json:"table"`
	Type      string `json:"type"`
	Precision *int   `json:"precision"`
	Scale     *int   `json:"scale"`
	Length    *int   `json:"length"`
	Nullable  bool   `json:"nullable"`
}

type partition struct {
	RowCount         int `json:"rowCount"`
	UncompressedSize int `json:"uncompressedSize"`
}

// statement is one submitted statement and, once it ends, its result or error.
type statement struct {
	handle  string
	user    string
	created time.Time
	done    chan struct{}
	cancel  context.CancelFunc

	mu       sync.Mutex
	canceled bool
	err      *sqlError
	rowType  []column
	parts    []partition
	files    []string
	numRows  int
}

func (st *statement) stop() {
	st.mu.Lock()
	st.canceled = true
	st.mu.Unlock()
	st.cancel()
}

// gate checks what every request needs: the network policy, the rate, the documented
// headers and the JWT. It answers the user, or false once it has answered.
func (s *Server) gate(w http.ResponseWriter, r *http.Request) (string, bool) {
	s.mu.Lock()
	s.requests++
	blocked := s.blocked
	throttled := s.throttle > 0
	if throttled {
		s.throttle--
	}
	s.mu.Unlock()
	if blocked {
		writeJSON(w, http.StatusForbidden, map[string]any{"code": "390422",
			"message": "Incoming request with IP/Token " + r.RemoteAddr + " is not allowed to access Snowflake. Contact your account administrator. For more information about this error, go to https://community.snowflake.com/s/ip-xxxxxxxxxxxx-is-not-allowed-to-access."})
		return "", false
	}
	if throttled {
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"code": "390429", "message": "Too many requests. (the fake's wording)"})
		return "", false
	}
	user, err := s.authenticate(r)
	if err != nil {
		id := uuid.NewString()
		s.mu.Lock()
		s.failures = append(s.failures, err.Error())
		s.mu.Unlock()
		if err.Error() == failTokenType {
			// Without KEYPAIR_JWT the token is read as an OAuth token, the documented default.
			writeJSON(w, http.StatusUnauthorized, map[string]any{"code": "390303", "message": "Invalid OAuth access token. [" + id + "]"})
			return "", false
		}
		authFailed(w, id)
		return "", false
	}
	// Accept is optional (the reference's OpenAPI spec); one that refuses JSON cannot be served.
	if accept := r.Header.Get("Accept"); accept != "" && !strings.Contains(accept, "application/json") && !strings.Contains(accept, "*/*") {
		badRequest(w, "The Accept header must allow application/json.")
		return "", false
	}
	if r.Header.Get("User-Agent") == "" {
		badRequest(w, "The User-Agent header is required.")
		return "", false
	}
	return user, true
}

// submit is POST /api/v2/statements.
func (s *Server) submit(w http.ResponseWriter, r *http.Request) {
	userName, ok := s.gate(w, r)
	if !ok {
		return
	}
	// Without a Content-Type the body is read as JSON; any other type is 415, as documented.
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
			writeJSON(w, http.StatusUnsupportedMediaType, map[string]any{"code": "391415", "message": "Unsupported media type " + ct + ". (the fake's wording)"})
			return
		}
	}
	var req request
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	if err := dec.Decode(&req); err != nil {
		badRequest(w, "The request body is not valid JSON: "+err.Error())
		return
	}
	if req.Statement == nil || strings.TrimSpace(*req.Statement) == "" {
		badRequest(w, "The request body has no statement.")
		return
	}
	if req.Timeout != nil && (*req.Timeout < 0 || *req.Timeout > 604800) {
		badRequest(w, "timeout must be from 0 to 604800 seconds.")
		return
	}
	for k, b := range req.Bindings {
		if _, err := strconv.Atoi(k); err != nil || b.Type == "" {
			badRequest(w, "A binding must be named by its position and have a type: "+k)
			return
		}
	}
	st := &statement{handle: uuid.NewString(), user: userName, created: s.now(), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	st.cancel = cancel
	s.mu.Lock()
	s.statements[st.handle] = st
	s.received = append(s.received, *req.Statement)
	s.mu.Unlock()

	sess, serr := s.session(r.Context(), userName, req)
	go func() {
		defer close(st.done)
		defer cancel()
		if serr != nil {
			st.err = serr
			return
		}
		s.execute(ctx, st, sess, req)
	}()

	wait := s.opts.SyncWait
	if r.URL.Query().Get("async") == "true" {
		wait = 0
	}
	select {
	case <-st.done:
		s.answer(w, r, st, 0)
	case <-time.After(wait):
		s.running(w, st)
	case <-r.Context().Done():
	}
}

// status is GET /api/v2/statements/{handle}, with ?partition=N for partition N.
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	st := s.lookup(w, r)
	if st == nil {
		return
	}
	part := 0
	if p := r.URL.Query().Get("partition"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			badRequest(w, "partition must be a partition number.")
			return
		}
		part = n
	}
	select {
	case <-st.done:
		s.answer(w, r, st, part)
	default:
		s.running(w, st)
	}
}

// cancel is POST /api/v2/statements/{handle}/cancel.
func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	st := s.lookup(w, r)
	if st == nil {
		return
	}
	st.stop()
	<-st.done
	writeJSON(w, http.StatusOK, map[string]any{
		"code": "000604", "sqlState": "57014", "message": "successfully canceled",
		"statementHandle": st.handle, "statementStatusUrl": "/api/v2/statements/" + st.handle,
	})
}

// lookup passes the gate and finds the path's statement, which only the user who
// submitted it may read or cancel; nil once it has answered.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) *statement {
	userName, ok := s.gate(w, r)
	if !ok {
		return nil
	}
	handle := r.PathValue("handle")
	s.mu.Lock()
	st := s.statements[handle]
	s.mu.Unlock()
	if st == nil || st.user != userName {
		writeJSON(w, http.StatusNotFound, map[string]any{"code": "390404",
			"message": "Statement " + handle + " not found. (the fake's wording)", "statementHandle": handle})
		return nil
	}
	return st
}

// running answers 202 with a QueryStatus.
func (s *Server) running(w http.ResponseWriter, st *statement) {
	writeJSON(w, http.StatusAccepted, map[string]any{
		"code":               "333334",
		"message":            "Asynchronous execution in progress. Use provided query id to perform query monitoring and management.",
		"statementHandle":    st.handle,
		"statementStatusUrl": "/api/v2/statements/" + st.handle,
	})
}

// answer writes an ended statement: its error, its ResultSet (partition 0, with the
// metadata) or another partition's rows.
//
// Partitions after the first are gzip-compressed when the client accepts it, as the
// reference says they may be ("Content-Encoding: gzip").
func (s *Server) answer(w http.ResponseWriter, r *http.Request, st *statement, part int) {
	if st.err != nil {
		s.failure(w, st, st.err)
		return
	}
	if part >= len(st.files) {
		badRequest(w, fmt.Sprintf("Partition %d does not exist: the result has %d.", part, len(st.files)))
		return
	}
	data, err := os.ReadFile(st.files[part])
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"code": "000603", "message": err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if part > 0 {
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			w.WriteHeader(http.StatusOK)
			zw := gzip.NewWriter(w)
			_, _ = fmt.Fprintf(zw, `{"data":%s}`, data)
			_ = zw.Close()
			return
		}
		w.WriteHeader(http.StatusOK)
		_, _ = fmt.Fprintf(w, `{"data":%s}`, data)
		return
	}
	w.WriteHeader(http.StatusOK)
	meta, _ := json.Marshal(map[string]any{
		"numRows": st.numRows, "format": "jsonv2", "rowType": st.rowType, "partitionInfo": st.parts,
	})
	_, _ = fmt.Fprintf(w, `{"resultSetMetaData":%s,"data":%s,"code":"090001","statementStatusUrl":%q,"requestId":%q,"sqlState":"00000","statementHandle":%q,"message":"Statement executed successfully.","createdOn":%d}`,
		meta, data, "/api/v2/statements/"+st.handle, uuid.NewString(), st.handle, st.created.UnixMilli())
}

// session resolves the role, warehouse, database and schema a statement asks for.
// A role the user was not granted fails the statement; a warehouse, database or schema
// that does not exist or may not be used is simply not in use, as Snowflake does.
func (s *Server) session(ctx context.Context, userName string, req request) (*session, *sqlError) {
	s.mu.Lock()
	u := s.users[userName]
	role := req.Role
	if role == "" {
		role = u.defaultRole
	}
	granted := u.roles[role] && s.roles[role]
	sess := &session{account: s.opts.Account, user: userName, role: role}
	if granted {
		if wh := s.warehouses[req.Warehouse]; wh != nil && s.whUsage[wh.Name][role] {
			sess.warehouse = wh.Name
		}
		if req.Database == s.opts.Database && s.dbUsage[role] {
			sess.database = req.Database
		}
	}
	s.mu.Unlock()
	if !granted {
		return nil, errRoleNotGranted(role)
	}
	if s.opts.RefuseUnknownDatabase && req.Database != "" && sess.database == "" {
		return nil, &sqlError{Code: "002043", SQLState: "02000",
			Message: fmt.Sprintf("SQL compilation error:\nObject does not exist, or operation cannot be performed.\nDatabase '%s' does not exist or not authorized.", req.Database)}
	}
	if sess.database != "" && req.Schema != "" {
		var usable bool
		err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AND has_schema_privilege($2, $1, 'USAGE')`,
			req.Schema, s.pgRole(role)).Scan(&usable)
		if err == nil && usable {
			sess.schema = req.Schema
		}
	}
	return sess, nil
}

var showWarehouses = regexp.MustCompile(`(?is)^\s*SHOW\s+WAREHOUSES(?:\s+LIKE\s+'((?:[^'\\]|\\.|'')*)')?\s*;?\s*$`)

// execute runs a statement and stores its result a partition at a time.
func (s *Server) execute(ctx context.Context, st *statement, sess *session, req request) {
	timeout := 172800 // STATEMENT_TIMEOUT_IN_SECONDS' default: two days
	if req.Timeout != nil && *req.Timeout > 0 {
		timeout = *req.Timeout
	}
	if m := showWarehouses.FindStringSubmatch(*req.Statement); m != nil {
		pattern, _, _ := snowflakeString("'" + m[1] + "'")
		s.showWarehouses(st, sess, pattern)
		return
	}
	tr, err := translate(*req.Statement, sess, req.Bindings)
	if err != nil {
		st.err = s.fromPostgres(err, sess, timeout, false)
		return
	}
	if tr.readsData {
		if sess.database == "" {
			st.err = errNoDatabase()
			return
		}
		if e := s.useWarehouse(sess); e != nil {
			st.err = e
			return
		}
	}
	args := make([]any, tr.params)
	for i := range args {
		if v := req.Bindings[strconv.Itoa(i+1)].Value; v != nil {
			args[i] = *v
		}
	}
	err = s.run(ctx, st, sess, tr.sql, args, timeout)
	if err != nil {
		st.mu.Lock()
		canceled := st.canceled
		st.mu.Unlock()
		st.err = s.fromPostgres(err, sess, timeout, canceled)
	}
}

// useWarehouse checks that the session's warehouse can run a query, resuming a
// suspended one with AUTO_RESUME.
func (s *Server) useWarehouse(sess *session) *sqlError {
	s.mu.Lock()
	defer s.mu.Unlock()
	wh := s.warehouses[sess.warehouse]
	if wh == nil {
		return errNoWarehouse()
	}
	if wh.State != "STARTED" {
		if !wh.AutoResume {
			return errNoWarehouse()
		}
		wh.State = "STARTED"
	}
	return nil
}

func (s *Server) run(ctx context.Context, st *statement, sess *session, sql string, args []any, timeout int) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	path := `"$none"`
	if sess.schema != "" {
		path = quote(sess.schema)
	}
	for _, set := range []string{
		"SET LOCAL ROLE " + quote(s.pgRole(sess.role)),
		"SET LOCAL search_path TO " + path,
		fmt.Sprintf("SET LOCAL statement_timeout = %d", int64(timeout)*1000),
	} {
		if _, err := tx.Exec(ctx, set); err != nil {
			return err
		}
	}
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	fields := rows.FieldDescriptions()
	st.rowType = make([]column, len(fields))
	for i, f := range fields {
		st.rowType[i] = columnOf(f.Name, f.DataTypeOID, f.TypeModifier)
	}
	w := &partWriter{s: s, st: st}
	cells := make([]*string, len(fields))
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return err
		}
		for i, v := range vals {
			cells[i] = cell(v, fields[i].DataTypeOID)
		}
		if err := w.add(cells); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return w.close()
}

// showWarehouses answers SHOW WAREHOUSES [LIKE pattern]: the warehouses the role may
// use whose name matches, case-insensitively, with a few of the documented columns.
func (s *Server) showWarehouses(st *statement, sess *session, pattern string) {
	re := likeRegexp(pattern)
	s.mu.Lock()
	var rows [][]*string
	for name, wh := range s.warehouses {
		if !s.whUsage[name][sess.role] || pattern != "" && !re.MatchString(name) {
			continue
		}
		str := func(v string) *string { return &v }
		current := strconv.FormatBool(wh.Name == sess.warehouse)
		rows = append(rows, []*string{str(wh.Name), str(wh.State), str("STANDARD"), str("X-Small"), str("1"), str("1"),
			str("0"), str("0"), str("0"), str("N"), str(current), str("600"), str(strconv.FormatBool(wh.AutoResume)),
			str(""), str(""), str(""), str(""), str(s.now().UTC().Format(time.RFC3339)), nil, nil, str(sess.role), str("")})
	}
	s.mu.Unlock()
	// The columns of SHOW WAREHOUSES, in the documented order.
	for _, n := range []string{"name", "state", "type", "size", "min_cluster_count", "max_cluster_count", "started_clusters",
		"running", "queued", "is_default", "is_current", "auto_suspend", "auto_resume", "available", "provisioning",
		"quiescing", "other", "created_on", "resumed_on", "updated_on", "owner", "comment"} {
		st.rowType = append(st.rowType, column{Name: n, Type: "text", Nullable: true})
	}
	w := &partWriter{s: s, st: st}
	for _, r := range rows {
		if err := w.add(r); err != nil {
			st.err = &sqlError{Code: "000603", SQLState: "XX000", Message: err.Error()}
			return
		}
	}
	if err := w.close(); err != nil {
		st.err = &sqlError{Code: "000603", SQLState: "XX000", Message: err.Error()}
	}
}

// likeRegexp is a LIKE pattern (% and _, no escape) as a case-insensitive regexp.
func likeRegexp(p string) *regexp.Regexp {
	var sb strings.Builder
	sb.WriteString("(?is)^")
	for _, r := range p {
		switch r {
		case '%':
			sb.WriteString(".*")
		case '_':
			sb.WriteString(".")
		default:
			sb.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	sb.WriteString("$")
	return regexp.MustCompile(sb.String())
}

// partWriter writes rows to partition files, PartitionRows at a time.
type partWriter struct {
	s    *Server
	st   *statement
	f    *os.File
	buf  *bufio.Writer
	rows int
	size int
}

func (w *partWriter) add(cells []*string) error {
	if w.f == nil || w.rows >= w.s.opts.PartitionRows {
		if err := w.flush(); err != nil {
			return err
		}
		f, err := os.Create(filepath.Join(w.s.dir, fmt.Sprintf("%s-%d.json", w.st.handle, len(w.st.files))))
		if err != nil {
			return err
		}
		w.f, w.buf, w.rows, w.size = f, bufio.NewWriterSize(f, 64<<10), 0, 0
		w.st.files = append(w.st.files, f.Name())
		_ = w.buf.WriteByte('[')
	}
	if w.rows > 0 {
		_ = w.buf.WriteByte(',')
	}
	b, err := json.Marshal(cells)
	if err != nil {
		return err
	}
	_, err = w.buf.Write(b)
	w.rows++
	w.size += len(b) + 1
	w.st.numRows++
	return err
}

func (w *partWriter) flush() error {
	if w.f == nil {
		return nil
	}
	_ = w.buf.WriteByte(']')
	if err := w.buf.Flush(); err != nil {
		return err
	}
	w.st.parts = append(w.st.parts, partition{RowCount: w.rows, UncompressedSize: w.size + 1})
	err := w.f.Close()
	w.f = nil
	return err
}

func (w *partWriter) close() error {
	if w.f == nil && len(w.st.files) == 0 {
		// An empty result still has its one partition, with no rows.
		if err := w.add(nil); err != nil {
			return err
		}
		w.st.numRows, w.rows = 0, 0
		_ = w.buf.Flush()
		if err := w.f.Truncate(0); err != nil {
			return err
		}
		if _, err := w.f.Seek(0, 0); err != nil {
			return err
		}
		w.buf.Reset(w.f)
		_ = w.buf.WriteByte('[')
		w.size = 0
	}
	return w.flush()
}

func ip(v int) *int { return &v }

// columnOf describes a result column as Snowflake types it.
func columnOf(name string, oid uint32, mod int32) column {
	c := column{Name: name, Nullable: true}
	switch oid {
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID:
		c.Type, c.Precision, c.Scale = "fixed", ip(38), ip(0)
	case pgtype.NumericOID:
		c.Type, c.Precision, c.Scale = "fixed", ip(38), ip(0)
		if mod >= 4 {
			c.Precision, c.Scale = ip(int((mod-4)>>16)), ip(int((mod-4)&0xffff))
		} else {
			c.Scale = ip(9) // an unconstrained numeric: shown with its digits
		}
	case pgtype.Float4OID, pgtype.Float8OID:
		c.Type = "real"
	case pgtype.BoolOID:
		c.Type = "boolean"
	case pgtype.DateOID:
		c.Type = "date"
	case pgtype.TimestampOID:
		c.Type, c.Scale = "timestamp_ntz", ip(9)
	case pgtype.TimestamptzOID:
		c.Type, c.Scale = "timestamp_tz", ip(9)
	case pgtype.JSONOID, pgtype.JSONBOID:
		c.Type = "variant"
	case pgtype.ByteaOID:
		c.Type = "binary"
	default:
		c.Type, c.Length = "text", ip(16777216)
	}
	return c
}

// cell writes a value in the jsonv2 format: numbers as decimal text, booleans as
// "true"/"false", dates as days since the epoch, timestamps as seconds since the epoch
// with nine decimals (TIMESTAMP_TZ followed by the offset in minutes plus 1440), binary
// as hex, semi-structured values as JSON text.
func cell(v any, oid uint32) *string {
	if v == nil {
		return nil
	}
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case int16:
		s = strconv.Itoa(int(x))
	case int32:
		s = strconv.Itoa(int(x))
	case int64:
		s = strconv.FormatInt(x, 10)
	case float32:
		s = strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		s = strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		s = strconv.FormatBool(x)
	case pgtype.Numeric:
		b, err := x.MarshalJSON()
		if err != nil {
			return nil
		}
		s = string(b)
	case time.Time:
		switch oid {
		case pgtype.DateOID:
			s = strconv.FormatInt(x.Unix()/86400, 10)
			if x.Unix() < 0 && x.Unix()%86400 != 0 {
				s = strconv.FormatInt(x.Unix()/86400-1, 10)
			}
		case pgtype.TimestamptzOID:
			_, off := x.Zone()
			s = epoch(x) + " " + strconv.Itoa(off/60+1440)
		default:
			s = epoch(x)
		}
	case []byte:
		s = fmt.Sprintf("%x", x)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			s = fmt.Sprint(x)
		} else {
			s = string(b)
		}
	}
	return &s
}

func epoch(t time.Time) string {
	sec := t.Unix()
	ns := t.Nanosecond()
	if sec < 0 && ns > 0 {
		// -1.5 s is seconds -2 and 500 ms: written as -1.500000000.
		return fmt.Sprintf("-%d.%09d", -(sec + 1), 1_000_000_000-ns)
	}
	return fmt.Sprintf("%d.%09d", sec, ns)
}
