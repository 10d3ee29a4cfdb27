package snowflake

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"syscall"

	"sluice/connectors"
)

func (s *source) roleName() string {
	if s.set.role == "" {
		return "(the user's default role)"
	}
	return s.set.role
}

func (s *source) host() string {
	return strings.TrimPrefix(strings.TrimPrefix(s.base, "https://"), "http://")
}

func isNetwork(err error) bool {
	var netErr net.Error
	var dnsErr *net.DNSError
	return errors.As(err, &netErr) || errors.As(err, &dnsErr)
}

var quotedName = regexp.MustCompile(`'([^']*)'`)

// classify turns what a request returned into a connector error: the category of the
// seed, a message naming what is at fault and how to fix it, the raw answer for the run
// log, and the field of the form to fix. The raw answer never holds the key or the JWT
// (Snowflake does not echo them).
func (s *source) classify(err error) *connectors.Error {
	if err == nil {
		return nil
	}
	if ce, ok := connectors.AsError(err); ok {
		return ce
	}
	e := &connectors.Error{Category: connectors.CategoryConnection, Detail: err.Error(), Err: err}
	var ae *apiError
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var netErr net.Error
	switch {
	case errors.As(err, &ae):
		s.classifyAPI(e, ae)
	case errors.Is(err, context.Canceled):
		e.Message = "The request was cancelled before Snowflake answered."
	case errors.As(err, &dnsErr):
		e.Field, e.Retryable = "account", !dnsErr.IsNotFound
		e.Message = fmt.Sprintf("Cannot reach %s: the account identifier %q does not resolve. Check the account identifier (orgname-accountname, as in your Snowflake URL).", s.host(), s.set.account)
	case errors.As(err, &certErr), errors.As(err, &unknownAuthority):
		e.Field = "account"
		e.Message = fmt.Sprintf("The TLS certificate of %s could not be verified. Check the account identifier.", s.host())
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Field, e.Retryable = "account", true
		e.Message = fmt.Sprintf("Cannot reach %s: the connection was refused. Check the account identifier, and that Sluice's network may reach Snowflake.", s.host())
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		e.Category, e.Retryable = connectors.CategoryTimeout, true
		e.Message = fmt.Sprintf("%s did not answer in time.", s.host())
	case isNetwork(err):
		e.Field, e.Retryable = "account", true
		e.Message = fmt.Sprintf("Cannot reach %s. Check the account identifier, and that Sluice's network may reach Snowflake.", s.host())
	default:
		e.Retryable = true
		e.Message = "Snowflake's answer could not be read."
	}
	return e
}

// classifyAPI words an answer of the SQL API by its HTTP status and Snowflake's code.
func (s *source) classifyAPI(e *connectors.Error, ae *apiError) {
	code, msg := ae.body.Code, strings.TrimSpace(ae.body.Message)
	role, user := s.roleName(), s.set.user
	// Snowflake's compilation errors begin "SQL compilation error:" and a newline.
	plain := strings.Join(strings.Fields(strings.TrimPrefix(msg, "SQL compilation error:")), " ")
	switch {
	case ae.status == http.StatusUnauthorized:
		e.Category, e.Field = connectors.CategoryCredentials, "private_key"
		e.Message = fmt.Sprintf("Snowflake did not accept Sluice's key for user %s on account %s (%s). Check the account identifier and the user, and that the user's public key is this key's: its fingerprint is %s, which DESC USER %s shows as RSA_PUBLIC_KEY_FP when it is set (ALTER USER %s SET RSA_PUBLIC_KEY='…').",
			user, s.set.jwtAcct, strings.TrimSpace(msg), fingerprint(s.key), user, user)
	case ae.status == http.StatusForbidden:
		e.Category, e.Field = connectors.CategoryCredentials, "account"
		e.Message = fmt.Sprintf("Snowflake refused Sluice's request: %s Ask a Snowflake administrator to let Sluice's address in (the network policy of the account or of user %s).", msg, user)
	case ae.status == http.StatusTooManyRequests:
		e.Category, e.Retryable = connectors.CategoryRateLimit, true
		e.Message = "Snowflake is refusing requests for now: too many were sent. Sluice will try again."
	case ae.status == http.StatusRequestTimeout || code == "000630":
		e.Category, e.Retryable = connectors.CategoryTimeout, true
		e.Message = "Snowflake cancelled the query: it ran longer than its timeout. " + msg
	case ae.status == http.StatusNotFound:
		e.Category, e.Retryable = connectors.CategoryNotFound, true
		e.Message = "Snowflake no longer knows the statement Sluice was reading (its results expire after a day). Sluice will run it again."
	case code == "390189":
		e.Category, e.Field = connectors.CategoryCredentials, "role"
		e.Message = fmt.Sprintf("Role %s is not granted to user %s. Run: GRANT ROLE %s TO USER %s; or choose a role the user has.", role, user, role, user)
	case code == "000606":
		e.Category, e.Field = connectors.CategoryConfiguration, "warehouse"
		e.Message = fmt.Sprintf("No running warehouse for Sluice's queries: warehouse %s does not exist, role %s may not use it, or it is suspended without AUTO_RESUME. Run: GRANT USAGE ON WAREHOUSE %s TO ROLE %s; ALTER WAREHOUSE %s SET AUTO_RESUME = TRUE;", s.set.warehouse, role, s.set.warehouse, role, s.set.warehouse)
	case code == "090105":
		e.Category, e.Field = connectors.CategoryNotFound, "database"
		e.Message = fmt.Sprintf("Database %s does not exist, or role %s has no USAGE on it. Run: GRANT USAGE ON DATABASE %s TO ROLE %s;", s.set.database, role, s.set.database, role)
	case code == "002003" || code == "002043":
		e.Category = connectors.CategoryNotFound
		name := ""
		if m := quotedName.FindStringSubmatch(msg); m != nil {
			name = m[1]
		}
		grant := "SELECT ON " + name
		switch {
		case strings.Contains(msg, "Database '"):
			e.Field, grant = "database", "USAGE ON DATABASE "+name
		case strings.Contains(msg, "Schema '"):
			e.Field, grant = "schema", "USAGE ON SCHEMA "+name
		}
		e.Message = fmt.Sprintf("Snowflake: %s (role %s). If it exists, grant the role access to it: GRANT %s TO ROLE %s;", plain, role, grant, role)
	case code == "003001" || ae.body.SQLState == "42501":
		e.Category = connectors.CategoryCredentials
		e.Message = fmt.Sprintf("Role %s lacks a privilege: %s.", role, plain)
	case code == "000604":
		e.Message = "The query was cancelled."
	case code == "000008":
		e.Category = connectors.CategoryConfiguration
		e.Message = "A model's SQL must be one query: Snowflake ran none of it because it holds several statements."
	case strings.HasPrefix(ae.body.SQLState, "42") || strings.HasPrefix(ae.body.SQLState, "22") || strings.HasPrefix(code, "001") || strings.HasPrefix(code, "002"):
		e.Category = connectors.CategoryConfiguration
		e.Message = "Snowflake rejected the query: " + plain
	case ae.status >= 500:
		e.Retryable = true
		e.Message = fmt.Sprintf("Snowflake answered with an error (HTTP %d). Sluice will try again.", ae.status)
	case ae.status == http.StatusBadRequest:
		e.Category = connectors.CategoryConfiguration
		e.Message = "Snowflake refused the request: " + firstNonEmpty(msg, ae.raw)
	default:
		e.Message = "Snowflake reported an error: " + firstNonEmpty(plain, ae.raw)
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
