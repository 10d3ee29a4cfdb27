package engine

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"

	"sluice/connectors"
)

// Every row of a run is validated and hashed, and most rows of a rerun are unchanged:
// their values are only needed to compute the hash that proves it. So a row's values
// are normalized into nvals — no interface boxing, dates formatted into one buffer the
// row reuses — and hashed from there; only the rows sent are boxed into a record's
// fields. The common cases (text, plain e-mail addresses, numbers as text or int64,
// timestamps) take a fast path; every other value goes through normalize, so the
// results, the hashes and the problems reported are the same either way.

// nval is one normalized value: what normalize returns, unboxed, in 32 bytes.
type nval struct {
	// s is a string's text, unless inBuf: then it is arena[n>>32 : n&0xffffffff], the
	// row's buffer of formatted values.
	s string
	// n is an int64's or a float64's bits, a bool as 0 or 1, or the index of an 'x'
	// value among the run's extra values.
	n     uint64
	kind  byte // 'n' nil, 's' string, 'i' int64, 'f' float64, 'b' bool, 'x' other
	inBuf bool
}

func (v nval) isNil() bool { return v.kind == 'n' }

// text is a string value's bytes, wherever they are.
func (v nval) text(arena []byte) []byte {
	return arena[v.n>>32 : v.n&0xffffffff]
}

// toNval unboxes a value normalize returned.
func (r *run) toNval(v any) nval {
	switch x := v.(type) {
	case nil:
		return nval{kind: 'n'}
	case string:
		return nval{kind: 's', s: x}
	case int64:
		return nval{kind: 'i', n: uint64(x)}
	case float64:
		return nval{kind: 'f', n: math.Float64bits(x)}
	case bool:
		if x {
			return nval{kind: 'b', n: 1}
		}
		return nval{kind: 'b'}
	}
	// normalize returns only the types above; anything else is kept as it is.
	r.extra = append(r.extra, v)
	return nval{kind: 'x', n: uint64(len(r.extra) - 1)}
}

// inArena is the nval of the text appended to r.arena since off.
func (r *run) inArena(off int) nval {
	return nval{kind: 's', inBuf: true, n: uint64(off)<<32 | uint64(len(r.arena))}
}

// box is the value as a record's field holds it.
func (r *run) box(v nval) any {
	switch v.kind {
	case 's':
		if v.inBuf {
			return string(v.text(r.arena))
		}
		return v.s
	case 'i':
		return int64(v.n)
	case 'f':
		return math.Float64frombits(v.n)
	case 'b':
		return v.n == 1
	case 'x':
		return r.extra[v.n]
	}
	return nil
}

// normalizeRow is normalize for one field of the row being validated; formatted values
// go into r.arena.
func (r *run) normalizeRow(f *field, v any, region string) (nval, *problem) {
	switch x := v.(type) {
	case nil:
		return nval{kind: 'n'}, nil
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return nval{kind: 'n'}, nil
		}
		switch f.kind {
		case connectors.KindString:
			if utf8.ValidString(s) {
				return nval{kind: 's', s: s}, nil
			}
		case connectors.KindEmail:
			if e, ok := plainEmail(s); ok {
				return nval{kind: 's', s: e}, nil
			}
		case connectors.KindNumber:
			if n, ok := numberText(s); ok {
				return n, nil
			}
		}
	case time.Time:
		if f.kind == connectors.KindDatetime || f.kind == connectors.KindString {
			off := len(r.arena)
			r.arena = x.UTC().AppendFormat(r.arena, time.RFC3339Nano)
			return r.inArena(off), nil
		}
	case int64:
		switch f.kind {
		case connectors.KindNumber:
			return nval{kind: 'i', n: uint64(x)}, nil
		case connectors.KindString:
			off := len(r.arena)
			r.arena = strconv.AppendInt(r.arena, x, 10)
			return r.inArena(off), nil
		}
	case float64:
		if f.kind == connectors.KindNumber && !math.IsNaN(x) && !math.IsInf(x, 0) {
			return nval{kind: 'f', n: math.Float64bits(x)}, nil
		}
	}
	out, pr := normalize(*f, v, region)
	if pr != nil {
		return nval{kind: 'n'}, pr
	}
	return r.toNval(out), nil
}

// numberText is normalizeNumber of a trimmed text: an int64 when it is one, else a
// finite float64. ParseInt is only tried on text it could accept (a sign and digits),
// since its failure costs an allocated error on every decimal.
func numberText(s string) (nval, bool) {
	if isIntegerText(s) {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return nval{kind: 'i', n: uint64(n)}, true
		}
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(n) && !math.IsInf(n, 0) {
		return nval{kind: 'f', n: math.Float64bits(n)}, true
	}
	return nval{}, false
}

// isIntegerText reports whether s is an optional sign and one or more ASCII digits: the
// only texts strconv.ParseInt(s, 10, 64) may accept.
func isIntegerText(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// plainEmail is normalizeEmail for the addresses most columns hold: ASCII, a dot-atom
// local part, "@", and a domain of at least two dot-separated labels of letters, digits
// and inner hyphens. Such an address is valid as it is, lower-cased; ok is false for
// anything else, which normalizeEmail then judges (and words the problem of).
func plainEmail(s string) (string, bool) {
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return "", false
		}
		if 'A' <= c && c <= 'Z' {
			upper = true
		}
	}
	if upper {
		s = strings.ToLower(s)
	}
	at := strings.IndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", false
	}
	local, domain := s[:at], s[at+1:]
	// local: atoms of atext separated by single dots
	prevDot := true
	for i := 0; i < len(local); i++ {
		c := local[i]
		if c == '.' {
			if prevDot {
				return "", false
			}
			prevDot = true
			continue
		}
		if !isAtext(c) {
			return "", false
		}
		prevDot = false
	}
	if prevDot {
		return "", false
	}
	// domain: labels of [a-z0-9-], starting and ending with a letter or digit
	labels, start := 0, 0
	for i := 0; i <= len(domain); i++ {
		if i < len(domain) && domain[i] != '.' {
			c := domain[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", false
			}
			continue
		}
		label := domain[start:i]
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return "", false
		}
		labels++
		start = i + 1
	}
	if labels < 2 {
		return "", false
	}
	return s, true
}

// isAtext is RFC 5322 atext for lower-case ASCII: letters, digits and !#$%&'*+-/=?^_`{|}~.
func isAtext(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// hashRow is hash for a row normalized into nvals: the same canonical encoding as
// appendCanonical, so the same hash as hashFields of the record sent.
func (r *run) hashRow(norm []nval) uint64 {
	if r.names == nil {
		r.names = make([][]byte, len(r.plan.fields))
		for i, f := range r.plan.fields {
			r.names[i] = appendString(nil, f.to)
		}
	}
	buf := r.enc[:0]
	for _, i := range r.plan.sorted {
		buf = append(buf, r.names[i]...)
		buf = r.appendNval(buf, &norm[i])
	}
	r.enc = buf
	return realHash(xxhash.Sum64(buf))
}

// appendNval is appendCanonical's encoding of a value, after its name.
func (r *run) appendNval(buf []byte, v *nval) []byte {
	switch v.kind {
	case 's':
		buf = append(buf, 's')
		if v.inBuf {
			b := v.text(r.arena)
			buf = binary.AppendUvarint(buf, uint64(len(b)))
			return append(buf, b...)
		}
		return appendString(buf, v.s)
	case 'i':
		buf = append(buf, 'i')
		buf = strconv.AppendInt(buf, int64(v.n), 10)
		return append(buf, 0)
	case 'f':
		buf = append(buf, 'f')
		buf = strconv.AppendFloat(buf, math.Float64frombits(v.n), 'g', -1, 64)
		return append(buf, 0)
	case 'b':
		if v.n == 1 {
			return append(buf, 't')
		}
		return append(buf, 'F')
	case 'x': // appendCanonical's default
		buf = append(buf, 'x')
		return appendString(buf, fmt.Sprint(r.extra[v.n]))
	}
	return append(buf, 'n')
}
