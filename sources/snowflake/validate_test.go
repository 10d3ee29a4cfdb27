package snowflake_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"sluice/connectors"
	"sluice/connectors/connectortest"
	sffake "sluice/internal/fakes/snowflake"
)

var (
	customersModel = connectors.ModelRef{Name: "Customers", Relation: connectors.Relation{Table: &connectors.Table{Schema: "PUBLIC", Name: "CUSTOMERS"}}}
	vipModel       = connectors.ModelRef{Name: "VIPs", Relation: connectors.Relation{SQL: "SELECT ID, EMAIL FROM PUBLIC.VIP_CUSTOMERS -- vips\n;"}}
)

func validate(t *testing.T, src connectors.Source, models ...connectors.ModelRef) []connectors.Check {
	t.Helper()
	checks := src.Validate(context.Background(), models)
	stages := make([]connectors.Stage, len(checks))
	for i, c := range checks {
		stages[i] = c.Stage
	}
	if !slices.Equal(stages, connectors.Stages) {
		t.Fatalf("stages %v", stages)
	}
	return checks
}

// TestValidatePasses: every stage passes against the fake, with and without models,
// each saying what it found.
func TestValidatePasses(t *testing.T) {
	w := newWarehouse(t)
	src := w.open(t, w.cfg)
	for _, models := range [][]connectors.ModelRef{nil, {customersModel, vipModel}} {
		checks := validate(t, src, models...)
		for _, c := range checks {
			if !c.OK || c.Skipped || c.Message == "" {
				t.Fatalf("with %d models, stage %s: %+v", len(models), c.Stage, c)
			}
		}
		want := map[connectors.Stage]string{
			connectors.StageConnection: "as SLUICE_READER",
			connectors.StageAccess:     "Role SLUICE_ROLE can use warehouse COMPUTE_WH",
			connectors.StageSchema:     "Database ANALYTICS and schema PUBLIC exist",
			connectors.StageGrants:     "Role SLUICE_ROLE has SELECT on",
		}
		for _, c := range checks {
			if w, ok := want[c.Stage]; ok && !strings.Contains(c.Message, w) {
				t.Errorf("stage %s says %q, want it to mention %q", c.Stage, c.Message, w)
			}
		}
		if len(models) == 2 && checks[4].Message != "All 2 models resolve." {
			t.Errorf("lineage: %q", checks[4].Message)
		}
	}
}

// TestValidateFailures: each way a Snowflake source breaks fails at its stage, with the
// reason in words naming the object at fault and what to run.
func TestValidateFailures(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		break_ func(t *testing.T, w *warehouse) connectors.Config
		models []connectors.ModelRef
		stage  connectors.Stage
		want   []string
	}{
		{"a key the user does not have", func(t *testing.T, w *warehouse) connectors.Config {
			_, other, err := sffake.NewKey()
			if err != nil {
				t.Fatal(err)
			}
			return with(w.cfg, "private_key", other)
		}, nil, connectors.StageConnection, []string{"did not accept Sluice's key for user SLUICE_READER on account SLUICE-TEST", "JWT token is invalid", "RSA_PUBLIC_KEY_FP", "ALTER USER SLUICE_READER SET RSA_PUBLIC_KEY"}},
		{"another account", func(t *testing.T, w *warehouse) connectors.Config {
			return with(w.cfg, "account", "otherorg-other")
		}, nil, connectors.StageConnection, []string{"on account OTHERORG-OTHER"}},
		{"an unknown user", func(t *testing.T, w *warehouse) connectors.Config {
			return with(w.cfg, "user", "nobody")
		}, nil, connectors.StageConnection, []string{"for user NOBODY"}},
		{"a network policy that refuses Sluice", func(t *testing.T, w *warehouse) connectors.Config {
			w.fake.Block(true)
			return w.cfg
		}, nil, connectors.StageConnection, []string{"not allowed to access Snowflake", "network policy"}},
		{"a role not granted to the user", func(t *testing.T, w *warehouse) connectors.Config {
			return with(w.cfg, "role", "accountadmin")
		}, nil, connectors.StageAccess, []string{"Role ACCOUNTADMIN is not granted to user SLUICE_READER", "GRANT ROLE ACCOUNTADMIN TO USER SLUICE_READER;"}},
		{"a warehouse that does not exist", func(t *testing.T, w *warehouse) connectors.Config {
			return with(w.cfg, "warehouse", "nope_wh")
		}, nil, connectors.StageAccess, []string{"Warehouse NOPE_WH does not exist, or role SLUICE_ROLE may not use it", "GRANT USAGE ON WAREHOUSE NOPE_WH TO ROLE SLUICE_ROLE;"}},
		{"a warehouse the role may not use", func(t *testing.T, w *warehouse) connectors.Config {
			w.fake.GrantWarehouse("SLUICE_ROLE", "COMPUTE_WH", false)
			return w.cfg
		}, nil, connectors.StageAccess, []string{"GRANT USAGE ON WAREHOUSE COMPUTE_WH TO ROLE SLUICE_ROLE;"}},
		{"a warehouse suspended without auto-resume", func(t *testing.T, w *warehouse) connectors.Config {
			w.fake.SetWarehouse("COMPUTE_WH", "SUSPENDED", false)
			return w.cfg
		}, nil, connectors.StageAccess, []string{"Warehouse COMPUTE_WH is suspended and does not resume by itself", "ALTER WAREHOUSE COMPUTE_WH SET AUTO_RESUME = TRUE;"}},
		{"an unknown database", func(t *testing.T, w *warehouse) connectors.Config {
			return with(w.cfg, "database", "nope_db")
		}, nil, connectors.StageSchema, []string{"Database NOPE_DB does not exist, or role SLUICE_ROLE has no USAGE on it", "GRANT USAGE ON DATABASE NOPE_DB TO ROLE SLUICE_ROLE;"}},
		{"a database without USAGE", func(t *testing.T, w *warehouse) connectors.Config {
			w.fake.GrantDatabase("SLUICE_ROLE", false)
			return w.cfg
		}, nil, connectors.StageSchema, []string{"Database ANALYTICS does not exist, or role SLUICE_ROLE has no USAGE on it"}},
		{"an unknown schema", func(t *testing.T, w *warehouse) connectors.Config {
			return with(w.cfg, "schema", "marts")
		}, nil, connectors.StageSchema, []string{"Schema MARTS does not exist in database ANALYTICS", "Schemas role SLUICE_ROLE can use: PUBLIC."}},
		{"a missing SELECT on a model's table", func(t *testing.T, w *warehouse) connectors.Config {
			if err := w.fake.GrantSelect(ctx, "SLUICE_ROLE", "PUBLIC", "CUSTOMERS", false); err != nil {
				t.Fatal(err)
			}
			return w.cfg
		}, []connectors.ModelRef{customersModel}, connectors.StageGrants, []string{"Role SLUICE_ROLE cannot read table PUBLIC.CUSTOMERS (model Customers)", "Object 'CUSTOMERS' does not exist or not authorized", "GRANT SELECT ON TABLE ANALYTICS.PUBLIC.CUSTOMERS TO ROLE SLUICE_ROLE;"}},
		{"a missing SELECT on what a SQL model reads", func(t *testing.T, w *warehouse) connectors.Config {
			if err := w.fake.GrantSelect(ctx, "SLUICE_ROLE", "PUBLIC", "VIP_CUSTOMERS", false); err != nil {
				t.Fatal(err)
			}
			return w.cfg
		}, []connectors.ModelRef{vipModel}, connectors.StageGrants, []string{"cannot read the tables of model VIPs", "VIP_CUSTOMERS"}},
		{"a column a SQL model reads was dropped", func(t *testing.T, w *warehouse) connectors.Config {
			if err := w.fake.Exec(ctx, `ALTER TABLE "PUBLIC"."CUSTOMERS" DROP COLUMN "PHONE" CASCADE`); err != nil {
				t.Fatal(err)
			}
			return w.cfg
		}, []connectors.ModelRef{customersModel, {Name: "Phones", Relation: connectors.Relation{SQL: "SELECT ID, PHONE FROM PUBLIC.CUSTOMERS"}}},
			connectors.StageLineage, []string{"Model Phones: its SQL no longer runs: error line 1 at position", "invalid identifier 'PHONE'"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWarehouse(t)
			cfg := tc.break_(t, w)
			checks := validate(t, w.open(t, cfg), tc.models...)
			connectortest.StageFails(t, checks, tc.stage, tc.want...)
			for _, c := range checks {
				if strings.Contains(c.Message, "PRIVATE KEY") {
					t.Errorf("stage %s shows the key: %q", c.Stage, c.Message)
				}
			}
		})
	}
}

// TestUnknownDatabaseRefused: a Snowflake that refuses every statement naming an
// unknown database, rather than running it without one, still fails the schema stage,
// in the same words, and not an earlier one.
func TestUnknownDatabaseRefused(t *testing.T) {
	w := newWarehouse(t, func(o *sffake.Options) { o.RefuseUnknownDatabase = true })
	checks := validate(t, w.open(t, with(w.cfg, "database", "nope_db")))
	connectortest.StageFails(t, checks, connectors.StageSchema,
		"Database NOPE_DB does not exist, or role SLUICE_ROLE has no USAGE on it", "GRANT USAGE ON DATABASE NOPE_DB TO ROLE SLUICE_ROLE;")
}

// TestSuspendedWarehouseResumes: a suspended warehouse with AUTO_RESUME passes the
// access stage, and the first query resumes it.
func TestSuspendedWarehouseResumes(t *testing.T) {
	w := newWarehouse(t)
	w.fake.SetWarehouse("COMPUTE_WH", "SUSPENDED", true)
	src := w.open(t, w.cfg)
	checks := validate(t, src, customersModel)
	if !checks[1].OK || !strings.Contains(checks[1].Message, "suspended now; it resumes when a query comes") {
		t.Fatalf("access: %+v", checks[1])
	}
	if got := rows(t, src, `SELECT COUNT(*) FROM "PUBLIC"."CUSTOMERS"`); got[0][0] != int64(42) {
		t.Fatalf("count: %v", got)
	}
	if st := w.fake.WarehouseState("COMPUTE_WH"); st != "STARTED" {
		t.Fatalf("the warehouse is %s after a query", st)
	}
}
