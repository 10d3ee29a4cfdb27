package databricks

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"sluice/connectors"
)

func TestClassify(t *testing.T) {
	set := settings{host: "dbc-1.cloud.databricks.com", warehouse: "abc", catalog: "main", schema: "sales", auth: AuthToken}
	oauth := set
	oauth.auth, oauth.clientID = AuthOAuth, "sp-1"
	for _, tc := range []struct {
		name     string
		set      settings
		err      error
		category connectors.Category
		field    string
		words    string
	}{
		{"401", set, &apiError{Status: 401, Code: "401", Message: "Credential was not sent or was of an unsupported type for this API."},
			connectors.CategoryCredentials, "token", "no token of a supported type"},
		{"403 invalid token", set, &apiError{Status: 403, Code: "403", Message: "Invalid access token."},
			connectors.CategoryCredentials, "token", "The personal access token is not valid"},
		{"403 invalid oauth token", oauth, &apiError{Status: 403, Code: "403", Message: "Invalid access token."},
			connectors.CategoryCredentials, "client_secret", "service principal sp-1"},
		{"403 warehouse", oauth, &apiError{Status: 403, Code: "PERMISSION_DENIED", Message: "no", Submit: true},
			connectors.CategoryCredentials, "warehouse", "Service principal sp-1 may not use SQL warehouse abc"},
		{"404 on submit", set, &apiError{Status: 404, Code: "RESOURCE_DOES_NOT_EXIST", Submit: true},
			connectors.CategoryNotFound, "warehouse", "SQL warehouse abc does not exist in workspace dbc-1.cloud.databricks.com"},
		{"404 on a statement", set, &apiError{Status: 404, Code: "NOT_FOUND", Message: "gone"},
			connectors.CategoryNotFound, "", "no longer knows the statement"},
		{"429", set, &apiError{Status: 429, Code: "RESOURCE_EXHAUSTED", Retry: 3 * time.Second},
			connectors.CategoryRateLimit, "", "limiting the rate"},
		{"503", set, &apiError{Status: 503, Code: "TEMPORARILY_UNAVAILABLE", Message: "Try later"},
			connectors.CategoryConnection, "", "temporarily unavailable: Try later."},
		{"oauth invalid_client", oauth, &oauth2.RetrieveError{Response: &http.Response{StatusCode: 401}, ErrorCode: "invalid_client"},
			connectors.CategoryCredentials, "client_secret", "refused the OAuth client ID sp-1 or its secret"},
		{"canceled statement", set, &statementError{State: "CANCELED"}, connectors.CategoryTimeout, "", "canceled on the warehouse"},
		{"schema not found", set, &statementError{State: "FAILED", Code: "BAD_REQUEST", Message: "[SCHEMA_NOT_FOUND] The schema `main`.`sales` cannot be found. SQLSTATE: 42704"},
			connectors.CategoryNotFound, "schema", "Schema sales does not exist in catalog main."},
		{"dns", set, &net.DNSError{Err: "no such host", Name: "dbc-1.cloud.databricks.com", IsNotFound: true},
			connectors.CategoryConnection, "host", `the host name "dbc-1.cloud.databricks.com" does not resolve`},
	} {
		ce := tc.set.classify(tc.err)
		if ce.Category != tc.category || ce.Field != tc.field || !strings.Contains(ce.Message, tc.words) {
			t.Errorf("%s: %s %q %q; want %s %q saying %q", tc.name, ce.Category, ce.Field, ce.Message, tc.category, tc.field, tc.words)
		}
		if tc.name == "429" && ce.RetryAfter != 3*time.Second {
			t.Errorf("429: RetryAfter %v", ce.RetryAfter)
		}
	}
}

// The error_code of the workspace's authentication errors is a number; elsewhere a
// string. Both are read.
func TestReadAPIError(t *testing.T) {
	for _, tc := range []struct{ body, code, msg string }{
		{`{"error_code":403,"message":"Invalid access token."}`, "403", "Invalid access token."},
		{`{"error_code":"PERMISSION_DENIED","message":"nope"}`, "PERMISSION_DENIED", "nope"},
		{`<html><pre>Invalid access token.</pre></html>`, "", "<html><pre>Invalid access token.</pre></html>"},
	} {
		rec := httptest.NewRecorder()
		rec.Header().Set("Retry-After", "7")
		rec.WriteHeader(403)
		rec.WriteString(tc.body)
		e := readAPIError(rec.Result())
		if e.Code != tc.code || e.Message != tc.msg || e.Retry != 7*time.Second || e.Status != 403 {
			t.Errorf("%s: %+v", tc.body, e)
		}
	}
}
