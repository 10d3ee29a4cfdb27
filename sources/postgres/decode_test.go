package postgres_test

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"sluice/sources/postgres"
)

// The fast decoding of common types gives what the generic path (the type's codec, then
// normalizeValue) gives, for random wire values of each type; where it declines, the
// generic path takes over, so only what it accepts must agree.
func TestDecodeFastIsGeneric(t *testing.T) {
	m := pgtype.NewMap()
	rng := rand.New(rand.NewPCG(1, 2))
	u16 := func(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
	gen := map[uint32]func() []byte{
		pgtype.TextOID:    func() []byte { b := make([]byte, rng.IntN(20)); fill(rng, b); return b },
		pgtype.VarcharOID: func() []byte { b := make([]byte, rng.IntN(20)); fill(rng, b); return b },
		pgtype.Int8OID:    func() []byte { return binary.BigEndian.AppendUint64(nil, rng.Uint64()) },
		pgtype.Int4OID:    func() []byte { return binary.BigEndian.AppendUint32(nil, rng.Uint32()) },
		pgtype.Int2OID:    func() []byte { return u16(nil, uint16(rng.Uint32())) },
		pgtype.Float8OID: func() []byte {
			v := []float64{math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1), rng.NormFloat64() * 1e6, math.Float64frombits(rng.Uint64())}[rng.IntN(6)]
			return binary.BigEndian.AppendUint64(nil, math.Float64bits(v))
		},
		pgtype.BoolOID: func() []byte { return []byte{byte(rng.IntN(2))} },
		pgtype.TimestamptzOID: func() []byte {
			us := rng.Int64N(2*5000*365*24*3600*1_000_000) - 5000*365*24*3600*1_000_000 // ±5,000 years
			if rng.IntN(20) == 0 {
				us = []int64{math.MaxInt64, math.MinInt64}[rng.IntN(2)] // infinities
			}
			return binary.BigEndian.AppendUint64(nil, uint64(us))
		},
		pgtype.NumericOID: func() []byte {
			n := rng.IntN(7)
			sign := []uint16{0, 0x4000, 0xC000, 0xD000, 0xF000}[min(rng.IntN(8), 4)] // mostly + and -
			b := u16(nil, uint16(n))
			b = u16(b, uint16(int16(rng.IntN(12)-6)))
			b = u16(b, sign)
			b = u16(b, uint16(rng.IntN(14)))
			for range n {
				b = u16(b, uint16(rng.IntN(10000)))
			}
			return b
		},
	}
	for oid, next := range gen {
		typ, ok := m.TypeForOID(oid)
		if !ok {
			t.Fatalf("no type for OID %d", oid)
		}
		fast := 0
		for range 50000 {
			raw := next()
			got, ok := postgres.DecodeFast(oid, pgtype.BinaryFormatCode, raw)
			if !ok {
				continue
			}
			fast++
			v, err := typ.Codec.DecodeValue(m, oid, pgtype.BinaryFormatCode, raw)
			if err != nil {
				t.Fatalf("%s %x: the fast path took a value the codec refuses: %v", typ.Name, raw, err)
			}
			want := postgres.NormalizeValue(v)
			if !same(got, want) {
				t.Fatalf("%s %x: fast %#v, generic %#v", typ.Name, raw, got, want)
			}
		}
		if fast < 5000 {
			t.Errorf("%s: the fast path took only %d of 50,000 values", typ.Name, fast)
		}
	}
	// Text comes in text format too; nothing else does.
	if v, ok := postgres.DecodeFast(pgtype.TextOID, pgtype.TextFormatCode, []byte("x")); !ok || v != "x" {
		t.Errorf("text in text format: %v %v", v, ok)
	}
	if _, ok := postgres.DecodeFast(pgtype.Int8OID, pgtype.TextFormatCode, []byte("12345678")); ok {
		t.Error("the fast path took an integer in text format")
	}
}

func fill(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.IntN(256))
	}
}

func same(a, b any) bool {
	if ta, ok := a.(time.Time); ok {
		tb, ok := b.(time.Time)
		return ok && ta.Equal(tb) && ta.Location() == tb.Location()
	}
	if fa, ok := a.(float64); ok {
		fb, ok := b.(float64)
		return ok && math.Float64bits(fa) == math.Float64bits(fb)
	}
	return reflect.DeepEqual(a, b)
}
