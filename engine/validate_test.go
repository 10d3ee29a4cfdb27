package engine

import (
	"strings"
	"testing"
	"time"

	"sluice/connectors"
)

func TestNormalize(t *testing.T) {
	at := time.Date(2024, 3, 1, 23, 30, 0, 0, time.FixedZone("EST", -5*3600))
	for _, tc := range []struct {
		kind   connectors.FieldKind
		in     any
		region string
		want   any
		code   string
	}{
		{connectors.KindEmail, "  Ada.Lovelace+news@Example.CO.UK ", "", "ada.lovelace+news@example.co.uk", ""},
		{connectors.KindEmail, "ada@localhost", "", nil, CodeInvalidEmail},
		{connectors.KindEmail, "ada lovelace@example.com", "", nil, CodeInvalidEmail},
		{connectors.KindEmail, "Ada <ada@example.com>", "", nil, CodeInvalidEmail},
		{connectors.KindEmail, "ada@@example.com", "", nil, CodeInvalidEmail},
		{connectors.KindEmail, "ada@example..com", "", nil, CodeInvalidEmail},
		{connectors.KindEmail, int64(42), "", nil, CodeInvalidEmail},
		{connectors.KindEmail, "   ", "", nil, ""},
		{connectors.KindEmail, nil, "", nil, ""},
		{connectors.KindPhone, "06 12 34 56 78", "FR", "+33612345678", ""},
		{connectors.KindPhone, "+33 6 12 34 56 78", "", "+33612345678", ""},
		{connectors.KindPhone, "(650) 253-0000", "US", "+16502530000", ""},
		{connectors.KindPhone, int64(6502530000), "US", "+16502530000", ""},
		{connectors.KindPhone, "06 12 34 56 78", "", nil, CodeInvalidPhone},
		{connectors.KindPhone, "+33 1", "", nil, CodeInvalidPhone},
		{connectors.KindPhone, "call me", "FR", nil, CodeInvalidPhone},
		{connectors.KindNumber, "42", "", int64(42), ""},
		{connectors.KindNumber, " -1.25 ", "", -1.25, ""},
		{connectors.KindNumber, 3.5, "", 3.5, ""},
		{connectors.KindNumber, "12,5", "", nil, CodeWrongType},
		{connectors.KindNumber, "NaN", "", nil, CodeWrongType},
		{connectors.KindNumber, true, "", nil, CodeWrongType},
		{connectors.KindBoolean, int64(1), "", true, ""},
		{connectors.KindBoolean, "No", "", false, ""},
		{connectors.KindBoolean, "maybe", "", nil, CodeWrongType},
		{connectors.KindBoolean, int64(2), "", nil, CodeWrongType},
		{connectors.KindDatetime, at, "", "2024-03-02T04:30:00Z", ""},
		{connectors.KindDatetime, "2024-03-01", "", "2024-03-01T00:00:00Z", ""},
		{connectors.KindDatetime, "2024-03-01 10:00:00.25", "", "2024-03-01T10:00:00.25Z", ""},
		{connectors.KindDatetime, "2024-03-01T10:00:00+02:00", "", "2024-03-01T08:00:00Z", ""},
		{connectors.KindDatetime, "2024-03-01 10:00:00+02", "", "2024-03-01T08:00:00Z", ""},
		{connectors.KindDatetime, "yesterday", "", nil, CodeWrongType},
		{connectors.KindDatetime, int64(1700000000), "", nil, CodeWrongType},
		{connectors.KindString, " Ada ", "", "Ada", ""},
		{connectors.KindString, int64(7), "", "7", ""},
		{connectors.KindString, map[string]any{"plan": "pro"}, "", `{"plan":"pro"}`, ""},
		{connectors.KindString, "\xff\xfe", "", nil, CodeWrongType},
	} {
		f := field{to: "f", from: "c", kind: tc.kind}
		got, pr := normalize(f, tc.in, tc.region)
		code := ""
		if pr != nil {
			code = pr.code
		}
		if got != tc.want || code != tc.code {
			t.Errorf("%s %#v (region %q) = %#v, %q; want %#v, %q", tc.kind, tc.in, tc.region, got, code, tc.want, tc.code)
		}
		if pr != nil && !strings.Contains(pr.message, "column c") {
			t.Errorf("%s %#v: message %q does not name the column", tc.kind, tc.in, pr.message)
		}
	}
}

func TestQuoteCutsLongValues(t *testing.T) {
	got := quote(strings.Repeat("é", 100))
	if want := `"` + strings.Repeat("é", 64) + `…"`; got != want {
		t.Fatalf("quote = %s", got)
	}
}

func TestHashIsCanonical(t *testing.T) {
	a := hashFields(map[string]any{"email": "a@example.com", "age": int64(3), "vip": nil})
	b := hashFields(map[string]any{"vip": nil, "age": int64(3), "email": "a@example.com"})
	if a != b {
		t.Fatal("the hash depends on the map's order")
	}
	for _, other := range []map[string]any{
		{"email": "a@example.com", "age": "3", "vip": nil},          // type matters
		{"email": "a@example.com", "age": int64(3), "vip": false},   // nil is not false
		{"email": "a@example.com", "age": int64(3)},                 // a field less
		{"email": "a@example.com", "age": int64(3), "vipx": nil},    // names matter
		{"email": "a@example.coma", "ge": int64(3), "vip": nil},     // no ambiguity at boundaries
		{"email": "a@example.com", "age": float64(3.0), "vip": nil}, // an int and a float are told apart
	} {
		if hashFields(other) == a {
			t.Errorf("%v hashes like the original", other)
		}
	}
	if a <= PendingChanged {
		t.Fatal("a payload hash collides with a pending mark")
	}
}
