package models_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"sluice/internal/testutil"
	"sluice/models"
)

func scanAll(t *testing.T, s *models.Store, act string) []models.StateEntry {
	t.Helper()
	var out []models.StateEntry
	if err := s.ScanState(context.Background(), act, func(e models.StateEntry) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// The diff state on both engines: keys come back in byte order (the engine's merge
// order), across pages, with their 64-bit hashes whole; commits upsert and remove.
func TestSyncStateRoundTrip(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, a := testutil.Admin(t, s)
		acts := activations(t, s, a, 2)
		act, other := acts[0], acts[1]

		// More keys than a page of the PostgreSQL scan, with keys whose byte order is not
		// a collation's: "", upper before lower case, digits as text, non-ASCII.
		want := map[string]uint64{"": 2, "Z": 3, "a": 1<<63 + 5, "10": 0, "9": 1, "é": ^uint64(0), "e": 7}
		for i := range 45_000 {
			want[fmt.Sprintf("k%d", i)] = uint64(i)*2654435761 + 2
		}
		var upserts []models.StateEntry
		for k, h := range want {
			upserts = append(upserts, models.StateEntry{Key: k, Hash: h})
		}
		if err := s.CommitState(ctx, act, models.StateCommit{Upserts: upserts}); err != nil {
			t.Fatal(err)
		}
		if err := s.CommitState(ctx, other, models.StateCommit{Upserts: []models.StateEntry{{Key: "x", Hash: 9}}}); err != nil {
			t.Fatal(err)
		}
		got := scanAll(t, s, act)
		if len(got) != len(want) {
			t.Fatalf("scanned %d keys, want %d", len(got), len(want))
		}
		if !slices.IsSortedFunc(got, func(a, b models.StateEntry) int { return cmpStrings(a.Key, b.Key) }) {
			t.Fatal("keys are not in byte order")
		}
		for i := 1; i < len(got); i++ {
			if got[i-1].Key == got[i].Key {
				t.Fatalf("key %q scanned twice", got[i].Key)
			}
		}
		for _, e := range got {
			if want[e.Key] != e.Hash {
				t.Fatalf("key %q: hash %d, want %d", e.Key, e.Hash, want[e.Key])
			}
		}

		// Updates, removals, and a key given twice in one commit (the last one counts).
		if err := s.CommitState(ctx, act, models.StateCommit{Upserts: []models.StateEntry{{Key: "a", Hash: 11}, {Key: "new", Hash: 12}, {Key: "a", Hash: 13}},
			Removed: []string{"Z", "", "k7", "missing"}}); err != nil {
			t.Fatal(err)
		}
		got = scanAll(t, s, act)
		hashes := map[string]uint64{}
		for _, e := range got {
			hashes[e.Key] = e.Hash
		}
		if len(got) != len(want)-3+1 || hashes["a"] != 13 || hashes["new"] != 12 {
			t.Fatalf("after the second commit: %d keys, a=%d new=%d", len(got), hashes["a"], hashes["new"])
		}
		for _, k := range []string{"Z", "", "k7"} {
			if _, ok := hashes[k]; ok {
				t.Fatalf("key %q was not removed", k)
			}
		}

		// A scan stops at the callback's first error.
		stop := errors.New("stop")
		n := 0
		err := s.ScanState(ctx, act, func(models.StateEntry) error {
			n++
			if n == 30_000 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 30_000 {
			t.Fatalf("scan after stop: %v after %d keys", err, n)
		}

		// Commits while a scan is under way touch keys it has passed: the scan still
		// yields every other key once.
		seen := 0
		err = s.ScanState(ctx, act, func(e models.StateEntry) error {
			seen++
			if seen%5000 == 0 {
				return s.CommitState(ctx, act, models.StateCommit{Upserts: []models.StateEntry{{Key: e.Key, Hash: 99}}})
			}
			return nil
		})
		if err != nil || seen != len(got) {
			t.Fatalf("scan with commits: %v, %d keys of %d", err, seen, len(got))
		}

		if err := s.ResetState(ctx, act); err != nil {
			t.Fatal(err)
		}
		if got := scanAll(t, s, act); len(got) != 0 {
			t.Fatalf("%d keys after reset", len(got))
		}
		if got := scanAll(t, s, other); len(got) != 1 || got[0] != (models.StateEntry{Key: "x", Hash: 9}) {
			t.Fatalf("the other activation's state: %+v", got)
		}
	})
}

func cmpStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Run outputs written in bulk (COPY on PostgreSQL) read back as written.
func TestRunChangesAndIssuesInBulk(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, a := testutil.Admin(t, s)
		act := activations(t, s, a, 1)[0]
		run, err := s.EnqueueRun(ctx, a.WorkspaceID, act, models.TriggerManual, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		var changes []models.RunChange
		for i := range 1200 {
			changes = append(changes, models.RunChange{RunID: run.ID, ActivationID: act, PrimaryKey: fmt.Sprint(i % 600), Kind: "added", Detail: fmt.Sprint("d", i)})
		}
		if err := s.AddRunChanges(ctx, changes); err != nil {
			t.Fatal(err)
		}
		tl, err := s.RecordTimeline(ctx, a.WorkspaceID, act, "7")
		if err != nil || len(tl) != 2 || tl[0].RunID != run.ID || tl[0].Kind != "added" || tl[0].CreatedAt.IsZero() ||
			time.Since(tl[0].CreatedAt) > time.Hour || tl[0].Detail != "d607" || tl[1].Detail != "d7" {
			t.Fatalf("timeline of 7: %+v %v", tl, err)
		}
		var issues []models.RunIssue
		for i := range 1100 {
			issues = append(issues, models.RunIssue{RunID: run.ID, PrimaryKey: fmt.Sprint(i), Stage: "source", Code: "invalid_email", Field: "email", Message: "bad é"})
		}
		if err := s.AddRunIssues(ctx, issues); err != nil {
			t.Fatal(err)
		}
		if n, err := s.CountRunIssues(ctx, run.ID, models.IssueFilter{Stage: "source"}); err != nil || n != 1100 {
			t.Fatalf("issues: %d %v", n, err)
		}
		page, _, err := s.ListRunIssues(ctx, a.WorkspaceID, run.ID, models.IssueFilter{Limit: 1})
		if err != nil || len(page) != 1 || page[0].Message != "bad é" || page[0].Field != "email" {
			t.Fatalf("issue: %+v %v", page, err)
		}
		// A run that does not exist: its outputs are refused as a conflict.
		if err := s.AddRunChanges(ctx, []models.RunChange{{RunID: "nope", ActivationID: act, PrimaryKey: "1", Kind: "added"}}); !errors.Is(err, models.ErrConflict) {
			t.Fatalf("changes of a missing run: %v", err)
		}
	})
}

// A database migrated before the state was paged keeps its state: Migrate moves the
// rows of sync_state into pages and drops the table.
func TestMigrateMovesPerKeyState(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, a := testutil.Admin(t, s)
		acts := activations(t, s, a, 2)
		db := s.DB()
		collate := "" // the table as migration 00003 made it
		if s.Dialect() == "postgres" {
			collate = ` COLLATE "C"`
		}
		if err := db.Exec(`CREATE TABLE sync_state (activation_id TEXT NOT NULL, primary_key TEXT` + collate + ` NOT NULL, payload_hash BIGINT NOT NULL, PRIMARY KEY (activation_id, primary_key))`).Error; err != nil {
			t.Fatal(err)
		}
		want := map[string][]models.StateEntry{}
		for i := range 2500 {
			e := models.StateEntry{Key: fmt.Sprintf("%05d", i), Hash: uint64(i) << 40}
			act := acts[i%2]
			if i == 7 {
				e.Hash = ^uint64(0) // stored as a negative bigint
			}
			want[act] = append(want[act], e)
			if err := db.Exec(`INSERT INTO sync_state VALUES (?, ?, ?)`, act, e.Key, int64(e.Hash)).Error; err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		for _, act := range acts {
			if got := scanAll(t, s, act); !slices.Equal(got, want[act]) {
				t.Fatalf("activation %s: %d keys after the move, want %d (first %v)", act, len(got), len(want[act]), got[:min(3, len(got))])
			}
		}
		if db.Migrator().HasTable("sync_state") {
			t.Fatal("sync_state is still there")
		}
		if _, err := s.Migrate(ctx); err != nil { // nothing left to move
			t.Fatal(err)
		}
	})
}

// Random commits (inserts in and out of order, updates, removals, keys given twice)
// leave the paged state equal to a map that applied the same commits, with pages that
// do not overlap and stay within their size.
func TestSyncStatePagesMatchAMap(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, a := testutil.Admin(t, s)
		acts := activations(t, s, a, 2)
		act, other := acts[0], acts[1]
		rng := rand.New(rand.NewPCG(3, 5))
		want := map[string]uint64{}
		for round := range 60 {
			var upserts []models.StateEntry
			var removed []string
			n := rng.IntN(3000)
			base := rng.IntN(20000)
			for range n {
				k := fmt.Sprintf("%06d", base+rng.IntN(1+rng.IntN(20000)))
				if rng.IntN(4) == 0 {
					removed = append(removed, k)
				} else {
					upserts = append(upserts, models.StateEntry{Key: k, Hash: rng.Uint64()})
				}
			}
			if round%7 == 0 { // a first sync's pattern: keys after every stored key, in order
				for i := range 1500 {
					upserts = append(upserts, models.StateEntry{Key: fmt.Sprintf("z%06d", round*2000+i), Hash: uint64(i)})
				}
			}
			if err := s.CommitState(ctx, act, models.StateCommit{Upserts: upserts, Removed: removed}); err != nil {
				t.Fatal(err)
			}
			for _, u := range upserts {
				want[u.Key] = u.Hash
			}
			for _, k := range removed {
				delete(want, k)
			}
			got := scanAll(t, s, act)
			if len(got) != len(want) {
				t.Fatalf("round %d: %d keys, want %d", round, len(got), len(want))
			}
			for i, e := range got {
				if h, ok := want[e.Key]; !ok || h != e.Hash || (i > 0 && got[i-1].Key >= e.Key) {
					t.Fatalf("round %d: key %q hash %d (want %d, stored %v), or out of order", round, e.Key, e.Hash, h, ok)
				}
			}
		}
		var pages []struct {
			FirstKey, LastKey string
			Entries           int
		}
		if err := s.DB().Raw(`SELECT first_key, last_key, entries FROM sync_state_pages WHERE activation_id = ? ORDER BY first_key`, act).Scan(&pages).Error; err != nil {
			t.Fatal(err)
		}
		total := 0
		for i, p := range pages {
			total += p.Entries
			if p.Entries < 1 || p.Entries > 2048 || p.FirstKey > p.LastKey || (i > 0 && pages[i-1].LastKey >= p.FirstKey) {
				t.Fatalf("page %d of %d: %+v after %+v", i, len(pages), p, pages[max(i-1, 0)])
			}
		}
		if total != len(want) {
			t.Fatalf("pages count %d entries, the state has %d", total, len(want))
		}

		// One commit touching every page of a 100,000-key state (a hundred pages, more
		// than a commit rewrites at a time): every tenth key changed, every 97th removed.
		var big []models.StateEntry
		for i := range 100_000 {
			big = append(big, models.StateEntry{Key: fmt.Sprintf("%07d", i), Hash: uint64(i)})
		}
		if err := s.CommitState(ctx, other, models.StateCommit{Upserts: big}); err != nil {
			t.Fatal(err)
		}
		var changed []models.StateEntry
		var gone []string
		for i := range 100_000 {
			switch {
			case i%97 == 0:
				gone = append(gone, big[i].Key)
			case i%10 == 0:
				changed = append(changed, models.StateEntry{Key: big[i].Key, Hash: 7})
			}
		}
		if err := s.CommitState(ctx, other, models.StateCommit{Upserts: changed, Removed: gone}); err != nil {
			t.Fatal(err)
		}
		got := scanAll(t, s, other)
		var expect []models.StateEntry
		for i, e := range big {
			switch {
			case i%97 == 0:
				continue
			case i%10 == 0:
				e.Hash = 7
			}
			expect = append(expect, e)
		}
		if !slices.Equal(got, expect) {
			t.Fatalf("after a commit over every page: %d keys, want %d", len(got), len(expect))
		}
	})
}

// Timeline entries without a detail are stored in groups; the record lookup finds a key
// in them, across runs and kinds, newest first, beside its entries with a detail.
func TestRunChangeGroups(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, a := testutil.Admin(t, s)
		acts := activations(t, s, a, 2)
		act := acts[0]
		var runs []*models.Run
		for i := range 3 {
			run, err := s.EnqueueRun(ctx, a.WorkspaceID, act, models.TriggerManual, ptr(time.Now().Add(time.Duration(i)*time.Minute)), false)
			if err != nil {
				t.Fatal(err)
			}
			runs = append(runs, run)
		}
		// Run 0 adds 10,000 keys (three groups), out of order; run 1 changes every
		// tenth key and rejects key 0042; run 2 removes 0042. The other activation
		// adds 0042 too.
		var changes []models.RunChange
		for i := 9999; i >= 0; i-- {
			changes = append(changes, models.RunChange{RunID: runs[0].ID, ActivationID: act, PrimaryKey: fmt.Sprintf("%04d", i), Kind: "added"})
		}
		if err := s.AddRunChanges(ctx, changes); err != nil {
			t.Fatal(err)
		}
		changes = nil
		for i := 0; i < 10000; i += 10 {
			changes = append(changes, models.RunChange{RunID: runs[1].ID, ActivationID: act, PrimaryKey: fmt.Sprintf("%04d", i), Kind: "changed"})
		}
		changes = append(changes, models.RunChange{RunID: runs[1].ID, ActivationID: act, PrimaryKey: "0042", Kind: "rejected", Detail: "no"})
		if err := s.AddRunChanges(ctx, changes); err != nil {
			t.Fatal(err)
		}
		if err := s.AddRunChanges(ctx, []models.RunChange{{RunID: runs[2].ID, ActivationID: act, PrimaryKey: "0042", Kind: "removed"}}); err != nil {
			t.Fatal(err)
		}
		other, err := s.EnqueueRun(ctx, a.WorkspaceID, acts[1], models.TriggerManual, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AddRunChanges(ctx, []models.RunChange{{RunID: other.ID, ActivationID: acts[1], PrimaryKey: "0042", Kind: "added"}}); err != nil {
			t.Fatal(err)
		}
		// All or none: entries of a run the store does not know refuse the whole write.
		err = s.AddRunChanges(ctx, []models.RunChange{{RunID: runs[2].ID, ActivationID: act, PrimaryKey: "0042", Kind: "changed"},
			{RunID: "no-such-run", ActivationID: act, PrimaryKey: "0042", Kind: "withheld", Detail: "x"}})
		if !errors.Is(err, models.ErrConflict) {
			t.Fatalf("a write with a missing run: %v", err)
		}
		var groups int64
		s.DB().Model(&models.RunChangeGroup{}).Where("run_id = ?", runs[0].ID).Count(&groups)
		if groups != 3 {
			t.Fatalf("10,000 keys in %d groups, want 3", groups)
		}
		kinds := func(key string) []string {
			tl, err := s.RecordTimeline(ctx, a.WorkspaceID, act, key)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, c := range tl {
				if c.PrimaryKey != key || c.ActivationID != act || c.CreatedAt.IsZero() {
					t.Fatalf("entry %+v", c)
				}
				out = append(out, c.Kind+" in run "+map[string]string{runs[0].ID: "0", runs[1].ID: "1", runs[2].ID: "2"}[c.RunID])
			}
			return out
		}
		for key, want := range map[string][]string{
			"0042": {"removed in run 2", "rejected in run 1", "added in run 0"},
			"0040": {"changed in run 1", "added in run 0"},
			"4097": {"added in run 0"},
			"9999": {"added in run 0"},
			"0000": {"changed in run 1", "added in run 0"},
			"x":    nil,
			"004":  nil,
		} {
			if got := kinds(key); !slices.Equal(got, want) {
				t.Errorf("timeline of %q: %q, want %q", key, got, want)
			}
		}
	})
}

func ptr[T any](v T) *T { return &v }

// BenchmarkCommitStateFirstSync commits state as a first sync does, on PostgreSQL: for
// each batch of 1,000 new keys (in order, after every stored key), one commit of its
// intents with the acknowledged hashes of the batch before it.
func BenchmarkCommitStateFirstSync(b *testing.B) {
	s := testutil.Store(b, testutil.PostgresURL(b))
	_, a := testutil.Admin(b, s)
	act := activations(b, s, a, 1)[0]
	ctx := context.Background()
	batch := 0
	var prev models.StateCommit // the acknowledgements of the batch before
	for b.Loop() {
		in := models.StateIntent{Batch: fmt.Sprint("b", batch)}
		var acks []models.StateEntry
		for i := range 1000 {
			k := fmt.Sprintf("%09d", batch*1000+i)
			in.Entries = append(in.Entries, models.StateEntry{Key: k})
			acks = append(acks, models.StateEntry{Key: k, Hash: uint64(i)<<32 + 7})
		}
		batch++
		if err := s.CommitState(ctx, act, models.StateCommit{Intents: []models.StateIntent{in}, Upserts: prev.Upserts, Settled: prev.Settled}); err != nil {
			b.Fatal(err)
		}
		prev = models.StateCommit{Upserts: acks, Settled: []string{in.Batch}}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(batch*1000), "µs/key")
}

// Intents are stored per batch until settled; those a crash left are folded into the
// pages, as the pending marks they hold, by the next scan.
func TestSyncStateIntents(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, a := testutil.Admin(t, s)
		act := activations(t, s, a, 1)[0]
		commit := func(c models.StateCommit) {
			t.Helper()
			if err := s.CommitState(ctx, act, c); err != nil {
				t.Fatal(err)
			}
		}
		commit(models.StateCommit{Upserts: []models.StateEntry{{Key: "a", Hash: 10}, {Key: "b", Hash: 20}}})
		// Batch 1 (a changed, c new) is answered and settled; batch 2 (b changed, d new)
		// is sent and never settled: the run crashed.
		commit(models.StateCommit{Intents: []models.StateIntent{
			{Batch: "r1:1", Entries: []models.StateEntry{{Key: "c", Hash: 0}, {Key: "a", Hash: 1}}},
			{Batch: "r1:2", Entries: []models.StateEntry{{Key: "d", Hash: 0}, {Key: "b", Hash: 1}}},
		}})
		commit(models.StateCommit{Upserts: []models.StateEntry{{Key: "a", Hash: 11}, {Key: "c", Hash: 30}}, Settled: []string{"r1:1"}})
		var n int64
		s.DB().Table("sync_state_intents").Where("activation_id = ?", act).Count(&n)
		if n != 1 {
			t.Fatalf("%d intents stored, want batch 2's", n)
		}
		want := []models.StateEntry{{Key: "a", Hash: 11}, {Key: "b", Hash: 1}, {Key: "c", Hash: 30}, {Key: "d", Hash: 0}}
		if got := scanAll(t, s, act); !slices.Equal(got, want) {
			t.Fatalf("after the crash, the scan yields %v, want %v", got, want)
		}
		s.DB().Table("sync_state_intents").Where("activation_id = ?", act).Count(&n)
		if n != 0 {
			t.Fatalf("%d intents left after the scan folded them", n)
		}
		if err := s.ResetState(ctx, act); err != nil {
			t.Fatal(err)
		}
		if got := scanAll(t, s, act); len(got) != 0 {
			t.Fatalf("after reset: %v", got)
		}
	})
}

// A batch's answer stored beside its intents (the process died before the committer
// folded it) counts as answered: the next scan yields what the platform acknowledged
// and removed, not the pending marks. Batches without an answer keep their marks, and
// a batch the platform refused whole keeps the keys' stored state.
func TestSyncStateAnswers(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, a := testutil.Admin(t, s)
		act := activations(t, s, a, 1)[0]
		if err := s.CommitState(ctx, act, models.StateCommit{Upserts: []models.StateEntry{{Key: "a", Hash: 10}, {Key: "b", Hash: 20}, {Key: "e", Hash: 50}, {Key: "g", Hash: 70}}}); err != nil {
			t.Fatal(err)
		}
		// Batch 1: a changed, c new, e removed; answered. Batch 2: d new, h changed, i
		// removed; in flight: pending marks.
		// Batch 3: b changed; answered with a refusal (nothing acknowledged).
		if err := s.CommitState(ctx, act, models.StateCommit{Intents: []models.StateIntent{
			{Batch: "r1:1", Entries: []models.StateEntry{{Key: "a", Hash: 1}, {Key: "c", Hash: 0}, {Key: "e", Hash: 0}}},
			{Batch: "r1:2", Entries: []models.StateEntry{{Key: "d", Hash: 0}, {Key: "h", Hash: 1}, {Key: "i", Hash: 0}},
				Planned: []models.StateEntry{{Key: "d", Hash: 40}, {Key: "h", Hash: 80}}, PlannedRemoved: []string{"i"}},
			{Batch: "r1:3", Entries: []models.StateEntry{{Key: "b", Hash: 1}}},
			// Batch 4: f new, g removed; every record acknowledged, as planned.
			{Batch: "r1:4", Entries: []models.StateEntry{{Key: "f", Hash: 0}, {Key: "g", Hash: 0}},
				Planned: []models.StateEntry{{Key: "f", Hash: 60}}, PlannedRemoved: []string{"g"}},
		}}); err != nil {
			t.Fatal(err)
		}
		if err := s.AnswerState(ctx, act, "r1:1", []models.StateEntry{{Key: "a", Hash: 11}, {Key: "c", Hash: 30}}, []string{"e"}); err != nil {
			t.Fatal(err)
		}
		if err := s.AnswerState(ctx, act, "r1:3", nil, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.AnswerStateAsPlanned(ctx, act, "r1:4"); err != nil {
			t.Fatal(err)
		}
		want := []models.StateEntry{{Key: "a", Hash: 11}, {Key: "b", Hash: 20}, {Key: "c", Hash: 30}, {Key: "d", Hash: 0}, {Key: "f", Hash: 60},
			{Key: "h", Hash: 1}, {Key: "i", Hash: 0}}
		if got := scanAll(t, s, act); !slices.Equal(got, want) {
			t.Fatalf("after the crash, the scan yields %v, want %v", got, want)
		}
		var n int64
		s.DB().Table("sync_state_intents").Where("activation_id = ?", act).Count(&n)
		if n != 0 {
			t.Fatalf("%d batches left after the scan folded them", n)
		}
	})
}
