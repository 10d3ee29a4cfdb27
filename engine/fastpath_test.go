package engine

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"sluice/connectors"
)

// The fast path must answer exactly what normalize answers: the same value, the same
// problem in the same words, and the same hash as hashFields of the record sent.

func fastPathCases() []struct {
	kind connectors.FieldKind
	in   any
} {
	at := time.Date(2024, 3, 1, 23, 30, 0, 123456789, time.FixedZone("EST", -5*3600))
	type tc = struct {
		kind connectors.FieldKind
		in   any
	}
	var out []tc
	values := []any{
		nil, "", "   ", " Ada ", "ada@example.com", "  Ada.Lovelace+news@Example.CO.UK ", "ada@localhost", "ada lovelace@example.com",
		"Ada <ada@example.com>", "ada@@example.com", "ada@example..com", ".ada@example.com", "ada.@example.com", "a..b@example.com",
		"ada@-example.com", "ada@example-.com", "ada@exa_mple.com", "ada@[127.0.0.1]", `"ada"@example.com`, "ädä@example.com",
		"ada@example.com.", "ada@.example.com", "@example.com", "ada@", "a{b}c@example.com", "a/b=c?d^e`f|g~h@example.com",
		"42", "-42", "+42", " -1.25 ", "12,5", "NaN", "Inf", "-Infinity", "1e400", "9223372036854775808", "-9223372036854775809",
		"1_000", "0x10", "1e3", ".5", "5.", "007", "\xff\xfe", "2024-03-01", "2024-03-01 10:00:00.25", "2024-03-01T10:00:00+02:00",
		"yesterday", "true", "No", "06 12 34 56 78", "+33 6 12 34 56 78",
		int64(0), int64(42), int64(-7), int64(6502530000), 3.5, math.NaN(), math.Inf(1), 1e21, 0.1, true, false,
		at, time.Time{}, map[string]any{"plan": "pro"}, []any{"a", int64(1)}, []byte("bytes"),
	}
	for _, k := range []connectors.FieldKind{connectors.KindString, connectors.KindEmail, connectors.KindPhone,
		connectors.KindNumber, connectors.KindBoolean, connectors.KindDatetime} {
		for _, v := range values {
			out = append(out, tc{k, v})
		}
	}
	return out
}

func sameValue(a, b any) bool {
	if fa, ok := a.(float64); ok {
		fb, ok := b.(float64)
		return ok && (fa == fb || math.IsNaN(fa) && math.IsNaN(fb))
	}
	switch a.(type) {
	case map[string]any, []any, []byte:
		return hashFields(map[string]any{"v": a}) == hashFields(map[string]any{"v": b})
	}
	return a == b
}

func TestNormalizeRowIsNormalize(t *testing.T) {
	r := &run{}
	for _, tc := range fastPathCases() {
		f := field{to: "f", from: "c", kind: tc.kind}
		want, wantPr := normalize(f, tc.in, "FR")
		r.arena = r.arena[:0]
		got, pr := r.normalizeRow(&f, tc.in, "FR")
		if (pr == nil) != (wantPr == nil) || pr != nil && *pr != *wantPr {
			t.Errorf("%s %#v: problem %v, want %v", tc.kind, tc.in, pr, wantPr)
			continue
		}
		if pr != nil {
			continue
		}
		if g := r.box(got); !sameValue(g, want) {
			t.Errorf("%s %#v = %#v, want %#v", tc.kind, tc.in, g, want)
		}
	}
}

func TestHashRowIsHashFields(t *testing.T) {
	fields := []field{
		{to: "email", kind: connectors.KindEmail}, {to: "name", kind: connectors.KindString},
		{to: "age", kind: connectors.KindNumber}, {to: "vip", kind: connectors.KindBoolean},
		{to: "at", kind: connectors.KindDatetime}, {to: "raw", kind: connectors.KindString},
	}
	r := &run{plan: &plan{fields: fields, sorted: []int{2, 4, 0, 1, 5, 3}}} // by name: age, at, email, name, raw, vip
	rows := [][]any{
		{"Ada@Example.com", " Ada ", "42", true, time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC), int64(7)},
		{"ada@example.com", nil, " -1.25 ", "no", "2024-03-01", map[string]any{"plan": "pro"}},
		{nil, "", int64(3), nil, nil, 2.5},
	}
	for i, row := range rows {
		r.arena = r.arena[:0]
		norm := make([]nval, len(fields))
		boxed := map[string]any{}
		for j, f := range fields {
			v, pr := r.normalizeRow(&f, row[j], "")
			if pr != nil {
				t.Fatalf("row %d field %s: %v", i, f.to, pr)
			}
			norm[j] = v
		}
		for j, f := range fields {
			boxed[f.to] = r.box(norm[j])
		}
		if got, want := r.hashRow(norm), hashFields(boxed); got != want {
			t.Errorf("row %d: hashRow %x, hashFields %x (%v)", i, got, want, boxed)
		}
	}
}

// plainEmail accepts only addresses normalizeEmail accepts, and answers the same.
func TestPlainEmailAgreesWithNormalizeEmail(t *testing.T) {
	f := field{to: "email", from: "email", kind: connectors.KindEmail}
	check := func(s string) {
		got, ok := plainEmail(s)
		if !ok {
			return
		}
		want, pr := normalizeEmail(f, s)
		if pr != nil || want != got {
			t.Fatalf("plainEmail(%q) = %q; normalizeEmail answers %v, %v", s, got, want, pr)
		}
	}
	accepted := 0
	for _, s := range []string{"ada@example.com", "Ada.Lovelace+news@Example.CO.UK", "a@b.c", "x-y_z@sub-1.example.org", "a'b@example.com"} {
		if _, ok := plainEmail(s); !ok {
			t.Errorf("plainEmail refuses %q", s)
		}
		check(s)
	}
	const alphabet = "aZ09.@-_+'\"!#$%&*/=?^`{|}~ ()<>[]\\,;:é\x00\t"
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		var b strings.Builder
		n := 1 + rng.IntN(14)
		for range n {
			if rng.IntN(3) == 0 {
				b.WriteString([]string{"a", "b", "Q", "1", ".", "@", "-", "com"}[rng.IntN(8)])
				continue
			}
			c := []rune(alphabet)[rng.IntN(len([]rune(alphabet)))]
			b.WriteRune(c)
		}
		s := b.String()
		if _, ok := plainEmail(s); ok {
			accepted++
		}
		check(s)
	}
	if accepted == 0 {
		t.Fatal("the random addresses exercised no accepted case")
	}
}

func FuzzPlainEmail(f *testing.F) {
	for _, s := range []string{"ada@example.com", "A.B@c.d", "a..b@c.d", "a@b", "a@-b.c", "é@x.y"} {
		f.Add(s)
	}
	fl := field{to: "email", from: "email", kind: connectors.KindEmail}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := plainEmail(s)
		if !ok {
			return
		}
		want, pr := normalizeEmail(fl, s)
		if pr != nil || want != got {
			t.Fatalf("plainEmail(%q) = %q; normalizeEmail answers %v, %v", s, got, want, pr)
		}
	})
}
