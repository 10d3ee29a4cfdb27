// Package redshift is the Amazon Redshift source connector. Redshift speaks the
// PostgreSQL wire protocol, so this package is the postgres connector with a Redshift
// Flavor: connecting, error wording, the five validation stages and streaming are the
// postgres package's code; only what Redshift does differently is here.
//
// What differs from PostgreSQL, and why:
//
//   - Port 5439, Redshift's default; SSL mode require by default, as for PostgreSQL.
//   - Results travel in text format (pgx QueryExecModeExec): Redshift does not send
//     binary results, which pgx asks for by default. Parameters are still bound, never
//     interpolated.
//   - Tables and columns come from svv_tables and svv_columns: unlike information_schema
//     they include late-binding views and external (Spectrum) tables, and unlike
//     pg_table_def they are not limited to the schemas on the search_path.
//   - The grants stage, when no model narrows it, checks the tables and views pg_class
//     lists (local ones; external tables are governed by USAGE on their external schema
//     and by Lake Formation or IAM, which SQL cannot check). has_table_privilege and
//     has_schema_privilege work as on PostgreSQL, but only in queries that read nothing
//     but pg_* catalogue tables (they are leader-node functions), which is how they are
//     used. Redshift has no CONNECT privilege on databases (has_database_privilege
//     knows only CREATE and TEMP), so that check is left out: logging in proves it.
//   - The tables a SQL model reads cannot be listed (Redshift has no pg_depend on
//     temporary views to read), so the grants stage runs each SQL model with LIMIT 0 and
//     reports permission errors against the model.
//   - There is no make_interval: "days ago" is DATEADD(day, -n, GETDATE()). GETDATE() is
//     the start of the statement in the session's time zone (UTC, which the connector
//     sets at login), without time zone, like Redshift's timestamps.
//   - LIKE patterns get no ESCAPE clause: backslash is already Redshift's LIKE escape,
//     and '\' would not parse, since Redshift's string literals read a backslash as an
//     escape.
//   - Redshift folds identifiers to lower case, quoted or not, unless
//     enable_case_sensitive_identifier is on; quoting still protects reserved words and
//     spaces.
//   - Every query runs in a BEGIN READ ONLY transaction (Redshift's BEGIN takes READ
//     ONLY) with a statement timeout set for that transaction alone (set_config with
//     is_local), and is rolled back: the PostgreSQL connector's Query. Redshift
//     releases before patch 204 refused, inside a read-only transaction, the first read
//     of a datashare or external table ("Failed to incorporate external table …
//     transaction is read-only"); clusters on those releases need the patch to read such
//     tables.
//
// None of this can run against a real Redshift in the tests. They check the spec and the
// dialect's SQL, and run the shared code paths with this flavor against a local
// PostgreSQL, where svv_tables and svv_columns are stood in for by views with Redshift's
// documented columns.
package redshift

import (
	"github.com/jackc/pgx/v5"

	"sluice/connectors"
	"sluice/sources/postgres"
)

// Kind is the registry key of the Redshift connector.
const Kind = "redshift"

// Catalogue queries; see the package comment for why these views. table_catalog pins
// the connected database, since datashares add other databases' tables to the views.
const (
	tablesSQL = `SELECT table_name FROM svv_tables
WHERE table_catalog = current_database() AND table_schema = $1
ORDER BY table_name`
	readableSQL = `SELECT c.relname, has_table_privilege(quote_ident(n.nspname) || '.' || quote_ident(c.relname), 'SELECT')
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm')
ORDER BY c.relname`
	columnsSQL = `SELECT column_name, data_type,
       CASE WHEN character_maximum_length IS NOT NULL
                 THEN data_type || '(' || CAST(character_maximum_length AS VARCHAR) || ')'
            WHEN data_type = 'numeric' AND numeric_precision IS NOT NULL
                 THEN data_type || '(' || CAST(numeric_precision AS VARCHAR) || ',' || CAST(numeric_scale AS VARCHAR) || ')'
            ELSE data_type END
FROM svv_columns
WHERE table_catalog = current_database() AND table_schema = $1 AND table_name = $2
ORDER BY ordinal_position`
	relationCountSQL = `SELECT count(*) FROM svv_tables
WHERE table_catalog = current_database() AND table_schema = $1 AND table_name = $2`
)

// Flavor is Redshift's difference from PostgreSQL, for postgres.NewFlavor.
func Flavor() postgres.Flavor {
	return postgres.Flavor{
		Kind:             Kind,
		Label:            "Amazon Redshift",
		DefaultPort:      5439,
		HostHelp:         "The cluster or workgroup endpoint without the port, e.g. examplecluster.abc123.eu-west-1.redshift.amazonaws.com.",
		Dialect:          Dialect{},
		ExecMode:         pgx.QueryExecModeExec,
		TablesSQL:        tablesSQL,
		ReadableSQL:      readableSQL,
		ColumnsSQL:       columnsSQL,
		RelationCountSQL: relationCountSQL,
		// No CONNECT privilege exists in Redshift; DatabasePrivilege stays empty.
		ProbeReferences: false,
	}
}

// New returns the Redshift source connector, for main to register.
func New() connectors.SourceConnector { return postgres.NewFlavor(Flavor()) }

var (
	_ connectors.Dialect     = Dialect{}
	_ connectors.LikeEscaper = Dialect{}
	_ connectors.KeyOrderer  = Dialect{}
)

// Dialect is Redshift's SQL: PostgreSQL's quoting, placeholders and ILIKE, with its own
// date arithmetic and LIKE escape.
type Dialect struct{ postgres.Dialect }

// Name is "redshift".
func (Dialect) Name() string { return Kind }

// DaysAgo is DATEADD(day, -CAST(ph AS INTEGER), GETDATE()): Redshift has no
// make_interval, and GETDATE() is the current time in the session's zone (UTC: Redshift's
// default, and the connector opens sessions in UTC) as a timestamp, comparable with date,
// timestamp and timestamptz columns. The cast makes the bound parameter an integer
// whatever type the driver sends it as (a bare -$1 would leave it ambiguous), so DATEADD
// accepts it.
func (Dialect) DaysAgo(ph string) string {
	return "DATEADD(day, -CAST(" + ph + " AS INTEGER), GETDATE())"
}

// LikeEscape is empty: Redshift's LIKE and ILIKE already escape with a backslash by
// default, and its string literals treat a backslash as an escape, so the standard
// ESCAPE '\' the compiler writes otherwise would not even parse there.
func (Dialect) LikeEscape() string { return "" }

// KeyTextSQL is COLLATE(CAST(column AS VARCHAR(65535)), 'case_sensitive'): Redshift has
// no locale collations, and case_sensitive compares bytes, so keys come in Go's string
// order. The length is explicit since a bare VARCHAR is VARCHAR(256) there and would cut
// long keys. (PostgreSQL's COLLATE "C", which Dialect would inherit, does not parse.)
func (Dialect) KeyTextSQL(column string) string {
	return "COLLATE(CAST(" + column + " AS VARCHAR(65535)), 'case_sensitive')"
}
