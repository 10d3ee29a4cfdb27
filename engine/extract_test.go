package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"sluice/connectors"
	"sluice/segments"
	"sluice/sources/postgres"
	"sluice/sources/redshift"
	"sluice/sources/sqlite"
)

// fakeDialect stands for a dialect by name, with PostgreSQL's quoting and placeholders.
type fakeDialect struct{ name string }

func (d fakeDialect) Name() string              { return d.name }
func (fakeDialect) QuoteIdent(s string) string  { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func (fakeDialect) Placeholder(n int) string    { return fmt.Sprintf("$%d", n) }
func (fakeDialect) DaysAgo(ph string) string    { return "now() - " + ph }
func (fakeDialect) CaseInsensitiveLike() string { return "ILIKE" }
func (fakeDialect) LikeEscape() string          { return "" }
func (d fakeDialect) RelationSQL(rel connectors.Relation, alias string) string {
	return d.QuoteIdent(rel.Table.Schema) + "." + d.QuoteIdent(rel.Table.Name) + " AS " + d.QuoteIdent(alias)
}

// snowflake implements KeyOrderer, as a dialect the engine does not know would.
type snowflake struct{ fakeDialect }

func (snowflake) KeyTextSQL(col string) string { return "COLLATE(TO_VARCHAR(" + col + "), 'binary')" }

// keyedBy is a fake dialect that orders keys as a real source's dialect does.
type keyedBy struct {
	fakeDialect
	keys connectors.KeyOrderer
}

func (d keyedBy) KeyTextSQL(col string) string { return d.keys.KeyTextSQL(col) }

func TestExtractSQLPerDialect(t *testing.T) {
	rel := connectors.Relation{Table: &connectors.Table{Schema: "public", Name: "customers"}}
	cols := []connectors.Column{{Name: "id", Type: connectors.TypeInteger}, {Name: "email", Type: connectors.TypeString}, {Name: "country", Type: connectors.TypeString}}
	cond := segments.Leaf("country", segments.OpEq, "FR'; DROP TABLE customers; --")
	tail := ` FROM "public"."customers" AS "m" WHERE "m"."country" = $1 ORDER BY `
	for _, tc := range []struct {
		d   connectors.Dialect
		key string
	}{
		{keyedBy{fakeDialect{"postgres"}, postgres.Dialect{}}, `CAST("m"."id" AS TEXT) COLLATE "C"`},
		{keyedBy{fakeDialect{"redshift"}, redshift.Dialect{}}, `COLLATE(CAST("m"."id" AS VARCHAR(65535)), 'case_sensitive')`},
		{keyedBy{fakeDialect{"sqlite"}, sqlite.Dialect{}}, `CAST("m"."id" AS TEXT) COLLATE BINARY`},
		{snowflake{fakeDialect{"snowflake"}}, `COLLATE(TO_VARCHAR("m"."id"), 'binary')`},
	} {
		t.Run(tc.d.Name(), func(t *testing.T) {
			sql, args, ce := extractSQL(tc.d, rel, cond, cols, "id", []string{"email"})
			if ce != nil {
				t.Fatal(ce)
			}
			want := "SELECT " + tc.key + `, "m"."email"` + tail + tc.key
			if sql != want {
				t.Fatalf("sql =\n%s\nwant\n%s", sql, want)
			}
			if len(args) != 1 || args[0] != "FR'; DROP TABLE customers; --" {
				t.Fatalf("args = %v: the value must be bound, never in the SQL", args)
			}
		})
	}
	// Without a KeyOrderer there is no extraction, whatever the dialect's name: the
	// engine knows no kind, and has no default that would be byte order everywhere.
	for _, name := range []string{"bigquery", "postgres"} {
		if _, _, ce := extractSQL(fakeDialect{name}, rel, cond, cols, "id", []string{"email"}); ce == nil || ce.Category != connectors.CategoryConfiguration {
			t.Fatalf("a %s dialect without KeyOrderer gave %v, want a configuration error", name, ce)
		}
	}
}

// TestRunOrdersKeysInByteOrder syncs text keys that the column's own collation (NOCASE)
// and numeric order would sort differently; they must reach the destination in Go's
// string order, and merge with a stored state without a false removal or addition.
func TestRunOrdersKeysInByteOrder(t *testing.T) {
	w := newWarehouse(t, `CREATE TABLE customers (id TEXT COLLATE NOCASE, email TEXT, phone TEXT, name TEXT, age TEXT, vip BOOLEAN, signed_up DATETIME, active INTEGER)`)
	keys := []string{"b", "A", "a", "B", "é", "Z", "10", "9", "e", "ä", "_", " x"}
	for i, k := range keys {
		w.insert(customer{id: k, email: fmt.Sprintf("c%d@example.com", i), name: "C", active: 1})
	}
	dest, state := newFakeDest(), newMemState()
	job := w.job(dest)
	job.Action.BatchSize = 100
	res := fastOptions(nil).Run(context.Background(), job, state, &memRecorder{})
	checkBalanced(t, res)
	if res.Err != nil || res.Counts.Sent != int64(len(keys)) {
		t.Fatalf("counts %+v err %v", res.Counts, res.Err)
	}
	sent := slices.Concat(dest.batches...)
	if want := slices.Sorted(slices.Values(keys)); !slices.Equal(sent, want) {
		t.Fatalf("keys arrived as %q, want Go's order %q", sent, want)
	}
	// Rerun with one key gone and one new: exactly one removal and one addition.
	w.exec(`DELETE FROM customers WHERE id = 'a' COLLATE BINARY`)
	w.insert(customer{id: "Ä", email: "new@example.com", name: "C", active: 1})
	res = fastOptions(nil).Run(context.Background(), job, state, &memRecorder{})
	checkBalanced(t, res)
	want := Counts{Queried: int64(len(keys)), Added: 1, Removed: 1, Unchanged: int64(len(keys) - 1), Sent: 2}
	if res.Err != nil || res.Counts != want {
		t.Fatalf("counts %+v err %v, want %+v", res.Counts, res.Err, want)
	}
}

// cannedSource answers every query with fixed rows, whatever the SQL.
type cannedSource struct {
	connectors.Source
	rows [][]any
}

func (s cannedSource) Dialect() connectors.Dialect { return sqlite.Dialect{} }
func (s cannedSource) Query(ctx context.Context, _ string, _ []any, fn func([]any) error) error {
	for _, r := range s.rows {
		if err := fn(slices.Clone(r)); err != nil {
			return err
		}
	}
	return nil
}

func TestRunFailsWhenTheSourceBreaksTheOrder(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	row := func(k any) []any { return []any{k, "a@example.com", nil, "A", nil, nil, nil} }
	dest := newFakeDest()
	job := w.job(dest)
	job.Source = cannedSource{rows: [][]any{row("1"), row("3"), row("2")}}
	state := newMemState()
	state.Commit(context.Background(), "", Commit{Upserts: []KeyHash{{Key: "2", Hash: 99}}})
	res := fastOptions(nil).Run(context.Background(), job, state, &memRecorder{})
	if !res.Counts.Balanced() {
		t.Fatalf("counts do not balance: %+v", res.Counts)
	}
	if res.Err == nil || res.Err.Category != CategoryInternal || !strings.Contains(res.Err.Detail, `key "2" came after "3"`) {
		t.Fatalf("err = %v, want an internal error naming the keys", res.Err)
	}
	if dest.calls != 0 || res.Counts.Removed != 0 || res.Counts.Unsent != 1 {
		t.Fatalf("the run acted on a broken order: %d writes, counts %+v", dest.calls, res.Counts)
	}
}

func TestRunReadsTypedKeys(t *testing.T) {
	w := newWarehouse(t, customersDDL)
	dest := newFakeDest()
	job := w.job(dest)
	job.Action.BatchSize = 10
	job.Source = cannedSource{rows: [][]any{
		{int64(10), "a@example.com", nil, "A", nil, nil, nil},
		{[]byte("11"), "b@example.com", nil, "B", nil, nil, nil},
		{"12", "c@example.com", nil, "C", nil, nil, nil},
		{nil, "d@example.com", nil, "D", nil, nil, nil},
	}}
	res := fastOptions(nil).Run(context.Background(), job, newMemState(), &memRecorder{})
	checkBalanced(t, res)
	if res.Err != nil || res.Counts.Sent != 3 || res.Counts.SourceIssues != 1 {
		t.Fatalf("counts %+v err %v", res.Counts, res.Err)
	}
	if got := slices.Concat(dest.batches...); !slices.Equal(got, []string{"10", "11", "12"}) {
		t.Fatalf("keys %q", got)
	}
}
