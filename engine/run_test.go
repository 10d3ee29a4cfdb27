package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"sluice/connectors"
)

// seedCustomers is a segment with one row of each kind of problem.
func seedCustomers(w *warehouse) {
	w.insert(
		customer{id: 1, email: " Ada@Example.COM ", phone: "06 12 34 56 78", name: "Ada", age: "36", vip: 1, signed: "2024-05-01 10:00:00", active: 1},
		customer{id: 2, email: "not-an-email", name: "Bob", active: 1},
		customer{id: 3, email: "carl@example.com", phone: "12345", name: "Carl", active: 1},
		customer{id: 4, email: "  ", name: "Dan", active: 1},
		customer{id: 5, email: "eve@example.com", name: "Eve", active: 1},
		customer{id: 5, email: "eve2@example.com", name: "Eve2", active: 1},
		customer{id: 6, email: "fay@example.com", name: "Fay", age: "abc", active: 1},
		customer{id: 7, email: "gus@example.com", active: 1},
		customer{id: 8, email: "hal@example.com", name: "Hal", active: 0},
		customer{id: 10, email: "ivy@example", name: "Ivy", active: 1},
		customer{id: 11, email: "jo@example.com", phone: "+1 650-253-0000", name: "Jo", age: "41.5", vip: 0, active: 1},
		customer{id: nil, email: "nokey@example.com", name: "Nokey", active: 1},
	)
}

func TestRunWithholdsInvalidRowsAndNormalizes(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	seedCustomers(w)
	dest, state, rec := newFakeDest(), newMemState(), &memRecorder{}
	res := fastOptions(nil).Run(context.Background(), w.job(dest), state, rec)
	checkBalanced(t, res)
	checkRecorded(t, rec, res)
	if res.Err != nil {
		t.Fatalf("run failed: %v\n%s", res.Err, rec.logText())
	}
	want := Counts{Queried: 11, Added: 2, Sent: 2, SourceIssues: 9}
	if res.Counts != want {
		t.Fatalf("counts = %+v, want %+v", res.Counts, want)
	}
	if res.DuplicateKeys != 2 {
		t.Errorf("DuplicateKeys = %d, want 2", res.DuplicateKeys)
	}

	wantIssues := map[string][]string{
		"2":  {CodeInvalidEmail},
		"3":  {CodeInvalidPhone},
		"4":  {CodeMissingRequired},
		"5":  {CodeDuplicateKey, CodeDuplicateKey},
		"6":  {CodeWrongType},
		"7":  {CodeMissingRequired},
		"10": {CodeInvalidEmail},
		"":   {CodeMissingKey},
	}
	if got := rec.issuesByKey(); !reflect.DeepEqual(got, wantIssues) {
		t.Fatalf("issues = %v, want %v", got, wantIssues)
	}
	for _, is := range rec.issues {
		if is.Stage != IssueStageSource {
			t.Errorf("issue %+v: stage %q, want source", is, is.Stage)
		}
		switch is.PrimaryKey {
		case "2":
			wantMsg(t, is, "email", `"not-an-email"`)
		case "3":
			wantMsg(t, is, "phone", `"12345"`)
		case "4":
			wantMsg(t, is, "email", "identify")
		case "5":
			wantMsg(t, is, "id", "2 rows share the primary key")
		case "6":
			wantMsg(t, is, "age", `"abc"`)
		case "7":
			wantMsg(t, is, "first_name", "required field first_name")
		case "10":
			wantMsg(t, is, "email", "domain")
		}
	}

	got := dest.contents()
	wantStore := map[string]map[string]any{
		"1": {"email": "ada@example.com", "phone": "+33612345678", "first_name": "Ada", "age": int64(36),
			"vip": true, "signed_up_at": "2024-05-01T10:00:00Z"},
		"11": {"email": "jo@example.com", "phone": "+16502530000", "first_name": "Jo", "age": 41.5,
			"vip": false, "signed_up_at": nil},
	}
	if !reflect.DeepEqual(got, wantStore) {
		t.Fatalf("destination holds\n%v\nwant\n%v", got, wantStore)
	}
	// Withheld keys are not in the state: nothing was acknowledged for them.
	if st := state.snapshot(); len(st) != 2 || st["1"] == 0 || st["11"] == 0 {
		t.Fatalf("state = %v, want keys 1 and 11", st)
	}
	var withheld, added int
	for _, c := range rec.changes {
		switch c.Kind {
		case ChangeWithheld:
			withheld++
		case ChangeAdded:
			added++
		}
	}
	if withheld != 8 || added != 2 { // one withheld change per key: 5 counts once
		t.Errorf("changes: %d withheld, %d added; want 8 and 2: %+v", withheld, added, rec.changes)
	}
	logs := rec.logText()
	for _, s := range []string{"Extracted 11 rows in", "2 added, 0 changed, 0 unchanged, 0 to remove; 9 rows withheld", "2 rows share 1 primary key"} {
		if !strings.Contains(logs, s) {
			t.Errorf("log lacks %q:\n%s", s, logs)
		}
	}
}

func wantMsg(t *testing.T, is Issue, field, part string) {
	t.Helper()
	if is.Field != field || !strings.Contains(is.Message, part) {
		t.Errorf("issue of key %s: field %q message %q; want field %q and a message with %q", is.PrimaryKey, is.Field, is.Message, field, part)
	}
}

func TestRunUnchangedRerunSendsNothing(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	seedCustomers(w)
	dest, state := newFakeDest(), newMemState()
	first := fastOptions(nil).Run(context.Background(), w.job(dest), state, &memRecorder{})
	if first.Err != nil || first.Counts.Sent != 2 {
		t.Fatalf("first run: %+v %v", first.Counts, first.Err)
	}
	calls := dest.calls
	rec := &memRecorder{}
	res := fastOptions(nil).Run(context.Background(), w.job(dest), state, rec)
	checkBalanced(t, res)
	want := Counts{Queried: 11, Unchanged: 2, SourceIssues: 9}
	if res.Err != nil || res.Counts != want {
		t.Fatalf("rerun: %+v %v, want %+v", res.Counts, res.Err, want)
	}
	if dest.calls != calls {
		t.Fatalf("rerun wrote %d batches, want none", dest.calls-calls)
	}
}

func TestRunSendsUpdatesAndRemovals(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	seedCustomers(w)
	dest, state := newFakeDest(), newMemState()
	if res := fastOptions(nil).Run(context.Background(), w.job(dest), state, &memRecorder{}); res.Err != nil {
		t.Fatal(res.Err)
	}
	w.exec(`UPDATE customers SET name = 'Ada Lovelace' WHERE id = 1`)
	w.exec(`UPDATE customers SET active = 0 WHERE id = 11`)                 // leaves the segment
	w.exec(`UPDATE customers SET name = 'Carl', phone = NULL WHERE id = 3`) // becomes valid
	rec := &memRecorder{}
	res := fastOptions(nil).Run(context.Background(), w.job(dest), state, rec)
	checkBalanced(t, res)
	checkRecorded(t, rec, res)
	want := Counts{Queried: 10, Added: 1, Changed: 1, Removed: 1, Sent: 3, SourceIssues: 8}
	if res.Err != nil || res.Counts != want {
		t.Fatalf("counts %+v err %v, want %+v", res.Counts, res.Err, want)
	}
	got := dest.contents()
	if _, ok := got["11"]; ok {
		t.Errorf("11 left the segment but is still at the destination")
	}
	if got["1"]["first_name"] != "Ada Lovelace" {
		t.Errorf("1 = %v, want the new name", got["1"])
	}
	if got["3"]["email"] != "carl@example.com" {
		t.Errorf("3 = %v, want it added", got["3"])
	}
	kinds := map[string]string{}
	for _, c := range rec.changes {
		if c.Kind != ChangeWithheld {
			kinds[c.PrimaryKey] = c.Kind
		}
	}
	if !reflect.DeepEqual(kinds, map[string]string{"1": ChangeChanged, "3": ChangeAdded, "11": ChangeRemoved}) {
		t.Errorf("changes = %v", kinds)
	}
	if _, ok := state.snapshot()["11"]; ok {
		t.Errorf("the removal of 11 was acknowledged but 11 is still in the state")
	}
}

func TestRunLeavesRemovalsAloneWhenNotSent(t *testing.T) {
	for _, tc := range []struct {
		name string
		job  func(*Job)
	}{
		{"activation does not send removals", func(j *Job) { j.Settings.SendRemovals = false }},
		{"action cannot remove", func(j *Job) { j.Action.Removals = false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWarehouse(t, customersDDL)
			seedCustomers(w)
			dest, state := newFakeDest(), newMemState()
			job := w.job(dest)
			tc.job(&job)
			if res := fastOptions(nil).Run(context.Background(), job, state, &memRecorder{}); res.Err != nil {
				t.Fatal(res.Err)
			}
			w.exec(`UPDATE customers SET active = 0 WHERE id = 11`)
			rec := &memRecorder{}
			res := fastOptions(nil).Run(context.Background(), job, state, rec)
			checkBalanced(t, res)
			want := Counts{Queried: 10, Unchanged: 1, SourceIssues: 9}
			if res.Err != nil || res.Counts != want {
				t.Fatalf("counts %+v err %v, want %+v", res.Counts, res.Err, want)
			}
			if _, ok := dest.contents()["11"]; !ok {
				t.Errorf("11 was removed from the destination")
			}
			if !strings.Contains(rec.logText(), "1 record left the segment and stayed at the destination") {
				t.Errorf("log does not say a removal was left alone:\n%s", rec.logText())
			}
		})
	}
}

func TestRunRecordsRejectionsAndResendsThemNextRun(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	seedCustomers(w)
	dest, state := newFakeDest(), newMemState()
	dest.script = func(call int, b connectors.Batch) ([]connectors.Rejection, error) {
		for _, r := range b.Records {
			if r.Key == "11" {
				return []connectors.Rejection{{Key: "11", Message: "Contact is on the suppression list"}}, nil
			}
		}
		return nil, nil
	}
	rec := &memRecorder{}
	res := fastOptions(nil).Run(context.Background(), w.job(dest), state, rec)
	checkBalanced(t, res)
	checkRecorded(t, rec, res)
	if res.Err != nil || res.Counts.Rejected != 1 || res.Counts.Sent != 1 {
		t.Fatalf("counts %+v err %v", res.Counts, res.Err)
	}
	var found bool
	for _, is := range rec.issues {
		if is.Stage == IssueStageDestination {
			found = true
			if is.PrimaryKey != "11" || is.Code != CodeRejected || is.Message != "Contact is on the suppression list" {
				t.Errorf("rejection recorded as %+v", is)
			}
		}
	}
	if !found {
		t.Fatal("no destination issue recorded")
	}
	if _, ok := state.snapshot()["11"]; ok {
		t.Fatal("a rejected record was committed")
	}

	dest.script = nil
	res = fastOptions(nil).Run(context.Background(), w.job(dest), state, &memRecorder{})
	checkBalanced(t, res)
	if res.Err != nil || res.Counts.Added != 1 || res.Counts.Sent != 1 || res.Counts.Unchanged != 1 {
		t.Fatalf("next run: counts %+v err %v; want the rejected record sent again", res.Counts, res.Err)
	}
	if _, ok := dest.contents()["11"]; !ok {
		t.Fatal("11 never arrived")
	}
}

func TestRunRetriesRateLimitsAndServerErrors(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	seedCustomers(w)
	dest, state, rec := newFakeDest(), newMemState(), &memRecorder{}
	dest.script = func(call int, b connectors.Batch) ([]connectors.Rejection, error) {
		switch call {
		case 1:
			return nil, httpError(429, connectors.CategoryRateLimit, true, 7*time.Second, `{"message":"slow down"}`)
		case 2:
			return nil, httpError(503, connectors.CategoryConnection, true, 0, "Service Unavailable")
		case 3:
			return nil, &connectors.Error{Category: connectors.CategoryTimeout, Message: "timed out", Retryable: true}
		}
		return nil, nil
	}
	var s sleeps
	opts := fastOptions(&s)
	res := opts.Run(context.Background(), w.job(dest), state, rec)
	checkBalanced(t, res)
	if res.Err != nil || res.Counts.Sent != 2 {
		t.Fatalf("counts %+v err %v\n%s", res.Counts, res.Err, rec.logText())
	}
	if dest.calls != 4 {
		t.Errorf("%d writes, want 4 (3 failures then success)", dest.calls)
	}
	if len(s.d) != 3 || s.d[0] != 7*time.Second {
		t.Fatalf("waits = %v; want 3, the first the 7 s Retry-After asked", s.d)
	}
	if s.d[1] < 0 || s.d[1] >= 200*time.Millisecond || s.d[2] < 0 || s.d[2] >= 400*time.Millisecond {
		t.Errorf("backoff waits %v exceed the jitter ceilings 200 ms and 400 ms", s.d[1:])
	}
	logs := rec.logText()
	for _, line := range []string{"Batch 1 answered 429; retrying in 7 s (attempt 2 of 5).", "Batch 1 answered 503; retrying in", "Batch 1 timed out; retrying in"} {
		if !strings.Contains(logs, line) {
			t.Errorf("log lacks %q:\n%s", line, logs)
		}
	}
	// The three failing exchanges and the first successful one are kept (timeouts have none).
	var statuses []int
	for _, ex := range rec.samples {
		statuses = append(statuses, ex.StatusCode)
	}
	if !reflect.DeepEqual(statuses, []int{429, 503, 200}) {
		t.Errorf("sampled statuses %v, want [429 503 200]", statuses)
	}
}

func TestRunGivesUpAfterRetries(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  *connectors.Error
		want connectors.Category
	}{
		{"429", httpError(429, connectors.CategoryRateLimit, true, time.Second, "too many"), connectors.CategoryRateLimit},
		{"5xx", httpError(502, connectors.CategoryConnection, true, 0, "bad gateway"), connectors.CategoryConnection},
		{"timeout", &connectors.Error{Category: connectors.CategoryTimeout, Message: "no answer", Retryable: true}, connectors.CategoryTimeout},
		{"plain error", nil, connectors.CategoryConnection},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWarehouse(t, customersDDL)
			seedCustomers(w)
			dest, state, rec := newFakeDest(), newMemState(), &memRecorder{}
			dest.script = func(int, connectors.Batch) ([]connectors.Rejection, error) {
				if tc.err == nil {
					return nil, errBoom
				}
				return nil, tc.err
			}
			res := fastOptions(nil).Run(context.Background(), w.job(dest), state, rec)
			checkBalanced(t, res)
			if res.Err == nil || res.Err.Category != tc.want {
				t.Fatalf("err = %v, want category %s", res.Err, tc.want)
			}
			if dest.calls != DefaultMaxAttempts {
				t.Errorf("%d attempts, want %d", dest.calls, DefaultMaxAttempts)
			}
			if res.Counts.Unsent != 2 || res.Counts.Sent != 0 {
				t.Errorf("counts %+v, want the 2 planned records unsent", res.Counts)
			}
			for k, h := range state.snapshot() {
				if h != PendingAdded {
					t.Errorf("state holds %s with hash %d without an acknowledgement; want it pending", k, h)
				}
			}
			if !strings.Contains(rec.logText(), "giving up after 5 attempts") {
				t.Errorf("log:\n%s", rec.logText())
			}
		})
	}
}

func TestRunRetryAfterLongerThanMaxDelayStops(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	seedCustomers(w)
	dest := newFakeDest()
	dest.script = func(int, connectors.Batch) ([]connectors.Rejection, error) {
		return nil, httpError(429, connectors.CategoryRateLimit, true, time.Hour, "quota")
	}
	res := fastOptions(nil).Run(context.Background(), w.job(dest), newMemState(), &memRecorder{})
	checkBalanced(t, res)
	if res.Err == nil || res.Err.Category != connectors.CategoryRateLimit || dest.calls != 1 || res.Counts.Unsent != 2 {
		t.Fatalf("err %v after %d calls, counts %+v", res.Err, dest.calls, res.Counts)
	}
}

// fiveValid are five valid customers, ids 1..5.
func fiveValid(w *warehouse) {
	for i := 1; i <= 5; i++ {
		w.insert(customer{id: i, email: fmt.Sprintf("c%d@example.com", i), name: fmt.Sprintf("C%d", i), active: 1})
	}
}

func TestRunFailsOnBadCredentialsAndCountsUnsent(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	fiveValid(w)
	dest, state, rec := newFakeDest(), newMemState(), &memRecorder{}
	dest.script = func(call int, b connectors.Batch) ([]connectors.Rejection, error) {
		if call == 2 {
			return nil, httpError(401, connectors.CategoryCredentials, false, 0, `{"category":"EXPIRED_AUTHENTICATION"}`)
		}
		return nil, nil
	}
	job := w.job(dest)
	job.Action.BatchSize = 2
	res := fastOptions(nil).Run(context.Background(), job, state, rec)
	checkBalanced(t, res)
	if res.Err == nil || res.Err.Category != connectors.CategoryCredentials {
		t.Fatalf("err = %v, want credentials", res.Err)
	}
	if dest.calls != 2 {
		t.Errorf("%d writes; a 401 must not be retried", dest.calls)
	}
	// Batch 3 was planned while batch 2 was on its way: it is not sent either.
	if res.Counts.Sent != 2 || res.Counts.Unsent != 3 {
		t.Fatalf("counts %+v: want 2 sent (batch 1) and 3 unsent (batches 2 and 3)", res.Counts)
	}
	if got := slices.Sorted(maps.Keys(state.snapshot())); !reflect.DeepEqual(got, []string{"1", "2"}) {
		t.Fatalf("state %v, want only batch 1", got)
	}
	var unsentChanges int
	for _, c := range rec.changes {
		if strings.HasPrefix(c.Detail, "Not sent") {
			unsentChanges++
			if c.Kind != ChangeAdded {
				t.Errorf("unsent change kind %q, want the planned kind", c.Kind)
			}
		}
	}
	if unsentChanges != 3 {
		t.Errorf("%d unsent changes recorded, want 3", unsentChanges)
	}
	if len(rec.samples) == 0 || rec.samples[len(rec.samples)-1].StatusCode != 401 {
		t.Errorf("the failing exchange was not sampled: %v", rec.samples)
	}

	dest.script = nil
	res = fastOptions(nil).Run(context.Background(), job, state, &memRecorder{})
	checkBalanced(t, res)
	if res.Err != nil || res.Counts.Added != 3 || res.Counts.Unchanged != 2 || len(dest.contents()) != 5 {
		t.Fatalf("after re-authorizing: counts %+v err %v, %d at the destination", res.Counts, res.Err, len(dest.contents()))
	}
}

func TestRunFailsOnNotFound(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	fiveValid(w)
	dest := newFakeDest()
	dest.script = func(int, connectors.Batch) ([]connectors.Rejection, error) {
		return nil, httpError(404, connectors.CategoryNotFound, false, 0, "list 42 not found")
	}
	res := fastOptions(nil).Run(context.Background(), w.job(dest), newMemState(), &memRecorder{})
	checkBalanced(t, res)
	if res.Err == nil || res.Err.Category != connectors.CategoryNotFound || dest.calls != 1 {
		t.Fatalf("err %v after %d calls", res.Err, dest.calls)
	}
	// The first batch (3 records) is refused and the run stops; the second, planned while
	// the first was on its way, is not sent.
	if want := (Counts{Queried: 5, Added: 5, Unsent: 5}); res.Counts != want {
		t.Fatalf("counts %+v, want %+v", res.Counts, want)
	}
}

func TestRunSplitsABatchRefusedWhole(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	for i := 1; i <= 8; i++ {
		name := fmt.Sprintf("C%d", i)
		if i == 6 {
			name = "BAD"
		}
		w.insert(customer{id: i, email: fmt.Sprintf("c%d@example.com", i), name: name, active: 1})
	}
	dest, state, rec := newFakeDest(), newMemState(), &memRecorder{}
	dest.script = func(call int, b connectors.Batch) ([]connectors.Rejection, error) {
		for _, r := range b.Records {
			if r.Fields["first_name"] == "BAD" {
				return nil, httpError(400, connectors.CategoryConfiguration, false, 0, "Property first_name has an invalid value")
			}
		}
		return nil, nil
	}
	job := w.job(dest)
	job.Action.BatchSize = 8
	res := fastOptions(nil).Run(context.Background(), job, state, rec)
	checkBalanced(t, res)
	checkRecorded(t, rec, res)
	if res.Err != nil || res.Counts.Sent != 7 || res.Counts.Rejected != 1 {
		t.Fatalf("counts %+v err %v", res.Counts, res.Err)
	}
	var rej []Issue
	for _, is := range rec.issues {
		if is.Stage == IssueStageDestination {
			rej = append(rej, is)
		}
	}
	if len(rej) != 1 || rej[0].PrimaryKey != "6" || rej[0].Message != "Property first_name has an invalid value" {
		t.Fatalf("rejections %+v", rej)
	}
	if len(dest.contents()) != 7 || len(state.snapshot()) != 7 {
		t.Fatalf("destination %d, state %d; want 7 each", len(dest.contents()), len(state.snapshot()))
	}
	// 8 → 4+4 → (2+2) → (1+1): 1 + 2 + 2 + 2 writes.
	if dest.calls != 7 {
		t.Errorf("%d writes, want 7", dest.calls)
	}
	if !strings.Contains(rec.logText(), "Batch 1 (8 records) answered 400 and was refused whole; splitting it in two (4 and 4 records)") {
		t.Errorf("log:\n%s", rec.logText())
	}
}

func TestRunRespectsMaxBatchBytes(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	for i := 1; i <= 20; i++ {
		w.insert(customer{id: i, email: fmt.Sprintf("c%d@example.com", i), name: strings.Repeat("n", 100), active: 1})
	}
	dest := newFakeDest()
	job := w.job(dest)
	job.Action.BatchSize = 100
	one := recordSize(connectors.Record{Key: "10", Op: connectors.OpUpsert, Fields: map[string]any{
		"email": "c10@example.com", "phone": nil, "first_name": strings.Repeat("n", 100), "age": nil, "vip": nil, "signed_up_at": nil}})
	job.Action.MaxBatchBytes = 3*one + one/2
	res := fastOptions(nil).Run(context.Background(), job, newMemState(), &memRecorder{})
	checkBalanced(t, res)
	if res.Err != nil || res.Counts.Sent != 20 {
		t.Fatalf("counts %+v err %v", res.Counts, res.Err)
	}
	for i, b := range dest.batches {
		if len(b) > 3 {
			t.Fatalf("batch %d has %d records; at most 3 fit in %d bytes", i+1, len(b), job.Action.MaxBatchBytes)
		}
	}
	if len(dest.batches) != 7 {
		t.Errorf("%d batches, want 7 (20 records, 3 a batch)", len(dest.batches))
	}
}

func TestRunProgressErrorStopsTheRun(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	w.exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500)
		INSERT INTO customers (id, email, name, active) SELECT i, 'c' || i || '@example.com', 'C' || i, 1 FROM n`)
	dest, state, rec := newFakeDest(), newMemState(), &memRecorder{}
	lost := errors.New("lease lost")
	rec.failProgress = func(stage string, processed int64) error {
		if stage == StageExtract && processed >= 1000 {
			return lost
		}
		return nil
	}
	job := w.job(dest)
	job.Action.BatchSize = 300
	res := fastOptions(nil).Run(context.Background(), job, state, rec)
	checkBalanced(t, res)
	if res.Err == nil || !errors.Is(res.Err, lost) {
		t.Fatalf("err = %v, want the progress error", res.Err)
	}
	c := res.Counts
	if c.Queried != 1000 || c.Added != 1000 || c.Sent != 900 || c.Unsent != 100 {
		t.Fatalf("counts %+v: want 1000 queried, 900 sent in 3 batches, 100 unsent", c)
	}
	if len(state.snapshot()) != 900 {
		t.Fatalf("state has %d keys, want the 900 acknowledged", len(state.snapshot()))
	}
}

func TestRunCancelled(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	fiveValid(w)
	ctx, cancel := context.WithCancel(context.Background())
	dest := newFakeDest()
	dest.script = func(call int, b connectors.Batch) ([]connectors.Rejection, error) {
		cancel()
		return nil, httpError(503, connectors.CategoryConnection, true, 0, "")
	}
	res := fastOptions(nil).Run(ctx, w.job(dest), newMemState(), &memRecorder{})
	checkBalanced(t, res)
	// The run reads on while the first batch is on its way, until it sees the
	// cancellation: whatever it planned is unsent.
	if res.Err == nil || !errors.Is(res.Err, context.Canceled) || res.Counts.Unsent != res.Counts.Added || res.Counts.Added < 3 || dest.calls != 1 {
		t.Fatalf("err %v counts %+v", res.Err, res.Counts)
	}
}

func TestRunFullResyncSendsEverything(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	fiveValid(w)
	dest, state := newFakeDest(), newMemState()
	if res := fastOptions(nil).Run(context.Background(), w.job(dest), state, &memRecorder{}); res.Err != nil {
		t.Fatal(res.Err)
	}
	job := w.job(dest)
	job.Settings.FullResync = true
	res := fastOptions(nil).Run(context.Background(), job, state, &memRecorder{})
	checkBalanced(t, res)
	if res.Err != nil || res.Counts.Added != 5 || res.Counts.Sent != 5 || state.resets != 1 {
		t.Fatalf("counts %+v err %v resets %d", res.Counts, res.Err, state.resets)
	}
}

func TestRunRefusesBadConfiguration(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Job)
		want string
	}{
		{"unknown column", func(j *Job) { j.Mappings[2].From = "nickname" }, "column nickname"},
		{"required field unmapped", func(j *Job) { j.Mappings = slices.Delete(j.Mappings, 2, 3) }, "needs the field first_name"},
		{"no identifier", func(j *Job) { j.Mappings = j.Mappings[2:] }, "identify"},
		{"field mapped twice", func(j *Job) { j.Mappings[3].To = "first_name" }, "mapped twice"},
		{"unknown primary key", func(j *Job) { j.PrimaryKey = "uuid" }, "primary key column uuid"},
		{"bad condition", func(j *Job) { j.Condition.Column = "nope" }, "not valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWarehouse(t, customersDDL)
			fiveValid(w)
			dest := newFakeDest()
			job := w.job(dest)
			job.Mappings = slices.Clone(job.Mappings)
			tc.edit(&job)
			res := fastOptions(nil).Run(context.Background(), job, newMemState(), &memRecorder{})
			checkBalanced(t, res)
			if res.Err == nil || res.Err.Category != connectors.CategoryConfiguration || !strings.Contains(res.Err.Message, tc.want) {
				t.Fatalf("err = %v, want configuration mentioning %q", res.Err, tc.want)
			}
			if dest.calls != 0 || res.Counts.Queried != 0 {
				t.Fatalf("a misconfigured run read or sent something")
			}
		})
	}
}

func TestRunStateCommitFailureStopsWithoutLoss(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	fiveValid(w)
	dest, state := newFakeDest(), newMemState()
	commits := 0
	state.failCommit = func() error {
		commits++
		if commits >= 2 { // every commit after batch 1's intent: its acknowledgement is never stored
			return errBoom
		}
		return nil
	}
	res := fastOptions(nil).Run(context.Background(), w.job(dest), state, &memRecorder{})
	checkBalanced(t, res)
	// Batch 2's intents were committed with batch 1's, or failed to be: either it was
	// sent too, or not at all.
	if c := res.Counts; res.Err == nil || !errors.Is(res.Err, errBoom) || c.Sent != map[int]int64{1: 3, 2: 5}[dest.calls] || c.Sent+c.Unsent != 5 {
		t.Fatalf("err %v counts %+v after %d writes: the delivered batches count as sent, the others unsent", res.Err, res.Counts, dest.calls)
	}
	for k, h := range state.snapshot() {
		if h != PendingAdded {
			t.Fatalf("state %s = %d; an unrecorded acknowledgement must leave the intent", k, h)
		}
	}
	state.failCommit = nil
	// Meanwhile customer 2 changes back and forth and 3 leaves the segment: the intents
	// make the next run resend 2 and remove 3, which the destination holds.
	w.exec(`UPDATE customers SET active = 0 WHERE id = 3`)
	res = fastOptions(nil).Run(context.Background(), w.job(dest), state, &memRecorder{})
	if res.Err != nil || res.Counts.Added != 4 || res.Counts.Removed != 1 {
		t.Fatalf("next run: %v %+v; want 1, 2, 4, 5 added and 3 removed", res.Err, res.Counts)
	}
	if got := slices.Sorted(maps.Keys(dest.contents())); !reflect.DeepEqual(got, []string{"1", "2", "4", "5"}) {
		t.Fatalf("destination holds %v", got)
	}
}

// An endpoint that answers 400 to every request does not leave a run hanging: each batch
// refused whole is split down to records alone, every one refused, so a batch of n
// records costs 2n-1 requests. At the webhook's documented 10 requests a second, a few
// hundred records take more than 30 s that way: what the browser test once saw as a run
// "Running" for over 30 s against a webhook answering 400.
func TestRunAgainstAnEndpointRefusingEverythingSplitsDownToEachRecord(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	for i := 1; i <= 8; i++ {
		w.insert(customer{id: i, email: fmt.Sprintf("c%d@example.com", i), name: fmt.Sprintf("C%d", i), active: 1})
	}
	dest, state, rec := newFakeDest(), newMemState(), &memRecorder{}
	dest.script = func(int, connectors.Batch) ([]connectors.Rejection, error) {
		return nil, httpError(400, connectors.CategoryConfiguration, false, 0, "down for maintenance")
	}
	job := w.job(dest)
	job.Action.BatchSize = 8
	res := fastOptions(nil).Run(context.Background(), job, state, rec)
	checkBalanced(t, res)
	if res.Err != nil || res.Counts.Rejected != 8 || res.Counts.Sent != 0 {
		t.Fatalf("counts %+v err %v", res.Counts, res.Err)
	}
	if dest.calls != 2*8-1 {
		t.Errorf("%d writes, want 15: 8 → 4+4 → 2+2+2+2 → 1×8", dest.calls)
	}
}
