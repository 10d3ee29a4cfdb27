package bigquery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	bq "cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"google.golang.org/api/iterator"

	"sluice/connectors"
)

var _ connectors.Estimator = (*source)(nil)

// parameters binds args as the named parameters @p1, @p2… the dialect's placeholders
// name: string as STRING, int64 as INT64, float64 as FLOAT64, bool as BOOL, time.Time as
// TIMESTAMP, []byte as BYTES; nil as a NULL STRING.
func parameters(args []any) []bq.QueryParameter {
	out := make([]bq.QueryParameter, len(args))
	for i, a := range args {
		v := a
		switch x := a.(type) {
		case nil:
			v = bq.NullString{}
		case int:
			v = int64(x)
		case int32:
			v = int64(x)
		case float32:
			v = float64(x)
		case json.Number:
			if n, err := x.Int64(); err == nil {
				v = n
			} else if f, err := x.Float64(); err == nil {
				v = f
			} else {
				v = string(x)
			}
		case string, int64, float64, bool, []byte, time.Time:
		default:
			v = fmt.Sprint(a)
		}
		out[i] = bq.QueryParameter{Name: "p" + strconv.Itoa(i+1), Value: v}
	}
	return out
}

// newQuery is a query job of sql in the source's location, with unqualified tables
// resolved in the source's dataset.
func (s *source) newQuery(sql string, args []any) *bq.Query {
	q := s.client.Query(sql)
	q.Parameters = parameters(args)
	q.Location = s.set.location
	q.DefaultProjectID = s.set.project
	q.DefaultDatasetID = s.set.dataset
	return q
}

// Query runs sql as a query job (jobs.insert with jobTimeoutMs, so BigQuery itself stops
// it after queryTimeout) and streams its rows to fn page by page (getQueryResults,
// PageRows a page): memory holds one page whatever the result's size. Cancelling ctx,
// or fn failing, stops reading and cancels the job.
//
// Values are nil, bool, int64, float64, string, []byte, time.Time (TIMESTAMP in UTC;
// DATE at midnight UTC; DATETIME read as UTC), NUMERIC and BIGNUMERIC as their exact
// decimal text, JSON decoded (map[string]any, []any, …), TIME as its text, ARRAY as []any
// and STRUCT as map[string]any.
func (s *source) Query(ctx context.Context, sql string, args []any, fn func(row []any) error) error {
	q := s.newQuery(sql, args)
	q.JobTimeout = s.queryTimeout
	job, err := q.Run(ctx)
	if err != nil {
		return s.queryError(ctx, err)
	}
	done := false
	defer func() {
		if !done {
			// Stop the job on BigQuery's side too: its results are not wanted.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = job.Cancel(cctx)
			cancel()
		}
	}()
	it, err := job.Read(ctx)
	if err != nil {
		return s.queryError(ctx, err)
	}
	it.PageInfo().MaxSize = PageRows
	var vals []bq.Value
	var row []any
	for {
		err := it.Next(&vals)
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return s.queryError(ctx, err)
		}
		if row == nil {
			row = make([]any, len(vals))
		}
		for i, v := range vals {
			row[i] = value(v, it.Schema[i])
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	done = true
	return nil
}

// EstimateBytes is the bytes BigQuery says the query would process, from a dry run
// (free, nothing runs): what an on-demand project is billed by.
func (s *source) EstimateBytes(ctx context.Context, sql string, args []any) (int64, error) {
	st, err := s.dryRun(ctx, sql, args)
	if err != nil {
		return 0, s.fail("estimate", err)
	}
	if qs, ok := st.Details.(*bq.QueryStatistics); ok && qs.TotalBytesProcessed > 0 {
		return qs.TotalBytesProcessed, nil
	}
	return st.TotalBytesProcessed, nil
}

// dryRun validates a query and describes it without running it.
func (s *source) dryRun(ctx context.Context, sql string, args []any) (*bq.JobStatistics, error) {
	q := s.newQuery(sql, args)
	q.DryRun = true
	job, err := q.Run(ctx)
	if err != nil {
		return nil, err
	}
	st := job.LastStatus()
	if st == nil {
		return nil, errors.New("bigquery: dry run gave no status")
	}
	if err := st.Err(); err != nil {
		return nil, err
	}
	if st.Statistics == nil {
		return nil, errors.New("bigquery: dry run gave no statistics")
	}
	return st.Statistics, nil
}

// queryError reports a failed query; a cancelled or expired ctx is reported as such.
func (s *source) queryError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		ce := &connectors.Error{Category: connectors.CategoryTimeout, Message: "The query ran out of time.", Detail: err.Error(), Err: ctxErr}
		if ctxErr == context.Canceled {
			ce.Category, ce.Message = connectors.CategoryConnection, "The query was cancelled."
		}
		return fmt.Errorf("%s: query: %w", Kind, ce)
	}
	return s.fail("query", err)
}

// value narrows the client's values to the Go types the engine handles.
func value(v bq.Value, f *bq.FieldSchema) any {
	if v == nil {
		return nil
	}
	if f != nil && f.Repeated {
		list, ok := v.([]bq.Value)
		if !ok {
			return v
		}
		item := *f
		item.Repeated = false
		out := make([]any, len(list))
		for i, x := range list {
			out[i] = value(x, &item)
		}
		return out
	}
	switch x := v.(type) {
	case civil.Date:
		return time.Date(x.Year, x.Month, x.Day, 0, 0, 0, 0, time.UTC)
	case civil.DateTime:
		return x.In(time.UTC)
	case time.Time:
		return x.UTC()
	case civil.Time:
		return x.String()
	case *big.Rat:
		if f != nil && f.Type == bq.BigNumericFieldType {
			return trimDecimal(bq.BigNumericString(x))
		}
		return trimDecimal(bq.NumericString(x))
	case []bq.Value:
		if f == nil || f.Type != bq.RecordFieldType {
			out := make([]any, len(x))
			for i, y := range x {
				out[i] = value(y, nil)
			}
			return out
		}
		m := make(map[string]any, len(x))
		for i, y := range x {
			if i < len(f.Schema) {
				m[f.Schema[i].Name] = value(y, f.Schema[i])
			}
		}
		return m
	case string:
		if f != nil && f.Type == bq.JSONFieldType {
			var j any
			if err := json.Unmarshal([]byte(x), &j); err == nil {
				return j
			}
		}
		return x
	}
	return v
}

// trimDecimal drops the zeros NumericString pads a scale of 9 (38) with: "12.500000000"
// is 12.5, as BigQuery prints it.
func trimDecimal(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		return "0"
	}
	return s
}

// drain reads a small result to its end.
func drain(it *bq.RowIterator) error {
	var vals []bq.Value
	for {
		err := it.Next(&vals)
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
