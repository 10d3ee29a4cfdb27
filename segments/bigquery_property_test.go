package segments

// The acceptance test on BigQuery's dialect: the same random trees, compiled to GoogleSQL
// and run through the bigquery connector against the fake BigQuery (which translates
// the GoogleSQL it accepts to PostgreSQL and refuses the rest), must count as the Go
// evaluator does.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"sluice/connectors"
	fake "sluice/internal/fakes/bigquery"
	"sluice/internal/testutil"
	"sluice/sources/bigquery"
)

func openBigQuery(t *testing.T, rows []customer) db {
	ctx := context.Background()
	// A thousand requests a second per method rather than BigQuery's hundred: the
	// client would wait out 403 rateLimitExceeded and retry, which only slows this test
	// of the dialect down (the fake's own tests check the limit).
	f, err := fake.New(fake.Options{PostgresURL: testutil.PostgresURL(t), RequestsPerSecond: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	if err := f.CreateDataset(ctx, "shop", "US"); err != nil {
		t.Fatal(err)
	}
	// signed_up_at is a TIMESTAMP there (timestamptz behind the fake), the type
	// BigQuery gives event times; birthday a DATE.
	ddl := strings.Replace(fmt.Sprintf(customersDDL, "shop", "double precision"), "signed_up_at timestamp", "signed_up_at timestamptz", 1)
	if err := f.Exec(ctx, ddl); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := f.Exec(ctx, `INSERT INTO shop.customers VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			r.id, r.email, r.country, r.age, r.score, r.vip, r.signedUp, r.birthday, r.nick); err != nil {
			t.Fatal(err)
		}
	}
	email, key := f.ServiceAccount("segments")
	f.GrantProject(email, fake.RoleJobUser)
	f.GrantDataset(email, "shop", fake.RoleDataViewer)
	src, err := bigquery.New(bigquery.Options{BaseURL: f.URL}).Open(ctx, connectors.Config{
		"project_id": f.Project(), "dataset": "shop", "location": "US", "service_account_key": string(key)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	rel := connectors.Relation{Table: &connectors.Table{Schema: "shop", Name: "customers"}}
	return db{d: src.Dialect(), rel: rel, query: func(q string, args []any) ([][]any, error) {
		qctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		var out [][]any
		err := src.Query(qctx, q, args, func(row []any) error {
			out = append(out, append([]any(nil), row...))
			return nil
		})
		return out, err
	}}
}

// TestSegmentsOnBigQuery runs the property test's checks on the BigQuery dialect
// through the fake (skipped without PostgreSQL unless CI is set).
func TestSegmentsOnBigQuery(t *testing.T) {
	now := awayFromMidnight()
	rows := fixture(now)
	checkEngine(t, []db{openBigQuery(t, rows)}, rows, now)
}
