package bigquery

import (
	"net/http"
)

// errorItem is one entry of error.errors[], as the REST API documents it.
type errorItem struct {
	Message      string `json:"message"`
	Domain       string `json:"domain"`
	Reason       string `json:"reason"`
	Location     string `json:"location,omitempty"`
	LocationType string `json:"locationType,omitempty"`
}

// statusOf is the canonical status string Google's error model pairs with each HTTP code.
var statusOf = map[int]string{
	http.StatusBadRequest:          "INVALID_ARGUMENT",
	http.StatusUnauthorized:        "UNAUTHENTICATED",
	http.StatusForbidden:           "PERMISSION_DENIED",
	http.StatusNotFound:            "NOT_FOUND",
	http.StatusConflict:            "ALREADY_EXISTS",
	http.StatusInternalServerError: "INTERNAL",
	http.StatusServiceUnavailable:  "UNAVAILABLE",
}

// codeOf is the HTTP status of each reason of BigQuery's error table ("Troubleshoot
// errors": accessDenied 403, backendError 500 or 503, invalid 400, invalidQuery 400,
// notFound 404, quotaExceeded 403, rateLimitExceeded 403, responseTooLarge 403,
// stopped 200, timeout 400).
var codeOf = map[string]int{
	"accessDenied":      http.StatusForbidden,
	"backendError":      http.StatusServiceUnavailable,
	"invalid":           http.StatusBadRequest,
	"invalidQuery":      http.StatusBadRequest,
	"notFound":          http.StatusNotFound,
	"quotaExceeded":     http.StatusForbidden,
	"rateLimitExceeded": http.StatusForbidden,
	"responseTooLarge":  http.StatusForbidden,
	"stopped":           http.StatusOK,
	"timeout":           http.StatusBadRequest,
}

// writeError answers BigQuery's error body with one item.
func writeError(w http.ResponseWriter, code int, reason, message string) {
	writeAPIError(w, code, statusOf[code], message, errorItem{Message: message, Domain: "global", Reason: reason})
}

func writeAPIError(w http.ResponseWriter, code int, status, message string, items ...errorItem) {
	writeJSON(w, code, map[string]any{"error": map[string]any{
		"code":    code,
		"message": message,
		"errors":  items,
		"status":  status,
	}})
}

// writeQueryError answers a query's error with the status of its reason.
func writeQueryError(w http.ResponseWriter, e *queryError) {
	code := codeOf[e.reason]
	if code == 0 || code == http.StatusOK {
		code = http.StatusBadRequest
	}
	writeError(w, code, e.reason, e.message)
}

// errorProto is the ErrorProto of a job's status.
func (e *queryError) proto() map[string]string {
	m := map[string]string{"reason": e.reason, "message": e.message}
	if e.reason == "invalidQuery" {
		m["location"] = "query"
	}
	return m
}
