package postgres

import (
	"context"
	"database/sql/driver"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"sluice/connectors"
)

// Query streams the rows of a parameterized query to fn, one at a time: each row is
// decoded from the connection's buffer into one reused slice, so memory stays the size of
// a row whatever the segment's size. Cancelling ctx stops the query on the server.
//
// The query runs alone in a READ ONLY transaction that is always rolled back: a model's
// SQL cannot write (an INSERT in a CTE, nextval, CREATE all fail), whatever the server
// lets through anyway is undone (PostgreSQL 15 does not refuse lo_create in a read-only
// transaction; the rollback removes the large object), and nothing is left behind on the
// pooled session: a set_config() that turns statement_timeout off is undone with the
// rollback, and set_config('transaction_read_only',
// 'off') is refused once the query has begun. The statement travels by the extended
// protocol, which carries exactly one statement, so "; COMMIT; ..." cannot end the
// transaction either.
//
// Values are nil, bool, int64, float64, string, []byte, time.Time or decoded JSON
// (map[string]any, []any, ...). numeric arrives as its exact decimal text, since float64
// would round large keys and amounts; uuid as its canonical text; other types as the
// text PostgreSQL would print.
func (s *source) Query(ctx context.Context, sql string, args []any, fn func(row []any) error) error {
	// Closing rows mid-stream would read the rest of the result to the end; cancelling
	// first makes pgx abandon the connection instead, so stopping early is immediate.
	qctx, cancel := context.WithCancel(ctx)
	tx, err := s.pool.BeginTx(qctx, readOnlyTx(s.queryTimeout))
	if err != nil {
		cancel()
		return s.queryError(ctx, err)
	}
	rows, err := tx.Query(qctx, sql, args...)
	defer func() {
		cancel()
		rows.Close()
		// A failed rollback (the connection was abandoned above) closes the
		// connection: the pool never hands out a session the query touched.
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		_ = tx.Rollback(rctx)
		rcancel()
	}()
	if err != nil {
		return s.queryError(ctx, err)
	}

	var (
		row   []any
		types []*pgtype.Type
	)
	for rows.Next() {
		fields := rows.FieldDescriptions()
		if row == nil {
			row = make([]any, len(fields))
			types = make([]*pgtype.Type, len(fields))
			for i, f := range fields {
				types[i], _ = rows.Conn().TypeMap().TypeForOID(f.DataTypeOID)
			}
		}
		m := rows.Conn().TypeMap()
		for i, raw := range rows.RawValues() {
			if raw == nil {
				row[i] = nil
				continue
			}
			f := fields[i]
			if types[i] == nil {
				// A type pgx does not know (an extension's, an enum): text stays text,
				// binary is copied because the buffer is reused by the next row.
				if f.Format == pgtype.TextFormatCode {
					row[i] = string(raw)
				} else {
					row[i] = append([]byte(nil), raw...)
				}
				continue
			}
			if v, ok := decodeFast(f.DataTypeOID, f.Format, raw); ok {
				row[i] = v
				continue
			}
			v, err := types[i].Codec.DecodeValue(m, f.DataTypeOID, f.Format, raw)
			if err != nil {
				return &connectors.Error{Category: connectors.CategoryConnection,
					Message: fmt.Sprintf("Column %s holds a value Sluice cannot read.", f.Name), Detail: err.Error(), Err: err}
			}
			row[i] = normalizeValue(v)
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.queryError(ctx, err)
	}
	return nil
}

// readOnlyTx begins a READ ONLY transaction with its own statement timeout, and takes
// its snapshot at once, in the same message: from then on nothing (not even a SET
// TRANSACTION READ WRITE sent as the query itself) can make the transaction writable.
// Both settings live and die with the transaction, never with the session, so they hold
// behind a transaction-pooling PgBouncer (which refuses such startup parameters) and on
// Redshift (no default_transaction_read_only; set_config with is_local is documented).
func readOnlyTx(timeout time.Duration) pgx.TxOptions {
	return pgx.TxOptions{BeginQuery: fmt.Sprintf("BEGIN READ ONLY; SELECT set_config('statement_timeout', '%d', true)", timeout.Milliseconds())}
}

// rollbackTimeout bounds ending a query's transaction; a server that does not answer
// by then loses the connection instead.
const rollbackTimeout = 5 * time.Second

// queryError reports a failed query; a cancelled or expired ctx is reported as such (and
// stays visible to errors.Is), whatever pgx wrapped it in.
func (s *source) queryError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		ce := &connectors.Error{Category: connectors.CategoryTimeout, Message: "The query ran out of time.", Detail: err.Error(), Err: ctxErr}
		if ctxErr == context.Canceled {
			ce.Category, ce.Message = connectors.CategoryConnection, "The query was cancelled."
		}
		return fmt.Errorf("%s: query: %w", s.flavor.Kind, ce)
	}
	return fmt.Errorf("%s: query: %w", s.flavor.Kind, s.set.classify(err))
}

// normalizeValue narrows pgx's decoded values to the few Go types the engine handles.
func normalizeValue(v any) any {
	switch x := v.(type) {
	case nil, bool, int64, float64, string, []byte, time.Time, map[string]any, []any:
		return v
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case uint32:
		return int64(x)
	case float32:
		return float64(x)
	case [16]byte:
		return fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16])
	case pgtype.Numeric:
		return numericText(x)
	case *big.Int:
		return x.String()
	case driver.Valuer:
		dv, err := x.Value()
		if err != nil {
			return fmt.Sprint(v)
		}
		if _, again := dv.(driver.Valuer); again {
			return fmt.Sprint(dv)
		}
		return normalizeValue(dv)
	case fmt.Stringer:
		return x.String()
	}
	return v
}

// numericText is a numeric's exact decimal text ("12.50", "NaN", "Infinity"), the text
// pgtype.Numeric.Value gives. Values whose digits fit an int64 (amounts, counts: nearly
// all of them) are formatted here directly: Value goes through math/big and pgx's encode
// plans, which was a quarter of the connector's decoding time in the sync benchmark.
func numericText(n pgtype.Numeric) any {
	if !n.Valid {
		return nil
	}
	if n.NaN || n.InfinityModifier != pgtype.Finite || n.Int == nil || !n.Int.IsInt64() {
		v, err := n.Value()
		if err != nil {
			return nil
		}
		return v
	}
	return formatDecimal(n.Int.Int64(), int(n.Exp))
}

// formatDecimal writes v·10^exp as pgx writes a numeric's text.
func formatDecimal(v int64, exp int) string {
	var digits [24]byte
	d := strconv.AppendUint(digits[:0], absUint(v), 10)
	buf := make([]byte, 0, len(d)+max(exp, -exp)+3)
	if v < 0 {
		buf = append(buf, '-')
	}
	switch {
	case exp > 0:
		buf = append(buf, d...)
		for range exp {
			buf = append(buf, '0')
		}
	case exp < 0 && len(d) <= -exp:
		buf = append(buf, '0', '.')
		for range -exp - len(d) {
			buf = append(buf, '0')
		}
		buf = append(buf, d...)
	case exp < 0:
		point := len(d) + exp
		buf = append(append(append(buf, d[:point]...), '.'), d[point:]...)
	default:
		buf = append(buf, d...)
	}
	return string(buf)
}

func absUint(v int64) uint64 {
	if v < 0 {
		return uint64(-(v + 1)) + 1 // math.MinInt64 included
	}
	return uint64(v)
}
