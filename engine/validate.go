package engine

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
	"github.com/nyaruka/phonenumbers"

	"sluice/connectors"
)

// problem is what is wrong with one field of a row.
type problem struct {
	code    string
	message string
}

// validate checks and normalizes a row's mapped fields, in mapping order. It returns the
// normalized values (aligned with plan.fields; nil for an empty field; the slice and
// r.arena are reused by the next row) or the row's source issue: the first problem,
// with any others named after it.
func (r *run) validate(vals []any) ([]nval, *Issue) {
	p := r.plan
	if cap(r.norm) < len(p.fields) {
		r.norm = make([]nval, len(p.fields))
	}
	norm := r.norm[:len(p.fields)]
	r.arena, r.extra = r.arena[:0], r.extra[:0]
	var first *Issue
	var more []string
	report := func(f *field, pr problem) {
		if first == nil {
			first = &Issue{Stage: IssueStageSource, Code: pr.code, Field: f.to, Message: pr.message}
			return
		}
		more = append(more, pr.message)
	}
	hasID := false
	for i := range p.fields {
		f := &p.fields[i]
		v, pr := r.normalizeRow(f, vals[f.col], p.region)
		norm[i] = v
		if pr != nil {
			report(f, *pr)
			continue
		}
		if v.isNil() && f.required {
			report(f, problem{CodeMissingRequired, fmt.Sprintf("The required field %s is empty (column %s).", f.to, f.from)})
			continue
		}
		if v.isNil() && !f.identifier {
			// An empty e-mail or phone is not one: sent, it would be null where the
			// destination expects an address (the seed withholds them like invalid
			// ones). One of several fields that identify a record may be empty when
			// another has a value: that is checked below, for the row.
			if pr := emptyContact(f); pr != nil {
				report(f, *pr)
				continue
			}
		}
		if !v.isNil() && f.identifier {
			hasID = true
		}
	}
	if first == nil && len(p.identifiers) > 0 && !hasID {
		first = &Issue{Stage: IssueStageSource, Code: CodeMissingRequired, Field: p.identifiers[0],
			Message: fmt.Sprintf("None of the fields that identify a record at the destination has a value (%s): the destination could not tell who this is.",
				strings.Join(p.identifiers, ", "))}
	}
	if first != nil {
		if len(more) > 0 {
			first.Message += " Also: " + strings.Join(more, " ")
		}
		return nil, first
	}
	return norm, nil
}

// emptyContact is the problem of an empty field mapped as an e-mail or a phone, nil for
// other kinds (an empty text or number is sent as null).
func emptyContact(f *field) *problem {
	switch f.kind {
	case connectors.KindEmail:
		return &problem{CodeInvalidEmail, fmt.Sprintf("The e-mail address is empty (column %s), so it cannot be sent as %s.", f.from, f.to)}
	case connectors.KindPhone:
		return &problem{CodeInvalidPhone, fmt.Sprintf("The phone number is empty (column %s), so it cannot be sent as %s.", f.from, f.to)}
	}
	return nil
}

// normalize checks one value against the kind the destination expects and returns it in
// the form sent: text trimmed, e-mails lower-cased, phones in E.164, numbers as int64 or
// float64, booleans as bool, dates and times as RFC 3339 in UTC. An empty value (NULL or
// blank text) is nil.
func normalize(f field, v any, region string) (any, *problem) {
	if s, ok := v.(string); ok {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, nil
		}
		v = s
	}
	if v == nil {
		return nil, nil
	}
	switch f.kind {
	case connectors.KindEmail:
		return normalizeEmail(f, v)
	case connectors.KindPhone:
		return normalizePhone(f, v, region)
	case connectors.KindNumber:
		return normalizeNumber(f, v)
	case connectors.KindBoolean:
		return normalizeBoolean(f, v)
	case connectors.KindDatetime:
		return normalizeDatetime(f, v)
	}
	return normalizeString(f, v)
}

func normalizeEmail(f field, v any) (any, *problem) {
	s, ok := v.(string)
	if !ok {
		return nil, &problem{CodeInvalidEmail, fmt.Sprintf("The e-mail address %s (column %s) is not text.", quote(v), f.from)}
	}
	s = strings.ToLower(s)
	bad := func(why string) (any, *problem) {
		return nil, &problem{CodeInvalidEmail, fmt.Sprintf("The e-mail address %s (column %s) is not valid: %s.", quote(s), f.from, why)}
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r == ' ' || r < 0x20 || r == 0x7f }) {
		return bad("it contains a space or a control character")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return bad("it is not of the form name@example.com")
	}
	domain := s[strings.LastIndexByte(s, '@')+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return bad("its domain " + quote(domain) + " is not a full domain name")
	}
	return s, nil
}

func normalizePhone(f field, v any, region string) (any, *problem) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case int64:
		s = strconv.FormatInt(x, 10)
	case float64:
		if x != math.Trunc(x) || math.IsInf(x, 0) {
			return nil, &problem{CodeInvalidPhone, fmt.Sprintf("The phone number %s (column %s) is not a phone number.", quote(v), f.from)}
		}
		s = strconv.FormatFloat(x, 'f', 0, 64)
	default:
		return nil, &problem{CodeInvalidPhone, fmt.Sprintf("The phone number %s (column %s) is not a phone number.", quote(v), f.from)}
	}
	num, err := phonenumbers.Parse(s, region)
	if err != nil {
		why := "it cannot be read as a phone number"
		if !strings.HasPrefix(s, "+") && region == "" {
			why = "it has no country code (+…) and the activation has no default region"
		}
		return nil, &problem{CodeInvalidPhone, fmt.Sprintf("The phone number %s (column %s) is not valid: %s.", quote(s), f.from, why)}
	}
	if !phonenumbers.IsValidNumber(num) {
		where := ""
		if !strings.HasPrefix(s, "+") && region != "" {
			where = " for region " + region
		}
		return nil, &problem{CodeInvalidPhone, fmt.Sprintf("The phone number %s (column %s) is not a valid number%s.", quote(s), f.from, where)}
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

func wrongType(f field, v any, what string) *problem {
	return &problem{CodeWrongType, fmt.Sprintf("The value %s of column %s is not %s, which the field %s expects.", quote(v), f.from, what, f.to)}
}

func normalizeNumber(f field, v any) (any, *problem) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, wrongType(f, v, "a finite number")
		}
		return x, nil
	case string:
		if n, err := strconv.ParseInt(x, 10, 64); err == nil {
			return n, nil
		}
		if n, err := strconv.ParseFloat(x, 64); err == nil && !math.IsNaN(n) && !math.IsInf(n, 0) {
			return n, nil
		}
	}
	return nil, wrongType(f, v, "a number")
}

func normalizeBoolean(f field, v any) (any, *problem) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case int64:
		if x == 0 || x == 1 {
			return x == 1, nil
		}
	case float64:
		if x == 0 || x == 1 {
			return x == 1, nil
		}
	case string:
		switch strings.ToLower(x) {
		case "true", "t", "yes", "y", "1":
			return true, nil
		case "false", "f", "no", "n", "0":
			return false, nil
		}
	}
	return nil, wrongType(f, v, "true or false")
}

// datetimeLayouts are the text forms of dates and times read from warehouses; those
// without a zone are UTC (DESIGN: timestamps without a time zone are read as UTC).
// Fractional seconds are accepted after the seconds by every layout.
var datetimeLayouts = []string{
	time.RFC3339,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05Z0700",
	"2006-01-02 15:04:05-07",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
}

func normalizeDatetime(f field, v any) (any, *problem) {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), nil
	case string:
		for _, layout := range datetimeLayouts {
			if t, err := time.Parse(layout, x); err == nil {
				return t.UTC().Format(time.RFC3339Nano), nil
			}
		}
	}
	return nil, wrongType(f, v, "a date or time")
}

func normalizeString(f field, v any) (any, *problem) {
	switch x := v.(type) {
	case string:
		if !utf8.ValidString(x) {
			return nil, wrongType(f, "(binary data)", "text")
		}
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, wrongType(f, v, "text")
	}
	return string(b), nil
}

// quote shows a bad value in a message: quoted, and cut after 64 characters so one huge
// value does not flood the issue list.
func quote(v any) string {
	s, ok := v.(string)
	if !ok {
		s = fmt.Sprint(v)
	}
	const max = 64
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = string(r[:max]) + "…"
	}
	return strconv.Quote(s)
}

// A payload's hash is the xxhash64 of its canonical encoding: fields in order of their
// destination name, each as its name, a type tag and its value, lengths prefixed, so two
// payloads hash alike exactly when they would be sent alike (hashRow, hashFields).

// realHash keeps payload hashes clear of the pending marks.
func realHash(h uint64) uint64 {
	if h <= PendingChanged {
		h += 2
	}
	return h
}

// hashFields is hash for a record's fields, as a destination received them.
func hashFields(fields map[string]any) uint64 {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	slices.Sort(names)
	var buf []byte
	for _, k := range names {
		buf = appendCanonical(buf, k, fields[k])
	}
	return realHash(xxhash.Sum64(buf))
}

func appendCanonical(buf []byte, name string, v any) []byte {
	buf = appendString(buf, name)
	switch x := v.(type) {
	case nil:
		buf = append(buf, 'n')
	case string:
		buf = append(buf, 's')
		buf = appendString(buf, x)
	case int64:
		buf = append(buf, 'i')
		buf = strconv.AppendInt(buf, x, 10)
		buf = append(buf, 0)
	case float64:
		buf = append(buf, 'f')
		buf = strconv.AppendFloat(buf, x, 'g', -1, 64)
		buf = append(buf, 0)
	case bool:
		if x {
			buf = append(buf, 't')
		} else {
			buf = append(buf, 'F')
		}
	default:
		buf = append(buf, 'x')
		buf = appendString(buf, fmt.Sprint(x))
	}
	return buf
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}
