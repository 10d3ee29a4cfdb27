package databricks

import (
	"context"
	"fmt"
	"regexp"
	"strings"
)

// Unity Catalog, kept in the fake's PostgreSQL database:
//
//   - catalog c, schema s is the PostgreSQL schema "c.s"; its tables are ordinary tables
//     (CreateSchema makes one, Exec fills it);
//   - schema __uc holds the catalogs, the grants and group membership;
//   - every catalog has "c.information_schema" with the views Databricks documents
//     (catalogs, schemata, tables, columns, catalog_privileges, schema_privileges,
//     table_privileges), computed from PostgreSQL's own catalogue and __uc, with
//     Databricks' type names; "system.information_schema" lists every catalog.
//
// Owners have every privilege on what they own, as in Unity Catalog; every catalog,
// schema and table belongs to Admin. Privileges on a catalog or schema are inherited
// by what it holds (table_privileges shows them with inherited_from).

// Admin is the principal that owns everything the fake creates.
const Admin = "admin@example.com"

// Privileges, as Unity Catalog names them.
const (
	UseCatalog    = "USE CATALOG"
	UseSchema     = "USE SCHEMA"
	Select        = "SELECT"
	AllPrivileges = "ALL PRIVILEGES"
)

// Securable types.
const (
	OnCatalog = "CATALOG"
	OnSchema  = "SCHEMA"
	OnTable   = "TABLE"
)

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

const ucSetup = `
CREATE SCHEMA IF NOT EXISTS __uc;
CREATE TABLE IF NOT EXISTS __uc.catalogs (name text PRIMARY KEY, owner text NOT NULL);
CREATE TABLE IF NOT EXISTS __uc.grants (
	grantor text NOT NULL, principal text NOT NULL, securable_type text NOT NULL,
	catalog text NOT NULL, schema_name text NOT NULL DEFAULT '', table_name text NOT NULL DEFAULT '',
	privilege text NOT NULL,
	UNIQUE (principal, securable_type, catalog, schema_name, table_name, privilege));
CREATE TABLE IF NOT EXISTS __uc.members (grp text NOT NULL, member text NOT NULL, PRIMARY KEY (grp, member));
CREATE OR REPLACE FUNCTION __uc.is_account_group_member(g text) RETURNS boolean LANGUAGE sql STABLE AS $$
	SELECT g = 'account users' OR EXISTS (SELECT 1 FROM __uc.members m WHERE m.grp = g AND m.member = current_setting('databricks.current_user'))
$$;
CREATE OR REPLACE FUNCTION __uc.type_name(t oid, m integer) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE format_type(t, NULL)
		WHEN 'integer' THEN 'INT' WHEN 'bigint' THEN 'BIGINT' WHEN 'smallint' THEN 'SMALLINT'
		WHEN 'double precision' THEN 'DOUBLE' WHEN 'real' THEN 'FLOAT' WHEN 'numeric' THEN 'DECIMAL'
		WHEN 'boolean' THEN 'BOOLEAN' WHEN 'text' THEN 'STRING' WHEN 'character varying' THEN 'STRING'
		WHEN 'date' THEN 'DATE' WHEN 'timestamp with time zone' THEN 'TIMESTAMP'
		WHEN 'timestamp without time zone' THEN 'TIMESTAMP_NTZ' WHEN 'bytea' THEN 'BINARY'
		WHEN 'jsonb' THEN 'STRUCT' WHEN 'json' THEN 'STRUCT'
		ELSE CASE WHEN format_type(t, NULL) LIKE '%[]' THEN 'ARRAY' ELSE 'STRING' END END
$$;
CREATE OR REPLACE FUNCTION __uc.full_type(t oid, m integer) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE __uc.type_name(t, m)
		WHEN 'DECIMAL' THEN replace(format_type(t, m), 'numeric', 'decimal')
		WHEN 'ARRAY' THEN 'array<string>' WHEN 'STRUCT' THEN 'struct<>' ELSE lower(__uc.type_name(t, m)) END
$$;
CREATE SCHEMA IF NOT EXISTS "system.information_schema";
CREATE OR REPLACE VIEW "system.information_schema".catalogs AS
	SELECT name AS catalog_name, owner AS catalog_owner, '' AS comment FROM __uc.catalogs;
`

// The views of one catalog's information_schema; %[1]s is the catalog's name as a
// literal, %[2]s its schema prefix as a literal ('c.').
const infoSchema = `
CREATE SCHEMA "%[3]s";
CREATE VIEW "%[3]s".catalogs AS
	SELECT name AS catalog_name, owner AS catalog_owner, '' AS comment FROM __uc.catalogs WHERE name = %[1]s;
CREATE VIEW "%[3]s".schemata AS
	SELECT %[1]s::text AS catalog_name, substr(n.nspname, length(%[2]s) + 1)::text AS schema_name,
	       (SELECT owner FROM __uc.catalogs WHERE name = %[1]s) AS schema_owner
	FROM pg_namespace n WHERE starts_with(n.nspname, %[2]s)
	UNION ALL SELECT %[1]s, 'information_schema', 'System user';
CREATE VIEW "%[3]s".tables AS
	SELECT %[1]s::text AS table_catalog, substr(n.nspname, length(%[2]s) + 1)::text AS table_schema,
	       c.relname::text AS table_name, CASE WHEN c.relkind = 'v' THEN 'VIEW' ELSE 'MANAGED' END AS table_type,
	       (SELECT owner FROM __uc.catalogs WHERE name = %[1]s) AS table_owner
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE starts_with(n.nspname, %[2]s) AND n.nspname <> '%[3]s' AND c.relkind IN ('r', 'v', 'm', 'p');
CREATE VIEW "%[3]s".columns AS
	SELECT %[1]s::text AS table_catalog, substr(n.nspname, length(%[2]s) + 1)::text AS table_schema,
	       c.relname::text AS table_name, a.attname::text AS column_name, a.attnum::int AS ordinal_position,
	       __uc.type_name(a.atttypid, a.atttypmod) AS data_type, __uc.full_type(a.atttypid, a.atttypmod) AS full_data_type,
	       CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END AS is_nullable
	FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE starts_with(n.nspname, %[2]s) AND n.nspname <> '%[3]s' AND c.relkind IN ('r', 'v', 'm', 'p')
	  AND a.attnum > 0 AND NOT a.attisdropped;
CREATE VIEW "%[3]s".catalog_privileges AS
	SELECT grantor, principal AS grantee, catalog AS catalog_name, privilege AS privilege_type,
	       'NO' AS is_grantable, NULL::text AS inherited_from
	FROM __uc.grants WHERE securable_type = 'CATALOG' AND catalog = %[1]s;
CREATE VIEW "%[3]s".schema_privileges AS
	SELECT g.grantor, g.principal AS grantee, g.catalog AS catalog_name, s.schema_name, g.privilege AS privilege_type,
	       'NO' AS is_grantable, CASE g.securable_type WHEN 'CATALOG' THEN g.catalog END AS inherited_from
	FROM __uc.grants g JOIN "%[3]s".schemata s ON g.catalog = s.catalog_name
	WHERE g.catalog = %[1]s AND (g.securable_type = 'SCHEMA' AND g.schema_name = s.schema_name OR g.securable_type = 'CATALOG' AND g.privilege <> 'USE CATALOG');
CREATE VIEW "%[3]s".table_privileges AS
	SELECT g.grantor, g.principal AS grantee, g.catalog AS table_catalog, t.table_schema, t.table_name,
	       g.privilege AS privilege_type, 'NO' AS is_grantable,
	       CASE g.securable_type WHEN 'CATALOG' THEN g.catalog WHEN 'SCHEMA' THEN g.catalog || '.' || g.schema_name END AS inherited_from
	FROM __uc.grants g JOIN "%[3]s".tables t ON g.catalog = t.table_catalog
	WHERE g.catalog = %[1]s AND g.privilege IN ('SELECT', 'MODIFY', 'ALL PRIVILEGES') AND (
	      g.securable_type = 'CATALOG'
	   OR g.securable_type = 'SCHEMA' AND g.schema_name = t.table_schema
	   OR g.securable_type = 'TABLE' AND g.schema_name = t.table_schema AND g.table_name = t.table_name);
`

// CreateCatalog adds a catalog owned by Admin, with its information_schema.
func (f *Fake) CreateCatalog(ctx context.Context, name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("databricks fake: catalog name %q: use lower-case letters, digits and _", name)
	}
	lit := quoteLiteral(name)
	sql := fmt.Sprintf(infoSchema, lit, quoteLiteral(name+"."), name+".information_schema")
	if _, err := f.pool.Exec(ctx, "INSERT INTO __uc.catalogs VALUES ($1, $2)", name, Admin); err != nil {
		return err
	}
	_, err := f.pool.Exec(ctx, sql)
	return err
}

// CreateSchema adds schema name to catalog: the PostgreSQL schema PGSchema(catalog, name).
func (f *Fake) CreateSchema(ctx context.Context, catalog, name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("databricks fake: schema name %q: use lower-case letters, digits and _", name)
	}
	_, err := f.pool.Exec(ctx, "CREATE SCHEMA "+quoteIdent(PGSchema(catalog, name)))
	return err
}

// PGSchema is the PostgreSQL schema that holds catalog.schema's tables, for a test to
// create and fill them.
func PGSchema(catalog, schema string) string { return catalog + "." + schema }

// Grant gives principal a privilege on a securable: on a catalog (name "c"), a schema
// ("c.s") or a table ("c.s.t").
func (f *Fake) Grant(ctx context.Context, principal, privilege, securable, name string) error {
	parts := strings.Split(name, ".")
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	_, err := f.pool.Exec(ctx, `INSERT INTO __uc.grants VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
		Admin, principal, securable, parts[0], parts[1], parts[2], privilege)
	return err
}

// Revoke takes a privilege back.
func (f *Fake) Revoke(ctx context.Context, principal, privilege, securable, name string) error {
	parts := strings.Split(name, ".")
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	_, err := f.pool.Exec(ctx, `DELETE FROM __uc.grants WHERE principal = $1 AND privilege = $2 AND securable_type = $3
		AND catalog = $4 AND schema_name = $5 AND table_name = $6`, principal, privilege, securable, parts[0], parts[1], parts[2])
	return err
}

// AddToGroup makes principal a member of an account group.
func (f *Fake) AddToGroup(ctx context.Context, group, principal string) error {
	_, err := f.pool.Exec(ctx, `INSERT INTO __uc.members VALUES ($1, $2) ON CONFLICT DO NOTHING`, group, principal)
	return err
}

// checkRelations checks, as Unity Catalog does before a query runs, that every
// relation exists and that principal may read it: USE CATALOG, USE SCHEMA and SELECT
// (each granted on the object or an ancestor, to the principal or a group of theirs),
// or ownership. information_schema is readable in any catalog the principal can see.
func (f *Fake) checkRelations(ctx context.Context, principal string, rels []relation) *sqlError {
	for _, r := range rels {
		if r.catalog == "system" && r.schema == "information_schema" {
			continue
		}
		var owner string
		err := f.pool.QueryRow(ctx, "SELECT owner FROM __uc.catalogs WHERE name = $1", r.catalog).Scan(&owner)
		visible := err == nil && (owner == principal || f.hasAny(ctx, principal, r.catalog))
		if !visible {
			return notFound(r)
		}
		if r.schema == "information_schema" {
			continue
		}
		var exists bool
		if err := f.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'v', 'm', 'p'))`, PGSchema(r.catalog, r.schema), r.name).Scan(&exists); err != nil || !exists {
			return notFound(r)
		}
		if owner == principal {
			continue
		}
		if !f.has(ctx, principal, UseCatalog, r.catalog, "", "") {
			return denied(UseCatalog, "Catalog", "'"+r.catalog+"'")
		}
		if !f.has(ctx, principal, UseSchema, r.catalog, r.schema, "") {
			return denied(UseSchema, "Schema", "'"+r.catalog+"."+r.schema+"'")
		}
		if !f.has(ctx, principal, Select, r.catalog, r.schema, r.name) {
			return denied(Select, "Table", "'"+r.String()+"'")
		}
	}
	return nil
}

func notFound(r relation) *sqlError {
	return &sqlError{"TABLE_OR_VIEW_NOT_FOUND", fmt.Sprintf("The table or view `%s`.`%s`.`%s` cannot be found. Verify the spelling and correctness of the schema and catalog.\nIf you did not qualify the name with a schema, verify the current_schema() output, or qualify the name with the correct schema and catalog.", r.catalog, r.schema, r.name), "42P01"}
}

func denied(privilege, kind, name string) *sqlError {
	return &sqlError{"INSUFFICIENT_PERMISSIONS", fmt.Sprintf("Insufficient privileges:\nUser does not have %s on %s %s.", privilege, kind, name), "42501"}
}

// has reports whether principal (or one of its groups) holds privilege (or ALL
// PRIVILEGES) on the object or an ancestor.
func (f *Fake) has(ctx context.Context, principal, privilege, catalog, schema, table string) bool {
	var ok bool
	err := f.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM __uc.grants g
		WHERE (g.principal = $1 OR g.principal = 'account users' OR EXISTS (SELECT 1 FROM __uc.members m WHERE m.grp = g.principal AND m.member = $1))
		  AND g.privilege IN ($2, 'ALL PRIVILEGES') AND g.catalog = $3
		  AND (g.securable_type = 'CATALOG' OR g.securable_type = 'SCHEMA' AND g.schema_name = $4
		       OR g.securable_type = 'TABLE' AND g.schema_name = $4 AND g.table_name = $5))`,
		principal, privilege, catalog, schema, table).Scan(&ok)
	return err == nil && ok
}

// hasAny reports whether principal holds any privilege on or inside catalog.
func (f *Fake) hasAny(ctx context.Context, principal, catalog string) bool {
	var ok bool
	err := f.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM __uc.grants g
		WHERE (g.principal = $1 OR g.principal = 'account users' OR EXISTS (SELECT 1 FROM __uc.members m WHERE m.grp = g.principal AND m.member = $1))
		  AND g.catalog = $2)`, principal, catalog).Scan(&ok)
	return err == nil && ok
}

// checkDefaults checks the statement's catalog and schema, as USE CATALOG and USE
// SCHEMA would: NO_SUCH_CATALOG_EXCEPTION and SCHEMA_NOT_FOUND.
func (f *Fake) checkDefaults(ctx context.Context, principal, catalog, schema string) *sqlError {
	var owner string
	err := f.pool.QueryRow(ctx, "SELECT owner FROM __uc.catalogs WHERE name = $1", catalog).Scan(&owner)
	if err != nil || owner != principal && !f.hasAny(ctx, principal, catalog) {
		return &sqlError{"NO_SUCH_CATALOG_EXCEPTION", fmt.Sprintf("Catalog '%s' was not found. Please verify the catalog name and then retry the query or command again.", catalog), "42704"}
	}
	if schema == "information_schema" {
		return nil
	}
	var exists bool
	if err := f.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", PGSchema(catalog, schema)).Scan(&exists); err != nil || !exists {
		return &sqlError{"SCHEMA_NOT_FOUND", fmt.Sprintf("The schema `%s`.`%s` cannot be found. Verify the spelling and correctness of the schema and catalog.\nIf you did not qualify the name with a catalog, verify the current_schema() output, or qualify the name with the correct catalog.", catalog, schema), "42704"}
	}
	return nil
}
