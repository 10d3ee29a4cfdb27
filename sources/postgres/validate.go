package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"sluice/connectors"
	"sluice/sources/sqlsource"
)

// Validate runs the five stages of the seed on a fresh connection of its own (a pooled
// one could hide that new connections now fail), with a statement timeout so no check
// can hang the daily validation. Each stage answers in words; after a failure the later
// stages are skipped.
func (s *source) Validate(ctx context.Context, models []connectors.ModelRef) []connectors.Check {
	v := &validation{source: s, models: models}
	defer v.close()
	return sqlsource.Stages{
		Connection: v.connection,
		Access:     v.access,
		Schema:     v.schema,
		Grants:     v.grants,
		Lineage:    v.lineage,
		Timeout:    s.connCfg.ConnectTimeout + 4*s.statementTimeout,
	}.Run(ctx)
}

// validation is one run of the stages, sharing the connection the first one opens.
type validation struct {
	*source
	models       []connectors.ModelRef
	conn         *pgx.Conn
	schemaExists bool
}

func (v *validation) close() {
	if v.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = v.conn.Close(ctx)
	}
}

// fail words err for a stage result.
func (v *validation) fail(err error) (bool, string) {
	return false, v.set.classify(err).Message
}

// connection: can Sluice log in at all? Through a tunnel, the bastion is reached and
// logged in to first, so a failure names its hop: the bastion unreachable, Sluice's key
// refused, the bastion's host key changed, or the warehouse unreachable from it.
func (v *validation) connection(ctx context.Context) (bool, string) {
	via, err := v.tunnel.Reach(ctx)
	if err != nil {
		return v.fail(err)
	}
	conn, err := pgx.ConnectConfig(ctx, v.connCfg.Copy())
	if err != nil {
		return v.fail(err)
	}
	v.conn = conn
	ms := v.statementTimeout.Milliseconds()
	if _, err := conn.Exec(ctx, fmt.Sprintf("SET statement_timeout TO %d", ms)); err != nil {
		return v.fail(err)
	}
	return true, fmt.Sprintf("Connected to %s%s, database %s, as %s.", v.set.addr(), via,
		sqlsource.DisplayIdent(v.set.database), sqlsource.DisplayIdent(v.set.user))
}

// access: can the user run a query, and use the configured schema? A schema that does
// not exist is left to the schema stage, which says so plainly.
func (v *validation) access(ctx context.Context) (bool, string) {
	var one int
	if err := v.conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return v.fail(err)
	}
	n, err := v.count(ctx, v.conn, schemaCountSQL, v.set.schema)
	if err != nil {
		return v.fail(err)
	}
	v.schemaExists = n > 0
	if !v.schemaExists {
		return true, fmt.Sprintf("User %s can run queries.", v.user())
	}
	var usage bool
	if err := v.conn.QueryRow(ctx, "SELECT has_schema_privilege($1, 'USAGE')", v.set.schema).Scan(&usage); err != nil {
		return v.fail(err)
	}
	schema := sqlsource.DisplayIdent(v.set.schema)
	if !usage {
		return false, fmt.Sprintf("User %s cannot use schema %s. Run: GRANT USAGE ON SCHEMA %s TO %s;", v.user(), schema, schema, v.user())
	}
	return true, fmt.Sprintf("User %s can run queries and use schema %s.", v.user(), schema)
}

// schema: does the configured schema exist? When it does not, name the ones that do.
func (v *validation) schema(ctx context.Context) (bool, string) {
	if v.schemaExists {
		return true, fmt.Sprintf("Schema %s exists.", sqlsource.DisplayIdent(v.set.schema))
	}
	msg := fmt.Sprintf("Schema %q does not exist in database %s. Check the schema setting.", v.set.schema, sqlsource.DisplayIdent(v.set.database))
	if names, err := v.names(ctx, v.conn, schemasSQL); err == nil && len(names) > 0 {
		if len(names) > 10 {
			names = append(names[:10], "…")
		}
		msg += " Schemas you can use: " + strings.Join(names, ", ") + "."
	}
	return false, msg
}

// relation is a table or view a model reads.
type relation struct{ schema, name string }

func (r relation) display() string { return sqlsource.DisplayName(r.schema, r.name) }

// grants: CONNECT on the database (where the engine has it), USAGE on the schema, and SELECT on every table or
// view the models read (every one in the schema when there are no models yet). Each
// missing grant is named with the statement that fixes it.
func (v *validation) grants(ctx context.Context) (bool, string) {
	var dbPriv, usage bool
	var database, role string
	dbCheck := "true"
	if p := v.flavor.DatabasePrivilege; p != "" {
		dbCheck = fmt.Sprintf("has_database_privilege(current_database(), '%s')", strings.ReplaceAll(p, "'", "''"))
	}
	err := v.conn.QueryRow(ctx, "SELECT "+dbCheck+`, has_schema_privilege($1, 'USAGE'), current_database(), current_user`,
		v.set.schema).Scan(&dbPriv, &usage, &database, &role)
	if err != nil {
		return v.fail(err)
	}
	role = sqlsource.DisplayIdent(role)
	var problems []string
	if !dbPriv {
		db := sqlsource.DisplayIdent(database)
		p := v.flavor.DatabasePrivilege
		problems = append(problems, fmt.Sprintf("Missing %s on database %s. Run: GRANT %s ON DATABASE %s TO %s;", p, db, p, db, role))
	}
	if !usage {
		sch := sqlsource.DisplayIdent(v.set.schema)
		problems = append(problems, fmt.Sprintf("Missing USAGE on schema %s. Run: GRANT USAGE ON SCHEMA %s TO %s;", sch, sch, role))
	}

	var checked int
	var missing []relation
	var scope string
	if len(v.models) == 0 {
		rows, err := v.conn.Query(ctx, v.flavor.ReadableSQL, v.set.schema)
		if err != nil {
			return v.fail(err)
		}
		for rows.Next() {
			var name string
			var readable bool
			if err := rows.Scan(&name, &readable); err != nil {
				rows.Close()
				return v.fail(err)
			}
			checked++
			if !readable {
				missing = append(missing, relation{v.set.schema, name})
			}
		}
		if err := rows.Err(); err != nil {
			return v.fail(err)
		}
		scope = fmt.Sprintf("all %d tables and views in schema %s", checked, sqlsource.DisplayIdent(v.set.schema))
	} else {
		rels, modelProblems, err := v.referencedRelations(ctx)
		if err != nil {
			return v.fail(err)
		}
		problems = append(problems, modelProblems...)
		for _, r := range rels {
			var readable bool
			if err := v.conn.QueryRow(ctx, "SELECT has_table_privilege($1, 'SELECT')", qualified(r.schema, r.name)).Scan(&readable); err != nil {
				return v.fail(err)
			}
			checked++
			if !readable {
				missing = append(missing, r)
			}
		}
		scope = fmt.Sprintf("the %d tables and views the models read", checked)
	}
	if len(missing) > 0 {
		names := make([]string, len(missing))
		for i, r := range missing {
			names[i] = r.display()
		}
		list := strings.Join(names, ", ")
		problems = append(problems, fmt.Sprintf("Missing SELECT on %s. Run: GRANT SELECT ON %s TO %s;", list, list, role))
	}
	if len(problems) > 0 {
		return false, strings.Join(problems, " ")
	}
	var onDB string
	if p := v.flavor.DatabasePrivilege; p != "" {
		onDB = p + " on the database, "
	}
	return true, fmt.Sprintf("User %s has %sUSAGE on schema %s and SELECT on %s.", role, onDB, sqlsource.DisplayIdent(v.set.schema), scope)
}

// referencedRelations gathers what the models read: a table model its table (when it
// still exists; a missing one is the lineage stage's to report), a SQL model the tables
// and views its query names. Where those cannot be listed, the query is run with LIMIT 0
// and a permission error is reported against the model.
func (v *validation) referencedRelations(ctx context.Context) ([]relation, []string, error) {
	seen := map[relation]bool{}
	var rels []relation
	add := func(r relation) {
		if !seen[r] {
			seen[r] = true
			rels = append(rels, r)
		}
	}
	var problems []string
	for _, m := range v.models {
		if t := m.Relation.Table; t != nil {
			r := relation{v.schemaOr(t.Schema), t.Name}
			n, err := v.count(ctx, v.conn, v.flavor.RelationCountSQL, r.schema, r.name)
			if err != nil {
				return nil, nil, err
			}
			if n > 0 {
				add(r)
			}
			continue
		}
		if sqlsource.TrimSQL(m.Relation.SQL) == "" {
			continue
		}
		if v.flavor.ProbeReferences {
			if refs, err := v.probeReferences(ctx, m.Relation.SQL); err == nil {
				for _, r := range refs {
					add(r)
				}
				continue
			}
		}
		// Fallback: only a permission error tells us something about grants here.
		err := v.readOnly(ctx, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, sqlsource.ModelSQL(m.Relation.SQL))
			if err == nil {
				rows.Close()
				err = rows.Err()
			}
			return err
		})
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42501" {
			problems = append(problems, fmt.Sprintf("Model %s: %s.", m.Name, pe.Message))
		}
	}
	return rels, problems, nil
}

// probeSQL lists the tables and views a temporary view depends on: exactly the relations
// its query names, resolved by the server, with no SQL parsing on our side. Creating the
// view needs no SELECT on them, so it works for the very grants being checked.
const probeSQL = `SELECT DISTINCT n.nspname, c.relname
FROM pg_catalog.pg_rewrite r
JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
     AND d.refclassid = 'pg_catalog.pg_class'::regclass
JOIN pg_catalog.pg_class c ON c.oid = d.refobjid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE r.ev_class = 'pg_temp.sluice_probe'::regclass AND c.oid <> r.ev_class
  AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
ORDER BY 1, 2`

// probeReferences creates the model's query as a temporary view inside a transaction
// that is always rolled back, so nothing is left in the warehouse.
//
// It is the one transaction Sluice opens read-write (a read-only one refuses CREATE
// VIEW, even of a temporary view), and it stays safe: creating a view parses the query
// and stores it, nothing of it runs; the statement goes by the extended protocol, which
// carries exactly one, so "; COMMIT; ..." in the model cannot end the transaction; a
// view refuses data-modifying WITH clauses; and the rollback undoes the view and any
// setting changed with it.
func (v *validation) probeReferences(ctx context.Context, sql string) ([]relation, error) {
	tx, err := v.conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadWrite})
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	create := "CREATE TEMPORARY VIEW sluice_probe AS\n" + sqlsource.TrimSQL(sql)
	if _, err := tx.Conn().PgConn().ExecParams(ctx, create, nil, nil, nil, nil).Close(); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, probeSQL)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (relation, error) {
		var rel relation
		err := r.Scan(&rel.schema, &rel.name)
		return rel, err
	})
}

// lineage: does every model's table still exist, and does every model's SQL still
// compile? The SQL is prepared, not run: the server resolves every table and column.
func (v *validation) lineage(ctx context.Context) (bool, string) {
	return sqlsource.Lineage(ctx, v.models, func(ctx context.Context, m connectors.ModelRef) error {
		if t := m.Relation.Table; t != nil {
			schema := v.schemaOr(t.Schema)
			n, err := v.count(ctx, v.conn, v.flavor.RelationCountSQL, schema, t.Name)
			if err != nil {
				return v.set.classify(err)
			}
			if n == 0 {
				return fmt.Errorf("the table %s no longer exists", sqlsource.DisplayName(schema, t.Name))
			}
			return nil
		}
		if sqlsource.TrimSQL(m.Relation.SQL) == "" {
			return errors.New("it has neither a table nor SQL")
		}
		_, err := v.conn.PgConn().Prepare(ctx, "", sqlsource.ModelSQL(m.Relation.SQL), nil)
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return fmt.Errorf("its SQL no longer runs: %s", pe.Message)
		}
		if err != nil {
			return v.set.classify(err)
		}
		return nil
	})
}

func (v *validation) user() string { return sqlsource.DisplayIdent(v.set.user) }

// readOnly runs fn in a READ ONLY transaction on the validation's connection and rolls
// it back, as Query does on pooled sessions: where a check runs a model's SQL, it can
// neither write nor change the session for the checks after it.
func (v *validation) readOnly(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := v.conn.BeginTx(ctx, readOnlyTx(v.statementTimeout))
	if err != nil {
		return err
	}
	err = fn(tx)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	if rerr := tx.Rollback(rctx); err == nil && rerr != nil {
		err = rerr
	}
	return err
}
