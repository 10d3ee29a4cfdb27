package jobs_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"sluice/models"
)

// warningsOf answers a run's sync warnings by kind.
func (w *world) warningsOf(r *models.Run) map[string]models.RunWarning {
	w.t.Helper()
	stored, err := w.store.RunByID(w.ctx, w.admin.WorkspaceID, r.ID) // with its warning count
	if err != nil {
		w.t.Fatal(err)
	}
	ws, err := w.store.RunWarnings(w.ctx, stored)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string]models.RunWarning{}
	for _, x := range ws {
		out[x.Kind] = x
	}
	return out
}

// wantWarnings fails unless the run has exactly these sync warning kinds, and a status
// that is a success.
func (w *world) wantWarnings(step string, r *models.Run, kinds ...string) map[string]models.RunWarning {
	w.t.Helper()
	if r.Status != models.RunSucceeded && r.Status != models.RunWarnings {
		w.t.Fatalf("%s: status %s (%s)", step, r.Status, r.ErrorMessage)
	}
	got := w.warningsOf(r)
	var have []string
	for k := range got {
		have = append(have, k)
	}
	slices.Sort(have)
	slices.Sort(kinds)
	if !slices.Equal(have, kinds) {
		w.t.Errorf("%s: warnings %v, want %v: %+v", step, have, kinds, got)
	}
	return got
}

// Each sync warning appears when its condition holds and not otherwise, stored with the
// run, and none fails the run: on PostgreSQL with a real warehouse and webhook.
func TestSyncWarningsOnPostgres(t *testing.T) {
	w := newWorld(t)
	m, err := w.store.ModelByID(w.ctx, w.admin.WorkspaceID, mustModelID(t, w))
	if err != nil {
		t.Fatal(err)
	}

	// 1. An invalid e-mail, an invalid phone and two rows sharing key 43 (2 of 44: 4.5%):
	// source issues and duplicate keys, both under their limits. No earlier run: no drop,
	// no slowness.
	r, _ := w.run()
	got := w.wantWarnings("first run", r, models.WarnSourceIssues, models.WarnDuplicateKeys)
	if msg := got[models.WarnSourceIssues].Message; !strings.Contains(msg, "2 rows had source issues") {
		t.Errorf("source issues warning %q", msg)
	}
	if d := got[models.WarnDuplicateKeys]; !strings.Contains(d.Message, "2 rows of model Customers shared their primary key id") || d.ObjectID != m.ID {
		t.Errorf("duplicate keys warning %+v", d)
	}

	// 2. Clean data: no warning at all (42 rows after 44 is no drop).
	w.exec(`DELETE FROM customers WHERE id = 43`)
	w.exec(`UPDATE customers SET email = 'c2@example.com' WHERE id = 2`)
	w.exec(`UPDATE customers SET phone = '06 12 34 56 03' WHERE id = 3`)
	r, _ = w.run()
	w.wantWarnings("clean run", r)
	if r.Status != models.RunSucceeded {
		t.Errorf("clean run status %s", r.Status)
	}

	// 3. Half the audience gone and more: 42 → 20.
	w.exec(`DELETE FROM customers WHERE id > 20`)
	r, _ = w.run()
	got = w.wantWarnings("audience drop", r, models.WarnAudienceDrop)
	if d := got[models.WarnAudienceDrop]; !strings.Contains(d.Message, "dropped from 42 rows to 20 rows") || d.ObjectID != w.act.SegmentID {
		t.Errorf("audience drop warning %+v", d)
	}
	if r.Status != models.RunSucceeded {
		t.Errorf("a warning changed the status to %s", r.Status)
	}

	// 4. Three quick runs before it, then a destination that takes 2s to answer: much
	// slower than usual. The audience grew: no drop.
	for i := 21; i <= 25; i++ {
		w.exec(`INSERT INTO customers VALUES ($1, $2, '06 12 34 56 00', 'New')`, i, "n"+string(rune('a'+i-21))+"@example.com")
	}
	w.rc.set(func(rc *receiver) { rc.delay = 2 * time.Second })
	r, _ = w.run()
	w.rc.set(func(rc *receiver) { rc.delay = 0 })
	got = w.wantWarnings("slow run", r, models.WarnSlowRun)
	if s := got[models.WarnSlowRun]; !strings.Contains(s.Message, "more than 3 times the usual") || s.ObjectID != r.ID {
		t.Errorf("slow run warning %+v", s)
	}

	// 5. A column whose type changed, found by validation, that did not stop the run.
	if _, err := w.store.RecordIssues(w.ctx, w.admin.WorkspaceID, models.IssueObjectModel, m.ID,
		[]models.IssueInput{{Column: "name", Kind: models.IssueWrongType, Message: "Column name of model Customers changed type."}}, nil); err != nil {
		t.Fatal(err)
	}
	w.exec(`UPDATE customers SET name = 'Renamed' WHERE id = 1`)
	r, _ = w.run()
	got = w.wantWarnings("retyped column", r, models.WarnColumnType)
	if c := got[models.WarnColumnType]; !strings.Contains(c.Message, "Column name of model Customers changed type") {
		t.Errorf("column type warning %+v", c)
	}
	if _, err := w.store.RecordIssues(w.ctx, w.admin.WorkspaceID, models.IssueObjectModel, m.ID, nil, nil); err != nil {
		t.Fatal(err)
	}
	r, _ = w.run()
	w.wantWarnings("type issue resolved", r)
}

// mustModelID is the model of the world's activation.
func mustModelID(t *testing.T, w *world) string {
	t.Helper()
	seg, err := w.store.SegmentByID(w.ctx, w.admin.WorkspaceID, w.act.SegmentID)
	if err != nil {
		t.Fatal(err)
	}
	return seg.ModelID
}
