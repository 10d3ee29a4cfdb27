package databricks

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sluice/connectors"
)

// The wire format of the Statement Execution API 2.0.

const statementsPath = "/api/2.0/sql/statements"

type parameter struct {
	Name  string  `json:"name"`
	Value *string `json:"value,omitempty"`
	Type  string  `json:"type,omitempty"`
}

type statementRequest struct {
	Statement     string      `json:"statement"`
	WarehouseID   string      `json:"warehouse_id"`
	Catalog       string      `json:"catalog,omitempty"`
	Schema        string      `json:"schema,omitempty"`
	Parameters    []parameter `json:"parameters,omitempty"`
	WaitTimeout   string      `json:"wait_timeout"`
	OnWaitTimeout string      `json:"on_wait_timeout"`
	Disposition   string      `json:"disposition"`
	Format        string      `json:"format"`
}

type columnInfo struct {
	Name     string `json:"name"`
	Position int    `json:"position"`
	TypeName string `json:"type_name"`
	TypeText string `json:"type_text"`
}

type manifest struct {
	Format string `json:"format"`
	Schema struct {
		ColumnCount int          `json:"column_count"`
		Columns     []columnInfo `json:"columns"`
	} `json:"schema"`
	TotalChunkCount int   `json:"total_chunk_count"`
	TotalRowCount   int64 `json:"total_row_count"`
	Truncated       bool  `json:"truncated"`
}

type externalLink struct {
	ChunkIndex     int               `json:"chunk_index"`
	ExternalLink   string            `json:"external_link"`
	Expiration     string            `json:"expiration"`
	HTTPHeaders    map[string]string `json:"http_headers"`
	NextChunkIndex *int              `json:"next_chunk_index"`
}

type resultData struct {
	ChunkIndex     int            `json:"chunk_index"`
	DataArray      [][]*string    `json:"data_array"`
	ExternalLinks  []externalLink `json:"external_links"`
	NextChunkIndex *int           `json:"next_chunk_index"`
}

type serviceError struct {
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
}

type statementResponse struct {
	StatementID string `json:"statement_id"`
	Status      struct {
		State    string        `json:"state"`
		Error    *serviceError `json:"error"`
		SQLState string        `json:"sql_state"`
	} `json:"status"`
	Manifest *manifest   `json:"manifest"`
	Result   *resultData `json:"result"`
}

// apiError is a non-2xx answer of the API: {"error_code", "message"}. error_code is a
// string ("PERMISSION_DENIED") on most endpoints and a number (403) on the workspace's
// authentication errors, so it is read either way.
type apiError struct {
	Status  int
	Code    string
	Message string
	Retry   time.Duration
	// Submit is true for an answer to POST /api/2.0/sql/statements, where a 404 means
	// the warehouse, not a statement, does not exist.
	Submit bool
}

func (e *apiError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

// statementError is a statement that ended FAILED (or CANCELED, CLOSED): its state, the
// error class and message, and SQLSTATE.
type statementError struct {
	State, Code, Message, SQLState string
}

func (e *statementError) Error() string {
	return fmt.Sprintf("statement %s: %s %s", e.State, e.Code, e.Message)
}

// class is the error class Databricks writes in brackets at the start of a message.
func (e *statementError) class() string {
	if strings.HasPrefix(e.Message, "[") {
		if end := strings.Index(e.Message, "]"); end > 0 {
			return e.Message[1:end]
		}
	}
	return ""
}

// errStillPending is a statement still PENDING when its time ran out: the warehouse is
// starting.
type errStillPending struct{ err error }

func (e *errStillPending) Error() string { return "still waiting for the warehouse: " + e.err.Error() }
func (e *errStillPending) Unwrap() error { return e.err }

func readAPIError(resp *http.Response) *apiError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var raw struct {
		ErrorCode json.RawMessage `json:"error_code"`
		Message   string          `json:"message"`
	}
	e := &apiError{Status: resp.StatusCode}
	if json.Unmarshal(body, &raw) == nil {
		e.Message = raw.Message
		var s string
		if json.Unmarshal(raw.ErrorCode, &s) == nil {
			e.Code = s
		} else {
			e.Code = strings.TrimSpace(string(raw.ErrorCode))
		}
	} else {
		e.Message = strings.TrimSpace(string(body))
		if len(e.Message) > 300 {
			e.Message = e.Message[:300]
		}
	}
	if e.Message == "" {
		e.Message = resp.Header.Get("X-Databricks-Reason-Phrase")
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		e.Retry = time.Duration(s) * time.Second
	}
	return e
}

// call sends one API request with the principal's token and decodes the JSON answer
// into out. 429 and 503 are tried again, three times at most, after Retry-After or a
// short backoff.
func (s *source) call(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	for attempt := 0; ; attempt++ {
		tok, err := s.tokens.Token()
		if err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		req, err := http.NewRequestWithContext(rctx, method, s.set.base+path, bytes.NewReader(body))
		if err != nil {
			cancel()
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "sluice")
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := s.hc.Do(req)
		if err != nil {
			cancel()
			return err
		}
		if resp.StatusCode >= 300 {
			e := readAPIError(resp)
			e.Submit = method == http.MethodPost && path == statementsPath
			resp.Body.Close()
			cancel()
			if (e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable) && attempt < 3 {
				wait := e.Retry
				if wait == 0 {
					wait = time.Duration(200<<attempt) * time.Millisecond
				}
				if err := sleep(ctx, wait); err != nil {
					return e
				}
				continue
			}
			return e
		}
		err = json.NewDecoder(resp.Body).Decode(out)
		resp.Body.Close()
		cancel()
		return err
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// params turns bound arguments into the API's parameters, named as Placeholder names
// them (p1, p2, …), each with the type Databricks casts its text to.
func params(args []any) ([]parameter, error) {
	out := make([]parameter, len(args))
	for i, a := range args {
		p := parameter{Name: "p" + strconv.Itoa(i+1)}
		var v string
		switch x := a.(type) {
		case nil:
			out[i] = p
			continue
		case string:
			v, p.Type = x, "STRING"
		case bool:
			v, p.Type = strconv.FormatBool(x), "BOOLEAN"
		case int:
			v, p.Type = strconv.Itoa(x), "BIGINT"
		case int32:
			v, p.Type = strconv.FormatInt(int64(x), 10), "BIGINT"
		case int64:
			v, p.Type = strconv.FormatInt(x, 10), "BIGINT"
		case float64:
			v, p.Type = strconv.FormatFloat(x, 'g', -1, 64), "DOUBLE"
		case Date:
			v, p.Type = x.UTC().Format("2006-01-02"), "DATE"
		case time.Time:
			v, p.Type = x.UTC().Format(time.RFC3339Nano), "TIMESTAMP"
		default:
			return nil, &connectors.Error{Category: connectors.CategoryConfiguration,
				Message: fmt.Sprintf("Sluice cannot send a %T as a Databricks query parameter.", a)}
		}
		p.Value = &v
		out[i] = p
	}
	return out, nil
}

// run submits a statement and polls it to its end. A context that ends first cancels
// the statement on the warehouse. The answer is SUCCEEDED; any other end is a
// *statementError.
func (s *source) run(ctx context.Context, sql string, args []any, disposition string) (*statementResponse, error) {
	return s.runIn(ctx, s.set.catalog, s.set.schema, sql, args, disposition)
}

// runIn is run with the statement's default catalog and schema given ("" for the
// workspace's defaults).
func (s *source) runIn(ctx context.Context, catalog, schema, sql string, args []any, disposition string) (*statementResponse, error) {
	ps, err := params(args)
	if err != nil {
		return nil, err
	}
	req := statementRequest{Statement: sql, WarehouseID: s.set.warehouse, Catalog: catalog, Schema: schema,
		Parameters: ps, WaitTimeout: "0s", OnWaitTimeout: "CONTINUE", Disposition: disposition, Format: "JSON_ARRAY"}
	var resp statementResponse
	if err := s.call(ctx, http.MethodPost, statementsPath, req, &resp); err != nil {
		return nil, err
	}
	wait := 5 * time.Millisecond
	for resp.Status.State == "PENDING" || resp.Status.State == "RUNNING" {
		if err := sleep(ctx, wait); err != nil {
			s.cancel(resp.StatementID)
			if resp.Status.State == "PENDING" {
				return nil, &errStillPending{err}
			}
			return nil, err
		}
		wait = min(wait*2, time.Second)
		id := resp.StatementID
		resp = statementResponse{}
		if err := s.call(ctx, http.MethodGet, "/api/2.0/sql/statements/"+escapePath(id), nil, &resp); err != nil {
			if ctx.Err() != nil {
				s.cancel(id)
			}
			return nil, err
		}
	}
	if resp.Status.State != "SUCCEEDED" {
		e := &statementError{State: resp.Status.State, SQLState: resp.Status.SQLState}
		if resp.Status.Error != nil {
			e.Code, e.Message = resp.Status.Error.ErrorCode, resp.Status.Error.Message
		}
		return nil, e
	}
	return &resp, nil
}

// cancel asks the warehouse to stop a statement, on a context of its own: the caller's
// is over.
func (s *source) cancel(id string) {
	if id == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out struct{}
	_ = s.call(ctx, http.MethodPost, "/api/2.0/sql/statements/"+escapePath(id)+"/cancel", struct{}{}, &out)
}

// rows hands fn each row of a SUCCEEDED statement, chunk after chunk: INLINE chunks
// decoded whole (catalogue answers are small), EXTERNAL_LINKS chunks streamed from
// their links.
func (s *source) rows(ctx context.Context, resp *statementResponse, fn func(row []*string) error) error {
	if resp.Manifest == nil || resp.Manifest.TotalChunkCount == 0 || resp.Result == nil {
		return nil
	}
	data := resp.Result
	for {
		var next *int
		if len(data.ExternalLinks) > 0 {
			for _, l := range data.ExternalLinks {
				if err := s.readLink(ctx, resp.StatementID, l, fn); err != nil {
					return err
				}
				next = l.NextChunkIndex
			}
		} else {
			for _, row := range data.DataArray {
				if err := fn(row); err != nil {
					return err
				}
			}
			next = data.NextChunkIndex
		}
		if next == nil {
			return nil
		}
		data = &resultData{}
		if err := s.call(ctx, http.MethodGet, fmt.Sprintf("/api/2.0/sql/statements/%s/result/chunks/%d", escapePath(resp.StatementID), *next), nil, data); err != nil {
			return err
		}
	}
}

// readLink streams one chunk from its external link. The link carries its own
// credential, so the request has no Authorization header (the API reference: "must be
// removed"; cloud storage refuses two). An expired link is asked for again once.
func (s *source) readLink(ctx context.Context, id string, l externalLink, fn func(row []*string) error) error {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.ExternalLink, nil)
		if err != nil {
			return err
		}
		for k, v := range l.HTTPHeaders {
			req.Header.Set(k, v)
		}
		resp, err := s.hc.Do(req)
		if err != nil {
			return err
		}
		if resp.StatusCode == http.StatusForbidden && attempt == 0 {
			resp.Body.Close()
			var fresh resultData
			if err := s.call(ctx, http.MethodGet, fmt.Sprintf("/api/2.0/sql/statements/%s/result/chunks/%d", escapePath(id), l.ChunkIndex), nil, &fresh); err != nil {
				return err
			}
			if len(fresh.ExternalLinks) == 0 {
				return errors.New("databricks: the chunk's link was not renewed")
			}
			l = fresh.ExternalLinks[0]
			continue
		}
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
			resp.Body.Close()
			return &apiError{Status: resp.StatusCode, Code: "EXTERNAL_LINK", Message: "reading result chunk " + strconv.Itoa(l.ChunkIndex) + ": " + strings.TrimSpace(string(body))}
		}
		err = streamArray(bufio.NewReaderSize(resp.Body, 256<<10), fn)
		resp.Body.Close()
		return err
	}
}

// streamArray decodes a JSON_ARRAY chunk, [[…],[…]], one row at a time into one
// reused slice.
func streamArray(r io.Reader, fn func(row []*string) error) error {
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return fmt.Errorf("databricks: a result chunk is not a JSON array: %v", err)
	}
	var row []*string
	for dec.More() {
		row = row[:0]
		if err := dec.Decode(&row); err != nil {
			return fmt.Errorf("databricks: decode a result row: %w", err)
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	_, err := dec.Token()
	return err
}
