package databricks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"sluice/connectors"
	"sluice/sources/sqlsource"
)

// Validate runs the five stages of the seed, each statement bounded by the statement
// timeout (which is also how long a stopped warehouse may take to start). Each stage
// answers in words; after a failure the later stages are skipped.
func (s *source) Validate(ctx context.Context, models []connectors.ModelRef) []connectors.Check {
	v := &validation{source: s, models: models}
	return sqlsource.Stages{
		Connection: v.connection,
		Access:     v.access,
		Schema:     v.schema,
		Grants:     v.grants,
		Lineage:    v.lineage,
		Timeout:    s.statementTimeout,
	}.Run(ctx)
}

type validation struct {
	*source
	models []connectors.ModelRef
	user   string
}

func (v *validation) fail(err error) (bool, string) {
	return false, v.set.classify(err).Message
}

// principal is the user or service principal as a GRANT statement names it.
func (v *validation) principal() string { return "`" + strings.ReplaceAll(v.user, "`", "``") + "`" }

// connection: does the workspace answer, take the credentials, and run a statement on
// the warehouse (starting it if it was stopped)?
func (v *validation) connection(ctx context.Context) (bool, string) {
	via, err := v.tunnel.Reach(ctx) // the bastion first, so a failure names its hop
	if err != nil {
		return v.fail(err)
	}
	resp, err := v.runIn(ctx, "", "", "SELECT current_user()", nil, "INLINE")
	if err != nil {
		return v.fail(err)
	}
	err = v.rows(ctx, resp, func(row []*string) error {
		v.user = str(row, 0)
		return nil
	})
	if err != nil {
		return v.fail(err)
	}
	return true, fmt.Sprintf("Connected to workspace %s%s, SQL warehouse %s, as %s.", v.set.host, via, v.set.warehouse, v.user)
}

// access: can the principal see the configured catalog, and use it (USE CATALOG, or
// ownership)? When it cannot see it, name the catalogs it can.
func (v *validation) access(ctx context.Context) (bool, string) {
	cats, err := v.runNames(ctx, "", "", "SELECT catalog_name FROM system.information_schema.catalogs ORDER BY catalog_name")
	if err != nil {
		return v.fail(err)
	}
	if !slices.Contains(cats, v.set.catalog) {
		msg := fmt.Sprintf("Catalog %s does not exist, or %s has no privilege on it. Check the catalog setting.", v.set.catalog, v.user)
		if len(cats) > 0 {
			if len(cats) > 10 {
				cats = append(cats[:10], "…")
			}
			msg += " Catalogs " + v.user + " can see: " + strings.Join(cats, ", ") + "."
		}
		return false, msg
	}
	ok, err := v.holds(ctx, "SELECT privilege_type FROM information_schema.catalog_privileges WHERE catalog_name = :p1 AND (grantee = current_user() OR is_account_group_member(grantee))",
		"SELECT count(*) FROM information_schema.catalogs WHERE catalog_name = :p1 AND (catalog_owner = current_user() OR is_account_group_member(catalog_owner))",
		"USE CATALOG", v.set.catalog)
	if err != nil {
		return v.fail(err)
	}
	if !ok {
		return false, fmt.Sprintf("%s cannot use catalog %s. Run: GRANT USE CATALOG ON CATALOG %s TO %s;", v.user, v.set.catalog, v.set.catalog, v.principal())
	}
	return true, fmt.Sprintf("%s can run queries and use catalog %s.", v.user, v.set.catalog)
}

// runNames is names with an explicit default catalog and schema.
func (v *validation) runNames(ctx context.Context, catalog, schema, sql string, args ...any) ([]string, error) {
	resp, err := v.runIn(ctx, catalog, schema, sql, args, "INLINE")
	if err != nil {
		return nil, err
	}
	var out []string
	err = v.rows(ctx, resp, func(row []*string) error {
		out = append(out, str(row, 0))
		return nil
	})
	return out, err
}

// holds reports whether the principal (or a group of theirs) holds privilege, or ALL
// PRIVILEGES, by the grants privSQL lists, or owns the object by ownerSQL's count.
func (v *validation) holds(ctx context.Context, privSQL, ownerSQL, privilege string, args ...any) (bool, error) {
	privs, err := v.names(ctx, privSQL, args...)
	if err != nil {
		return false, err
	}
	if slices.Contains(privs, privilege) || slices.Contains(privs, "ALL PRIVILEGES") {
		return true, nil
	}
	n, err := v.count(ctx, ownerSQL, args...)
	return n > 0, err
}

// schema: does the configured schema exist in the catalog? When it does not, name the
// ones that do.
func (v *validation) schema(ctx context.Context) (bool, string) {
	n, err := v.count(ctx, "SELECT count(*) FROM information_schema.schemata WHERE schema_name = :p1", v.set.schema)
	if err != nil {
		return v.fail(err)
	}
	if n > 0 {
		return true, fmt.Sprintf("Schema %s.%s exists.", v.set.catalog, v.set.schema)
	}
	msg := fmt.Sprintf("Schema %q does not exist in catalog %s. Check the schema setting.", v.set.schema, v.set.catalog)
	if names, err := v.names(ctx, schemasSQL); err == nil && len(names) > 0 {
		if len(names) > 10 {
			names = append(names[:10], "…")
		}
		msg += " Schemas in " + v.set.catalog + ": " + strings.Join(names, ", ") + "."
	}
	return false, msg
}

// probe runs what a model reads with LIMIT 0: its table, or its SQL.
func (v *validation) probe(ctx context.Context, m connectors.ModelRef) error {
	sql := sqlsource.ModelSQL(m.Relation.SQL)
	if m.Relation.Table != nil {
		sql = "SELECT * FROM " + v.Dialect().RelationSQL(connectors.Relation{Table: &connectors.Table{
			Schema: v.schemaOr(m.Relation.Table.Schema), Name: m.Relation.Table.Name}}, "") + " LIMIT 0"
	}
	_, err := v.run(ctx, sql, nil, "INLINE")
	return err
}

// grantProblem words a missing privilege Unity Catalog reported, with the statement
// that grants it.
func (v *validation) grantProblem(st *statementError) string {
	m := privilegeRE.FindStringSubmatch(st.Message)
	if m == nil {
		return "Databricks refused a privilege: " + sentence(stripClass(st.Message))
	}
	return fmt.Sprintf("Missing %s on %s %s. Run: GRANT %s ON %s %s TO %s;", m[1], strings.ToLower(m[2]), m[3], m[1], strings.ToUpper(m[2]), m[3], v.principal())
}

// grants: USE SCHEMA on the schema and SELECT on every table or view the models read
// (every one in the schema when there are no models yet), granted to the principal or a
// group of theirs, on the object or inherited from its schema or catalog, or held as
// owner. Each missing grant is named with the statement that fixes it.
func (v *validation) grants(ctx context.Context) (bool, string) {
	var problems []string
	schemaOwner := "SELECT count(*) FROM information_schema.schemata WHERE schema_name = :p1 AND (schema_owner = current_user() OR is_account_group_member(schema_owner))"
	usage, err := v.holds(ctx, "SELECT privilege_type FROM information_schema.schema_privileges WHERE schema_name = :p1 AND (grantee = current_user() OR is_account_group_member(grantee))",
		schemaOwner, "USE SCHEMA", v.set.schema)
	if err != nil {
		return v.fail(err)
	}
	full := v.set.catalog + "." + v.set.schema
	if !usage {
		problems = append(problems, fmt.Sprintf("Missing USE SCHEMA on schema %s. Run: GRANT USE SCHEMA ON SCHEMA %s TO %s;", full, full, v.principal()))
	}

	if len(v.models) > 0 {
		// What the models read, read with LIMIT 0: Unity Catalog checks every privilege
		// on every table and view a query names, and says which one is missing. (The
		// tables a SQL model reads cannot be listed without parsing it, and a table the
		// principal holds no privilege on may not even show in information_schema.)
		seen := map[string]bool{}
		for _, problem := range problems {
			seen[problem] = true
		}
		for _, m := range v.models {
			err := v.probe(ctx, m)
			var st *statementError
			if !errors.As(err, &st) || st.class() != "INSUFFICIENT_PERMISSIONS" {
				continue // readable, or the lineage stage's to report
			}
			problem := v.grantProblem(st)
			if m.Relation.Table == nil {
				problem = "Model " + m.Name + ": " + problem
			}
			if !seen[problem] {
				seen[problem] = true
				problems = append(problems, problem)
			}
		}
		if len(problems) > 0 {
			return false, strings.Join(problems, " ")
		}
		what := "everything the model reads"
		if len(v.models) > 1 {
			what = fmt.Sprintf("everything the %d models read", len(v.models))
		}
		return true, fmt.Sprintf("%s has USE CATALOG on %s, USE SCHEMA on %s and SELECT on %s.", v.user, v.set.catalog, full, what)
	}

	// No models yet: every table and view of the schema, by its grants.
	names, err := v.names(ctx, tablesSQL, v.set.schema)
	if err != nil {
		return v.fail(err)
	}
	rows, err := v.inline(ctx, `SELECT table_name FROM information_schema.table_privileges
WHERE table_schema = :p1 AND privilege_type IN ('SELECT', 'ALL PRIVILEGES') AND (grantee = current_user() OR is_account_group_member(grantee))
UNION ALL SELECT table_name FROM information_schema.tables
WHERE table_schema = :p1 AND (table_owner = current_user() OR is_account_group_member(table_owner))`, v.set.schema)
	if err != nil {
		return v.fail(err)
	}
	readable := map[string]bool{}
	for _, r := range rows {
		readable[str(r, 0)] = true
	}
	var missing []string
	for _, n := range names {
		if !readable[n] {
			missing = append(missing, full+"."+n)
		}
	}
	if len(missing) > 0 {
		stmts := make([]string, len(missing))
		for i, m := range missing {
			stmts[i] = fmt.Sprintf("GRANT SELECT ON TABLE %s TO %s;", m, v.principal())
		}
		if len(stmts) > 5 {
			stmts = append(stmts[:5], fmt.Sprintf("(and %d more)", len(stmts)-5))
		}
		problems = append(problems, fmt.Sprintf("Missing SELECT on %s. Run: %s", strings.Join(missing, ", "), strings.Join(stmts, " ")))
	}
	scope := fmt.Sprintf("%s in schema %s", tablesWord("all", len(names)), full)
	if len(problems) > 0 {
		return false, strings.Join(problems, " ")
	}
	return true, fmt.Sprintf("%s has USE CATALOG on %s, USE SCHEMA on %s and SELECT on %s.", v.user, v.set.catalog, full, scope)
}

// lineage: does every model's table still exist, and does every model's SQL still run?
// The SQL runs with LIMIT 0: the warehouse resolves every table and column and reads
// nothing.
func (v *validation) lineage(ctx context.Context) (bool, string) {
	return sqlsource.Lineage(ctx, v.models, func(ctx context.Context, m connectors.ModelRef) error {
		if t := m.Relation.Table; t == nil && sqlsource.TrimSQL(m.Relation.SQL) == "" {
			return errors.New("it has neither a table nor SQL")
		}
		err := v.probe(ctx, m)
		var st *statementError
		if t := m.Relation.Table; t != nil && errors.As(err, &st) && st.class() == "TABLE_OR_VIEW_NOT_FOUND" {
			return fmt.Errorf("the table %s.%s.%s no longer exists", v.set.catalog, v.schemaOr(t.Schema), t.Name)
		}
		if errors.As(err, &st) && st.State == "FAILED" {
			what := "its SQL no longer runs"
			if m.Relation.Table != nil {
				what = "its table can no longer be read"
			}
			return fmt.Errorf("%s: %s", what, stripClass(strings.SplitN(st.Message, "\n", 2)[0]))
		}
		if err != nil {
			return v.set.classify(err)
		}
		return nil
	})
}

// tablesWord counts tables and views in words: "the one table or view", "all 3 tables
// and views", "no table or view".
func tablesWord(det string, n int) string {
	switch n {
	case 0:
		return "no table or view"
	case 1:
		return "the one table or view"
	}
	return fmt.Sprintf("%s %d tables and views", det, n)
}
