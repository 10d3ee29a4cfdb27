package databricks

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// Statement states.
const (
	Pending   = "PENDING"
	Running   = "RUNNING"
	Succeeded = "SUCCEEDED"
	Failed    = "FAILED"
	Canceled  = "CANCELED"
)

type param struct {
	Name  string  `json:"name"`
	Value *string `json:"value"`
	Type  string  `json:"type"`
}

type executeRequest struct {
	Statement     string  `json:"statement"`
	WarehouseID   string  `json:"warehouse_id"`
	Catalog       string  `json:"catalog"`
	Schema        string  `json:"schema"`
	Parameters    []param `json:"parameters"`
	WaitTimeout   string  `json:"wait_timeout"`
	OnWaitTimeout string  `json:"on_wait_timeout"`
	Disposition   string  `json:"disposition"`
	Format        string  `json:"format"`
	RowLimit      int64   `json:"row_limit"`
	ByteLimit     int64   `json:"byte_limit"`
}

type column struct {
	Name          string `json:"name"`
	Position      int    `json:"position"`
	TypeName      string `json:"type_name"`
	TypeText      string `json:"type_text"`
	TypePrecision int    `json:"type_precision,omitempty"`
	TypeScale     int    `json:"type_scale,omitempty"`
	oid           uint32
}

type chunk struct {
	ChunkIndex int   `json:"chunk_index"`
	RowOffset  int64 `json:"row_offset"`
	RowCount   int64 `json:"row_count"`
	ByteCount  int64 `json:"byte_count,omitempty"`
	path       string
}

type stmtState struct {
	id, principal, disposition string
	cancel                     context.CancelFunc
	done                       chan struct{}

	mu      sync.Mutex
	state   string
	err     *sqlError
	columns []column
	chunks  []chunk
	rows    int64
	bytes   int64
}

func (st *stmtState) snapshot() (state string, err *sqlError) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.state, st.err
}

func (st *stmtState) set(state string, err *sqlError) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.state == Canceled {
		return
	}
	st.state, st.err = state, err
}

var waitRE = regexp.MustCompile(`^([0-9]+)s$`)

func invalid(w http.ResponseWriter, msg string) {
	apiError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", msg)
}

func (f *Fake) execute(w http.ResponseWriter, r *http.Request, principal string, body []byte) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		invalid(w, "The request body must be JSON (Content-Type: application/json).")
		return
	}
	var req executeRequest
	if err := json.Unmarshal(body, &req); err != nil {
		apiError(w, http.StatusBadRequest, "MALFORMED_REQUEST", "Could not parse request object: "+err.Error())
		return
	}
	if strings.TrimSpace(req.Statement) == "" {
		invalid(w, "statement is required.")
		return
	}
	if req.WarehouseID == "" {
		invalid(w, "warehouse_id is required.")
		return
	}
	wait := 10 * time.Second
	if req.WaitTimeout != "" {
		m := waitRE.FindStringSubmatch(req.WaitTimeout)
		n, _ := strconv.Atoi(firstOr(m, 1))
		if m == nil || n != 0 && (n < 5 || n > 50) {
			invalid(w, "wait_timeout must be 0s or between 5s and 50s, e.g. 10s.")
			return
		}
		wait = time.Duration(n) * time.Second
	}
	switch req.OnWaitTimeout {
	case "", "CONTINUE", "CANCEL":
	default:
		invalid(w, "on_wait_timeout must be CONTINUE or CANCEL.")
		return
	}
	switch req.Disposition {
	case "":
		req.Disposition = "INLINE"
	case "INLINE", "EXTERNAL_LINKS":
	default:
		invalid(w, "disposition must be INLINE or EXTERNAL_LINKS.")
		return
	}
	switch {
	case req.Format == "" || req.Format == "JSON_ARRAY":
	case (req.Format == "ARROW_STREAM" || req.Format == "CSV") && req.Disposition == "INLINE":
		invalid(w, req.Format+" format is only supported with the EXTERNAL_LINKS disposition.")
		return
	default:
		invalid(w, "This fake workspace writes results as JSON_ARRAY only.")
		return
	}
	types := map[string]string{}
	for _, p := range req.Parameters {
		if p.Name == "" {
			invalid(w, "Every parameter needs a name.")
			return
		}
		if _, ok := pgType(orString(p.Type)); !ok {
			invalid(w, fmt.Sprintf("The type %q of parameter %s is not supported.", p.Type, p.Name))
			return
		}
		types[p.Name] = p.Type
	}

	f.mu.Lock()
	wh := f.warehouses[req.WarehouseID]
	if wh == nil {
		f.mu.Unlock()
		apiError(w, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("SQL warehouse %s does not exist.", req.WarehouseID))
		return
	}
	if wh.users != nil && !wh.users[principal] {
		f.mu.Unlock()
		apiError(w, http.StatusForbidden, "PERMISSION_DENIED", fmt.Sprintf("User %s does not have permission to use SQL warehouse %s.", principal, req.WarehouseID))
		return
	}
	if wh.state == whStopped {
		wh.state, wh.readyAt = whStarting, time.Now().Add(f.startDelay)
	}
	readyAt := wh.readyAt
	chunkRows := f.chunkRows
	ctx, cancel := context.WithCancel(context.Background())
	st := &stmtState{id: newStatementID(), principal: principal, disposition: req.Disposition, cancel: cancel,
		done: make(chan struct{}), state: Pending}
	f.statements[st.id] = st
	f.mu.Unlock()

	go func() {
		defer close(st.done)
		defer cancel()
		if d := time.Until(readyAt); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return
			}
			f.mu.Lock()
			if wh.state == whStarting && !time.Now().Before(wh.readyAt) {
				wh.state = whRunning
			}
			f.mu.Unlock()
		}
		st.set(Running, nil)
		f.run(ctx, st, req, types, chunkRows)
	}()

	if wait > 0 {
		select {
		case <-st.done:
		case <-time.After(wait):
			if req.OnWaitTimeout == "CANCEL" {
				f.cancelStatement(st)
			}
		case <-r.Context().Done():
		}
	}
	f.respond(w, r, st)
}

func firstOr(m []string, i int) string {
	if i < len(m) {
		return m[i]
	}
	return ""
}

func orString(t string) string {
	if t == "" {
		return "STRING"
	}
	return t
}

func newStatementID() string {
	b := randomBytes(16)
	return fmt.Sprintf("01ef%x-%x-%x-%x-%x", b[0:2], b[2:4], b[4:6], b[6:8], b[8:14])
}

func (f *Fake) cancelStatement(st *stmtState) {
	st.mu.Lock()
	if st.state == Pending || st.state == Running {
		st.state = Canceled
	}
	st.mu.Unlock()
	st.cancel()
}

// run executes the statement in a read-only transaction as the principal and writes
// its result in chunks of chunkRows rows to files, the fake's "cloud storage".
func (f *Fake) run(ctx context.Context, st *stmtState, req executeRequest, types map[string]string, chunkRows int) {
	fail := func(e *sqlError) { st.set(Failed, e) }
	// The workspace's defaults are main and default; only a catalog or schema the
	// request names is checked, as USE CATALOG and USE SCHEMA would check it.
	catalog, schema := req.Catalog, req.Schema
	if catalog == "" {
		catalog = "main"
	}
	if schema == "" {
		schema = "default"
	}
	if req.Catalog != "" || req.Schema != "" {
		if e := f.checkDefaults(ctx, st.principal, catalog, schema); e != nil {
			fail(e)
			return
		}
	}
	stmt, err := translate(req.Statement, catalog, schema, types)
	if err != nil {
		var se *sqlError
		if errors.As(err, &se) {
			fail(se)
		} else {
			fail(internalError(err))
		}
		return
	}
	if e := f.checkRelations(ctx, st.principal, stmt.relations); e != nil {
		fail(e)
		return
	}
	values := map[string]*string{}
	bound := map[string]bool{}
	for _, p := range req.Parameters {
		values[p.Name] = p.Value
		bound[p.Name] = true
	}
	args := make([]any, len(stmt.params))
	for i, name := range stmt.params {
		if !bound[name] {
			fail(&sqlError{"UNBOUND_SQL_PARAMETER", fmt.Sprintf("Found the unbound parameter: %s. Please, fix `args` and provide a mapping of the parameter to either a SQL literal or collection constructor functions such as `map()`, `array()`, `struct()`.", name), "42P02"})
			return
		}
		if v := values[name]; v != nil {
			args[i] = *v
		}
	}
	tx, err := f.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		fail(pgError(err))
		return
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	if _, err := tx.Exec(ctx, "SELECT set_config('databricks.current_user', $1, true)", st.principal); err != nil {
		fail(pgError(err))
		return
	}
	rows, err := tx.Query(ctx, stmt.sql, args...)
	if err != nil {
		fail(pgError(err))
		return
	}
	defer rows.Close()
	cols := columnsOf(rows.FieldDescriptions())
	st.mu.Lock()
	st.columns = cols
	st.mu.Unlock()

	var (
		file   *os.File
		bw     *bufio.Writer
		cur    chunk
		offset int64
		total  int64
		cells  = make([]any, len(cols))
	)
	// flush closes the chunk being written; an INLINE result may not outgrow its limit.
	flush := func() *sqlError {
		if file == nil {
			return nil
		}
		_, err := bw.WriteString("]")
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			return internalError(err)
		}
		info, _ := file.Stat()
		cur.ByteCount = info.Size()
		total += cur.ByteCount
		file.Close()
		file = nil
		st.mu.Lock()
		st.chunks = append(st.chunks, cur)
		st.mu.Unlock()
		offset += cur.RowCount
		if st.disposition == "INLINE" && total > InlineLimit {
			return &sqlError{"RESULT_SIZE_EXCEEDED", "The result of the statement exceeds the 25 MiB limit of the INLINE disposition. Use EXTERNAL_LINKS.", "54000"}
		}
		return nil
	}
	for rows.Next() {
		if file == nil {
			idx := len(st.chunks)
			path := filepath.Join(f.dir, fmt.Sprintf("%s-%d.json", st.id, idx))
			if file, err = os.Create(path); err != nil {
				fail(internalError(err))
				return
			}
			bw = bufio.NewWriterSize(file, 64<<10)
			cur = chunk{ChunkIndex: idx, RowOffset: offset, path: path}
			_ = bw.WriteByte('[')
		} else {
			_ = bw.WriteByte(',')
		}
		vals, err := rows.Values()
		if err != nil {
			fail(pgError(err))
			return
		}
		for i, v := range vals {
			cells[i] = cell(cols[i].oid, v)
		}
		line, _ := json.Marshal(cells)
		_, _ = bw.Write(line)
		cur.RowCount++
		if cur.RowCount >= int64(chunkRows) {
			if e := flush(); e != nil {
				fail(e)
				return
			}
		}
	}
	if err := rows.Err(); err != nil {
		if file != nil {
			file.Close()
		}
		if ctx.Err() != nil {
			return
		}
		fail(pgError(err))
		return
	}
	if e := flush(); e != nil {
		fail(e)
		return
	}
	st.mu.Lock()
	st.rows, st.bytes = offset, total
	st.mu.Unlock()
	st.set(Succeeded, nil)
}

func internalError(err error) *sqlError { return &sqlError{"INTERNAL_ERROR", err.Error(), "XX000"} }

// pgError words a PostgreSQL error as the Databricks error class of the same fault.
func pgError(err error) *sqlError {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		if errors.Is(err, context.Canceled) {
			return &sqlError{"OPERATION_CANCELED", "The statement was canceled.", "HY008"}
		}
		return internalError(err)
	}
	switch {
	case pe.Code == "42703":
		return &sqlError{"UNRESOLVED_COLUMN.WITHOUT_SUGGESTION", fmt.Sprintf("A column, variable, or function parameter with name %s cannot be resolved.", strings.TrimSuffix(strings.TrimPrefix(pe.Message, "column "), " does not exist")), "42703"}
	case pe.Code == "42883":
		return &sqlError{"DATATYPE_MISMATCH.BINARY_OP_DIFF_TYPES", "Cannot resolve the expression due to data type mismatch: " + pe.Message + ".", "42K09"}
	case pe.Code == "42804" || pe.Code == "42846":
		return &sqlError{"DATATYPE_MISMATCH.CAST_WITHOUT_SUGGESTION", "Cannot resolve the expression due to data type mismatch: " + pe.Message + ".", "42K09"}
	case pe.Code == "42601":
		return &sqlError{"PARSE_SYNTAX_ERROR", "Syntax error: " + pe.Message + ".", "42601"}
	case pe.Code == "42P01":
		return &sqlError{"TABLE_OR_VIEW_NOT_FOUND", pe.Message + ".", "42P01"}
	case pe.Code == "42702":
		return &sqlError{"AMBIGUOUS_REFERENCE", pe.Message + ".", "42704"}
	case strings.HasPrefix(pe.Code, "22"):
		return &sqlError{"CAST_INVALID_INPUT", pe.Message + ".", "22018"}
	case pe.Code == "57014":
		return &sqlError{"OPERATION_CANCELED", "The statement was canceled.", "HY008"}
	case strings.HasPrefix(pe.Code, "42"):
		return &sqlError{"INVALID_QUERY", pe.Message + ".", pe.Code}
	}
	return &sqlError{"INTERNAL_ERROR", pe.Message, "XX000"}
}

// resultTypes are the Databricks type_name and type_text of each PostgreSQL type a
// result may hold; any other type is a STRING.
var resultTypes = map[uint32][2]string{
	pgtype.Int8OID: {"LONG", "bigint"}, pgtype.Int4OID: {"INT", "int"}, pgtype.Int2OID: {"SHORT", "smallint"},
	pgtype.Float4OID: {"FLOAT", "float"}, pgtype.Float8OID: {"DOUBLE", "double"}, pgtype.BoolOID: {"BOOLEAN", "boolean"},
	pgtype.DateOID: {"DATE", "date"}, pgtype.TimestamptzOID: {"TIMESTAMP", "timestamp"},
	pgtype.TimestampOID: {"TIMESTAMP_NTZ", "timestamp_ntz"}, pgtype.ByteaOID: {"BINARY", "binary"},
	pgtype.JSONOID: {"STRUCT", "struct<>"}, pgtype.JSONBOID: {"STRUCT", "struct<>"},
	pgtype.TextArrayOID: {"ARRAY", "array<string>"}, pgtype.VarcharArrayOID: {"ARRAY", "array<string>"},
	pgtype.Int4ArrayOID: {"ARRAY", "array<bigint>"}, pgtype.Int8ArrayOID: {"ARRAY", "array<bigint>"},
}

// columnsOf describes the result's columns with Databricks' type names.
func columnsOf(fds []pgconn.FieldDescription) []column {
	cols := make([]column, len(fds))
	for i, fd := range fds {
		c := column{Name: fd.Name, Position: i, oid: fd.DataTypeOID, TypeName: "STRING", TypeText: "string"}
		if t, ok := resultTypes[fd.DataTypeOID]; ok {
			c.TypeName, c.TypeText = t[0], t[1]
		}
		if fd.DataTypeOID == pgtype.NumericOID {
			p, s := 38, 18
			if m := fd.TypeModifier; m >= 4 {
				p, s = int((m-4)>>16), int((m-4)&0xffff)
			}
			c.TypeName, c.TypePrecision, c.TypeScale = "DECIMAL", p, s
			c.TypeText = fmt.Sprintf("decimal(%d,%d)", p, s)
		}
		cols[i] = c
	}
	return cols
}

// cell is a value as JSON_ARRAY writes it: its string form, or null.
func cell(oid uint32, v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int16:
		return strconv.FormatInt(int64(x), 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case time.Time:
		switch oid {
		case pgtype.DateOID:
			return x.Format("2006-01-02")
		case pgtype.TimestampOID:
			return x.Format("2006-01-02T15:04:05.000")
		}
		return x.UTC().Format("2006-01-02T15:04:05.000Z")
	case pgtype.Numeric:
		if v, err := x.Value(); err == nil && v != nil {
			return fmt.Sprint(v)
		}
		return nil
	case *big.Int:
		return x.String()
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case [16]byte:
		return fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16])
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}

// statementCall answers GET {id}, GET {id}/result/chunks/{n} and POST {id}/cancel.
func (f *Fake) statementCall(w http.ResponseWriter, r *http.Request, principal string, parts []string) {
	f.mu.Lock()
	st := f.statements[parts[0]]
	f.mu.Unlock()
	if st == nil || st.principal != principal {
		apiError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("The statement %s was not found.", parts[0]))
		return
	}
	switch {
	case len(parts) == 1 && r.Method == http.MethodGet:
		f.respond(w, r, st)
	case len(parts) == 2 && parts[1] == "cancel" && r.Method == http.MethodPost:
		f.cancelStatement(st)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("{}"))
	case len(parts) == 4 && parts[1] == "result" && parts[2] == "chunks" && r.Method == http.MethodGet:
		n, err := strconv.Atoi(parts[3])
		state, _ := st.snapshot()
		if state != Succeeded {
			invalid(w, fmt.Sprintf("The statement %s is %s: its result is not available.", st.id, state))
			return
		}
		st.mu.Lock()
		count := len(st.chunks)
		st.mu.Unlock()
		if err != nil || n < 0 || n >= count {
			invalid(w, fmt.Sprintf("chunk_index %s is out of range: the result has %d chunks.", parts[3], count))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = f.writeResult(w, r, st, n)
	default:
		apiError(w, http.StatusNotFound, "ENDPOINT_NOT_FOUND", "No API found for '"+r.Method+" "+r.URL.Path+"'")
	}
}

// respond writes the StatementResponse: status, and once SUCCEEDED the manifest and the
// first chunk.
func (f *Fake) respond(w http.ResponseWriter, r *http.Request, st *stmtState) {
	state, e := st.snapshot()
	w.Header().Set("Content-Type", "application/json")
	status := map[string]any{"state": state}
	if e != nil {
		status["error"] = map[string]string{"error_code": "BAD_REQUEST", "message": e.Error()}
		status["sql_state"] = e.state
	}
	head, _ := json.Marshal(st.id)
	fmt.Fprintf(w, `{"statement_id":%s,"status":`, head)
	sb, _ := json.Marshal(status)
	_, _ = w.Write(sb)
	if state == Succeeded {
		st.mu.Lock()
		chunks := append([]chunk(nil), st.chunks...)
		m := map[string]any{"format": "JSON_ARRAY",
			"schema":            map[string]any{"column_count": len(st.columns), "columns": st.columns},
			"total_chunk_count": len(chunks), "total_row_count": st.rows, "truncated": false}
		if st.disposition == "EXTERNAL_LINKS" {
			m["total_byte_count"] = st.bytes
		} else {
			for i := range chunks {
				chunks[i].ByteCount = 0
			}
		}
		m["chunks"] = chunks
		st.mu.Unlock()
		mb, _ := json.Marshal(m)
		_, _ = w.Write([]byte(`,"manifest":`))
		_, _ = w.Write(mb)
		if len(chunks) > 0 {
			_, _ = w.Write([]byte(`,"result":`))
			_ = f.writeResult(w, r, st, 0)
		}
	}
	_, _ = w.Write([]byte("}"))
}

// writeResult writes chunk n as a ResultData object: data_array inline, or one
// external link.
func (f *Fake) writeResult(w io.Writer, r *http.Request, st *stmtState, n int) error {
	st.mu.Lock()
	c := st.chunks[n]
	count := len(st.chunks)
	st.mu.Unlock()
	next := ""
	if n+1 < count {
		next = fmt.Sprintf(`,"next_chunk_index":%d,"next_chunk_internal_link":"/api/2.0/sql/statements/%s/result/chunks/%d"`, n+1, st.id, n+1)
	}
	if st.disposition == "EXTERNAL_LINKS" {
		exp := time.Now().Add(LinkLifetime)
		f.mu.Lock()
		if f.expireLinks > 0 {
			f.expireLinks--
			exp = time.Now().Add(-time.Second)
		}
		f.mu.Unlock()
		link := fmt.Sprintf("%s/_results/%s/%d?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=%d&X-Amz-Signature=%s",
			f.srv.URL, st.id, n, exp.Unix(), f.sign(st.id, n, exp.Unix()))
		lb, _ := json.Marshal(link)
		_, err := fmt.Fprintf(w, `{"external_links":[{"chunk_index":%d,"row_offset":%d,"row_count":%d,"byte_count":%d,"external_link":%s,"expiration":%q%s}]}`,
			n, c.RowOffset, c.RowCount, c.ByteCount, lb, exp.UTC().Format(time.RFC3339), next)
		return err
	}
	if _, err := fmt.Fprintf(w, `{"chunk_index":%d,"row_offset":%d,"row_count":%d,"data_array":`, n, c.RowOffset, c.RowCount); err != nil {
		return err
	}
	file, err := os.Open(c.path)
	if err != nil {
		return err
	}
	defer file.Close()
	if _, err := io.Copy(w, file); err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s}", next)
	return err
}

// s3Error answers as cloud storage does.
func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, msg)
}

// serveLink serves an external link: a chunk's JSON array, without the workspace's
// Authorization header (cloud storage refuses a second auth mechanism).
func (f *Fake) serveLink(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "" {
		s3Error(w, http.StatusBadRequest, "InvalidArgument", "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/_results/"), "/")
	q := r.URL.Query()
	exp, _ := strconv.ParseInt(q.Get("X-Amz-Expires"), 10, 64)
	if len(parts) != 2 {
		s3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	n, _ := strconv.Atoi(parts[1])
	if q.Get("X-Amz-Signature") != f.sign(parts[0], n, exp) {
		s3Error(w, http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
		return
	}
	if time.Now().Unix() > exp {
		s3Error(w, http.StatusForbidden, "AccessDenied", "Request has expired")
		return
	}
	f.mu.Lock()
	st := f.statements[parts[0]]
	f.mu.Unlock()
	if st == nil {
		s3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	st.mu.Lock()
	var path string
	if n >= 0 && n < len(st.chunks) {
		path = st.chunks[n].path
	}
	st.mu.Unlock()
	file, err := os.Open(path)
	if err != nil {
		s3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	defer file.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = io.Copy(w, file)
}
