package databricks

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

	"golang.org/x/oauth2"

	"sluice/connectors"
)

// classify turns whatever a call returned into a connector error: the category of the
// seed, a message naming what is at fault and what to do, the raw text for the run log
// and the field to fix. Tokens never appear: the API does not echo them, and the
// token endpoint's errors carry only error codes.
func (set settings) classify(err error) *connectors.Error {
	if err == nil {
		return nil
	}
	if ce, ok := connectors.AsError(err); ok {
		return ce
	}
	e := &connectors.Error{Category: connectors.CategoryConnection, Detail: err.Error(), Err: err}
	var (
		api     *apiError
		stmt    *statementError
		pending *errStillPending
		rerr    *oauth2.RetrieveError
		dnsErr  *net.DNSError
		certErr *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		netErr  net.Error
	)
	switch {
	case errors.As(err, &pending):
		e.Category, e.Retryable, e.Field = connectors.CategoryTimeout, true, "warehouse"
		e.Message = fmt.Sprintf("SQL warehouse %s is starting (it was stopped) and did not start in time. Validate again in a minute, or start it from the SQL Warehouses page of the workspace.", set.warehouse)
	case errors.As(err, &stmt):
		set.classifyStatement(e, stmt)
	case errors.As(err, &api):
		set.classifyAPI(e, api)
	case errors.As(err, &rerr):
		set.classifyToken(e, rerr)
	case errors.Is(err, context.Canceled):
		e.Message = "The request was cancelled before Databricks answered."
	case errors.As(err, &certErr), errors.As(err, &unknown), errors.As(err, &host):
		e.Category, e.Field = connectors.CategoryConfiguration, "host"
		e.Message = fmt.Sprintf("The TLS certificate of %s could not be verified. Check the workspace host: it must be the workspace's own address.", set.host)
	case errors.As(err, &dnsErr):
		e.Field, e.Retryable = "host", !dnsErr.IsNotFound
		e.Message = fmt.Sprintf("Cannot reach the workspace: the host name %q does not resolve. Check the workspace host.", set.host)
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Field, e.Retryable = "host", true
		e.Message = fmt.Sprintf("Cannot reach the workspace at %s: the connection was refused. Check the workspace host.", set.host)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		e.Category, e.Retryable = connectors.CategoryTimeout, true
		e.Message = fmt.Sprintf("Databricks (%s) did not answer in time.", set.host)
	default:
		e.Retryable = true
		e.Message = fmt.Sprintf("The request to Databricks (%s) failed.", set.host)
	}
	return e
}

// classifyAPI words an HTTP error of the API.
func (set settings) classifyAPI(e *connectors.Error, api *apiError) {
	credField := "token"
	if set.auth == AuthOAuth {
		credField = "client_secret"
	}
	switch {
	case api.Status == http.StatusUnauthorized:
		e.Category, e.Field = connectors.CategoryCredentials, credField
		e.Message = "Databricks did not accept the credentials: no token of a supported type reached it. Check the authentication settings."
	case api.Status == http.StatusForbidden && strings.Contains(strings.ToLower(api.Message), "invalid access token"):
		e.Category, e.Field = connectors.CategoryCredentials, credField
		if set.auth == AuthOAuth {
			e.Message = "Databricks refused the OAuth access token of service principal " + set.clientID + ". Check that the service principal still exists in the workspace."
		} else {
			e.Message = "The personal access token is not valid: it is wrong, expired or revoked. Create a new token (User settings, Developer, Access tokens) and paste it here."
		}
	case api.Status == http.StatusForbidden && api.Code == "EXTERNAL_LINK":
		e.Retryable = true
		e.Message = "A result chunk's download link was refused by cloud storage: " + api.Message
	case api.Status == http.StatusForbidden:
		e.Category, e.Field = connectors.CategoryCredentials, "warehouse"
		e.Message = fmt.Sprintf("%s may not use SQL warehouse %s. Ask a workspace admin to give it the Can use permission on the warehouse (SQL Warehouses, Permissions).", capitalize(set.who()), set.warehouse)
	case api.Status == http.StatusNotFound && api.Submit:
		e.Category, e.Field = connectors.CategoryNotFound, "warehouse"
		e.Message = fmt.Sprintf("SQL warehouse %s does not exist in workspace %s. Copy the HTTP path from the warehouse's Connection details.", set.warehouse, set.host)
	case api.Status == http.StatusNotFound:
		e.Category, e.Retryable = connectors.CategoryNotFound, true
		e.Message = "Databricks no longer knows the statement: " + api.Message
	case api.Status == http.StatusTooManyRequests:
		e.Category, e.Retryable, e.RetryAfter = connectors.CategoryRateLimit, true, api.Retry
		e.Message = "Databricks is limiting the rate of requests from Sluice. Sluice will try again."
	case api.Status >= 500:
		e.Retryable = true
		e.Message = fmt.Sprintf("Databricks (%s) is temporarily unavailable: %s Sluice will try again.", set.host, sentence(api.Message))
	default:
		e.Category = connectors.CategoryConfiguration
		e.Message = "Databricks refused the request: " + sentence(api.Message)
	}
}

// classifyToken words an error of the OAuth token endpoint.
func (set settings) classifyToken(e *connectors.Error, rerr *oauth2.RetrieveError) {
	status := 0
	if rerr.Response != nil {
		status = rerr.Response.StatusCode
	}
	e.Detail = fmt.Sprintf("token endpoint: HTTP %d %s %s", status, rerr.ErrorCode, rerr.ErrorDescription)
	switch {
	case rerr.ErrorCode == "invalid_client" || status == http.StatusUnauthorized:
		e.Category, e.Field = connectors.CategoryCredentials, "client_secret"
		e.Message = fmt.Sprintf("Databricks refused the OAuth client ID %s or its secret. Check both, or create a new secret for the service principal.", set.clientID)
	case status == http.StatusNotFound:
		e.Category, e.Field = connectors.CategoryConfiguration, "host"
		e.Message = fmt.Sprintf("%s has no OAuth token endpoint (/oidc/v1/token). Check the workspace host.", set.host)
	default:
		e.Category = connectors.CategoryCredentials
		e.Message = fmt.Sprintf("Databricks refused to issue an OAuth token for %s (%s).", set.clientID, rerr.ErrorCode)
	}
}

var privilegeRE = regexp.MustCompile(`does not have ([A-Z ]+?) on (Catalog|Schema|Table|View) '([^']+)'`)

// classifyStatement words a statement that failed on the warehouse, by its error class.
func (set settings) classifyStatement(e *connectors.Error, st *statementError) {
	first, _, _ := strings.Cut(st.Message, "\n")
	switch st.class() {
	case "INSUFFICIENT_PERMISSIONS":
		e.Category = connectors.CategoryCredentials
		if m := privilegeRE.FindStringSubmatch(st.Message); m != nil {
			e.Message = fmt.Sprintf("%s does not have %s on %s %s. Ask its owner to run: GRANT %s ON %s %s TO <the principal>;",
				capitalize(set.who()), m[1], strings.ToLower(m[2]), m[3], m[1], strings.ToUpper(m[2]), m[3])
		} else {
			e.Message = "Databricks refused a privilege: " + sentence(stripClass(st.Message))
		}
	case "TABLE_OR_VIEW_NOT_FOUND":
		e.Category = connectors.CategoryNotFound
		e.Message = "A table the query reads does not exist: " + sentence(stripClass(first))
	case "NO_SUCH_CATALOG_EXCEPTION":
		e.Category, e.Field = connectors.CategoryNotFound, "catalog"
		e.Message = fmt.Sprintf("Catalog %s does not exist, or %s has no privilege on it. Check the catalog name, or grant USE CATALOG on it.", set.catalog, set.who())
	case "SCHEMA_NOT_FOUND":
		e.Category, e.Field = connectors.CategoryNotFound, "schema"
		e.Message = fmt.Sprintf("Schema %s does not exist in catalog %s. Check the schema name.", set.schema, set.catalog)
	case "OPERATION_CANCELED":
		e.Category, e.Retryable = connectors.CategoryTimeout, true
		e.Message = "The warehouse cancelled the query."
	default:
		if st.State == "CANCELED" || st.State == "CLOSED" {
			e.Category, e.Retryable = connectors.CategoryTimeout, true
			e.Message = fmt.Sprintf("The query was %s on the warehouse before it finished.", strings.ToLower(st.State))
			return
		}
		if strings.HasPrefix(st.SQLState, "42") || strings.HasPrefix(st.SQLState, "22") || st.Code == "BAD_REQUEST" {
			e.Category = connectors.CategoryConfiguration
			e.Message = "Databricks rejected the query: " + sentence(stripClass(first))
			return
		}
		e.Retryable = true
		e.Message = "The query failed on the warehouse: " + sentence(stripClass(first))
	}
}

// stripClass drops the "[CLASS] " prefix and the trailing " SQLSTATE: …".
func stripClass(msg string) string {
	if strings.HasPrefix(msg, "[") {
		if end := strings.Index(msg, "] "); end > 0 {
			msg = msg[end+2:]
		}
	}
	if i := strings.Index(msg, " SQLSTATE:"); i >= 0 {
		msg = msg[:i]
	}
	return strings.TrimSpace(msg)
}

func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
