package databricks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"sluice/connectors"
)

// Query streams the rows of a parameterized query to fn, one at a time. The statement
// runs with the EXTERNAL_LINKS disposition, so a result of any size is read chunk after
// chunk from cloud storage, each chunk decoded as a stream into one reused slice:
// memory stays the size of a row whatever the segment's size. Cancelling ctx, or the
// query timeout, cancels the statement on the warehouse.
//
// Values are nil, bool, int64, float64, string, time.Time (DATE at midnight UTC,
// TIMESTAMP as its instant, TIMESTAMP_NTZ read as UTC) or decoded JSON (ARRAY, MAP,
// STRUCT); DECIMAL arrives as its exact decimal text, since float64 would round it.
func (s *source) Query(ctx context.Context, sql string, args []any, fn func(row []any) error) error {
	if !isQuery(sql) {
		return &connectors.Error{Category: connectors.CategoryConfiguration,
			Message: "Sluice only reads the warehouse: a query must begin with SELECT or WITH."}
	}
	qctx, cancel := context.WithTimeout(ctx, s.queryTimeout)
	defer cancel()
	resp, err := s.run(qctx, sql, args, "EXTERNAL_LINKS")
	if err != nil {
		return s.queryError(ctx, err)
	}
	if resp.Manifest == nil {
		return s.queryError(ctx, errors.New("databricks: the statement succeeded without a result manifest"))
	}
	if resp.Manifest.Truncated {
		// A part of the segment would look like the whole to the diff, which would then
		// remove the rest at the destination.
		return &connectors.Error{Category: connectors.CategoryConfiguration,
			Message: "The warehouse cut the query's result short (its result size limit): Sluice syncs whole segments only. Narrow the segment or the model."}
	}
	cols := resp.Manifest.Schema.Columns
	row := make([]any, len(cols))
	var fnErr error
	err = s.rows(qctx, resp, func(raw []*string) error {
		if len(raw) != len(cols) {
			return fmt.Errorf("databricks: a row has %d values for %d columns", len(raw), len(cols))
		}
		for i, v := range raw {
			if v == nil {
				row[i] = nil
				continue
			}
			val, err := decode(cols[i].TypeName, *v)
			if err != nil {
				return &connectors.Error{Category: connectors.CategoryConnection,
					Message: fmt.Sprintf("Column %s holds a value Sluice cannot read.", cols[i].Name), Detail: err.Error(), Err: err}
			}
			row[i] = val
		}
		fnErr = fn(row)
		return fnErr
	})
	if err != nil {
		// What fn returned is the caller's, passed on as it is.
		if _, ok := connectors.AsError(err); ok || fnErr != nil {
			return err
		}
		return s.queryError(ctx, err)
	}
	return nil
}

// isQuery reports whether sql begins, after blanks, comments and parentheses, with
// SELECT or WITH. Databricks has no read-only session, so this is the connector's own
// guard that what it runs reads: the engine's and the compiler's statements are all
// SELECTs, and a model's SQL only ever runs inside one as a subquery.
func isQuery(sql string) bool {
	s := sql
	for {
		s = strings.TrimLeft(s, " \t\r\n(")
		switch {
		case strings.HasPrefix(s, "--"):
			if i := strings.IndexByte(s, '\n'); i >= 0 {
				s = s[i+1:]
				continue
			}
			return false
		case strings.HasPrefix(s, "/*"):
			if i := strings.Index(s, "*/"); i >= 0 {
				s = s[i+2:]
				continue
			}
			return false
		}
		break
	}
	for _, kw := range []string{"SELECT", "WITH"} {
		if len(s) >= len(kw) && strings.EqualFold(s[:len(kw)], kw) && (len(s) == len(kw) || !isWordByte(s[len(kw)])) {
			return true
		}
	}
	return false
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// queryError reports a failed query; a cancelled or expired ctx is reported as such.
func (s *source) queryError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		ce := &connectors.Error{Category: connectors.CategoryTimeout, Message: "The query ran out of time.", Detail: err.Error(), Err: ctxErr}
		if ctxErr == context.Canceled {
			ce.Category, ce.Message = connectors.CategoryConnection, "The query was cancelled."
		}
		return fmt.Errorf("databricks: query: %w", ce)
	}
	return fmt.Errorf("databricks: query: %w", s.set.classify(err))
}

// decode reads a JSON_ARRAY value (always a string) by its column's type name.
func decode(typeName, v string) (any, error) {
	switch strings.ToUpper(typeName) {
	case "INT", "LONG", "BIGINT", "SHORT", "SMALLINT", "BYTE", "TINYINT", "INTEGER":
		return strconv.ParseInt(v, 10, 64)
	case "FLOAT", "DOUBLE", "REAL":
		return strconv.ParseFloat(v, 64)
	case "BOOLEAN":
		return strconv.ParseBool(v)
	case "DATE":
		return time.Parse("2006-01-02", v)
	case "TIMESTAMP", "TIMESTAMP_NTZ", "TIMESTAMP_LTZ":
		return parseTimestamp(v)
	case "ARRAY", "MAP", "STRUCT", "VARIANT":
		var out any
		if err := json.Unmarshal([]byte(v), &out); err != nil {
			return v, nil
		}
		return out, nil
	}
	return v, nil
}

// parseTimestamp reads the forms a timestamp takes in JSON_ARRAY: ISO 8601 with a zone
// (2024-03-01T10:00:00.000Z) or without one, with T or a space; a time without a zone
// is UTC.
func parseTimestamp(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("databricks: %q is not a timestamp", v)
}
