package engine

import (
	"context"
	"fmt"
	"maps"
	"testing"

	"sluice/connectors"
)

// The activation's action settings reach every Write. A batch refused for one of them
// (Field names the setting) stops the run as the activation's error, without splitting
// the batch record by record; a refusal naming a record's field is still split.
func TestActionSettingsReachWriteAndTheirRefusalIsTheActivations(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	for i := 1; i <= 8; i++ {
		w.insert(customer{id: i, email: fmt.Sprintf("c%d@example.com", i), name: fmt.Sprintf("C%d", i), active: 1})
	}
	job := func(dest connectors.Destination) Job {
		j := w.job(dest)
		j.Action.Settings = []connectors.FieldSpec{{Name: "list_id", Label: "List", Required: true}}
		j.Action.BatchSize = 8
		j.Settings.Action = map[string]string{"list_id": "l-1"}
		return j
	}

	dest := newFakeDest()
	var seen []map[string]string
	dest.script = func(_ int, b connectors.Batch) ([]connectors.Rejection, error) {
		seen = append(seen, maps.Clone(b.Settings))
		return nil, nil
	}
	res := fastOptions(nil).Run(context.Background(), job(dest), newMemState(), &memRecorder{})
	if res.Err != nil || res.Counts.Sent != 8 || len(seen) == 0 {
		t.Fatalf("run: err %v, counts %+v, %d writes", res.Err, res.Counts, len(seen))
	}
	for _, s := range seen {
		if s["list_id"] != "l-1" || len(s) != 1 {
			t.Fatalf("a batch carried settings %v, want list_id l-1", s)
		}
	}

	for _, tc := range []struct {
		field     string
		wantSide  string
		wantCalls int
	}{
		{"list_id", SideActivation, 1},
		{"first_name", "", 15}, // 8 → 4+4 → … → 8 single records: 1+2+4+8 writes
	} {
		dest := newFakeDest()
		dest.script = func(int, connectors.Batch) ([]connectors.Rejection, error) {
			e := httpError(400, connectors.CategoryConfiguration, false, 0, `{"error":"invalid"}`)
			e.Field = tc.field
			return nil, e
		}
		rec := &memRecorder{}
		res := fastOptions(nil).Run(context.Background(), job(dest), newMemState(), rec)
		checkBalanced(t, res)
		if dest.calls != tc.wantCalls {
			t.Errorf("%s: %d writes, want %d", tc.field, dest.calls, tc.wantCalls)
		}
		switch tc.wantSide {
		case SideActivation:
			if res.Err == nil || res.Side != SideActivation || res.Err.Field != "list_id" || res.Counts.Unsent != 8 {
				t.Errorf("%s: err %v side %q counts %+v, want the activation's error with every record unsent", tc.field, res.Err, res.Side, res.Counts)
			}
		default:
			if res.Err != nil || res.Counts.Rejected != 8 {
				t.Errorf("%s: err %v counts %+v, want every record rejected alone", tc.field, res.Err, res.Counts)
			}
		}
	}
}
