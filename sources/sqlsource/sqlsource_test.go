package sqlsource

import (
	"context"
	"errors"
	"testing"
	"time"

	"sluice/connectors"
)

func pass(msg string) StageFunc {
	return func(context.Context) (bool, string) { return true, msg }
}

func TestStagesRunInOrderAndSkipAfterAFailure(t *testing.T) {
	var ran []string
	stage := func(name string, ok bool) StageFunc {
		return func(context.Context) (bool, string) {
			ran = append(ran, name)
			return ok, name + " said so"
		}
	}
	checks := Stages{
		Connection: stage("connection", true),
		Access:     stage("access", true),
		Schema:     stage("schema", false),
		Grants:     stage("grants", true),
		Lineage:    stage("lineage", true),
	}.Run(context.Background())

	if len(ran) != 3 || ran[2] != "schema" {
		t.Fatalf("ran %v: stages after a failure must not run", ran)
	}
	want := []connectors.Check{
		{Stage: connectors.StageConnection, OK: true, Message: "connection said so"},
		{Stage: connectors.StageAccess, OK: true, Message: "access said so"},
		{Stage: connectors.StageSchema, OK: false, Message: "schema said so"},
		{Stage: connectors.StageGrants, Skipped: true, Message: "Skipped: fix the schema first."},
		{Stage: connectors.StageLineage, Skipped: true, Message: "Skipped: fix the schema first."},
	}
	for i := range want {
		if checks[i] != want[i] {
			t.Errorf("check %d = %+v, want %+v", i, checks[i], want[i])
		}
	}
}

func TestStagesEachGetATimeout(t *testing.T) {
	var deadline time.Time
	Stages{
		Connection: func(ctx context.Context) (bool, string) {
			deadline, _ = ctx.Deadline()
			return true, ""
		},
		Timeout: time.Second,
	}.Run(context.Background())
	if left := time.Until(deadline); left <= 0 || left > time.Second {
		t.Errorf("stage deadline in %s, want within 1s", left)
	}
}

func TestStagesAfterCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	checks := Stages{
		Connection: func(context.Context) (bool, string) { cancel(); return true, "ok" },
		Access:     pass("never"),
	}.Run(ctx)
	if checks[1].OK || checks[1].Message == "never" || !checks[2].Skipped || checks[2].Message != "Skipped: fix access first." {
		t.Errorf("checks = %+v", checks)
	}
}

func TestLineage(t *testing.T) {
	models := []connectors.ModelRef{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	ok, msg := Lineage(context.Background(), models, func(_ context.Context, m connectors.ModelRef) error {
		switch m.Name {
		case "a":
			return errors.New("the table sales.a no longer exists")
		case "c":
			return &connectors.Error{Category: connectors.CategoryConnection, Message: "Cannot reach db:5432.", Detail: "raw"}
		}
		return nil
	})
	want := "Model a: the table sales.a no longer exists. Model c: Cannot reach db:5432."
	if ok || msg != want {
		t.Errorf("got %v %q, want %q", ok, msg, want)
	}
	if ok, msg := Lineage(context.Background(), models, func(context.Context, connectors.ModelRef) error { return nil }); !ok || msg != "All 3 models resolve." {
		t.Errorf("got %v %q", ok, msg)
	}
	if ok, msg := Lineage(context.Background(), nil, nil); !ok || msg != "No models to check yet." {
		t.Errorf("got %v %q", ok, msg)
	}
}

func TestSQLHelpers(t *testing.T) {
	if got := QuoteIdent(`my "odd" name`); got != `"my ""odd"" name"` {
		t.Errorf("QuoteIdent = %s", got)
	}
	if got := QuoteIdent("a\x00b"); got != `"ab"` {
		t.Errorf("QuoteIdent with NUL = %s", got)
	}
	for in, want := range map[string]string{"orders": "orders", "Orders": `"Orders"`, "order items": `"order items"`, "_x1": "_x1", "1x": `"1x"`} {
		if got := DisplayIdent(in); got != want {
			t.Errorf("DisplayIdent(%q) = %s, want %s", in, got, want)
		}
	}
	if got := DisplayName("sales", "Orders"); got != `sales."Orders"` {
		t.Errorf("DisplayName = %s", got)
	}
	if got := TrimSQL("  select 1 ;; \n"); got != "select 1" {
		t.Errorf("TrimSQL = %q", got)
	}
	if got := RelationSQL(connectors.Relation{Table: &connectors.Table{Schema: "s", Name: "t"}}, "m"); got != `"s"."t" AS "m"` {
		t.Errorf("RelationSQL(table) = %s", got)
	}
	if got := RelationSQL(connectors.Relation{Table: &connectors.Table{Name: "t"}}, ""); got != `"t"` {
		t.Errorf("RelationSQL(table, no alias) = %s", got)
	}
	// A trailing line comment must not swallow the closing parenthesis.
	if got := RelationSQL(connectors.Relation{SQL: "select 1 -- note;"}, "m"); got != "(\nselect 1 -- note\n) AS \"m\"" {
		t.Errorf("RelationSQL(sql) = %q", got)
	}
	if got := ModelSQL("select 1;"); got != "SELECT * FROM (\nselect 1\n) AS sluice_model LIMIT 0" {
		t.Errorf("ModelSQL = %q", got)
	}
}

func TestQuotedRelationSQL(t *testing.T) {
	tick := func(s string) string { return "`" + s + "`" }
	tbl := connectors.Relation{Table: &connectors.Table{Schema: "sales", Name: "customers"}}
	for _, c := range []struct{ got, want string }{
		{QuotedRelationSQL(tick, tbl, "m", "main"), "`main`.`sales`.`customers` AS `m`"},
		{QuotedRelationSQL(tick, tbl, "", ""), "`sales`.`customers`"},
		{QuotedRelationSQL(tick, connectors.Relation{Table: &connectors.Table{Name: "t"}}, "m", "main"), "`t` AS `m`"},
		{QuotedRelationSQL(tick, connectors.Relation{SQL: "SELECT 1;"}, "m"), "(\nSELECT 1\n) AS `m`"},
		{RelationSQL(tbl, "m"), `"sales"."customers" AS "m"`},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
