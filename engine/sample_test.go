package engine

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"sluice/connectors"
)

// Sample gives the records a first run sends, as it sends them, and the rows it withholds,
// without sending anything or touching a state.
func TestSampleIsWhatTheFirstRunSends(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	seedCustomers(w)
	dest := newFakeDest()
	records, withheld, err := Sample(context.Background(), w.job(dest), 10)
	if err != nil {
		t.Fatal(err)
	}
	if dest.calls != 0 {
		t.Fatalf("Sample wrote %d batches to the destination", dest.calls)
	}

	state, rec := newMemState(), &memRecorder{}
	res := fastOptions(nil).Run(context.Background(), w.job(dest), state, rec)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	sent := dest.contents()
	if len(records) != len(sent) || len(records) != 2 {
		t.Fatalf("sample has %d records, the run sent %d (want 2)", len(records), len(sent))
	}
	for i, r := range records {
		if r.Op != connectors.OpUpsert || !reflect.DeepEqual(r.Fields, sent[r.Key]) {
			t.Errorf("sample record %d = %+v, the run sent %v", i, r, sent[r.Key])
		}
	}
	if records[0].Key != "1" || records[1].Key != "11" {
		t.Errorf("sample keys %s, %s: want the run's key order 1, 11", records[0].Key, records[1].Key)
	}
	if !reflect.DeepEqual(withheld, rec.issues) {
		t.Errorf("withheld = %+v\nthe run's issues = %+v", withheld, rec.issues)
	}
}

// Sample stops at n records, takes them in key order, and leaves the state alone even
// when the job asks for a full resync.
func TestSampleStopsAtN(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	for i := 1; i <= 300; i++ {
		email := fmt.Sprintf("user%d@example.com", i)
		if i%50 == 0 {
			email = "broken"
		}
		w.insert(customer{id: i, email: email, name: fmt.Sprint("User ", i), active: 1})
	}
	dest := newFakeDest()
	job := w.job(dest)
	job.Settings.FullResync = true
	records, withheld, err := Sample(context.Background(), job, 3)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range records {
		keys = append(keys, r.Key)
	}
	if want := []string{"1", "10", "101"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	if len(withheld) != 3 || withheld[0].Code != CodeInvalidEmail || withheld[0].PrimaryKey != "100" || withheld[2].PrimaryKey != "200" {
		t.Fatalf("withheld %+v", withheld)
	}
	if dest.calls != 0 {
		t.Fatalf("Sample wrote to the destination")
	}
	if _, _, err := Sample(context.Background(), Job{}, 3); err == nil {
		t.Fatal("a job with nothing open samples without error")
	}
}
