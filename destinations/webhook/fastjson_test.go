package webhook

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"sluice/connectors"
)

// appendPayload writes exactly the bytes encode (encoding/json) writes.
func TestAppendPayloadIsEncode(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	pieces := []string{"a", "Z", "0", " ", "\"", "\\", "/", "<", ">", "&", "\n", "\r", "\t", "\b", "\f", "\x00", "\x01", "\x1f", "\x7f",
		"é", "€", "😀", "\u2028", "\u2029", "\ufffd", "\xff", "\xe2\x82", "\xed\xa0\x80", "\xc0\xaf"}
	str := func() string {
		var b strings.Builder
		for range rng.IntN(12) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return b.String()
	}
	floats := []float64{0, math.Copysign(0, -1), 1, -1.5, 0.1, 1e-6, 9.99e-7, 1e-7, 1.5e-9, 1e20, 1e21, 1.2345e21, 123456789.125,
		math.MaxFloat64, math.SmallestNonzeroFloat64, -2.5e-300, 3.0}
	value := func() any {
		switch rng.IntN(6) {
		case 0:
			return nil
		case 1:
			return str()
		case 2:
			return int64(rng.Uint64())
		case 3:
			return rng.IntN(2) == 0
		case 4:
			return floats[rng.IntN(len(floats))]
		}
		return math.Float64frombits(rng.Uint64())
	}
	for i := range 3000 {
		p := payload{ActivationID: str(), RunID: str(), Records: []wireRecord{}}
		for range rng.IntN(5) {
			w := wireRecord{Op: connectors.OpUpsert, Key: str()}
			if rng.IntN(4) == 0 {
				w.Op = connectors.OpRemove
			} else {
				fields := map[string]any{}
				for range rng.IntN(6) {
					fields[str()] = value()
				}
				if rng.IntN(20) == 0 {
					fields = nil
				}
				w.Fields = &fields
			}
			p.Records = append(p.Records, w)
		}
		want, err := encode(p)
		got, ok := appendPayload(nil, p)
		if err != nil {
			if ok {
				t.Fatalf("case %d: encode fails (%v) but appendPayload wrote %s", i, err, got)
			}
			continue
		}
		if !ok {
			// Only values encode can write and appendPayload leaves to it: none here.
			t.Fatalf("case %d: appendPayload refused what encode writes: %s", i, want)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// A value appendPayload does not know is left to encode.
func TestAppendPayloadLeavesOtherValuesToEncode(t *testing.T) {
	fields := map[string]any{"plan": map[string]any{"tier": "pro"}}
	if _, ok := appendPayload(nil, payload{Records: []wireRecord{{Op: connectors.OpUpsert, Key: "1", Fields: &fields}}}); ok {
		t.Fatal("appendPayload wrote a nested object")
	}
	fields = map[string]any{"n": math.NaN()}
	if _, ok := appendPayload(nil, payload{Records: []wireRecord{{Op: connectors.OpUpsert, Key: "1", Fields: &fields}}}); ok {
		t.Fatal("appendPayload wrote NaN")
	}
}
