package webhook

import (
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// appendPayload writes p as encode does — the same bytes as encoding/json's Encoder
// without HTML escaping — for the values the engine sends (text, int64, float64, bool,
// null), without reflection: a batch of thousands of records is encoded in a fraction
// of the time. ok is false when a record holds any other value (or a number JSON cannot
// carry); encode then writes, or refuses, the batch.
func appendPayload(dst []byte, p payload) (_ []byte, ok bool) {
	dst = append(dst, `{"activation_id":`...)
	dst = appendJSONString(dst, p.ActivationID)
	dst = append(dst, `,"run_id":`...)
	dst = appendJSONString(dst, p.RunID)
	dst = append(dst, `,"records":[`...)
	var names []string
	for i, r := range p.Records {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"op":`...)
		dst = appendJSONString(dst, string(r.Op))
		dst = append(dst, `,"key":`...)
		dst = appendJSONString(dst, r.Key)
		if r.Fields != nil {
			fields := *r.Fields
			dst = append(dst, `,"fields":`...)
			if fields == nil {
				dst = append(dst, "null"...)
			} else {
				names = names[:0]
				for k := range fields {
					names = append(names, k)
				}
				slices.Sort(names)
				dst = append(dst, '{')
				for j, k := range names {
					if j > 0 {
						dst = append(dst, ',')
					}
					dst = appendJSONString(dst, k)
					dst = append(dst, ':')
					if dst, ok = appendJSONValue(dst, fields[k]); !ok {
						return dst, false
					}
				}
				dst = append(dst, '}')
			}
		}
		dst = append(dst, '}')
	}
	return append(dst, "]}"...), true
}

func appendJSONValue(dst []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), true
	case string:
		return appendJSONString(dst, x), true
	case int64:
		return strconv.AppendInt(dst, x, 10), true
	case bool:
		return strconv.AppendBool(dst, x), true
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return dst, false
		}
		// encoding/json's float64: like %g with ES6's exponent cutoffs, exponents unpadded.
		format := byte('f')
		if abs := math.Abs(x); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
			format = 'e'
		}
		dst = strconv.AppendFloat(dst, x, format, -1, 64)
		if format == 'e' {
			if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
				dst[n-2] = dst[n-1]
				dst = dst[:n-1]
			}
		}
		return dst, true
	}
	return dst, false
}

const hexDigits = "0123456789abcdef"

// appendJSONString is encoding/json's string encoding without HTML escaping: quotes and
// backslashes escaped, control characters as \b \f \n \r \t or \u00XX, invalid UTF-8 as
// \ufffd, and U+2028 and U+2029 escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
