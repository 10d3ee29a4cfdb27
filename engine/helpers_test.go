package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/glebarez/go-sqlite"

	"sluice/connectors"
	"sluice/segments"
	"sluice/sources/sqlite"
)

// warehouse is a real SQLite warehouse file with one customers table, and a writable
// handle to change it between runs.
type warehouse struct {
	t    testing.TB
	path string
	db   *sql.DB
	src  connectors.Source
	cols []connectors.Column
}

const customersDDL = `CREATE TABLE customers (
	id INTEGER, email TEXT, phone TEXT, name TEXT, age TEXT, vip BOOLEAN, signed_up DATETIME, active INTEGER)`

func newWarehouse(t testing.TB, ddl string) *warehouse {
	return newWarehouseTable(t, ddl, "customers")
}

func newWarehouseTable(t testing.TB, ddl, table string) *warehouse {
	t.Helper()
	path := filepath.Join(t.TempDir(), "warehouse.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(ddl); err != nil {
		t.Fatal(err)
	}
	src, err := sqlite.New(filepath.Dir(path)).Open(context.Background(), connectors.Config{"path": path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	w := &warehouse{t: t, path: path, db: db, src: src}
	w.cols, err = src.Columns(context.Background(), connectors.Relation{Table: &connectors.Table{Name: table}})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *warehouse) exec(query string, args ...any) {
	w.t.Helper()
	if _, err := w.db.Exec(query, args...); err != nil {
		w.t.Fatalf("%s: %v", query, err)
	}
}

// customer is one row of the customers table; nil fields are NULL.
type customer struct {
	id     any
	email  any
	phone  any
	name   any
	age    any
	vip    any
	signed any
	active int
}

func (w *warehouse) insert(cs ...customer) {
	w.t.Helper()
	for _, c := range cs {
		w.exec(`INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, c.id, c.email, c.phone, c.name, c.age, c.vip, c.signed, c.active)
	}
}

// testAction is a CRM-like action: e-mail and phone identify a record, the name is
// required.
func testAction() connectors.Action {
	return connectors.Action{
		Name: "sync_contacts",
		Fields: []connectors.ActionField{
			{Name: "email", Kind: connectors.KindEmail, Identifier: true},
			{Name: "phone", Kind: connectors.KindPhone, Identifier: true},
			{Name: "first_name", Kind: connectors.KindString, Required: true},
			{Name: "age", Kind: connectors.KindNumber},
			{Name: "vip", Kind: connectors.KindBoolean},
			{Name: "signed_up_at", Kind: connectors.KindDatetime},
		},
		BatchSize: 3,
		Removals:  true,
	}
}

func testMappings() []Mapping {
	return []Mapping{
		{From: "email", To: "email", Kind: connectors.KindEmail},
		{From: "phone", To: "phone", Kind: connectors.KindPhone},
		{From: "name", To: "first_name", Kind: connectors.KindString},
		{From: "age", To: "age", Kind: connectors.KindNumber},
		{From: "vip", To: "vip", Kind: connectors.KindBoolean},
		{From: "signed_up", To: "signed_up_at", Kind: connectors.KindDatetime},
	}
}

// job is the activation "active customers → fake CRM".
func (w *warehouse) job(dest connectors.Destination) Job {
	return Job{
		RunID:        "run-1",
		ActivationID: "act-1",
		Source:       w.src,
		Relation:     connectors.Relation{Table: &connectors.Table{Name: "customers"}},
		Columns:      w.cols,
		PrimaryKey:   "id",
		Condition:    segments.Leaf("active", segments.OpEq, 1),
		Destination:  dest,
		Action:       testAction(),
		Mappings:     testMappings(),
		Settings:     Settings{DefaultRegion: "FR", SendRemovals: true},
	}
}

// memState is an in-memory State: a sorted key list and a map. Scan pages by key after
// the last key it yielded and holds no lock while fn runs, as the contract asks.
type memState struct {
	mu      sync.Mutex
	keys    []string
	hashes  map[string]uint64
	intents map[string][]KeyHash // by batch
	planned map[string]Answer    // by batch: what acknowledging it all stores
	answers map[string]memAnswer // by batch: answered, not yet settled
	commits int
	resets  int
	// failCommit, when set, may refuse a commit (before applying it).
	failCommit func() error
}

func newMemState() *memState {
	return &memState{hashes: map[string]uint64{}, intents: map[string][]KeyHash{}, answers: map[string]memAnswer{}, planned: map[string]Answer{}}
}

// memAnswer is a batch's answer as Answer stores it.
type memAnswer struct {
	upserts []KeyHash
	removed []string
}

func (s *memState) Scan(ctx context.Context, _ string, fn func(KeyHash) error) error {
	s.mu.Lock()
	s.fold()
	s.mu.Unlock()
	last, started := "", false
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.mu.Lock()
		i := 0
		if started {
			i, _ = slices.BinarySearch(s.keys, last)
			if i < len(s.keys) && s.keys[i] == last {
				i++
			}
		}
		if i >= len(s.keys) {
			s.mu.Unlock()
			return nil
		}
		kh := KeyHash{Key: s.keys[i], Hash: s.hashes[s.keys[i]]}
		s.mu.Unlock()
		last, started = kh.Key, true
		if err := fn(kh); err != nil {
			return err
		}
	}
}

func (s *memState) Commit(_ context.Context, _ string, c Commit) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failCommit != nil {
		if err := s.failCommit(); err != nil {
			return err
		}
	}
	s.commits++
	for _, b := range c.Settled {
		delete(s.intents, b)
		delete(s.answers, b)
		delete(s.planned, b)
	}
	for _, in := range c.Intents {
		s.intents[in.Batch] = slices.Clone(in.Keys)
		s.planned[in.Batch] = in.Planned
	}
	s.apply(c.Upserts, c.Removed)
	return nil
}

func (s *memState) Answer(_ context.Context, _ string, batch string, a Answer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failCommit != nil {
		if err := s.failCommit(); err != nil {
			return err
		}
	}
	if _, ok := s.intents[batch]; ok {
		if a.AsPlanned {
			a = s.planned[batch]
		}
		s.answers[batch] = memAnswer{slices.Clone(a.Upserts), slices.Clone(a.Removed)}
	}
	return nil
}

// fold stores the batches never settled, as a scan does: an answered one as its
// answer, another as the pending marks of its intents.
func (s *memState) fold() {
	for b, keys := range s.intents {
		if a, ok := s.answers[b]; ok {
			s.apply(a.upserts, a.removed)
		} else {
			s.apply(keys, nil)
		}
		delete(s.intents, b)
		delete(s.answers, b)
		delete(s.planned, b)
	}
}

func (s *memState) apply(upserts []KeyHash, removed []string) {
	for _, kh := range upserts {
		if _, ok := s.hashes[kh.Key]; !ok {
			i, _ := slices.BinarySearch(s.keys, kh.Key)
			s.keys = slices.Insert(s.keys, i, kh.Key)
		}
		s.hashes[kh.Key] = kh.Hash
	}
	for _, k := range removed {
		if _, ok := s.hashes[k]; ok {
			delete(s.hashes, k)
			i, _ := slices.BinarySearch(s.keys, k)
			s.keys = slices.Delete(s.keys, i, i+1)
		}
	}
}

func (s *memState) Reset(context.Context, string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resets++
	s.keys, s.hashes, s.intents, s.answers, s.planned = nil, map[string]uint64{}, map[string][]KeyHash{}, map[string]memAnswer{}, map[string]Answer{}
	return nil
}

// snapshot is the state the next run reads: the intents never settled count as pending.
func (s *memState) snapshot() map[string]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := maps.Clone(s.hashes)
	for b, keys := range s.intents {
		if a, ok := s.answers[b]; ok {
			for _, kh := range a.upserts {
				out[kh.Key] = kh.Hash
			}
			for _, k := range a.removed {
				delete(out, k)
			}
			continue
		}
		for _, kh := range keys {
			out[kh.Key] = kh.Hash
		}
	}
	return out
}

// memRecorder keeps everything a run records.
type memRecorder struct {
	mu       sync.Mutex
	issues   []Issue
	changes  []Change
	logs     []LogLine
	samples  []connectors.Exchange
	progress []string
	// waits is every wait reported, nil for "no more".
	waits []*Wait
	// failProgress, when set, may stop the run.
	failProgress func(stage string, processed int64) error
	// onWait, when set, is told each wait reported.
	onWait func(w *Wait)
}

func (r *memRecorder) Waiting(_ context.Context, w *Wait) {
	r.mu.Lock()
	r.waits = append(r.waits, w)
	f := r.onWait
	r.mu.Unlock()
	if f != nil {
		f(w)
	}
}

// reportedWaits is a copy of the waits reported so far.
func (r *memRecorder) reportedWaits() []*Wait {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.waits)
}

func (r *memRecorder) Progress(_ context.Context, stage string, processed int64) error {
	r.mu.Lock()
	r.progress = append(r.progress, fmt.Sprintf("%s:%d", stage, processed))
	f := r.failProgress
	r.mu.Unlock()
	if f != nil {
		return f(stage, processed)
	}
	return nil
}

func (r *memRecorder) Issues(_ context.Context, issues []Issue) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.issues = append(r.issues, issues...)
	return nil
}

func (r *memRecorder) Changes(_ context.Context, changes []Change) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, changes...)
	return nil
}

func (r *memRecorder) Log(_ context.Context, line LogLine) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, line)
	return nil
}

func (r *memRecorder) Sample(_ context.Context, ex connectors.Exchange) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples = append(r.samples, ex)
	return nil
}

func (r *memRecorder) logText() string {
	var sb strings.Builder
	for _, l := range r.logs {
		sb.WriteString(l.Level + ": " + l.Message + "\n")
	}
	return sb.String()
}

// issuesByKey maps each key to the codes of its issues, in order.
func (r *memRecorder) issuesByKey() map[string][]string {
	out := map[string][]string{}
	for _, is := range r.issues {
		out[is.PrimaryKey] = append(out[is.PrimaryKey], is.Code)
	}
	return out
}

// fakeDest is an in-memory platform: it stores what it acknowledges, keyed by record
// key, and answers as its script says.
type fakeDest struct {
	mu      sync.Mutex
	store   map[string]map[string]any
	calls   int
	batches [][]string // keys per Write, when keep is set
	keep    bool
	// script, when set, answers a Write: an error refuses the whole batch; otherwise the
	// rejected records are refused and the rest stored.
	script func(call int, b connectors.Batch) ([]connectors.Rejection, error)
	// discard drops acknowledged records instead of storing them (memory tests).
	discard bool
}

func newFakeDest() *fakeDest {
	return &fakeDest{store: map[string]map[string]any{}, keep: true}
}

func (d *fakeDest) Check(context.Context) error { return nil }
func (d *fakeDest) Close() error                { return nil }

func (d *fakeDest) Write(ctx context.Context, b connectors.Batch) (*connectors.WriteResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if d.keep {
		keys := make([]string, len(b.Records))
		for i, r := range b.Records {
			keys[i] = r.Key
		}
		d.batches = append(d.batches, keys)
	}
	var rejected []connectors.Rejection
	if d.script != nil {
		var err error
		rejected, err = d.script(d.calls, b)
		if err != nil {
			return nil, err
		}
	}
	refused := map[string]bool{}
	for _, r := range rejected {
		refused[r.Key] = true
	}
	if !d.discard {
		for _, r := range b.Records {
			if refused[r.Key] {
				continue
			}
			if r.Op == connectors.OpRemove {
				delete(d.store, r.Key)
			} else {
				d.store[r.Key] = maps.Clone(r.Fields)
			}
		}
	}
	return &connectors.WriteResult{Rejected: rejected,
		Exchange: &connectors.Exchange{Method: "POST", URL: "https://crm.example/batch", StatusCode: 200,
			RequestBody: fmt.Sprintf(`{"records": %d}`, len(b.Records))}}, nil
}

func (d *fakeDest) contents() map[string]map[string]any {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.store)
}

// httpError is a refusal of a whole batch as a connector reports it.
func httpError(status int, cat connectors.Category, retryable bool, retryAfter time.Duration, detail string) *connectors.Error {
	return &connectors.Error{Category: cat, Message: fmt.Sprintf("The platform answered %d.", status), Detail: detail,
		Retryable: retryable, RetryAfter: retryAfter,
		Exchange: &connectors.Exchange{Method: "POST", URL: "https://crm.example/batch", StatusCode: status, ResponseBody: detail}}
}

// fastOptions retry without really waiting, recording each wait.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func fastOptions(s *sleeps) Options {
	return Options{
		BaseDelay: 100 * time.Millisecond,
		MaxDelay:  10 * time.Second,
		Sleep: func(ctx context.Context, d time.Duration) error {
			if s != nil {
				s.mu.Lock()
				s.d = append(s.d, d)
				s.mu.Unlock()
			}
			return ctx.Err()
		},
	}
}

// checkBalanced fails the test unless both accounting equations hold.
func checkBalanced(t testing.TB, res Result) {
	t.Helper()
	c := res.Counts
	if !c.Balanced() {
		t.Fatalf("counts do not balance: %+v", c)
	}
	if res.Err != nil && res.Err.Category == CategoryInternal {
		t.Fatalf("internal error: %v", res.Err)
	}
}

// checkRecorded checks the recorder against the counts: one source issue per withheld
// row, one destination issue per rejection.
func checkRecorded(t testing.TB, rec *memRecorder, res Result) {
	t.Helper()
	var src, dst int64
	for _, is := range rec.issues {
		switch is.Stage {
		case IssueStageSource:
			src++
		case IssueStageDestination:
			dst++
		}
	}
	if src != res.Counts.SourceIssues || dst != res.Counts.Rejected {
		t.Fatalf("recorded %d source issues and %d rejections; counts say %d and %d", src, dst, res.Counts.SourceIssues, res.Counts.Rejected)
	}
}

var errBoom = errors.New("boom")
