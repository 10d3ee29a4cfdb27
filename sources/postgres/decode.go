package postgres

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// decodeFast decodes the values of the most common column types (text in either format,
// the others in binary) straight from the
// wire, into what the generic path (the type's codec, then normalizeValue) gives
// for them: a sync reads millions of values, and the codecs look up a scan plan and
// box an intermediate value for each. It reports false for anything else, which takes
// the generic path. TestDecodeFastIsGeneric checks both paths agree.
func decodeFast(oid uint32, format int16, raw []byte) (any, bool) {
	switch oid {
	case pgtype.TextOID, pgtype.VarcharOID: // the same bytes in either format
		return string(raw), true
	}
	if format != pgtype.BinaryFormatCode {
		return nil, false
	}
	switch oid {
	case pgtype.Int8OID:
		if len(raw) == 8 {
			return int64(binary.BigEndian.Uint64(raw)), true
		}
	case pgtype.Int4OID:
		if len(raw) == 4 {
			return int64(int32(binary.BigEndian.Uint32(raw))), true
		}
	case pgtype.Int2OID:
		if len(raw) == 2 {
			return int64(int16(binary.BigEndian.Uint16(raw))), true
		}
	case pgtype.Float8OID:
		if len(raw) == 8 {
			return math.Float64frombits(binary.BigEndian.Uint64(raw)), true
		}
	case pgtype.BoolOID:
		if len(raw) == 1 {
			return raw[0] == 1, true
		}
	case pgtype.TimestamptzOID:
		return timestamptz(raw)
	case pgtype.NumericOID:
		return numeric(raw)
	}
	return nil, false
}

// Microseconds from the Unix epoch to 2000-01-01, PostgreSQL's epoch.
const unixToY2K = 946_684_800_000_000

// timestamptz decodes finite timestamps of years 1 to 9999 as pgx does (time.Unix,
// in the local zone); infinities and values out of that range take the generic path.
func timestamptz(raw []byte) (any, bool) {
	if len(raw) != 8 {
		return nil, false
	}
	us := int64(binary.BigEndian.Uint64(raw))
	const limit = 2500 * 365 * 24 * 3600 * 1_000_000 // about 2,500 years either side of 2000
	if us <= -limit || us >= limit {
		return nil, false
	}
	return time.Unix(unixToY2K/1_000_000+us/1_000_000, (unixToY2K%1_000_000*1_000)+(us%1_000_000*1_000)), true
}

// numeric decodes finite numerics of up to four base-10000 digits (sixteen decimal
// digits) into the text numericText gives for pgx's decoding of them, following pgx's
// steps with an int64 where pgx uses math/big.
func numeric(raw []byte) (any, bool) {
	if len(raw) < 8 {
		return nil, false
	}
	ndigits := int(binary.BigEndian.Uint16(raw))
	weight := int(int16(binary.BigEndian.Uint16(raw[2:])))
	sign := binary.BigEndian.Uint16(raw[4:])
	dscale := int(int16(binary.BigEndian.Uint16(raw[6:])))
	if (sign != 0 && sign != 0x4000) || ndigits > 4 || len(raw) != 8+2*ndigits {
		return nil, false // NaN, infinities, long numbers
	}
	if ndigits == 0 {
		return "0", true
	}
	var accum int64
	for i := range ndigits {
		accum = accum*10000 + int64(binary.BigEndian.Uint16(raw[8+2*i:]))
	}
	exp := (weight - ndigits + 1) * 4
	if dscale > 0 {
		frac := (ndigits - weight - 1) * 4
		for ; dscale > frac; frac++ {
			if accum > math.MaxInt64/10 {
				return nil, false
			}
			accum *= 10
			exp--
		}
		for ; dscale < frac; frac-- {
			accum /= 10
			exp++
		}
	}
	if exp >= 0 && accum != 0 {
		for accum%10 == 0 {
			accum /= 10
			exp++
		}
	}
	if sign != 0 {
		accum = -accum
	}
	return formatDecimal(accum, exp), true
}
