package bigquery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"syscall"

	bq "cloud.google.com/go/bigquery"
	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"

	"sluice/connectors"
	"sluice/sources/sqlsource"
)

// apiError is what BigQuery reported, whichever way it came: an HTTP error of the REST
// API (googleapi.Error: error.code, error.errors[].reason) or a job's errorResult
// (bigquery.Error).
type apiError struct {
	code    int
	reason  string
	message string
}

func asAPIError(err error) (apiError, bool) {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		a := apiError{code: ge.Code, message: ge.Message}
		if len(ge.Errors) > 0 {
			a.reason = ge.Errors[0].Reason
			if a.message == "" {
				a.message = ge.Errors[0].Message
			}
		}
		return a, true
	}
	var be *bq.Error
	if errors.As(err, &be) {
		return apiError{reason: be.Reason, message: be.Message}, true
	}
	var mbe bq.MultiError
	if errors.As(err, &mbe) && len(mbe) > 0 {
		return asAPIError(mbe[0])
	}
	return apiError{}, false
}

// Names BigQuery puts in its messages: "Table project:dataset.table", "Dataset
// project:dataset", "in location EU".
var (
	tableInMessage    = regexp.MustCompile(`Table ([^:\s]+):([A-Za-z0-9_]+)\.([^\s:,]+?)[:,]?(\s|$)`)
	datasetInMessage  = regexp.MustCompile(`Dataset ([^:\s]+):([A-Za-z0-9_]+)`)
	locationInMessage = regexp.MustCompile(`in location ([A-Za-z0-9-]+)`)
)

// classify turns what the client returned into a connector error: the seed's category,
// a message saying what to do, the raw text for the run log, the field to fix.
func (set settings) classify(err error) *connectors.Error {
	if err == nil {
		return nil
	}
	if ce, ok := connectors.AsError(err); ok {
		return ce
	}
	e := &connectors.Error{Category: connectors.CategoryConnection, Detail: err.Error(), Err: err}
	sa := set.email
	var re *oauth2.RetrieveError
	var te *tokenError
	var dnsErr *net.DNSError
	var netErr net.Error
	if a, ok := asAPIError(err); ok {
		set.classifyAPI(e, a)
		return e
	}
	switch {
	case errors.As(err, &re):
		e.Category, e.Field = connectors.CategoryCredentials, "service_account_key"
		code, desc := re.ErrorCode, re.ErrorDescription
		if code == "" {
			// The JWT flow leaves the body unparsed: {"error": …, "error_description": …}.
			var body struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if json.Unmarshal(re.Body, &body) == nil {
				code, desc = body.Error, body.Description
			}
		}
		if desc == "" {
			desc = strings.TrimSpace(string(re.Body))
		}
		switch {
		case code == "invalid_grant" && strings.Contains(desc, "account not found"):
			e.Message = fmt.Sprintf("Google does not know the service account %s: it was deleted, or the key belongs to another project. Create a key for an existing service account and paste its JSON.", sa)
		case code == "invalid_grant" && strings.Contains(desc, "iat and exp"):
			e.Message = "Google refused the key's sign-in because this server's clock is off. Set the server's clock right (NTP) and validate again."
			e.Field = ""
		case code == "invalid_grant":
			e.Message = fmt.Sprintf("Google refused the service account key of %s (%s): the key was deleted or disabled. Create a new JSON key (IAM & Admin › Service accounts › Keys) and paste it.", sa, strings.TrimSuffix(desc, "."))
		default:
			e.Message = fmt.Sprintf("Google refused to sign in service account %s: %s.", sa, strings.TrimSuffix(desc, "."))
		}
	case errors.Is(err, context.Canceled):
		e.Message = "The request was cancelled before BigQuery answered."
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		e.Category, e.Retryable = connectors.CategoryTimeout, true
		e.Message = "BigQuery did not answer in time."
	case errors.As(err, &dnsErr):
		e.Retryable = true
		e.Message = fmt.Sprintf("Cannot reach Google: the host name %q does not resolve. Check the server's DNS and that it may reach googleapis.com.", dnsErr.Name)
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		e.Retryable = true
		e.Message = "Cannot reach Google's API: the connection was refused or there is no route. Check that this server may reach googleapis.com (firewall, proxy)."
	case errors.As(err, &te):
		e.Retryable = true
		e.Message = "Sluice could not get an access token from Google for the service account. Check that this server may reach oauth2.googleapis.com."
	default:
		e.Retryable = true
		e.Message = "The request to BigQuery failed."
	}
	return e
}

// classifyAPI words an error BigQuery itself reported, by its reason first (the
// documented table of "Troubleshoot errors"), then by the names in its message.
func (set settings) classifyAPI(e *connectors.Error, a apiError) {
	sa := set.email
	msg := strings.TrimSuffix(a.message, ".")
	switch {
	case a.code == http.StatusUnauthorized:
		e.Category, e.Field = connectors.CategoryCredentials, "service_account_key"
		e.Message = fmt.Sprintf("BigQuery did not accept the access token of %s. Validate again; if it persists, create a new key for the service account.", sa)
	case a.reason == "insufficientPermissions":
		e.Category = connectors.CategoryCredentials
		e.Message = "The access token lacks the BigQuery scope. This is a bug in Sluice's sign-in; please report it."
	case a.reason == "accessDenied" && strings.Contains(a.message, "bigquery.jobs.create"):
		e.Category, e.Field = connectors.CategoryCredentials, "project_id"
		e.Message = fmt.Sprintf("Service account %s may not run query jobs in project %s. Grant it the BigQuery Job User role (roles/bigquery.jobUser) on project %s.", sa, set.project, set.project)
	case a.reason == "accessDenied" && tableInMessage.MatchString(a.message):
		m := tableInMessage.FindStringSubmatch(a.message)
		table := sqlsource.DisplayName(m[2], m[3])
		e.Category = connectors.CategoryCredentials
		e.Message = fmt.Sprintf("Service account %s may not read table %s. Grant it BigQuery Data Viewer (roles/bigquery.dataViewer) on the table or on dataset %s.", sa, table, m[2])
	case a.reason == "accessDenied" && datasetInMessage.MatchString(a.message):
		m := datasetInMessage.FindStringSubmatch(a.message)
		e.Category, e.Field = connectors.CategoryCredentials, "dataset"
		e.Message = fmt.Sprintf("Service account %s may not use dataset %s. Grant it BigQuery Data Viewer (roles/bigquery.dataViewer) on dataset %s.", sa, m[2], m[2])
		if strings.Contains(a.message, "may not exist") {
			// BigQuery does not tell those without access whether a dataset exists.
			e.Message = fmt.Sprintf("Dataset %s does not exist in project %s, or service account %s may not use it. Check the dataset name; if it is right, grant the account BigQuery Data Viewer (roles/bigquery.dataViewer) on dataset %s.", m[2], set.project, sa, m[2])
		}
	case a.reason == "accessDenied" && strings.Contains(strings.ToLower(a.message), "billing"),
		a.reason == "billingNotEnabled", a.reason == "billingTierLimitExceeded":
		e.Category, e.Field = connectors.CategoryConfiguration, "project_id"
		e.Message = fmt.Sprintf("BigQuery refused to run the query: billing is not enabled on project %s (or its tier is exceeded). Enable billing for the project in the Google Cloud console.", set.project)
	case a.reason == "accessDenied":
		e.Category = connectors.CategoryCredentials
		e.Message = fmt.Sprintf("Service account %s lacks a permission: %s.", sa, msg)
	case a.reason == "notFound" && locationInMessage.MatchString(a.message) && datasetInMessage.MatchString(a.message):
		loc := locationInMessage.FindStringSubmatch(a.message)[1]
		ds := datasetInMessage.FindStringSubmatch(a.message)[2]
		e.Category, e.Field = connectors.CategoryConfiguration, "location"
		e.Message = fmt.Sprintf("Dataset %s is not in location %s. Set Location to the dataset's location (its Details page shows the data location).", ds, loc)
	case a.reason == "notFound" && strings.Contains(a.message, "Dataset"):
		ds := set.dataset
		if m := datasetInMessage.FindStringSubmatch(a.message); m != nil {
			ds = m[2]
		}
		e.Category = connectors.CategoryNotFound
		if ds == set.dataset {
			e.Field = "dataset"
		}
		e.Message = fmt.Sprintf("Dataset %s does not exist in project %s. Check the dataset name.", ds, set.project)
	case a.reason == "notFound" && strings.Contains(a.message, "Table"):
		e.Category = connectors.CategoryNotFound
		e.Message = fmt.Sprintf("A table the query reads does not exist: %s.", msg)
	case a.reason == "notFound" && strings.Contains(a.message, "Project"):
		e.Category, e.Field = connectors.CategoryNotFound, "project_id"
		e.Message = fmt.Sprintf("Project %s does not exist, or service account %s cannot see it. Check the project ID (not the project's name or number).", set.project, sa)
	case a.reason == "notFound":
		e.Category = connectors.CategoryNotFound
		e.Message = fmt.Sprintf("BigQuery did not find what the query asked for: %s.", msg)
	case a.reason == "invalidQuery":
		e.Category = connectors.CategoryConfiguration
		e.Message = fmt.Sprintf("BigQuery rejected the query: %s.", msg)
	case a.reason == "timeout":
		e.Category, e.Retryable = connectors.CategoryTimeout, true
		e.Message = "BigQuery stopped the query: it ran longer than allowed."
	case a.reason == "stopped":
		e.Message = "The query job was cancelled."
	case a.reason == "quotaExceeded" || a.reason == "rateLimitExceeded":
		e.Category, e.Retryable = connectors.CategoryRateLimit, true
		e.Message = fmt.Sprintf("BigQuery's quota or rate limit for project %s is exhausted: %s. Sluice will try again later.", set.project, msg)
	case a.reason == "responseTooLarge" || a.reason == "resourcesExceeded":
		e.Category = connectors.CategoryConfiguration
		e.Message = fmt.Sprintf("BigQuery could not run the query within its limits: %s. Simplify the model's SQL.", msg)
	case a.reason == "invalid" || a.code == http.StatusBadRequest:
		e.Category = connectors.CategoryConfiguration
		e.Message = fmt.Sprintf("BigQuery refused the request: %s.", msg)
	case a.code >= 500 || a.reason == "backendError" || a.reason == "internalError":
		e.Retryable = true
		e.Message = "BigQuery had an internal error. Sluice will try again."
	default:
		e.Message = fmt.Sprintf("BigQuery reported an error: %s.", msg)
	}
}
