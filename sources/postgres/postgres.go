// Package postgres is the PostgreSQL source connector. It reads a warehouse through pgx:
// the five validation stages of the seed (connection, access, schema, grants, lineage),
// the catalogue for the model editor, and a streaming Query for the sync engine.
//
// Engines that speak the PostgreSQL protocol but differ in their catalogue (Amazon
// Redshift) reuse this package through a Flavor, so connecting, error wording, the
// stage logic and streaming exist once.
package postgres

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"sluice/connectors"
	"sluice/sources/sqlsource"
	"sluice/sources/sshtunnel"
)

// Kind is the registry key of the PostgreSQL connector.
const Kind = "postgres"

// The timeouts of a connection and of each validation statement. Ten seconds is longer
// than any healthy handshake across regions and short enough that "Validate now" answers
// while the user waits; checks are catalogue lookups that must never run for minutes.
const (
	DefaultConnectTimeout   = 10 * time.Second
	DefaultStatementTimeout = 30 * time.Second
)

// DefaultQueryTimeout is the statement timeout of every other query Sluice runs on the
// warehouse: model previews, segment counts and the sync's extraction. A sync reads
// its segment as one statement that stays open while the destination loads (the
// warehouse waits when loading does), so this is the longest a run can read for, not how
// long a query should take; an hour covers a full first sync of millions of rows to a
// slow platform, and a run stopped by it resumes from its last committed batch. Previews
// and counts end sooner: their requests' contexts cancel them.
const DefaultQueryTimeout = time.Hour

// The SSL modes offered. "disable" is there for private networks and local demos; the
// default is "require" because warehouses are usually reached over the internet.
var sslModes = []string{"disable", "require", "verify-ca", "verify-full"}

// Flavor is what differs between engines that speak the PostgreSQL protocol: how the
// kind is named, its default port, its SQL dialect, how queries travel, and the catalogue
// queries. Everything else is shared. PostgreSQL() is the flavor of PostgreSQL itself.
type Flavor struct {
	// Kind is the registry key ("postgres", "redshift"), also the dialect's family.
	Kind string
	// Label is the name users pick in the source form.
	Label string
	// DefaultPort pre-fills the port field.
	DefaultPort int
	// HostHelp is the hint under the host field (where to find the endpoint).
	HostHelp string
	Dialect  connectors.Dialect
	// ExecMode is how pgx sends queries. PostgreSQL describes each statement first and
	// gets binary results; engines without binary result support need text formats.
	// Never the simple protocol: it would run several statements sent as one.
	ExecMode pgx.QueryExecMode

	// TablesSQL lists the tables and views of schema $1 the model editor can offer, one
	// name per row, ordered by name.
	TablesSQL string
	// ReadableSQL lists every table and view of schema $1 with whether the current user
	// may SELECT from it (name, bool), for the grants stage when no model narrows it.
	ReadableSQL string
	// ColumnsSQL describes table $2 of schema $1, in column order: name, the type name to
	// normalize, the type as the engine displays it.
	ColumnsSQL string
	// RelationCountSQL counts tables and views named $2 in schema $1 (0 or 1).
	RelationCountSQL string
	// DatabasePrivilege is the privilege on the database the grants stage requires
	// ("CONNECT" on PostgreSQL); empty skips the check, for engines without one.
	DatabasePrivilege string
	// ProbeReferences finds the tables a SQL model reads by creating a temporary view of
	// it in a rolled-back transaction and reading pg_depend. Engines without temporary
	// views fall back to running the query with LIMIT 0 and reporting permission errors.
	ProbeReferences bool
}

// The catalogue of PostgreSQL. pg_class rather than information_schema: the information
// schema hides materialized views and tables the user cannot read, and the grants stage
// must name exactly those. Partitions are left out: reading the parent is enough.
const (
	pgTablesSQL = `SELECT c.relname
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm', 'p', 'f') AND NOT c.relispartition
ORDER BY c.relname`
	pgReadableSQL = `SELECT c.relname, has_table_privilege(c.oid, 'SELECT')
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm', 'p', 'f') AND NOT c.relispartition
ORDER BY c.relname`
	// Domains are described by their base type and enums as text, since that is what
	// their values are when read.
	pgColumnsSQL = `SELECT a.attname,
       CASE WHEN t.typtype = 'd' THEN b.typname WHEN t.typtype = 'e' THEN 'text' ELSE t.typname END,
       format_type(a.atttypid, a.atttypmod)
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_type b ON b.oid = t.typbasetype
WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`
	pgRelationCountSQL = `SELECT count(*)
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'v', 'm', 'p', 'f')`
)

// PostgreSQL is the flavor of PostgreSQL itself.
func PostgreSQL() Flavor {
	return Flavor{
		Kind:              Kind,
		Label:             "PostgreSQL",
		DefaultPort:       5432,
		HostHelp:          "The server's host name or IP address, e.g. db.example.com.",
		Dialect:           Dialect{},
		ExecMode:          pgx.QueryExecModeDescribeExec,
		TablesSQL:         pgTablesSQL,
		ReadableSQL:       pgReadableSQL,
		ColumnsSQL:        pgColumnsSQL,
		RelationCountSQL:  pgRelationCountSQL,
		DatabasePrivilege: "CONNECT",
		ProbeReferences:   true,
	}
}

// New returns the PostgreSQL source connector, for main to register.
func New() connectors.SourceConnector { return NewFlavor(PostgreSQL()) }

// NewFlavor returns a connector for an engine that speaks the PostgreSQL protocol with
// the given differences; sources/redshift is built this way.
func NewFlavor(f Flavor) connectors.SourceConnector {
	if f.ExecMode == 0 {
		f.ExecMode = pgx.QueryExecModeDescribeExec
	}
	if f.ExecMode == pgx.QueryExecModeSimpleProtocol {
		// The simple protocol runs every statement of a string: a model's SQL could
		// end Query's read-only transaction with "; COMMIT;" and write after it.
		panic("postgres: flavor " + f.Kind + " must not send queries by the simple protocol")
	}
	if f.Dialect == nil {
		f.Dialect = Dialect{}
	}
	if f.DefaultPort == 0 {
		f.DefaultPort = 5432
	}
	// A flavor states only what differs; the rest of the catalogue is PostgreSQL's.
	pg := PostgreSQL()
	for _, q := range []struct {
		dst *string
		def string
	}{
		{&f.TablesSQL, pg.TablesSQL}, {&f.ReadableSQL, pg.ReadableSQL},
		{&f.ColumnsSQL, pg.ColumnsSQL}, {&f.RelationCountSQL, pg.RelationCountSQL},
	} {
		if *q.dst == "" {
			*q.dst = q.def
		}
	}
	return &connector{
		flavor:           f,
		connectTimeout:   DefaultConnectTimeout,
		statementTimeout: DefaultStatementTimeout,
		queryTimeout:     DefaultQueryTimeout,
	}
}

type connector struct {
	flavor           Flavor
	connectTimeout   time.Duration
	statementTimeout time.Duration // validation statements
	queryTimeout     time.Duration // every query: previews, counts, syncs
}

// Spec describes the form: where the warehouse is, who Sluice logs in as, which schema
// holds the tables models read, and the SSH tunnel it may be reached through.
func (c *connector) Spec() connectors.SourceSpec {
	return connectors.SourceSpec{
		Kind:  c.flavor.Kind,
		Label: c.flavor.Label,
		Fields: append([]connectors.FieldSpec{
			{Name: "host", Label: "Host", Type: connectors.FieldString, Required: true, Help: c.flavor.HostHelp},
			{Name: "port", Label: "Port", Type: connectors.FieldInt, Default: strconv.Itoa(c.flavor.DefaultPort)},
			{Name: "database", Label: "Database", Type: connectors.FieldString, Required: true},
			{Name: "user", Label: "User", Type: connectors.FieldString, Required: true,
				Help: "A read-only user for Sluice, e.g. sluice_reader."},
			{Name: "password", Label: "Password", Type: connectors.FieldPassword, Secret: true},
			{Name: "sslmode", Label: "SSL mode", Type: connectors.FieldSelect, Options: sslModes, Default: "require",
				Help: "require encrypts the connection; verify-ca and verify-full also check the server's certificate."},
			{Name: "schema", Label: "Schema", Type: connectors.FieldString, Default: "public",
				Help: "The schema whose tables and views models read."},
		}, sshtunnel.Fields()...),
	}
}

// settings are a validated config, kept for wording messages.
type settings struct {
	host     string
	port     int
	database string
	user     string
	sslmode  string
	schema   string
}

func (s settings) addr() string { return net.JoinHostPort(s.host, strconv.Itoa(s.port)) }

// Open checks the config and prepares a pool without connecting: connection problems are
// the connection stage's to report in words, so a source with a wrong password can still
// be opened, validated and shown as broken.
func (c *connector) Open(ctx context.Context, cfg connectors.Config) (connectors.Source, error) {
	set, poolCfg, tunnel, err := c.poolConfig(cfg)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		_ = tunnel.Close()
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration,
			Message: "The connection settings are not valid.", Detail: err.Error(), Err: err}
	}
	return &source{flavor: c.flavor, set: set, pool: pool, connCfg: poolCfg.ConnConfig, tunnel: tunnel, statementTimeout: c.statementTimeout, queryTimeout: c.queryTimeout}, nil
}

// throughTunnel makes every connection of cfg go through the tunnel: pgx dials the
// warehouse's host:port over the bastion, which also resolves the name (the warehouse
// is often on a private network whose names only the bastion knows).
func throughTunnel(cfg *pgx.ConnConfig, tunnel *sshtunnel.Tunnel) {
	cfg.LookupFunc = func(_ context.Context, host string) ([]string, error) { return []string{host}, nil }
	cfg.DialFunc = tunnel.DialContext
	for _, fb := range cfg.Fallbacks {
		fb.Host = cfg.Host
	}
}

func (c *connector) poolConfig(in connectors.Config) (settings, *pgxpool.Config, *sshtunnel.Tunnel, error) {
	set, poolCfg, err := c.directConfig(in)
	if err != nil {
		return settings{}, nil, nil, err
	}
	tc, ok, err := sshtunnel.FromConfig(in)
	if err != nil || !ok {
		return set, poolCfg, nil, err
	}
	tc.ConnectTimeout = c.connectTimeout
	tunnel, err := tc.Open()
	if err != nil {
		return settings{}, nil, nil, err
	}
	throughTunnel(poolCfg.ConnConfig, tunnel)
	return set, poolCfg, tunnel, nil
}

// directConfig is the pool's config without a tunnel.
func (c *connector) directConfig(in connectors.Config) (settings, *pgxpool.Config, error) {
	cfg := connectors.Config{}
	for k, v := range in {
		cfg[k] = strings.TrimSpace(v)
	}
	cfg["password"] = in["password"] // a password may well begin or end with a space
	if err := cfg.Validate(c.Spec().Fields); err != nil {
		return settings{}, nil, err
	}
	port, _ := strconv.Atoi(cfg["port"])
	if port < 1 || port > 65535 {
		return settings{}, nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: "port",
			Message: "Port must be between 1 and 65535."}
	}
	set := settings{host: cfg["host"], port: port, database: cfg["database"], user: cfg["user"],
		sslmode: cfg["sslmode"], schema: cfg["schema"]}

	// A URL rather than a keyword string: url escapes any character a password holds.
	u := url.URL{Scheme: "postgres", Host: set.addr(), Path: "/" + set.database}
	if pw := cfg["password"]; pw != "" {
		u.User = url.UserPassword(set.user, pw)
	} else {
		u.User = url.User(set.user)
	}
	u.RawQuery = url.Values{"sslmode": {set.sslmode}, "application_name": {"sluice"}}.Encode()
	poolCfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		return settings{}, nil, &connectors.Error{Category: connectors.CategoryConfiguration,
			Message: "The connection settings are not valid.", Detail: err.Error(), Err: err}
	}
	poolCfg.MaxConns = 4 // a sync streams one query; the rest is catalogue lookups
	poolCfg.MinConns = 0
	poolCfg.MaxConnIdleTime = 5 * time.Minute
	poolCfg.ConnConfig.ConnectTimeout = c.connectTimeout
	poolCfg.ConnConfig.DefaultQueryExecMode = c.flavor.ExecMode
	// Sessions run in UTC, whatever the server, database or role default: the dialect's
	// DaysAgo is now() (GETDATE() on Redshift), which PostgreSQL compares with timestamp
	// and date columns by reading them in the session's zone, and Sluice reads
	// timestamps without a time zone as UTC. A startup parameter outranks ALTER DATABASE
	// and ALTER ROLE settings, so no default set on the warehouse can change it.
	poolCfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	return set, poolCfg, nil
}

// source is an open connection pool to one warehouse.
type source struct {
	flavor           Flavor
	set              settings
	pool             *pgxpool.Pool
	connCfg          *pgx.ConnConfig
	tunnel           *sshtunnel.Tunnel // nil without an SSH tunnel
	statementTimeout time.Duration     // validation statements
	queryTimeout     time.Duration     // every query
}

// Dialect is the flavor's SQL dialect, for the segment compiler.
func (s *source) Dialect() connectors.Dialect { return s.flavor.Dialect }

// Close closes the pool, waiting for connections in use to be released, then the
// tunnel.
func (s *source) Close() error {
	s.pool.Close()
	return s.tunnel.Close()
}

// PresentedHostKey is the host key the SSH bastion presented (connectors.HostKeyReporter);
// "" without a tunnel or before a connection.
func (s *source) PresentedHostKey() string { return s.tunnel.PresentedHostKey() }

// schemaOr picks the configured schema when the caller gave none.
func (s *source) schemaOr(schema string) string {
	if schema == "" {
		return s.set.schema
	}
	return schema
}

// qualified is the quoted schema.name, for has_table_privilege and messages.
func qualified(schema, name string) string {
	return sqlsource.QuoteIdent(schema) + "." + sqlsource.QuoteIdent(name)
}
