package jobs_test

import (
	"strings"
	"testing"

	"sluice/models"
)

// Duplicate keys found by a run flag the model, with an open issue; the flag clears when
// a later run finds none.
func TestRunDuplicateKeysFlagTheModel(t *testing.T) {
	w := newWorld(t) // customer 43 is there twice
	model := func() (*models.DataModel, []models.ValidationIssue) {
		t.Helper()
		seg, err := w.store.SegmentByID(w.ctx, w.admin.WorkspaceID, w.act.SegmentID)
		if err != nil {
			t.Fatal(err)
		}
		m, err := w.store.ModelByID(w.ctx, w.admin.WorkspaceID, seg.ModelID)
		if err != nil {
			t.Fatal(err)
		}
		open, err := w.store.OpenIssues(w.ctx, w.admin.WorkspaceID, models.IssueFilterOf(m.ID, models.IssueDuplicateKeys))
		if err != nil {
			t.Fatal(err)
		}
		return m, open
	}
	r, _ := w.run()
	m, open := model()
	d := m.Duplicates()
	if m.Status != models.ModelWarning || d == nil || d.RunID != r.ID || d.DuplicateRows != 2 {
		t.Fatalf("after a run with duplicates: status %s, report %+v; want a warning from run %s with 2 rows", m.Status, d, r.ID)
	}
	if len(open) != 1 || !strings.Contains(open[0].Message, "2 of 44 rows") || open[0].Column != "id" {
		t.Fatalf("open duplicate issues %+v, want one naming 2 of 44 rows on id", open)
	}

	w.exec(`DELETE FROM customers WHERE id = 43 AND name = 'Second copy'`)
	w.run()
	m, open = model()
	if m.Status != models.ModelValid || len(open) != 0 {
		t.Fatalf("after a run without duplicates: status %s, open issues %+v; want valid and none", m.Status, open)
	}
	if d := m.Duplicates(); d == nil || d.DuplicateRows != 0 {
		t.Errorf("report %+v, want none left", d)
	}
}
