package engine

import (
	"context"
	"testing"

	"sluice/connectors"
)

// An empty e-mail or phone mapped as one, where the destination takes whatever fields
// the mapping names (a webhook), is withheld as a source issue like an invalid one,
// never sent as null; the counts still balance.
func TestRunWithholdsEmptyEmailsAndPhones(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	w.insert(
		customer{id: 1, email: "ada@example.com", phone: "06 12 34 56 78", name: "Ada", active: 1},
		customer{id: 2, email: "  ", phone: "06 12 34 56 79", name: "Bob", active: 1},
		customer{id: 3, email: nil, phone: "06 12 34 56 80", name: "Carl", active: 1},
		customer{id: 4, email: "dan@example.com", phone: "", name: "Dan", active: 1},
		customer{id: 5, email: "eve@example.com", phone: nil, name: "Eve", active: 1},
	)
	dest, state, rec := newFakeDest(), newMemState(), &memRecorder{}
	job := w.job(dest)
	job.Action = connectors.Action{Name: "sync_records", Custom: true, BatchSize: 10}
	job.Mappings = []Mapping{
		{From: "email", To: "email", Kind: connectors.KindEmail},
		{From: "phone", To: "mobile", Kind: connectors.KindPhone},
		{From: "name", To: "name", Kind: connectors.KindString},
	}
	res := fastOptions(nil).Run(context.Background(), job, state, rec)
	checkBalanced(t, res)
	checkRecorded(t, rec, res)
	if res.Err != nil {
		t.Fatalf("run failed: %v", res.Err)
	}
	if want := (Counts{Queried: 5, Added: 1, Sent: 1, SourceIssues: 4}); res.Counts != want {
		t.Fatalf("counts = %+v, want %+v", res.Counts, want)
	}
	got := rec.issuesByKey()
	for key, code := range map[string]string{"2": CodeInvalidEmail, "3": CodeInvalidEmail, "4": CodeInvalidPhone, "5": CodeInvalidPhone} {
		if len(got[key]) != 1 || got[key][0] != code {
			t.Errorf("row %s: issues %v, want %s", key, got[key], code)
		}
	}
	sent := dest.contents()
	if len(sent) != 1 || sent["1"]["email"] != "ada@example.com" {
		t.Errorf("sent %v", sent)
	}
	for _, fields := range sent {
		for name, v := range fields {
			if v == nil {
				t.Errorf("field %s sent as null", name)
			}
		}
	}
}
