package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/segments"
)

// TestRunFaultInjectionProperty drives seeded random scenarios: a segment whose rows
// change between runs (updates, values changing back, rows leaving and entering,
// deletions, duplicate keys, invalid values) synced to a destination that, while faults
// are on, answers 429, 5xx and timeouts (some after applying the batch, some after
// applying part of it), refuses batches whole (400) or records one by one, sometimes
// answers 401 or 404 mid-run, while the lease is sometimes lost and the state store
// sometimes fails a commit. After every run both accounting equations hold, the
// recorder got one issue per withheld or rejected record and one change per planned
// one, the destination holds no key the state does not know, and every acknowledged
// hash in the state is what the destination holds. Once faults stop, one run makes the
// destination equal to the segment's valid rows, and the next run sends nothing.
func TestRunFaultInjectionProperty(t *testing.T) {
	scenarios, faultRuns := 50, 6
	if testing.Short() {
		scenarios = 10
	}
	for seed := range scenarios {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			runScenario(t, uint64(seed), faultRuns)
		})
	}
}

type scenario struct {
	t       *testing.T
	rng     *rand.Rand
	w       *warehouse
	textKey bool
	nextID  int
	ids     []string // ids ever used, for duplicates and re-entries
}

func runScenario(t *testing.T, seed uint64, faultRuns int) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	sc := &scenario{t: t, rng: rng, textKey: rng.IntN(2) == 0}
	keyType := "INTEGER"
	if sc.textKey {
		keyType = "TEXT COLLATE NOCASE" // the key's own collation must not order the extraction
	}
	sc.w = newWarehouseTable(t, `CREATE TABLE people (id `+keyType+`, email TEXT, name TEXT, score TEXT, active INTEGER)`, "people")
	for range 20 + rng.IntN(100) {
		sc.insertRow(sc.newID(), false)
	}

	dest := newFakeDest()
	dest.keep = false
	state := newMemState()
	faults := true
	poison := func(b connectors.Batch) bool {
		for _, r := range b.Records {
			if s, _ := r.Fields["name"].(string); strings.HasSuffix(s, "!") {
				return true
			}
		}
		return false
	}
	// The destination answers from the run's sending goroutine, the state from its
	// committer: each draws from a generator of its own.
	destRng := rand.New(rand.NewPCG(seed, 0xde57))
	dest.script = func(call int, b connectors.Batch) ([]connectors.Rejection, error) {
		if !faults {
			return nil, nil
		}
		switch x := destRng.Float64(); {
		case x < 0.07:
			return nil, httpError(429, connectors.CategoryRateLimit, true, time.Duration(1+destRng.IntN(5))*time.Millisecond, "slow down")
		case x < 0.14:
			return nil, httpError(503, connectors.CategoryConnection, true, 0, "unavailable")
		case x < 0.19: // applied, then the answer was lost
			dest.apply(b.Records)
			return nil, &connectors.Error{Category: connectors.CategoryTimeout, Message: "no answer", Retryable: true}
		case x < 0.22: // part applied, then a server error
			dest.apply(b.Records[:destRng.IntN(len(b.Records)+1)])
			return nil, httpError(502, connectors.CategoryConnection, true, 0, "bad gateway")
		case x < 0.24:
			return nil, httpError(401, connectors.CategoryCredentials, false, 0, "expired")
		case x < 0.25:
			return nil, httpError(404, connectors.CategoryNotFound, false, 0, "list gone")
		}
		if poison(b) {
			return nil, httpError(400, connectors.CategoryConfiguration, false, 0, "a name may not end with !")
		}
		var rej []connectors.Rejection
		for _, r := range b.Records {
			if destRng.Float64() < 0.08 {
				rej = append(rej, connectors.Rejection{Key: r.Key, Message: "refused " + r.Key})
			}
		}
		return rej, nil
	}
	stateRng := rand.New(rand.NewPCG(seed, 0x57a7e)) // commits come from the committer's goroutine
	state.failCommit = func() error {
		if faults && stateRng.Float64() < 0.03 {
			return errors.New("database is locked")
		}
		return nil
	}

	job := Job{
		RunID: "run", ActivationID: "act", Source: sc.w.src,
		Relation: connectors.Relation{Table: &connectors.Table{Name: "people"}}, Columns: sc.w.cols,
		PrimaryKey: "id", Condition: segments.Leaf("active", segments.OpEq, 1), Destination: dest,
		Action: connectors.Action{Name: "upsert", Removals: true, BatchSize: 1 + rng.IntN(7),
			Fields: []connectors.ActionField{
				{Name: "email", Kind: connectors.KindEmail, Identifier: true},
				{Name: "name", Kind: connectors.KindString, Required: true},
				{Name: "score", Kind: connectors.KindNumber},
			}},
		Mappings: []Mapping{
			{From: "email", To: "email", Kind: connectors.KindEmail},
			{From: "name", To: "name", Kind: connectors.KindString},
			{From: "score", To: "score", Kind: connectors.KindNumber},
		},
		Settings: Settings{SendRemovals: rng.IntN(5) > 0},
	}
	if rng.IntN(4) == 0 {
		job.Action.MaxBatchBytes = 150 + rng.IntN(200)
	}

	for run := range faultRuns + 2 {
		if run < faultRuns {
			sc.mutate(faults)
		} else {
			faults = false
		}
		rec := &memRecorder{}
		if faults {
			rec.failProgress = func(string, int64) error {
				if rng.Float64() < 0.03 {
					return errors.New("lease lost")
				}
				return nil
			}
		}
		res := fastOptions(nil).Run(context.Background(), job, state, rec)
		checkBalanced(t, res)
		checkRecorded(t, rec, res)
		checkChanges(t, rec, res)

		checkStateMatchesDestination(t, state, dest)
		if !faults && res.Err != nil {
			t.Fatalf("run %d without faults failed: %v\n%s", run, res.Err, rec.logText())
		}
		switch run {
		case faultRuns:
			sc.checkConverged(dest, job.Settings.SendRemovals)
		case faultRuns + 1:
			c := res.Counts
			if c.Added+c.Changed+c.Removed != 0 {
				t.Fatalf("a run after convergence planned changes: %+v", c)
			}
		}
	}
}

// apply stores records as a destination that took them (the faults that apply before
// failing).
func (d *fakeDest) apply(recs []connectors.Record) {
	for _, r := range recs {
		if r.Op == connectors.OpRemove {
			delete(d.store, r.Key)
		} else {
			d.store[r.Key] = cloneFields(r.Fields)
		}
	}
}

func cloneFields(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (sc *scenario) newID() string {
	if !sc.textKey {
		sc.nextID++
		id := strconv.Itoa(sc.nextID)
		sc.ids = append(sc.ids, id)
		return id
	}
	parts := []string{"a", "A", "b", "é", "Z", "0", "9", "_", "ü", "aa", "é"}
	var sb strings.Builder
	for range 1 + sc.rng.IntN(4) {
		sb.WriteString(parts[sc.rng.IntN(len(parts))])
	}
	id := sb.String()
	sc.ids = append(sc.ids, id)
	return id
}

// Values come from small pools, so rows often change back to a value they had.
func (sc *scenario) email() any {
	switch x := sc.rng.IntN(20); {
	case x == 0:
		return "bad" + strconv.Itoa(sc.rng.IntN(3)) // invalid
	case x == 1:
		return nil // no identifier
	default:
		return fmt.Sprintf(" User%d@Example.COM", sc.rng.IntN(4))
	}
}

func (sc *scenario) name(faults bool) any {
	switch x := sc.rng.IntN(20); {
	case x == 0:
		return nil // required
	case x == 1 && faults:
		return "Poison!" // refused by the destination while faults are on
	default:
		return "N" + strconv.Itoa(sc.rng.IntN(3))
	}
}

func (sc *scenario) score() any {
	switch x := sc.rng.IntN(10); {
	case x == 0:
		return "x" // wrong type
	case x == 1:
		return nil
	case x == 2:
		return strconv.Itoa(sc.rng.IntN(3)) + ".5"
	default:
		return strconv.Itoa(sc.rng.IntN(3))
	}
}

func (sc *scenario) insertRow(id string, faults bool) {
	var key any = id
	if !sc.textKey {
		key, _ = strconv.Atoi(id)
	}
	active := 1
	if sc.rng.IntN(5) == 0 {
		active = 0
	}
	sc.w.exec(`INSERT INTO people VALUES (?, ?, ?, ?, ?)`, key, sc.email(), sc.name(faults), sc.score(), active)
}

func (sc *scenario) mutate(faults bool) {
	rng, w := sc.rng, sc.w
	for range rng.IntN(15) {
		switch rng.IntN(7) {
		case 0, 1:
			w.exec(`UPDATE people SET name = ? WHERE rowid = (SELECT rowid FROM people ORDER BY random() LIMIT 1)`, sc.name(faults))
		case 2:
			w.exec(`UPDATE people SET email = ?, score = ? WHERE rowid = (SELECT rowid FROM people ORDER BY random() LIMIT 1)`, sc.email(), sc.score())
		case 3:
			w.exec(`UPDATE people SET active = 1 - active WHERE rowid = (SELECT rowid FROM people ORDER BY random() LIMIT 1)`)
		case 4:
			w.exec(`DELETE FROM people WHERE rowid = (SELECT rowid FROM people ORDER BY random() LIMIT 1)`)
		case 5:
			sc.insertRow(sc.newID(), faults)
		case 6: // an id used before: a duplicate if its row is still there
			sc.insertRow(sc.ids[rng.IntN(len(sc.ids))], faults)
		}
	}
}

// checkConverged compares the destination with the segment, computed here from the
// table with rules of the test's own: the e-mails with an @ are the valid ones.
func (sc *scenario) checkConverged(dest *fakeDest, removals bool) {
	t := sc.t
	t.Helper()
	rows, err := sc.w.db.Query(`SELECT CAST(id AS TEXT), email, name, score FROM people WHERE active = 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	count := map[string]int{}
	payload := map[string]map[string]any{}
	for rows.Next() {
		var id string
		var email, name, score *string
		if err := rows.Scan(&id, &email, &name, &score); err != nil {
			t.Fatal(err)
		}
		count[id]++
		payload[id], _ = expectedPayload(email, name, score)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	got := dest.contents()
	for id, n := range count {
		if n > 1 || payload[id] == nil {
			continue // withheld: the destination keeps what it had, if anything
		}
		if !reflect.DeepEqual(got[id], payload[id]) {
			t.Fatalf("after faults stopped, %q at the destination is %v, want %v", id, got[id], payload[id])
		}
	}
	for id := range got {
		if _, in := count[id]; !in && removals {
			t.Fatalf("%q left the segment but is still at the destination", id)
		}
	}
}

func expectedPayload(email, name, score *string) (map[string]any, bool) {
	if email == nil || !strings.Contains(*email, "@") || name == nil {
		return nil, false
	}
	p := map[string]any{"email": strings.ToLower(strings.TrimSpace(*email)), "name": *name, "score": nil}
	if score != nil {
		if n, err := strconv.ParseInt(*score, 10, 64); err == nil {
			p["score"] = n
		} else if f, err := strconv.ParseFloat(*score, 64); err == nil {
			p["score"] = f
		} else {
			return nil, false
		}
	}
	return p, true
}

// checkChanges: every planned change is recorded once, as delivered, rejected or unsent.
func checkChanges(t testing.TB, rec *memRecorder, res Result) {
	t.Helper()
	var n int64
	for _, c := range rec.changes {
		if c.Kind != ChangeWithheld {
			n++
		}
	}
	if c := res.Counts; n != c.Added+c.Changed+c.Removed {
		t.Fatalf("%d changes recorded for %d planned", n, c.Added+c.Changed+c.Removed)
	}
}

// checkStateMatchesDestination: the destination holds no key the state does not know
// (every Write is preceded by its intent), and every acknowledged hash in the state is
// the hash of what the destination holds.
func checkStateMatchesDestination(t testing.TB, state *memState, dest *fakeDest) {
	t.Helper()
	st, held := state.snapshot(), dest.contents()
	for k, fields := range held {
		h, ok := st[k]
		if !ok {
			t.Fatalf("the destination holds %q, which the state does not know", k)
		}
		if h > PendingChanged && h != hashFields(fields) {
			t.Fatalf("the state says %q was acknowledged with hash %d, the destination holds %v", k, h, fields)
		}
	}
	for k, h := range st {
		if h > PendingChanged {
			if _, ok := held[k]; !ok {
				t.Fatalf("the state says %q was acknowledged, the destination does not hold it", k)
			}
		}
	}
}
