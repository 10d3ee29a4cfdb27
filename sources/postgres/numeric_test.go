package postgres_test

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"

	"sluice/sources/postgres"
)

// The fast path of numericText must give, for every numeric, the text pgx's Value gives.
func TestNumericTextIsValue(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	cases := []pgtype.Numeric{
		{Valid: false},
		{Valid: true, NaN: true},
		{Valid: true, InfinityModifier: pgtype.Infinity},
		{Valid: true, InfinityModifier: pgtype.NegativeInfinity},
		{Valid: true, Int: nil},
		{Valid: true, Int: big.NewInt(math.MinInt64), Exp: -3},
		{Valid: true, Int: big.NewInt(math.MaxInt64), Exp: 2},
		{Valid: true, Int: new(big.Int).Lsh(big.NewInt(1), 80), Exp: -5},
		{Valid: true, Int: big.NewInt(0), Exp: -2},
		{Valid: true, Int: big.NewInt(-5), Exp: -4},
	}
	for range 200000 {
		v := rng.Int64() >> rng.IntN(63) // every magnitude, from one digit to nineteen
		if rng.IntN(2) == 0 {
			v = -v
		}
		cases = append(cases, pgtype.Numeric{Valid: true, Int: big.NewInt(v), Exp: int32(rng.IntN(25) - 15)})
	}
	for _, n := range cases {
		want, err := n.Value()
		if err != nil {
			t.Fatal(err)
		}
		if got := postgres.NumericText(n); got != want {
			t.Fatalf("numeric %+v: got %#v, Value gives %#v", n, got, want)
		}
	}
}
