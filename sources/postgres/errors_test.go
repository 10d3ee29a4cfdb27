package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"sluice/connectors"
)

// The server errors below are the ones PostgreSQL and Redshift send; the integration
// tests reach most of them for real, these pin the wording and the category of each,
// including the ones no local server can be made to send (Redshift's 28000 for a wrong
// password, a pg_hba rule demanding TLS).
func TestClassify(t *testing.T) {
	set := settings{host: "db.example.com", port: 5432, database: "analytics", user: "sluice_reader", sslmode: "require", schema: "public"}
	cases := []struct {
		name     string
		err      error
		category connectors.Category
		field    string
		message  string
	}{
		{"wrong password", &pgconn.PgError{Code: "28P01", Message: `password authentication failed for user "sluice_reader"`},
			connectors.CategoryCredentials, "password", "The user or password is wrong."},
		{"wrong password on Redshift", &pgconn.PgError{Code: "28000", Message: `password authentication failed for user "sluice_reader"`},
			connectors.CategoryCredentials, "password", "The user or password is wrong."},
		{"no such user", &pgconn.PgError{Code: "28000", Message: `role "sluice_reader" does not exist`},
			connectors.CategoryCredentials, "user", "The user or password is wrong."},
		{"TLS required", &pgconn.PgError{Code: "28000", Message: `no pg_hba.conf entry for host "10.0.0.1", user "sluice_reader", database "analytics", no encryption`},
			connectors.CategoryConfiguration, "sslmode", "db.example.com:5432 only accepts encrypted connections. Set SSL mode to require."},
		{"address not allowed", &pgconn.PgError{Code: "28000", Message: `no pg_hba.conf entry for host "10.0.0.1", user "sluice_reader", database "analytics", SSL encryption`},
			connectors.CategoryCredentials, "host", "db.example.com:5432 does not accept connections from Sluice's address"},
		{"nologin", &pgconn.PgError{Code: "28000", Message: `role "sluice_reader" is not permitted to log in`},
			connectors.CategoryCredentials, "user", "User sluice_reader is not allowed to log in. Run: ALTER ROLE sluice_reader LOGIN;"},
		{"missing database", &pgconn.PgError{Code: "3D000", Message: `database "analytics" does not exist`},
			connectors.CategoryNotFound, "database", `Database "analytics" does not exist on db.example.com:5432.`},
		{"statement timeout", &pgconn.PgError{Code: "57014", Message: "canceling statement due to statement timeout"},
			connectors.CategoryTimeout, "", "The warehouse cancelled the query: it ran longer than allowed."},
		{"permission denied", &pgconn.PgError{Code: "42501", Message: "permission denied for table orders"},
			connectors.CategoryCredentials, "", "User sluice_reader lacks a permission: permission denied for table orders."},
		{"too many connections", &pgconn.PgError{Code: "53300", Message: "sorry, too many clients already"},
			connectors.CategoryConnection, "", "db.example.com:5432 has no free connections right now."},
		{"refused", fmt.Errorf("dial: %w", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}),
			connectors.CategoryConnection, "host", "Cannot reach db.example.com:5432: the connection was refused."},
		{"dns", &net.DNSError{Err: "no such host", Name: "db.example.com", IsNotFound: true},
			connectors.CategoryConnection, "host", `Cannot reach db.example.com:5432: the host name "db.example.com" does not resolve.`},
		{"server refused TLS", errors.New("server refused TLS connection"),
			connectors.CategoryConfiguration, "sslmode", "db.example.com:5432 does not accept encrypted (TLS) connections."},
		{"deadline", fmt.Errorf("read: %w", context.DeadlineExceeded),
			connectors.CategoryTimeout, "", "The warehouse did not answer in time."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ce := set.classify(tc.err)
			if ce.Category != tc.category || ce.Field != tc.field || !strings.Contains(ce.Message, tc.message) {
				t.Errorf("got %s/%q %q, want %s/%q %q", ce.Category, ce.Field, ce.Message, tc.category, tc.field, tc.message)
			}
			if !errors.Is(ce, tc.err) {
				t.Error("the original error must stay in the chain")
			}
			if ce.Detail == "" {
				t.Error("the raw detail is kept for the run log")
			}
		})
	}
}

func TestNormalizeType(t *testing.T) {
	cases := map[string]connectors.ColumnType{
		"text": connectors.TypeString, "character varying(255)": connectors.TypeString, "varchar": connectors.TypeString,
		"character(3)": connectors.TypeString, "bpchar": connectors.TypeString, "uuid": connectors.TypeString, "citext": connectors.TypeString,
		"int2": connectors.TypeInteger, "int4": connectors.TypeInteger, "int8": connectors.TypeInteger, "BIGINT": connectors.TypeInteger,
		"numeric(12,2)": connectors.TypeNumber, "float4": connectors.TypeNumber, "double precision": connectors.TypeNumber,
		"bool": connectors.TypeBoolean, "boolean": connectors.TypeBoolean,
		"date":      connectors.TypeDate,
		"timestamp": connectors.TypeTimestamp, "timestamptz": connectors.TypeTimestamp,
		"timestamp(3) with time zone": connectors.TypeTimestamp, "timestamp without time zone": connectors.TypeTimestamp,
		"json": connectors.TypeJSON, "jsonb": connectors.TypeJSON, "super": connectors.TypeJSON,
		"text[]": connectors.TypeUnknown, "_int4": connectors.TypeUnknown, "bytea": connectors.TypeUnknown,
		"interval": connectors.TypeUnknown, "time": connectors.TypeUnknown, "": connectors.TypeUnknown,
	}
	for in, want := range cases {
		if got := NormalizeType(in); got != want {
			t.Errorf("NormalizeType(%q) = %s, want %s", in, got, want)
		}
	}
}
