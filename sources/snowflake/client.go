package snowflake

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// binding is one bind variable as the SQL API takes it.
type binding struct {
	Type  string  `json:"type"`
	Value *string `json:"value"`
}

// column is one entry of resultSetMetaData.rowType.
type column struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Scale *int   `json:"scale"`
}

// resultSet is a 200 answer: the metadata (partition 0 only) and rows.
type resultSet struct {
	Meta *struct {
		NumRows       int64 `json:"numRows"`
		RowType       []column
		PartitionInfo []struct {
			RowCount int `json:"rowCount"`
		} `json:"partitionInfo"`
	} `json:"resultSetMetaData"`
	Data            [][]*string `json:"data"`
	StatementHandle string      `json:"statementHandle"`
}

// apiStatus is a 202 QueryStatus or an error's QueryFailureStatus.
type apiStatus struct {
	Code               string `json:"code"`
	SQLState           string `json:"sqlState"`
	Message            string `json:"message"`
	StatementHandle    string `json:"statementHandle"`
	StatementStatusURL string `json:"statementStatusUrl"`
}

// apiError is a failed request: its HTTP status and documented body.
type apiError struct {
	status int
	body   apiStatus
	raw    string
}

func (e *apiError) Error() string {
	if e.body.Code != "" {
		return fmt.Sprintf("snowflake: HTTP %d: %s (%s): %s", e.status, e.body.Code, e.body.SQLState, e.body.Message)
	}
	return fmt.Sprintf("snowflake: HTTP %d: %s", e.status, e.raw)
}

// bind turns a Go value into a binding: integers FIXED, floats REAL, booleans BOOLEAN,
// anything else TEXT (dates and times come as text from BindTime, and Snowflake casts
// a text value to the type of the column it is compared with).
func bind(v any) binding {
	str := func(s string) binding { return binding{Type: "TEXT", Value: &s} }
	switch x := v.(type) {
	case nil:
		return binding{Type: "TEXT"}
	case string:
		return str(x)
	case int64:
		s := strconv.FormatInt(x, 10)
		return binding{Type: "FIXED", Value: &s}
	case int:
		s := strconv.Itoa(x)
		return binding{Type: "FIXED", Value: &s}
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		return binding{Type: "REAL", Value: &s}
	case bool:
		s := strconv.FormatBool(x)
		return binding{Type: "BOOLEAN", Value: &s}
	case time.Time:
		return str(x.UTC().Format("2006-01-02 15:04:05.999999999"))
	case []byte:
		s := hex.EncodeToString(x)
		return binding{Type: "BINARY", Value: &s}
	}
	return str(fmt.Sprint(v))
}

// run executes one statement and hands fn its columns once, then every row (the slice is
// reused), partition by partition. The statement's own timeout is timeout; ctx may end
// it sooner, in which case the statement is cancelled on Snowflake's side too.
func (s *source) run(ctx context.Context, sql string, args []any, timeout time.Duration, cols func([]column) error, fn func(row []any) error) error {
	return s.runIn(ctx, scopeFull, sql, args, timeout, cols, fn)
}

// scope is how much of the form's session a statement carries: the validation's first
// stages leave out what a later stage judges, so a missing database is said by the
// schema stage rather than by whichever statement first named it.
type scope int

const (
	scopeUser scope = iota // the user alone: its default role, no warehouse or database
	scopeRole              // the role and the warehouse
	scopeFull              // the role, the warehouse, the database and the schema
)

func (s *source) runIn(ctx context.Context, sc scope, sql string, args []any, timeout time.Duration, cols func([]column) error, fn func(row []any) error) error {
	body := map[string]any{
		"statement":  sql,
		"timeout":    int(math.Ceil(timeout.Seconds())),
		"parameters": map[string]string{"timezone": "UTC", "query_tag": "sluice"},
	}
	if sc >= scopeRole {
		body["warehouse"] = s.set.warehouse
		if s.set.role != "" {
			body["role"] = s.set.role
		}
	}
	if sc == scopeFull {
		body["database"], body["schema"] = s.set.database, s.set.schema
	}
	if len(args) > 0 {
		b := make(map[string]binding, len(args))
		for i, a := range args {
			b[strconv.Itoa(i+1)] = bind(a)
		}
		body["bindings"] = b
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return err
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	requestID := fmt.Sprintf("%x-%x-%x-%x-%x", id[0:4], id[4:6], id[6:8], id[8:10], id[10:])
	target := s.base + "/api/v2/statements?requestId=" + requestID

	var first resultSet
	status, err := s.do(ctx, http.MethodPost, target, payload, &first)
	if err != nil {
		return err
	}
	if status == http.StatusAccepted {
		if err := s.poll(ctx, first.StatementHandle, &first); err != nil {
			return err
		}
	}
	if first.Meta == nil {
		return &apiError{status: http.StatusOK, raw: "the result has no resultSetMetaData"}
	}
	if cols != nil {
		if err := cols(first.Meta.RowType); err != nil {
			return err
		}
	}
	if fn == nil {
		return nil
	}
	dec := newDecoder(first.Meta.RowType)
	parts := len(first.Meta.PartitionInfo)
	// The next partition is fetched while this one is read: two at most in memory.
	type fetched struct {
		rows [][]*string
		err  error
	}
	fetch := func(i int) <-chan fetched {
		ch := make(chan fetched, 1)
		go func() {
			var rs resultSet
			_, err := s.do(ctx, http.MethodGet, s.statementURL(first.StatementHandle, i), nil, &rs)
			ch <- fetched{rs.Data, err}
		}()
		return ch
	}
	rows := first.Data
	first.Data = nil
	for i := 0; ; i++ {
		var next <-chan fetched
		if i+1 < parts {
			next = fetch(i + 1)
		}
		for _, r := range rows {
			row, err := dec.row(r)
			if err != nil {
				return err
			}
			if err := fn(row); err != nil {
				return err
			}
		}
		if next == nil {
			return nil
		}
		f := <-next
		if f.err != nil {
			return f.err
		}
		rows = f.rows
	}
}

func (s *source) statementURL(handle string, partition int) string {
	u := s.base + "/api/v2/statements/" + url.PathEscape(handle)
	if partition > 0 {
		u += "?partition=" + strconv.Itoa(partition)
	}
	return u
}

// poll waits for a statement still running (202), backing off from 50 ms to 2 s, and
// cancels it on Snowflake's side when ctx ends first.
func (s *source) poll(ctx context.Context, handle string, out *resultSet) error {
	delay := 50 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			s.cancelStatement(handle)
			return ctx.Err()
		case <-time.After(delay):
		}
		*out = resultSet{}
		status, err := s.do(ctx, http.MethodGet, s.statementURL(handle, 0), nil, out)
		if err != nil {
			if ctx.Err() != nil {
				s.cancelStatement(handle)
			}
			return err
		}
		if status == http.StatusOK {
			return nil
		}
		delay = min(delay*2, 2*time.Second)
	}
}

// cancelStatement asks Snowflake to stop a statement nobody waits for any more.
func (s *source) cancelStatement(handle string) {
	if handle == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = s.do(ctx, http.MethodPost, s.base+"/api/v2/statements/"+url.PathEscape(handle)+"/cancel", []byte("{}"), nil)
}

// retries is how many times a 429 or 5xx answer is tried again.
const retries = 4

// do sends one request with the documented headers and decodes a 200 or 202 answer into
// out; other answers are an *apiError. 429, 502, 503 and 504 are retried with jittered
// exponential backoff (Retry-After when given), the POST with the same requestId and
// retry=true, which Snowflake documents as safe: it does not run the statement twice.
func (s *source) do(ctx context.Context, method, target string, payload []byte, out any) (int, error) {
	delay := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		token, err := s.jwt()
		if err != nil {
			return 0, err
		}
		var body io.Reader
		if payload != nil {
			body = bytes.NewReader(payload)
		}
		req, err := http.NewRequestWithContext(ctx, method, target, body)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("X-Snowflake-Authorization-Token-Type", "KEYPAIR_JWT")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "Sluice/1.0")
		if payload != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := s.client.Do(req)
		if err != nil {
			return 0, err
		}
		status := resp.StatusCode
		if status == http.StatusOK || status == http.StatusAccepted {
			if out == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return status, nil
			}
			err := json.NewDecoder(resp.Body).Decode(out)
			resp.Body.Close()
			if err != nil {
				return 0, fmt.Errorf("snowflake: read the answer: %w", err)
			}
			return status, nil
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		ae := &apiError{status: status, raw: strings.TrimSpace(string(raw))}
		_ = json.Unmarshal(raw, &ae.body)
		transient := status == http.StatusTooManyRequests || status == http.StatusBadGateway ||
			status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
		if !transient || attempt >= retries {
			return status, ae
		}
		// Jittered, as the SQL API's spec recommends for 503 and 504: half the delay
		// and a random part of the other half, so clients do not retry in step.
		wait := delay/2 + time.Duration(mrand.Int64N(int64(delay/2)+1))
		if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && ra >= 0 {
			wait = min(time.Duration(ra)*time.Second, 30*time.Second)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(wait):
		}
		delay *= 2
		if method == http.MethodPost && strings.Contains(target, "requestId=") && !strings.Contains(target, "retry=true") {
			target += "&retry=true"
		}
	}
}
