package databricks_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/connectors/connectortest"
	fake "sluice/internal/fakes/databricks"
	"sluice/sources/databricks"
)

func validate(t *testing.T, src connectors.Source, models ...connectors.ModelRef) []connectors.Check {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return src.Validate(ctx, models)
}

var failedAt = connectortest.StageFails

func TestValidateAllFiveStagesPass(t *testing.T) {
	w := newWarehouse(t)
	src := w.open(t, w.cfg)
	models := []connectors.ModelRef{
		{Name: "Customers", Relation: connectors.Relation{Table: &connectors.Table{Schema: "sales", Name: "customers"}}},
		{Name: "VIPs", Relation: connectors.Relation{SQL: "SELECT id, email FROM main.sales.customers WHERE vip;"}},
	}
	for _, models := range [][]connectors.ModelRef{nil, models} {
		checks := validate(t, src, models...)
		want := map[connectors.Stage]string{
			connectors.StageConnection: "Connected to workspace " + w.f.Host() + ", SQL warehouse " + fake.WarehouseID + ", as " + Reader + ".",
			connectors.StageAccess:     Reader + " can run queries and use catalog main.",
			connectors.StageSchema:     "Schema main.sales exists.",
			connectors.StageGrants:     Reader + " has USE CATALOG on main, USE SCHEMA on main.sales and SELECT on ",
		}
		for _, ch := range checks {
			if !ch.OK || ch.Skipped {
				t.Fatalf("%d models: stage %s: %+v", len(models), ch.Stage, ch)
			}
			if w, ok := want[ch.Stage]; ok && !strings.HasPrefix(ch.Message, w) {
				t.Errorf("stage %s says %q, want %q", ch.Stage, ch.Message, w)
			}
		}
		if len(models) == 0 && checks[3].Message != Reader+" has USE CATALOG on main, USE SCHEMA on main.sales and SELECT on the one table or view in schema main.sales." {
			t.Errorf("grants: %q", checks[3].Message)
		}
		if len(models) == 2 && checks[4].Message != "All 2 models resolve." {
			t.Errorf("lineage: %q", checks[4].Message)
		}
	}
}

func TestValidateFailures(t *testing.T) {
	w := newWarehouse(t)
	ctx := context.Background()
	customers := connectors.ModelRef{Name: "Customers", Relation: connectors.Relation{Table: &connectors.Table{Schema: "sales", Name: "customers"}}}

	t.Run("wrong token", func(t *testing.T) {
		failedAt(t, validate(t, w.open(t, with(w.cfg, "token", "dapi0123"))), connectors.StageConnection,
			"The personal access token is not valid: it is wrong, expired or revoked.")
	})
	t.Run("revoked token", func(t *testing.T) {
		tok := w.f.AddUser("gone@example.com")
		w.f.RevokeToken(tok)
		failedAt(t, validate(t, w.open(t, with(w.cfg, "token", tok))), connectors.StageConnection, "not valid")
	})
	t.Run("wrong oauth secret", func(t *testing.T) {
		id, _ := w.f.AddServicePrincipal()
		failedAt(t, validate(t, w.open(t, with(w.cfg, "auth", databricks.AuthOAuth, "client_id", id, "client_secret", "wrong"))),
			connectors.StageConnection, "Databricks refused the OAuth client ID "+id+" or its secret.")
	})
	t.Run("unknown warehouse", func(t *testing.T) {
		failedAt(t, validate(t, w.open(t, with(w.cfg, "warehouse", "ffffffffffffffff"))), connectors.StageConnection,
			"SQL warehouse ffffffffffffffff does not exist in workspace")
	})
	t.Run("warehouse not allowed", func(t *testing.T) {
		w.f.AddWarehouse("aaaabbbbccccdddd")
		w.f.RestrictWarehouse("aaaabbbbccccdddd", fake.Admin)
		failedAt(t, validate(t, w.open(t, with(w.cfg, "warehouse", "aaaabbbbccccdddd"))), connectors.StageConnection,
			"may not use SQL warehouse aaaabbbbccccdddd", "Can use")
	})
	t.Run("unreachable host", func(t *testing.T) {
		conn := databricks.New(databricks.Options{BaseURL: "http://127.0.0.1:1"})
		src, err := conn.Open(ctx, w.cfg)
		if err != nil {
			t.Fatal(err)
		}
		failedAt(t, validate(t, src), connectors.StageConnection, "connection was refused", "Check the workspace host")
	})
	t.Run("unknown catalog", func(t *testing.T) {
		failedAt(t, validate(t, w.open(t, with(w.cfg, "catalog", "sales_prod"))), connectors.StageAccess,
			"Catalog sales_prod does not exist, or "+Reader+" has no privilege on it.", "Catalogs "+Reader+" can see: main.")
	})
	t.Run("unknown schema", func(t *testing.T) {
		failedAt(t, validate(t, w.open(t, with(w.cfg, "schema", "marketing"))), connectors.StageSchema,
			`Schema "marketing" does not exist in catalog main.`, "Schemas in main: default, sales.")
	})
	t.Run("missing USE CATALOG", func(t *testing.T) {
		if err := w.f.CreateCatalog(ctx, "crm"); err != nil {
			t.Fatal(err)
		}
		if err := w.f.CreateSchema(ctx, "crm", "people"); err != nil {
			t.Fatal(err)
		}
		w.grant(t, fake.UseSchema, fake.OnSchema, "crm.people")
		failedAt(t, validate(t, w.open(t, with(w.cfg, "catalog", "crm", "schema", "people"))), connectors.StageAccess,
			Reader+" cannot use catalog crm. Run: GRANT USE CATALOG ON CATALOG crm TO `"+Reader+"`;")
	})
	t.Run("missing SELECT names the table", func(t *testing.T) {
		w.exec(t, `CREATE TABLE "main.sales".orders (id bigint)`)
		failedAt(t, validate(t, w.open(t, w.cfg)), connectors.StageGrants,
			"Missing SELECT on main.sales.orders. Run: GRANT SELECT ON TABLE main.sales.orders TO `"+Reader+"`;")
		// A model narrows the check to what it reads: customers is granted.
		checks := validate(t, w.open(t, w.cfg), customers)
		if !checks[3].OK {
			t.Fatalf("grants with a model on a granted table: %+v", checks[3])
		}
		// A table model on it is named with the grant that fixes it.
		failedAt(t, validate(t, w.open(t, w.cfg), customers, connectors.ModelRef{Name: "Orders", Relation: connectors.Relation{Table: &connectors.Table{Schema: "sales", Name: "orders"}}}),
			connectors.StageGrants, "Missing SELECT on table main.sales.orders. Run: GRANT SELECT ON TABLE main.sales.orders TO `"+Reader+"`;")
		// A SQL model reading the table is named with the privilege it lacks.
		failedAt(t, validate(t, w.open(t, w.cfg), connectors.ModelRef{Name: "Orders", Relation: connectors.Relation{SQL: "SELECT * FROM sales.orders"}}),
			connectors.StageGrants, "Model Orders: Missing SELECT on table main.sales.orders.")
		// A grant on the schema is inherited by its tables, and one to a group counts.
		if err := w.f.AddToGroup(ctx, "analysts", Reader); err != nil {
			t.Fatal(err)
		}
		if err := w.f.Grant(ctx, "analysts", fake.Select, fake.OnSchema, "main.sales"); err != nil {
			t.Fatal(err)
		}
		if checks := validate(t, w.open(t, w.cfg)); !checks[3].OK {
			t.Fatalf("grants after SELECT on the schema to a group of the reader's: %+v", checks[3])
		}
		if err := w.f.Revoke(ctx, "analysts", fake.Select, fake.OnSchema, "main.sales"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("missing USE SCHEMA", func(t *testing.T) {
		if err := w.f.Revoke(ctx, Reader, fake.UseSchema, fake.OnSchema, "main.sales"); err != nil {
			t.Fatal(err)
		}
		defer w.grant(t, fake.UseSchema, fake.OnSchema, "main.sales")
		failedAt(t, validate(t, w.open(t, w.cfg), customers), connectors.StageGrants,
			"Missing USE SCHEMA on schema main.sales. Run: GRANT USE SCHEMA ON SCHEMA main.sales TO `"+Reader+"`;")
	})
	t.Run("lineage: a table gone and SQL that no longer runs", func(t *testing.T) {
		failedAt(t, validate(t, w.open(t, w.cfg),
			customers,
			connectors.ModelRef{Name: "Leads", Relation: connectors.Relation{Table: &connectors.Table{Schema: "sales", Name: "leads"}}},
			connectors.ModelRef{Name: "Phones", Relation: connectors.Relation{SQL: "SELECT id, phone FROM main.sales.customers"}}),
			connectors.StageLineage,
			"Model Leads: the table main.sales.leads no longer exists.",
			"Model Phones: its SQL no longer runs: A column, variable, or function parameter with name")
	})
	t.Run("stopped warehouse starts", func(t *testing.T) {
		w.f.StopWarehouse(fake.WarehouseID)
		w.f.SetStartDelay(200 * time.Millisecond)
		start := time.Now()
		checks := validate(t, w.open(t, w.cfg))
		if !checks[0].OK || time.Since(start) < 200*time.Millisecond {
			t.Fatalf("after the warehouse started: %+v in %v", checks[0], time.Since(start))
		}
	})
	t.Run("stopped warehouse still starting", func(t *testing.T) {
		w.f.StopWarehouse(fake.WarehouseID)
		w.f.SetStartDelay(3 * time.Second)
		conn := databricks.WithTimeouts(databricks.New(databricks.Options{BaseURL: w.f.URL()}), 500*time.Millisecond, time.Second)
		src, err := conn.Open(ctx, w.cfg)
		if err != nil {
			t.Fatal(err)
		}
		failedAt(t, validate(t, src), connectors.StageConnection,
			"SQL warehouse "+fake.WarehouseID+" is starting (it was stopped) and did not start in time.")
		// The statement was cancelled, not left waiting for the warehouse.
		if !w.requested("/cancel") {
			t.Error("the pending statement was not cancelled")
		}
	})
}
