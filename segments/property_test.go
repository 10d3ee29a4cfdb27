package segments

// The acceptance test: random condition trees over a customers table, counted three ways
// — by an evaluator written here in Go from the rules' plain meaning (not from the
// compiler), by PostgreSQL and by SQLite running the compiled SQL — must agree, tree by
// tree and row by row.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/glebarez/go-sqlite" // the "sqlite" database/sql driver
	"github.com/jackc/pgx/v5"

	"sluice/connectors"
	"sluice/internal/testutil"
	"sluice/sources/postgres"
	"sluice/sources/sqlite"
)

// propColumns is the customers table's model.
var propColumns = []connectors.Column{
	{Name: "id", Type: connectors.TypeInteger},
	{Name: "email", Type: connectors.TypeString},
	{Name: "country", Type: connectors.TypeString},
	{Name: "age", Type: connectors.TypeInteger},
	{Name: "score", Type: connectors.TypeNumber},
	{Name: "vip", Type: connectors.TypeBoolean},
	{Name: "signed_up_at", Type: connectors.TypeTimestamp},
	{Name: "birthday", Type: connectors.TypeDate},
	// A name with a space, capitals and both quotes: identifiers must be quoted right.
	{Name: `Nick "Name's"`, Type: connectors.TypeString},
}

const nickColumn = `Nick "Name's"`

// customer is one row; nil is NULL.
type customer struct {
	id       int64
	email    *string
	country  *string
	age      *int64
	score    *float64
	vip      *bool
	signedUp *time.Time // whole seconds, UTC
	birthday *time.Time // midnight UTC
	nick     *string
}

func ptr[T any](v T) *T { return &v }

var (
	countryPool = []string{"FR", "fr", "Fr", "DE", "US", "U_S", "GB", "100%", "10%0", "it's", `C:\dir`, `C:_dir`, "", "f%r", "_R", "R_", "Fr%", `\`, "%", "_", "o'", "F"}
	localPool   = []string{"alice", "Bob", "o'brien", "under_score", "underXscore", "per%cent", "per_cent", `back\slash`, `back\\double`, "MiXeD.Case", "UPPER", "a'b%c_d\\e", "plain"}
	domainPool  = []string{"Example.com", "mail.test", "x_y.io", "100%.org", "EXAMPLE.COM"}
	nickPool    = []string{"Ace", "ace", `"quoted"`, "it's", "; DROP TABLE customers; --", "A%", "a_", ""}
)

// fixture makes ~300 deterministic rows around now: NULLs in every nullable column,
// strings with %, _, ', \ and mixed case, and times that sit whole days ± 6 or 12 hours
// from now, so no "last N days" boundary falls near a row.
func fixture(now time.Time) []customer {
	r := rand.New(rand.NewPCG(2024, 7))
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	rows := make([]customer, 300)
	for i := range rows {
		c := customer{id: int64(i + 1)}
		if r.IntN(10) > 0 {
			c.email = ptr(localPool[r.IntN(len(localPool))] + strconv.Itoa(r.IntN(40)) + "@" + domainPool[r.IntN(len(domainPool))])
		}
		if r.IntN(8) > 0 {
			c.country = ptr(countryPool[r.IntN(len(countryPool))])
		}
		if r.IntN(10) > 0 {
			c.age = ptr(int64(r.IntN(91)))
		}
		switch r.IntN(10) {
		case 0:
		case 1, 2, 3:
			c.score = ptr(r.Float64()*200 - 100)
		default:
			c.score = ptr(float64(r.IntN(1601)-800) / 8)
		}
		if r.IntN(7) > 0 {
			c.vip = ptr(r.IntN(2) == 0)
		}
		switch r.IntN(10) {
		case 0:
		case 1:
			// Exactly midnight: the edge of a whole-day comparison.
			c.signedUp = ptr(today.AddDate(0, 0, -r.IntN(400)))
		default:
			offsets := []time.Duration{-12 * time.Hour, -6 * time.Hour, 6 * time.Hour, 12 * time.Hour}
			c.signedUp = ptr(now.AddDate(0, 0, 3-r.IntN(404)).Add(offsets[r.IntN(len(offsets))]))
		}
		switch r.IntN(7) {
		case 0:
		case 1:
			c.birthday = ptr(time.Date(1950+r.IntN(60), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC))
		default:
			c.birthday = ptr(today.AddDate(0, 0, 3-r.IntN(404)))
		}
		if r.IntN(6) > 0 {
			c.nick = ptr(nickPool[r.IntN(len(nickPool))])
		}
		rows[i] = c
	}
	return rows
}

// --- The independent evaluator: what each rule means, over Go values. ---

func (c customer) value(col string) any {
	switch col {
	case "id":
		return c.id
	case "email":
		if c.email != nil {
			return *c.email
		}
	case "country":
		if c.country != nil {
			return *c.country
		}
	case "age":
		if c.age != nil {
			return *c.age
		}
	case "score":
		if c.score != nil {
			return *c.score
		}
	case "vip":
		if c.vip != nil {
			return *c.vip
		}
	case "signed_up_at":
		if c.signedUp != nil {
			return *c.signedUp
		}
	case "birthday":
		if c.birthday != nil {
			return *c.birthday
		}
	case nickColumn:
		if c.nick != nil {
			return *c.nick
		}
	default:
		panic("no column " + col)
	}
	return nil
}

// span is a rule's operand as a range of instants [from, until): one instant for a
// time, a whole UTC day for a bare date on a timestamp column.
type span struct{ from, until time.Time }

func toFloat(v any) float64 {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = string(x)
	case string:
		s = x
	default:
		panic(fmt.Sprintf("not a number: %#v", v))
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		panic(err)
	}
	return f
}

func toSpan(v any, col string) span {
	s := v.(string)
	if col == "birthday" {
		// A date column uses the calendar day as written, whatever follows it.
		d, err := time.Parse("2006-01-02", s[:10])
		if err != nil {
			panic(err)
		}
		return span{d, d.Add(time.Nanosecond)}
	}
	if len(s) == 10 {
		d, err := time.Parse("2006-01-02", s)
		if err != nil {
			panic(err)
		}
		return span{d, d.Add(24 * time.Hour)}
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return span{t, t.Add(time.Nanosecond)}
		}
	}
	panic("bad time " + s)
}

// cmp orders a row's non-NULL value against an operand: -1 below, 0 equal (inside the
// span), +1 above.
func cmp(col string, row, operand any) int {
	switch x := row.(type) {
	case string:
		return strings.Compare(x, operand.(string))
	case int64, float64:
		var a float64
		if i, ok := x.(int64); ok {
			a = float64(i)
		} else {
			a = x.(float64)
		}
		b := toFloat(operand)
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	case bool:
		if x == operand.(bool) {
			return 0
		}
		return 1
	case time.Time:
		sp := toSpan(operand, col)
		switch {
		case x.Before(sp.from):
			return -1
		case !x.Before(sp.until):
			return 1
		}
		return 0
	}
	panic(fmt.Sprintf("no comparison for %#v", row))
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func matches(c Condition, row customer, now time.Time) bool {
	switch c.Group {
	case GroupAll:
		for _, k := range c.Children {
			if !matches(k, row, now) {
				return false
			}
		}
		return true
	case GroupAny:
		for _, k := range c.Children {
			if matches(k, row, now) {
				return true
			}
		}
		return false
	}
	v := row.value(c.Column)
	switch c.Op {
	case OpIsNull:
		return v == nil
	case OpIsNotNull:
		return v != nil
	case OpNeq:
		return v == nil || cmp(c.Column, v, c.Value) != 0
	case OpNotIn:
		if v == nil {
			return true
		}
		for _, item := range c.Value.([]any) {
			if cmp(c.Column, v, item) == 0 {
				return false
			}
		}
		return true
	}
	if v == nil {
		return false
	}
	switch c.Op {
	case OpEq:
		return cmp(c.Column, v, c.Value) == 0
	case OpGt:
		return cmp(c.Column, v, c.Value) > 0
	case OpGte:
		return cmp(c.Column, v, c.Value) >= 0
	case OpLt:
		return cmp(c.Column, v, c.Value) < 0
	case OpLte:
		return cmp(c.Column, v, c.Value) <= 0
	case OpIn:
		for _, item := range c.Value.([]any) {
			if cmp(c.Column, v, item) == 0 {
				return true
			}
		}
		return false
	case OpBetween:
		bounds := c.Value.([]any)
		return cmp(c.Column, v, bounds[0]) >= 0 && cmp(c.Column, v, bounds[1]) <= 0
	case OpContains:
		return strings.Contains(asciiLower(v.(string)), asciiLower(c.Value.(string)))
	case OpStartsWith:
		return strings.HasPrefix(asciiLower(v.(string)), asciiLower(c.Value.(string)))
	case OpWithinLastDays:
		t := v.(time.Time)
		days := int(toFloat(c.Value))
		return !t.Before(now.AddDate(0, 0, -days)) && !t.After(now)
	}
	panic("no op " + c.Op)
}

// --- The generator of random valid trees. ---

type gen struct {
	r    *rand.Rand
	rows []customer
	now  time.Time
	ops  map[string]int // how often each operator was drawn
}

func (g *gen) tree(depth int) Condition {
	if depth >= 4 || (depth > 1 && g.r.IntN(100) < 50) {
		return g.leaf()
	}
	n := 1 + g.r.IntN(3)
	if g.r.IntN(15) == 0 {
		n = 0
	}
	kids := make([]Condition, n)
	for i := range kids {
		kids[i] = g.tree(depth + 1)
	}
	if g.r.IntN(2) == 0 {
		return All(kids...)
	}
	return Any(kids...)
}

func (g *gen) pick(list []string) string { return list[g.r.IntN(len(list))] }

// existing is the value of column col in a random row, nil when that row has none.
func (g *gen) existing(col string) any { return g.rows[g.r.IntN(len(g.rows))].value(col) }

func (g *gen) flipCase(s string) string {
	b := []byte(s)
	for i, c := range b {
		if g.r.IntN(2) == 0 {
			switch {
			case 'a' <= c && c <= 'z':
				b[i] = c - 'a' + 'A'
			case 'A' <= c && c <= 'Z':
				b[i] = c + 'a' - 'A'
			}
		}
	}
	return string(b)
}

func (g *gen) text(col string) string {
	if v, ok := g.existing(col).(string); ok && g.r.IntN(4) > 0 {
		return v
	}
	switch col {
	case "country":
		return g.pick(countryPool)
	case nickColumn:
		return g.pick(nickPool)
	}
	return g.pick(localPool) + "@" + g.pick(domainPool)
}

func (g *gen) needle(col string, prefix bool) string {
	specials := []string{"%", "_", `\`, "'", "%r", "r%", "_s", "s_", `\s`, "o'", "FR", "fr", "example", ".COM", "x_y", "%.", "e_", "r_", "c%"}
	if g.r.IntN(3) == 0 {
		return g.pick(specials)
	}
	s := g.text(col)
	if s == "" {
		return "F"
	}
	start := 0
	if !prefix {
		start = g.r.IntN(len(s))
	}
	end := start + 1 + g.r.IntN(min(4, len(s)-start))
	return g.flipCase(s[start:end])
}

func (g *gen) integer(col string) any {
	var n int64
	if v, ok := g.existing(col).(int64); ok && g.r.IntN(3) > 0 {
		n = v
	} else {
		n = int64(g.r.IntN(100) - 5)
	}
	switch g.r.IntN(6) {
	case 0:
		return strconv.FormatInt(n, 10) // a numeric string
	case 1:
		return float64(n) // an integral float
	}
	return n
}

func (g *gen) number(col string) any {
	f := float64(g.r.IntN(1601)-800) / 8
	if v, ok := g.existing(col).(float64); ok && g.r.IntN(3) > 0 {
		f = v
	}
	if g.r.IntN(5) == 0 {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return f
}

var zones = []*time.Location{time.UTC, time.FixedZone("", 2*3600), time.FixedZone("", -5*3600-1800)}

// when returns a date or time operand: a row's exact time (in some offset), a bare day,
// or a naive time, all near the rows.
func (g *gen) when(col string) string {
	t, ok := g.existing(col).(time.Time)
	if !ok {
		t = g.now.AddDate(0, 0, 3-g.r.IntN(404)).Add(time.Duration(g.r.IntN(24)) * time.Hour)
	}
	switch g.r.IntN(4) {
	case 0:
		return t.Format("2006-01-02")
	case 1:
		if col == "birthday" {
			// A time for a date column: only the written day counts.
			return t.Format("2006-01-02") + "T" + fmt.Sprintf("%02d:17:00", g.r.IntN(24)) + g.pick([]string{"Z", "+02:00", "-05:00"})
		}
		return t.UTC().Format("2006-01-02T15:04:05")
	}
	return t.In(zones[g.r.IntN(len(zones))]).Format(time.RFC3339)
}

func (g *gen) scalar(col connectors.Column) any {
	switch col.Type {
	case connectors.TypeString:
		return g.text(col.Name)
	case connectors.TypeInteger:
		return g.integer(col.Name)
	case connectors.TypeNumber:
		return g.number(col.Name)
	case connectors.TypeBoolean:
		return g.r.IntN(2) == 0
	}
	return g.when(col.Name)
}

func (g *gen) leaf() Condition {
	col := propColumns[g.r.IntN(len(propColumns))]
	ops := OperatorsFor(col.Type)
	op := ops[g.r.IntN(len(ops))]
	if col.Type == connectors.TypeDate || col.Type == connectors.TypeTimestamp {
		if g.r.IntN(4) == 0 {
			op = OpWithinLastDays
		}
	}
	return g.leafFor(col, op)
}

func (g *gen) leafFor(col connectors.Column, op string) Condition {
	g.ops[op]++
	switch op {
	case OpIsNull, OpIsNotNull:
		return Leaf(col.Name, op, nil)
	case OpIn, OpNotIn:
		vals := make([]any, 1+g.r.IntN(4))
		for i := range vals {
			vals[i] = g.scalar(col)
		}
		return Leaf(col.Name, op, vals)
	case OpContains, OpStartsWith:
		return Leaf(col.Name, op, g.needle(col.Name, op == OpStartsWith))
	case OpWithinLastDays:
		days := []int{1, 2, 3, 7, 14, 30, 90, 180, 365, 400}
		return Leaf(col.Name, op, days[g.r.IntN(len(days))]+g.r.IntN(3))
	case OpBetween:
		for {
			lo, hi := g.scalar(col), g.scalar(col)
			c := Leaf(col.Name, op, []any{lo, hi})
			if Validate(c, propColumns) == nil {
				return c
			}
			c = Leaf(col.Name, op, []any{hi, lo})
			if Validate(c, propColumns) == nil {
				return c
			}
		}
	}
	return Leaf(col.Name, op, g.scalar(col))
}

// --- The databases. ---

const customersDDL = `CREATE TABLE %s.customers (
	id integer PRIMARY KEY,
	email text,
	country text,
	age integer,
	score %s,
	vip boolean,
	signed_up_at timestamp,
	birthday date,
	"Nick ""Name's""" text
)`

type db struct {
	d     connectors.Dialect
	rel   connectors.Relation
	query func(sql string, args []any) ([][]any, error)
}

func (x db) ids(t *testing.T, cond Condition) (count int64, ids []int64) {
	t.Helper()
	q, args, err := CountSQL(x.d, x.rel, cond, propColumns)
	if err != nil {
		t.Fatalf("%s: CountSQL: %v", x.d.Name(), err)
	}
	rows, err := x.query(q, args)
	if err != nil {
		t.Fatalf("%s: %s %v: %v", x.d.Name(), q, args, err)
	}
	count = toInt(rows[0][0])
	q, args, err = SelectSQL(x.d, x.rel, cond, propColumns, []string{"id"}, "id")
	if err != nil {
		t.Fatalf("%s: SelectSQL: %v", x.d.Name(), err)
	}
	rows, err = x.query(q, args)
	if err != nil {
		t.Fatalf("%s: %s %v: %v", x.d.Name(), q, args, err)
	}
	ids = []int64{}
	for _, r := range rows {
		ids = append(ids, toInt(r[0]))
	}
	return count, ids
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case int:
		return int64(x)
	}
	panic(fmt.Sprintf("not an integer: %#v", v))
}

func openPostgres(t *testing.T, rows []customer) db {
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(testutil.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	// As the Postgres dialect documents: sessions in UTC.
	cfg.RuntimeParams["timezone"] = "UTC"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, fmt.Sprintf(customersDDL, "public", "double precision")); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if _, err := conn.Exec(ctx, `INSERT INTO customers VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			r.id, r.email, r.country, r.age, r.score, r.vip, r.signedUp, r.birthday, r.nick); err != nil {
			t.Fatal(err)
		}
	}
	rel := connectors.Relation{Table: &connectors.Table{Schema: "public", Name: "customers"}}
	return db{d: postgres.Dialect{}, rel: rel, query: func(q string, args []any) ([][]any, error) {
		rs, err := conn.Query(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		defer rs.Close()
		var out [][]any
		for rs.Next() {
			vals, err := rs.Values()
			if err != nil {
				return nil, err
			}
			out = append(out, vals)
		}
		return out, rs.Err()
	}}
}

func openSQLite(t *testing.T, rows []customer) db {
	conn, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "customers.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.Exec(fmt.Sprintf(customersDDL, "main", "real")); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		// Dates and times as ISO 8601 text, as the SQLite dialect documents.
		var signed, born any
		if r.signedUp != nil {
			signed = r.signedUp.Format("2006-01-02 15:04:05")
		}
		if r.birthday != nil {
			born = r.birthday.Format("2006-01-02")
		}
		if _, err := conn.Exec(`INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.id, r.email, r.country, r.age, r.score, r.vip, signed, born, r.nick); err != nil {
			t.Fatal(err)
		}
	}
	// A model on a query rather than a table.
	rel := connectors.Relation{SQL: "SELECT * FROM main.customers -- the whole table"}
	return db{d: sqlite.Dialect{}, rel: rel, query: func(q string, args []any) ([][]any, error) {
		rs, err := conn.Query(q, args...)
		if err != nil {
			return nil, err
		}
		defer rs.Close()
		cols, _ := rs.Columns()
		var out [][]any
		for rs.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rs.Scan(ptrs...); err != nil {
				return nil, err
			}
			out = append(out, vals)
		}
		return out, rs.Err()
	}}
}

// awayFromMidnight waits out the last minute of a UTC day, so "today" is the same for
// the rows, the evaluator and both databases.
func awayFromMidnight() time.Time {
	now := time.Now().UTC()
	next := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
	if left := next.Sub(now); left < time.Minute {
		time.Sleep(left + time.Second)
	}
	return time.Now().UTC().Truncate(time.Second)
}

// TestSegmentsOnDatabases runs on SQLite and on PostgreSQL (skipped without a server
// unless CI is set), each against the Go evaluator over the same rows and the same
// seeded trees: so all three agree.
func TestSegmentsOnDatabases(t *testing.T) {
	now := awayFromMidnight()
	rows := fixture(now)
	for _, engine := range []struct {
		name string
		open func(*testing.T, []customer) db
	}{{"sqlite", openSQLite}, {"postgres", openPostgres}} {
		t.Run(engine.name, func(t *testing.T) {
			checkEngine(t, []db{engine.open(t, rows)}, rows, now)
		})
	}
}

func checkEngine(t *testing.T, dbs []db, rows []customer, now time.Time) {
	t.Run("200 random trees count as the Go evaluator does", func(t *testing.T) {
		g := &gen{r: rand.New(rand.NewPCG(1, 2)), rows: rows, now: now, ops: map[string]int{}}
		partial := 0
		for i := range 200 {
			// Through the API's JSON, as a saved segment would be.
			cond := viaJSON(t, g.tree(1))
			doc, _ := json.Marshal(cond)
			if err := Validate(cond, propColumns); err != nil {
				t.Fatalf("tree %d: generated an invalid tree %s: %v", i, doc, err)
			}
			evalNow := time.Now().UTC()
			var want []int64
			for _, r := range rows {
				if matches(cond, r, evalNow) {
					want = append(want, r.id)
				}
			}
			if len(want) > 0 && len(want) < len(rows) {
				partial++
			}
			for _, x := range dbs {
				count, ids := x.ids(t, cond)
				if count != int64(len(want)) || !slices.Equal(ids, append([]int64{}, want...)) && !(len(ids) == 0 && len(want) == 0) {
					where, args, _ := Compile(x.d, x.rel, cond, propColumns)
					t.Errorf("tree %d on %s: count %d, want %d\ncondition %s\nwhere %s\nargs %#v\nonly in SQL: %v\nonly in Go: %v",
						i, x.d.Name(), count, len(want), doc, where, args, minus(ids, want), minus(want, ids))
				}
			}
		}
		// The test is only worth something if the trees select some rows but not all,
		// and use every operator.
		if partial < 80 {
			t.Errorf("only %d of 200 trees selected a proper subset of the rows", partial)
		}
		for _, op := range Ops() {
			if g.ops[op] < 10 {
				t.Errorf("operator %s drawn only %d times", op, g.ops[op])
			}
		}
		t.Logf("%d of 200 trees selected a proper subset; operators drawn: %v", partial, g.ops)
	})

	t.Run("every operator on every column, alone", func(t *testing.T) {
		// Random trees mix rules, so one rule's mistake can hide behind another's; here
		// each operator meets each column alone, a dozen times with varied values.
		g := &gen{r: rand.New(rand.NewPCG(3, 4)), rows: rows, now: now, ops: map[string]int{}}
		for _, col := range propColumns {
			for _, op := range OperatorsFor(col.Type) {
				for range 12 {
					cond := viaJSON(t, g.leafFor(col, op))
					evalNow := time.Now().UTC()
					want := []int64{}
					for _, r := range rows {
						if matches(cond, r, evalNow) {
							want = append(want, r.id)
						}
					}
					for _, x := range dbs {
						if count, ids := x.ids(t, cond); count != int64(len(want)) || !slices.Equal(ids, want) {
							doc, _ := json.Marshal(cond)
							where, args, _ := Compile(x.d, x.rel, cond, propColumns)
							t.Errorf("%s: %s: count %d, want %d\nwhere %s\nargs %#v\nonly in SQL: %v\nonly in Go: %v",
								x.d.Name(), doc, count, len(want), where, args, minus(ids, want), minus(want, ids))
						}
					}
				}
			}
		}
	})

	t.Run("breakdowns match the Go counts", func(t *testing.T) {
		conds := []Condition{All(), Leaf("country", OpNeq, "FR"), Any(Leaf("age", OpGt, 40), Leaf("vip", OpEq, true))}
		for _, cond := range conds {
			cond = viaJSON(t, cond)
			for _, col := range propColumns {
				want := map[string]int64{}
				for _, r := range rows {
					if matches(cond, r, now) {
						want[key(col, r.value(col.Name))]++
					}
				}
				for _, x := range dbs {
					q, args, err := BreakdownSQL(x.d, x.rel, cond, propColumns, col.Name, MaxBreakdown)
					if err != nil {
						t.Fatal(err)
					}
					res, err := x.query(q, args)
					if err != nil {
						t.Fatalf("%s: %s: %v", x.d.Name(), q, err)
					}
					checkBreakdown(t, x.d.Name()+" "+col.Name, col, res, want)
					// A limit keeps the most frequent values.
					q, args, _ = BreakdownSQL(x.d, x.rel, cond, propColumns, col.Name, 3)
					top, err := x.query(q, args)
					if err != nil {
						t.Fatal(err)
					}
					if len(top) != min(3, len(res)) {
						t.Fatalf("%s %s: limit 3 gave %d rows", x.d.Name(), col.Name, len(top))
					}
					for i := range top {
						if toInt(top[i][1]) != toInt(res[i][1]) {
							t.Errorf("%s %s: top counts %v differ from the full breakdown's", x.d.Name(), col.Name, top)
						}
					}
				}
			}
		}
	})

	t.Run("a column gone from the table fails instead of matching a constant", func(t *testing.T) {
		stale := append(slices.Clone(propColumns), connectors.Column{Name: "phone", Type: connectors.TypeString})
		for _, x := range dbs {
			q, args, err := CountSQL(x.d, x.rel, Leaf("phone", OpNeq, "x"), stale)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := x.query(q, args); err == nil {
				t.Errorf("%s: a rule on a dropped column ran without error", x.d.Name())
			}
		}
	})
}

// viaJSON is the condition as the API would hand it over: the evaluator reads values
// in their JSON form.
func viaJSON(t *testing.T, c Condition) Condition {
	t.Helper()
	doc, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var out Condition
	if err := json.Unmarshal(doc, &out); err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	return out
}

func minus(a, b []int64) []int64 {
	var out []int64
	for _, v := range a {
		if !slices.Contains(b, v) {
			out = append(out, v)
		}
	}
	return out
}

// key writes a value the same way whichever database returned it.
func key(col connectors.Column, v any) string {
	if v == nil {
		return "NULL"
	}
	switch x := v.(type) {
	case string:
		if col.Type == connectors.TypeTimestamp || col.Type == connectors.TypeDate {
			return x[:min(len(x), 19)]
		}
		return "s:" + x
	case int64, int32:
		if col.Type == connectors.TypeBoolean {
			return strconv.FormatBool(toInt(x) != 0)
		}
		return strconv.FormatInt(toInt(x), 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		if col.Type == connectors.TypeDate {
			return x.Format("2006-01-02")
		}
		return x.UTC().Format("2006-01-02 15:04:05")
	}
	panic(fmt.Sprintf("no key for %#v", v))
}

func checkBreakdown(t *testing.T, name string, col connectors.Column, res [][]any, want map[string]int64) {
	t.Helper()
	got := map[string]int64{}
	var counts []int64
	for i, r := range res {
		k, n := key(col, r[0]), toInt(r[1])
		got[k] = n
		counts = append(counts, n)
		if i > 0 && n == counts[i-1] && key(col, res[i-1][0]) == "NULL" {
			t.Errorf("%s: NULL sorted before another value with the same count", name)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d", name, len(got), len(want))
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %s counted %d, want %d", name, k, got[k], n)
		}
	}
	if !sort.SliceIsSorted(counts, func(i, j int) bool { return counts[i] > counts[j] }) {
		t.Errorf("%s: counts not in descending order: %v", name, counts)
	}
}
