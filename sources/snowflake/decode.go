package snowflake

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// decoder turns rows of jsonv2 strings into Go values by the columns' rowType, as
// "Handling responses" documents the format: FIXED as decimal text (int64 when its scale
// is 0 and it fits, otherwise the text, as the postgres connector gives numerics), REAL
// as float64, BOOLEAN as bool, DATE as days since the epoch (a UTC midnight),
// TIMESTAMP_NTZ and _LTZ as seconds since the epoch with nine decimals (UTC),
// TIMESTAMP_TZ the same followed by the offset in minutes plus 1440, BINARY as hex;
// TEXT, TIME and semi-structured values stay text.
type decoder struct {
	cols []column
	buf  []any
}

func newDecoder(cols []column) *decoder {
	return &decoder{cols: cols, buf: make([]any, len(cols))}
}

func (d *decoder) row(cells []*string) ([]any, error) {
	if len(cells) != len(d.cols) {
		return nil, fmt.Errorf("snowflake: a row has %d values for %d columns", len(cells), len(d.cols))
	}
	for i, c := range cells {
		if c == nil {
			d.buf[i] = nil
			continue
		}
		v, err := decodeValue(d.cols[i], *c)
		if err != nil {
			return nil, fmt.Errorf("snowflake: column %s: %w", d.cols[i].Name, err)
		}
		d.buf[i] = v
	}
	return d.buf, nil
}

func decodeValue(col column, s string) (any, error) {
	switch strings.ToLower(col.Type) {
	case "fixed":
		if col.Scale == nil || *col.Scale == 0 {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return n, nil
			}
		}
		return s, nil
	case "real":
		return strconv.ParseFloat(s, 64)
	case "boolean":
		switch s {
		case "true", "1", "TRUE":
			return true, nil
		case "false", "0", "FALSE":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not a boolean", s)
	case "date":
		days, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, err
		}
		return time.Unix(days*86400, 0).UTC(), nil
	case "timestamp_ntz", "timestamp_ltz":
		return epochTime(s, time.UTC)
	case "timestamp_tz":
		ts, off, ok := strings.Cut(s, " ")
		loc := time.UTC
		if ok {
			m, err := strconv.Atoi(off)
			if err != nil {
				return nil, err
			}
			if m != 1440 {
				loc = time.FixedZone("", (m-1440)*60)
			}
		}
		return epochTime(ts, loc)
	case "binary":
		return hex.DecodeString(s)
	}
	return s, nil
}

// epochTime reads "seconds.nanoseconds" since the epoch; a negative value has its
// fraction below zero too (-1.5 is 1.5 s before the epoch).
func epochTime(s string, loc *time.Location) (time.Time, error) {
	neg := strings.HasPrefix(s, "-")
	whole, frac, _ := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a timestamp", s)
	}
	var ns int64
	if frac != "" {
		frac = (frac + "000000000")[:9]
		if ns, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return time.Time{}, fmt.Errorf("%q is not a timestamp", s)
		}
	}
	if neg {
		sec, ns = -sec, -ns
	}
	return time.Unix(sec, ns).In(loc), nil
}
