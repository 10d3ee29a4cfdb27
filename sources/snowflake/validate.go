package snowflake

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"sluice/connectors"
	"sluice/sources/sqlsource"
)

// Validate runs the five stages of the seed, each a few statements with the validation
// timeout; after a failure the later stages are skipped.
func (s *source) Validate(ctx context.Context, models []connectors.ModelRef) []connectors.Check {
	v := &validation{source: s, models: models}
	return sqlsource.Stages{
		Connection: v.connection,
		Access:     v.access,
		Schema:     v.schema,
		Grants:     v.grants,
		Lineage:    v.lineage,
		Timeout:    2 * s.statementTimeout,
	}.Run(ctx)
}

type validation struct {
	*source
	models []connectors.ModelRef
}

// one runs a statement and answers its first row.
func (v *validation) one(ctx context.Context, sc scope, sql string, args ...any) ([]any, error) {
	var first []any
	err := v.runIn(ctx, sc, sql, args, v.statementTimeout, nil, func(row []any) error {
		if first == nil {
			first = append([]any(nil), row...)
		}
		return nil
	})
	return first, err
}

func (v *validation) fail(err error) (bool, string) { return false, v.classify(err).Message }

func str(v any) string {
	s, _ := v.(string)
	return s
}

// connection: does the account answer, and does it take the key? The statement carries
// no warehouse, role or database of the form, so those are the later stages' to judge.
func (v *validation) connection(ctx context.Context) (bool, string) {
	via, err := v.tunnel.Reach(ctx) // the bastion first, so a failure names its hop
	if err != nil {
		return v.fail(err)
	}
	row, err := v.one(ctx, scopeUser, "SELECT CURRENT_USER(), CURRENT_ACCOUNT()")
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.status == 422 {
			// Signed in: what failed is the user's defaults; the later stages judge the form's.
			return true, fmt.Sprintf("Connected to %s%s as %s.", v.host(), via, v.set.user)
		}
		return v.fail(err)
	}
	return true, fmt.Sprintf("Connected to %s%s as %s (key-pair authentication, key %s).", v.host(), via, str(row[0]), fingerprint(v.key))
}

// access: is the role granted to the user, and is the warehouse usable — it exists, the
// role may use it, and it is running or resumes by itself?
func (v *validation) access(ctx context.Context) (bool, string) {
	row, err := v.one(ctx, scopeRole, "SELECT CURRENT_ROLE(), CURRENT_WAREHOUSE()")
	if err != nil {
		return v.fail(err)
	}
	role, current := str(row[0]), str(row[1])
	wh := v.set.warehouse
	var state, autoResume string
	found := false
	// SHOW's columns are read by name: the documented list is long and grows.
	at := map[string]int{}
	err = v.runIn(ctx, scopeRole, "SHOW WAREHOUSES LIKE '"+strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(wh)+"'", nil, v.statementTimeout,
		func(cols []column) error {
			for i, c := range cols {
				at[strings.ToLower(c.Name)] = i
			}
			if _, ok := at["auto_resume"]; !ok {
				return errors.New("snowflake: SHOW WAREHOUSES answered without its name, state and auto_resume columns")
			}
			return nil
		}, func(r []any) error {
			if str(r[at["name"]]) == wh {
				found, state, autoResume = true, strings.ToUpper(str(r[at["state"]])), str(r[at["auto_resume"]])
			}
			return nil
		})
	if err != nil {
		return v.fail(err)
	}
	switch {
	case !found || current == "":
		return false, fmt.Sprintf("Warehouse %s does not exist, or role %s may not use it. Run: GRANT USAGE ON WAREHOUSE %s TO ROLE %s;", wh, role, wh, role)
	case state == "SUSPENDED" && autoResume != "true":
		return false, fmt.Sprintf("Warehouse %s is suspended and does not resume by itself, so Sluice's queries cannot run. Run: ALTER WAREHOUSE %s SET AUTO_RESUME = TRUE; (or ALTER WAREHOUSE %s RESUME;)", wh, wh, wh)
	case state == "SUSPENDED":
		return true, fmt.Sprintf("Role %s can use warehouse %s (suspended now; it resumes when a query comes).", role, wh)
	}
	return true, fmt.Sprintf("Role %s can use warehouse %s (%s).", role, wh, strings.ToLower(state))
}

// schema: do the database and the schema exist for the role? Snowflake does not tell a
// missing object from one the role may not use, so the message names both causes.
func (v *validation) schema(ctx context.Context) (bool, string) {
	row, err := v.one(ctx, scopeFull, "SELECT CURRENT_ROLE(), CURRENT_DATABASE(), CURRENT_SCHEMA()")
	var ae *apiError
	if errors.As(err, &ae) && (ae.body.Code == "002043" || ae.body.Code == "002003" || ae.body.Code == "090105") {
		// A Snowflake that refuses the statement for its database or schema rather than
		// running it without them: the same answer, in the same words.
		row, err = []any{v.roleName(), "", ""}, nil
		if !strings.Contains(ae.body.Message, "Database") && ae.body.Code != "090105" {
			row[1] = v.set.database
		}
	}
	if err != nil {
		return v.fail(err)
	}
	role, db, sch := str(row[0]), str(row[1]), str(row[2])
	if db == "" {
		return false, fmt.Sprintf("Database %s does not exist, or role %s has no USAGE on it. Check the database name, or run: GRANT USAGE ON DATABASE %s TO ROLE %s;", v.set.database, role, v.set.database, role)
	}
	if sch == "" {
		msg := fmt.Sprintf("Schema %s does not exist in database %s, or role %s has no USAGE on it. Check the schema name, or run: GRANT USAGE ON SCHEMA %s.%s TO ROLE %s;", v.set.schema, db, role, db, v.set.schema, role)
		if names, err := v.Schemas(ctx); err == nil && len(names) > 0 {
			if len(names) > 10 {
				names = append(names[:10], "…")
			}
			msg += " Schemas role " + role + " can use: " + strings.Join(names, ", ") + "."
		}
		return false, msg
	}
	return true, fmt.Sprintf("Database %s and schema %s exist and role %s may use them.", db, sch, role)
}

// maxProbed bounds the tables the grants stage reads when no model narrows it.
const maxProbed = 200

// grants: SELECT on every table or view the models read (every one in the schema the
// role can see when there are none yet), proven by reading none of its rows (LIMIT 0).
// A SQL model is probed the same way and a permission error reported against it.
func (v *validation) grants(ctx context.Context) (bool, string) {
	type target struct{ what, from, fix string }
	var targets []target
	grant := func(schema, name string) string {
		return fmt.Sprintf("GRANT SELECT ON TABLE %s.%s.%s TO ROLE %s;", v.set.database, displayIdent(schema), displayIdent(name), v.roleName())
	}
	if len(v.models) == 0 {
		tables, err := v.Tables(ctx, "")
		if err != nil {
			return v.fail(err)
		}
		for i, t := range tables {
			if i == maxProbed {
				break
			}
			targets = append(targets, target{"table " + displayName(t.Schema, t.Name),
				Dialect{}.RelationSQL(connectors.Relation{Table: &t}, ""), grant(t.Schema, t.Name)})
		}
	}
	for _, m := range v.models {
		if t := m.Relation.Table; t != nil {
			tt := connectors.Table{Schema: v.schemaOr(t.Schema), Name: t.Name}
			targets = append(targets, target{fmt.Sprintf("table %s (model %s)", displayName(tt.Schema, tt.Name), m.Name),
				Dialect{}.RelationSQL(connectors.Relation{Table: &tt}, ""), grant(tt.Schema, tt.Name)})
		} else if sqlsource.TrimSQL(m.Relation.SQL) != "" {
			targets = append(targets, target{"the tables of model " + m.Name, "(\n" + sqlsource.TrimSQL(m.Relation.SQL) + "\n)", ""})
		}
	}
	var problems []string
	for _, t := range targets {
		err := v.run(ctx, "SELECT * FROM "+t.from+" AS sluice_probe LIMIT 0", nil, v.statementTimeout, nil, nil)
		var ae *apiError
		switch {
		case err == nil:
		case errors.As(err, &ae) && (ae.body.Code == "002003" || ae.body.Code == "003001" || ae.body.SQLState == "42501"):
			detail := strings.Join(strings.Fields(strings.TrimPrefix(ae.body.Message, "SQL compilation error:")), " ")
			p := fmt.Sprintf("Role %s cannot read %s: %s", v.roleName(), t.what, strings.TrimSuffix(detail, "."))
			if t.fix != "" {
				p += ". If it exists, run: " + t.fix
			} else {
				p += ". Grant the role SELECT on it."
			}
			problems = append(problems, p)
		case errors.As(err, &ae) && ae.status == 422 && t.fix == "":
			// A SQL model that no longer compiles is the lineage stage's to report.
		default:
			return v.fail(err)
		}
	}
	if len(problems) > 0 {
		return false, strings.Join(problems, " ")
	}
	objects := fmt.Sprintf("%d tables and views", len(targets))
	if len(targets) == 1 {
		objects = "the one table or view"
	}
	scope := objects + " the models read"
	if len(v.models) == 0 {
		scope = fmt.Sprintf("%s of schema %s it can see", objects, v.set.schema)
	}
	return true, fmt.Sprintf("Role %s has SELECT on %s.", v.roleName(), scope)
}

// lineage: does every model's table still exist, and does every model's SQL still
// compile? Each is described with LIMIT 0: Snowflake resolves every table and column
// and reads no row.
func (v *validation) lineage(ctx context.Context) (bool, string) {
	return sqlsource.Lineage(ctx, v.models, func(ctx context.Context, m connectors.ModelRef) error {
		var from string
		if t := m.Relation.Table; t != nil {
			from = Dialect{}.RelationSQL(connectors.Relation{Table: &connectors.Table{Schema: v.schemaOr(t.Schema), Name: t.Name}}, "")
		} else if sql := sqlsource.TrimSQL(m.Relation.SQL); sql != "" {
			from = "(\n" + sql + "\n)"
		} else {
			return errors.New("it has neither a table nor SQL")
		}
		err := v.run(ctx, "SELECT * FROM "+from+" AS sluice_model LIMIT 0", nil, v.statementTimeout, nil, nil)
		var ae *apiError
		if errors.As(err, &ae) && ae.status == 422 {
			if m.Relation.Table != nil {
				return fmt.Errorf("its table %s no longer resolves: %s", displayName(v.schemaOr(m.Relation.Table.Schema), m.Relation.Table.Name), compact(ae.body.Message))
			}
			return fmt.Errorf("its SQL no longer runs: %s", compact(ae.body.Message))
		}
		if err != nil {
			return v.classify(err)
		}
		return nil
	})
}

func compact(msg string) string {
	return strings.Join(strings.Fields(strings.TrimPrefix(msg, "SQL compilation error:")), " ")
}
