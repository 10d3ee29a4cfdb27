package postgres

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"sluice/connectors"
	"sluice/sources/sqlsource"
)

// classify turns whatever pgx returned into a connector error: the category of the seed,
// a message a marketer or admin can act on, the raw text for the run log, and the field
// to fix. The raw text never carries the password (pgx leaves it out of its errors).
func (set settings) classify(err error) *connectors.Error {
	if err == nil {
		return nil
	}
	if ce, ok := connectors.AsError(err); ok {
		return ce
	}
	e := &connectors.Error{Category: connectors.CategoryConnection, Detail: err.Error(), Err: err}
	var connecting *pgconn.ConnectError
	isConnect := errors.As(err, &connecting)

	var pe *pgconn.PgError
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var netErr net.Error
	switch {
	case errors.As(err, &pe):
		set.classifyServer(e, pe, isConnect)
	case errors.Is(err, context.Canceled):
		e.Message = "The request was cancelled before the warehouse answered."
	case strings.Contains(err.Error(), "server refused TLS connection"):
		e.Category, e.Field = connectors.CategoryConfiguration, "sslmode"
		e.Message = fmt.Sprintf("%s does not accept encrypted (TLS) connections. Enable SSL on the server, or set SSL mode to disable if the connection runs over a private network.", set.addr())
	case errors.As(err, &certErr), errors.As(err, &unknownAuthority), errors.As(err, &hostnameErr), errors.As(err, &invalidCert):
		e.Category, e.Field = connectors.CategoryConfiguration, "sslmode"
		e.Message = fmt.Sprintf("The TLS certificate of %s could not be verified (SSL mode %s): it is not signed by a trusted authority or does not match the host name. Use SSL mode require, or connect with the host name on the certificate.", set.addr(), set.sslmode)
	case errors.As(err, &dnsErr):
		e.Field = "host"
		e.Retryable = !dnsErr.IsNotFound
		e.Message = fmt.Sprintf("Cannot reach %s: the host name %q does not resolve. Check the host.", set.addr(), set.host)
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Field, e.Retryable = "host", true
		e.Message = fmt.Sprintf("Cannot reach %s: the connection was refused. Check the host and port, and that the warehouse accepts connections from Sluice.", set.addr())
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		e.Field, e.Retryable = "host", true
		e.Message = fmt.Sprintf("Cannot reach %s: there is no network route to it. Check the host, and that the warehouse's network lets Sluice in.", set.addr())
	case pgconn.Timeout(err), errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		e.Category, e.Retryable = connectors.CategoryTimeout, true
		if isConnect {
			e.Field = "host"
			e.Message = fmt.Sprintf("Connecting to %s timed out. Check the host and port, and that the warehouse's firewall lets Sluice in.", set.addr())
		} else {
			e.Message = "The warehouse did not answer in time."
		}
	case isConnect:
		e.Retryable = true
		e.Message = fmt.Sprintf("Cannot connect to %s.", set.addr())
	default:
		e.Retryable = true
		e.Message = "The connection to the warehouse failed."
	}
	return e
}

// classifyServer words an error the server itself reported, by its SQLSTATE. Codes come
// first; the message is read only where one code covers several causes (28000), and in
// its default English, since that is what it is in nearly every warehouse.
func (set settings) classifyServer(e *connectors.Error, pe *pgconn.PgError, connecting bool) {
	msg := strings.ToLower(pe.Message)
	user := sqlsource.DisplayIdent(set.user)
	switch {
	case pe.Code == "28P01",
		// Redshift and servers older than 9.2 report a wrong password as 28000.
		pe.Code == "28000" && strings.Contains(msg, "authentication failed"):
		e.Category, e.Field = connectors.CategoryCredentials, "password"
		e.Message = "The user or password is wrong."
	case pe.Code == "28000" && strings.Contains(msg, "role") && strings.Contains(msg, "does not exist"):
		// Under password authentication the server answers 28P01 for a missing role too;
		// only trust-style setups say the role is missing, and then the user field is at fault.
		e.Category, e.Field = connectors.CategoryCredentials, "user"
		e.Message = "The user or password is wrong."
	case pe.Code == "28000" && (strings.Contains(msg, "no encryption") || strings.Contains(msg, "ssl off")):
		e.Category, e.Field = connectors.CategoryConfiguration, "sslmode"
		e.Message = fmt.Sprintf("%s only accepts encrypted connections. Set SSL mode to require.", set.addr())
	case pe.Code == "28000" && strings.Contains(msg, "not permitted to log in"):
		e.Category, e.Field = connectors.CategoryCredentials, "user"
		e.Message = fmt.Sprintf("User %s is not allowed to log in. Run: ALTER ROLE %s LOGIN;", user, user)
	case pe.Code == "28000" && strings.Contains(msg, "pg_hba.conf"):
		e.Category, e.Field = connectors.CategoryCredentials, "host"
		e.Message = fmt.Sprintf("%s does not accept connections from Sluice's address for user %s and database %s. Ask the database administrator to allow it (pg_hba.conf or the warehouse's network settings).", set.addr(), user, sqlsource.DisplayIdent(set.database))
	case pe.Code == "28000":
		e.Category, e.Field = connectors.CategoryCredentials, "user"
		e.Message = fmt.Sprintf("The server refused the login of user %s.", user)
	case pe.Code == "3D000":
		e.Category, e.Field = connectors.CategoryNotFound, "database"
		e.Message = fmt.Sprintf("Database %q does not exist on %s. Check the database name.", set.database, set.addr())
	case pe.Code == "3F000":
		e.Category, e.Field = connectors.CategoryNotFound, "schema"
		e.Message = fmt.Sprintf("Schema %q does not exist. Check the schema name.", set.schema)
	case pe.Code == "42501" && connecting:
		e.Category, e.Field = connectors.CategoryCredentials, "user"
		db := sqlsource.DisplayIdent(set.database)
		e.Message = fmt.Sprintf("User %s may not connect to database %s. Run: GRANT CONNECT ON DATABASE %s TO %s;", user, db, db, user)
	case pe.Code == "42501":
		e.Category = connectors.CategoryCredentials
		e.Message = fmt.Sprintf("User %s lacks a permission: %s.", user, pe.Message)
	case pe.Code == "25006":
		// read_only_sql_transaction: every session Sluice opens on a warehouse is read-only.
		e.Category = connectors.CategoryConfiguration
		e.Message = fmt.Sprintf("Sluice only reads the warehouse, and the query tried to change it: %s. Keep models to SELECT queries.", pe.Message)
	case pe.Code == "57014":
		e.Category, e.Retryable = connectors.CategoryTimeout, true
		e.Message = "The warehouse cancelled the query: it ran longer than allowed."
	case pe.Code == "53300" || pe.Code == "53400":
		e.Retryable = true
		e.Message = fmt.Sprintf("%s has no free connections right now. Sluice will try again.", set.addr())
	case strings.HasPrefix(pe.Code, "57P"):
		e.Retryable = true
		e.Message = fmt.Sprintf("%s is starting up, shutting down or restarting. Sluice will try again.", set.addr())
	case pe.Code == "42P01":
		e.Category = connectors.CategoryNotFound
		e.Message = fmt.Sprintf("A table the query reads does not exist: %s.", pe.Message)
	case strings.HasPrefix(pe.Code, "08"):
		e.Retryable = true
		e.Message = fmt.Sprintf("The connection to %s failed: %s.", set.addr(), pe.Message)
	case strings.HasPrefix(pe.Code, "42") || strings.HasPrefix(pe.Code, "22"):
		e.Category = connectors.CategoryConfiguration
		e.Message = fmt.Sprintf("The warehouse rejected the query: %s.", pe.Message)
	default:
		e.Message = fmt.Sprintf("The warehouse reported an error: %s.", pe.Message)
	}
}
