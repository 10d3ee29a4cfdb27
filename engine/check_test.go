package engine

import (
	"context"
	"fmt"
	"testing"
)

// CountSourceIssues counts what a full run would: every row queried and every row
// withheld, over the whole segment, without sending anything.
func TestCountSourceIssuesMatchesARun(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	for i := 1; i <= 12_000; i++ { // past sampleScan: the whole segment is read
		email := fmt.Sprintf("user%d@example.com", i)
		if i%100 == 0 {
			email = "broken"
		}
		w.insert(customer{id: i, email: email, name: fmt.Sprint("User ", i), active: 1})
	}
	dest := newFakeDest()
	queried, issues, err := CountSourceIssues(context.Background(), w.job(dest))
	if err != nil {
		t.Fatal(err)
	}
	if dest.calls != 0 {
		t.Fatalf("CountSourceIssues wrote %d batches", dest.calls)
	}
	res := fastOptions(nil).Run(context.Background(), w.job(dest), newMemState(), &memRecorder{})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if queried != res.Counts.Queried || issues != res.Counts.SourceIssues || issues != 120 {
		t.Errorf("counted %d queried, %d issues; the run had %d, %d (want 120 issues)", queried, issues, res.Counts.Queried, res.Counts.SourceIssues)
	}
}
