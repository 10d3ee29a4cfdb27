package bigquery_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"sluice/connectors"
	fake "sluice/internal/fakes/bigquery"
)

func validate(t *testing.T, src connectors.Source, models ...connectors.ModelRef) []connectors.Check {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return src.Validate(ctx, models)
}

// wantFailure checks that stage failed with every phrase in its message, the stages
// before it passed and the ones after it were skipped.
func wantFailure(t *testing.T, checks []connectors.Check, stage connectors.Stage, phrases ...string) {
	t.Helper()
	failed := false
	for _, ch := range checks {
		switch {
		case ch.Stage == stage:
			failed = true
			if ch.OK || ch.Skipped {
				t.Fatalf("stage %s: %+v, want it to fail", stage, ch)
			}
			for _, p := range phrases {
				if !strings.Contains(ch.Message, p) {
					t.Errorf("stage %s says %q, want it to say %q", stage, ch.Message, p)
				}
			}
		case !failed && !ch.OK:
			t.Fatalf("stage %s before %s failed: %+v", ch.Stage, stage, ch)
		case failed && !ch.Skipped:
			t.Errorf("stage %s after the failed %s was not skipped: %+v", ch.Stage, stage, ch)
		}
	}
}

func tableModel(name, dataset, table string) connectors.ModelRef {
	return connectors.ModelRef{Name: name, Relation: connectors.Relation{Table: &connectors.Table{Schema: dataset, Name: table}}}
}

func sqlModel(name, sql string) connectors.ModelRef {
	return connectors.ModelRef{Name: name, Relation: connectors.Relation{SQL: sql}}
}

func TestValidatePasses(t *testing.T) {
	e := newEnv(t)
	src := e.open(t, e.cfg)
	checks := validate(t, src,
		tableModel("Customers", "marketing", "customers"),
		sqlModel("French", "SELECT id, email FROM `marketing.customers` WHERE country = 'FR';"))
	want := map[connectors.Stage]string{
		connectors.StageConnection: "Google signed in service account " + e.email,
		connectors.StageAccess:     "can run query jobs in project sluice-fake",
		connectors.StageSchema:     "Dataset marketing exists in project sluice-fake, location US",
		connectors.StageGrants:     "may read the one table the models read",
		connectors.StageLineage:    "All 2 models resolve",
	}
	for _, ch := range checks {
		if !ch.OK || !strings.Contains(ch.Message, want[ch.Stage]) {
			t.Errorf("stage %s: %+v, want it to pass saying %q", ch.Stage, ch, want[ch.Stage])
		}
	}
}

func TestValidateFailures(t *testing.T) {
	t.Run("deleted key", func(t *testing.T) {
		e := newEnv(t)
		src := e.open(t, e.cfg)
		e.fake.DeleteKey(e.email)
		wantFailure(t, validate(t, src), connectors.StageConnection,
			"Google refused the service account key of "+e.email, "Invalid JWT Signature", "Create a new JSON key")
	})
	t.Run("unknown service account", func(t *testing.T) {
		e := newEnv(t)
		other, err := fake.New(fake.Options{PostgresURL: e.fakeURL(t)})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		_, foreign := other.ServiceAccount("stranger")
		src := e.open(t, with(e.cfg, "service_account_key", string(foreign)))
		wantFailure(t, validate(t, src), connectors.StageConnection, "Google does not know the service account stranger@")
	})
	t.Run("no job user role", func(t *testing.T) {
		e := newEnv(t)
		e.fake.RevokeProject(e.email, fake.RoleJobUser)
		wantFailure(t, validate(t, e.open(t, e.cfg)), connectors.StageAccess,
			"may not run query jobs in project sluice-fake", "BigQuery Job User role (roles/bigquery.jobUser) on project sluice-fake")
	})
	t.Run("unknown dataset", func(t *testing.T) {
		e := newEnv(t)
		wantFailure(t, validate(t, e.open(t, with(e.cfg, "dataset", "marketting"))), connectors.StageSchema,
			"Dataset marketting does not exist in project sluice-fake, or service account "+e.email+" may not use it.",
			"Datasets the service account can see: marketing.")
		// With access to every dataset of the project, BigQuery says it does not exist.
		e.fake.GrantProject(e.email, fake.RoleDataViewer)
		wantFailure(t, validate(t, e.open(t, with(e.cfg, "dataset", "marketting"))), connectors.StageSchema,
			"Dataset marketting does not exist in project sluice-fake. Check the dataset name.", "Datasets the service account can see: marketing.")
	})
	t.Run("dataset in another location", func(t *testing.T) {
		e := newEnv(t)
		wantFailure(t, validate(t, e.open(t, with(e.cfg, "location", "EU"))), connectors.StageSchema,
			"Dataset marketing is in location US, not EU. Set Location to US")
	})
	t.Run("dataset not shared", func(t *testing.T) {
		e := newEnv(t)
		e.fake.RevokeDataset(e.email, "marketing", fake.RoleDataViewer)
		wantFailure(t, validate(t, e.open(t, e.cfg)), connectors.StageSchema,
			"or service account "+e.email+" may not use it", "BigQuery Data Viewer (roles/bigquery.dataViewer) on dataset marketing")
	})
	t.Run("missing grant on a table", func(t *testing.T) {
		e := newEnv(t)
		ctx := context.Background()
		if err := e.fake.Exec(ctx, `CREATE TABLE marketing.orders (id bigint, customer_id bigint)`); err != nil {
			t.Fatal(err)
		}
		e.fake.RevokeDataset(e.email, "marketing", fake.RoleDataViewer)
		e.fake.GrantDataset(e.email, "marketing", fake.RoleMetadataViewer)
		e.fake.GrantTable(e.email, "marketing", "customers", fake.RoleDataViewer)
		src := e.open(t, e.cfg)
		wantFailure(t, validate(t, src), connectors.StageGrants,
			"may not read marketing.orders.", "BigQuery Data Viewer (roles/bigquery.dataViewer) on those tables or on dataset marketing")
		// Models that read only customers pass; one whose SQL joins orders names it.
		checks := validate(t, src, tableModel("Customers", "marketing", "customers"))
		if !checks[3].OK || !checks[4].OK {
			t.Errorf("with a model on customers only: %+v", checks)
		}
		wantFailure(t, validate(t, src, sqlModel("Buyers", "SELECT c.id FROM `marketing.customers` AS c JOIN `marketing.orders` AS o ON o.customer_id = c.id")),
			connectors.StageGrants, "Model Buyers: Service account "+e.email+" may not read table marketing.orders")
	})
	t.Run("broken models", func(t *testing.T) {
		e := newEnv(t)
		wantFailure(t, validate(t, e.open(t, e.cfg),
			tableModel("Gone", "marketing", "gone"),
			sqlModel("Typo", "SELECT id, emial FROM `marketing.customers`")),
			connectors.StageLineage,
			"Model Gone: the table marketing.gone no longer exists.", "Model Typo: its SQL no longer runs: Unrecognized name: emial")
	})
}
