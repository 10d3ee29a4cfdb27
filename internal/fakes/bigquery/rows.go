package bigquery

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// field is a column of a schema as the REST API writes it (legacy type names: INTEGER,
// FLOAT, BOOLEAN, as tables.get and query results do).
type field struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Mode string `json:"mode"`
}

// bqType is the BigQuery type of a PostgreSQL type (numeric with a scale over 9 or a
// precision over 38 is BIGNUMERIC).
func bqType(oid uint32, typmod int32) string {
	switch oid {
	case pgtype.BoolOID:
		return "BOOLEAN"
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID:
		return "INTEGER"
	case pgtype.Float4OID, pgtype.Float8OID:
		return "FLOAT"
	case pgtype.NumericOID:
		if typmod >= 4 {
			precision, scale := ((typmod-4)>>16)&0xffff, (typmod-4)&0xffff
			if precision > 38 || scale > 9 {
				return "BIGNUMERIC"
			}
		}
		return "NUMERIC"
	case pgtype.ByteaOID:
		return "BYTES"
	case pgtype.DateOID:
		return "DATE"
	case pgtype.TimestampOID:
		return "DATETIME"
	case pgtype.TimestamptzOID:
		return "TIMESTAMP"
	case pgtype.TimeOID:
		return "TIME"
	case pgtype.JSONOID, pgtype.JSONBOID:
		return "JSON"
	}
	return "STRING"
}

func schemaOf(fields []pgconn.FieldDescription, names []string) map[string]any {
	out := make([]field, len(fields))
	for i, f := range fields {
		out[i] = field{Name: fieldName(f, i, names), Type: bqType(f.DataTypeOID, f.TypeModifier), Mode: "NULLABLE"}
	}
	return map[string]any{"fields": out}
}

// writeRow writes one row {"f":[{"v":…},…]} from PostgreSQL's text values, each in the
// form the REST API gives its type.
func writeRow(buf *bytes.Buffer, fields []pgconn.FieldDescription, vals [][]byte, int64Timestamps bool) {
	buf.WriteString(`{"f":[`)
	for i, raw := range vals {
		if i > 0 {
			buf.WriteByte(',')
		}
		if raw == nil {
			buf.WriteString(`{"v":null}`)
			continue
		}
		buf.WriteString(`{"v":`)
		writeString(buf, cell(fields[i], raw, int64Timestamps))
		buf.WriteByte('}')
	}
	buf.WriteString(`]}`)
}

func cell(f pgconn.FieldDescription, raw []byte, int64Timestamps bool) string {
	s := string(raw)
	switch f.DataTypeOID {
	case pgtype.BoolOID:
		return strconv.FormatBool(s == "t")
	case pgtype.NumericOID:
		if strings.Contains(s, ".") {
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
		return s
	case pgtype.ByteaOID:
		b, err := hex.DecodeString(strings.TrimPrefix(s, `\x`))
		if err != nil {
			return ""
		}
		return base64.StdEncoding.EncodeToString(b)
	case pgtype.TimestampOID:
		t, err := time.Parse("2006-01-02 15:04:05.999999", s)
		if err != nil {
			return s
		}
		return t.Format("2006-01-02T15:04:05.999999")
	case pgtype.TimestamptzOID:
		t, err := time.Parse("2006-01-02 15:04:05.999999Z07", s)
		if err != nil {
			return s
		}
		us := t.UnixMicro()
		if int64Timestamps {
			return strconv.FormatInt(us, 10)
		}
		// Without useInt64Timestamp the API writes seconds as a float ("1.7092872E9").
		e := strconv.FormatFloat(float64(us)/1e6, 'E', -1, 64)
		mant, exp, _ := strings.Cut(e, "E")
		exp = strings.TrimPrefix(exp, "+")
		n, _ := strconv.Atoi(exp)
		return mant + "E" + strconv.Itoa(n)
	}
	return s
}

// writeString writes s as a JSON string.
func writeString(buf *bytes.Buffer, s string) {
	simple := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			simple = false
			break
		}
	}
	if simple {
		buf.WriteByte('"')
		buf.WriteString(s)
		buf.WriteByte('"')
		return
	}
	b, _ := json.Marshal(s)
	buf.Write(b)
}
