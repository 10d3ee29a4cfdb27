package googleads

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"sluice/connectors"
	"sluice/destinations/httpdest"
)

// rpcStatus is a google.rpc.Status: the "error" of a failed call and a
// partialFailureError. Its details hold a GoogleAdsFailure, and for some errors a
// google.rpc.ErrorInfo or RetryInfo.
type rpcStatus struct {
	Code    int      `json:"code"`
	Message string   `json:"message"`
	Status  string   `json:"status"`
	Details []detail `json:"details"`
}

type detail struct {
	Type       string     `json:"@type"`
	Errors     []adsError `json:"errors"`
	Reason     string     `json:"reason"`     // google.rpc.ErrorInfo
	RetryDelay string     `json:"retryDelay"` // google.rpc.RetryInfo
}

// adsError is one GoogleAdsError: its code (one enum of one error group, e.g.
// {"quotaError": "RESOURCE_EXHAUSTED"}), message, where it points and its details.
type adsError struct {
	ErrorCode map[string]string `json:"errorCode"`
	Message   string            `json:"message"`
	Location  *struct {
		FieldPathElements []struct {
			FieldName string `json:"fieldName"`
			Index     *int   `json:"index"`
		} `json:"fieldPathElements"`
	} `json:"location"`
	Details *struct {
		QuotaErrorDetails *struct {
			RetryDelay string `json:"retryDelay"`
		} `json:"quotaErrorDetails"`
	} `json:"details"`
}

// code is the error's "group.VALUE", e.g. "quotaError.RESOURCE_EXHAUSTED".
func (e adsError) code() (group, value string) {
	for g, v := range e.ErrorCode {
		return g, v
	}
	return "", ""
}

func (s *rpcStatus) errors() []adsError {
	if s == nil {
		return nil
	}
	var out []adsError
	for _, d := range s.Details {
		out = append(out, d.Errors...)
	}
	return out
}

// first is the first error of the group and value ("" matches any value), or nil.
func (s *rpcStatus) first(group, value string) *adsError {
	for _, e := range s.errors() {
		if v, ok := e.ErrorCode[group]; ok && (value == "" || v == value) {
			return &e
		}
	}
	return nil
}

// partialRejections are the records a partialFailureError refuses: each error names
// its operation by its index in the request (the first path element, listName), which
// is keys' index.
func partialRejections(s *rpcStatus, listName string, keys []string) []connectors.Rejection {
	var out []connectors.Rejection
	seen := map[int]bool{}
	for _, e := range s.errors() {
		if e.Location == nil || len(e.Location.FieldPathElements) == 0 {
			continue
		}
		first := e.Location.FieldPathElements[0]
		if first.FieldName != listName || first.Index == nil || *first.Index < 0 || *first.Index >= len(keys) || seen[*first.Index] {
			continue
		}
		seen[*first.Index] = true
		out = append(out, connectors.Rejection{Key: keys[*first.Index], Message: rejectionMessage(e)})
	}
	return out
}

// rejectionMessage words a refused operation: Google's sentence, and its code for
// searching the documentation.
func rejectionMessage(e adsError) string {
	_, value := e.code()
	msg := strings.TrimSpace(e.Message)
	switch value {
	case "CONVERSION_NOT_FOUND":
		msg = "Google Ads has no conversion with this order ID for the chosen conversion action (it may be older than the adjustment window, or reported under another action)."
	case "INVALID_SHA256_FORMAT", "INVALID_USER_IDENTIFIER":
		msg = "Google Ads could not read this record's hashed identifiers: " + msg
	}
	if msg == "" {
		msg = "Google Ads refused this record without saying why."
	}
	if value != "" {
		msg += " (" + value + ")"
	}
	return msg
}

// failure words an answer that is not 2xx. httpdest's reading of the status is the
// start (category, retryable, Retry-After, the Exchange, the body as Detail); the
// GoogleAdsFailure in the body then says what is at fault. field is the setting an
// unknown resource points at.
func (d *destination) failure(resp *httpdest.Response, field string) *connectors.Error {
	e := d.client.StatusError(resp)
	var body struct {
		Error rpcStatus `json:"error"`
	}
	_ = json.Unmarshal(resp.Body, &body)
	st := &body.Error
	account := dashed(d.set.customerID)
	words := func(e adsError) string {
		_, v := e.code()
		if v == "" {
			return strings.TrimSpace(e.Message)
		}
		return strings.TrimSuffix(strings.TrimSpace(e.Message), ".") + " (" + v + ")"
	}
	for _, det := range st.Details {
		if det.Reason == "ACCESS_TOKEN_SCOPE_INSUFFICIENT" {
			e.Category, e.Retryable = connectors.CategoryCredentials, false
			e.Message = "The Google authorization does not include access to Google Ads (the scope " + Scope + " is missing): re-authorize the platform and allow Google Ads when Google asks."
			return e
		}
	}
	// Throttled: by the daily quota or a per-second bucket. Wait what Google says.
	if q := st.first("quotaError", ""); q != nil || resp.StatusCode == http.StatusTooManyRequests || st.Status == "RESOURCE_EXHAUSTED" {
		e.Category, e.Retryable = connectors.CategoryRateLimit, true
		e.RetryAfter = max(e.RetryAfter, retryDelay(st))
		e.Message = "Google Ads asked Sluice to slow down: the developer token used up its quota of API operations for now."
		if e.RetryAfter > 0 {
			e.Message += fmt.Sprintf(" It asked to wait %s.", e.RetryAfter.Round(time.Second))
		}
		return e
	}
	for _, ae := range st.errors() {
		group, value := ae.code()
		switch {
		case value == "CUSTOMER_NOT_FOUND" || value == "CLIENT_CUSTOMER_ID_INVALID":
			e.Category, e.Retryable, e.Field = connectors.CategoryNotFound, false, "customer_id"
			e.Message = fmt.Sprintf("The Google Ads account %s does not exist: check the customer ID in the platform's settings (%s).", account, value)
			return e
		case strings.HasPrefix(value, "DEVELOPER_TOKEN_"):
			e.Category, e.Retryable, e.Field = connectors.CategoryCredentials, false, "developer_token"
			if value == "DEVELOPER_TOKEN_NOT_APPROVED" {
				e.Message = "Google Ads approved this developer token for test accounts only (DEVELOPER_TOKEN_NOT_APPROVED): apply for Basic or Standard access in the API Center, or send to a test account."
			} else {
				e.Message = "Google Ads refused the developer token: " + words(ae) + ". Check the developer token in the platform's settings."
			}
			return e
		case value == "USER_PERMISSION_DENIED":
			e.Category, e.Retryable = connectors.CategoryCredentials, false
			if d.set.loginID == "" {
				e.Field = "login_customer_id"
				e.Message = fmt.Sprintf("The Google account that authorized Sluice has no access to the Google Ads account %s (USER_PERMISSION_DENIED): grant it access, or, if it reaches the account through a manager account, enter that manager's ID as the login customer ID.", account)
			} else {
				e.Message = fmt.Sprintf("The Google account that authorized Sluice has no access to the Google Ads account %s through the manager account %s (USER_PERMISSION_DENIED): grant it access, or re-authorize with an account that has it.", account, dashed(d.set.loginID))
			}
			return e
		case value == "INVALID_LOGIN_CUSTOMER_ID_SERVING_CUSTOMER_ID_COMBINATION":
			e.Category, e.Retryable, e.Field = connectors.CategoryCredentials, false, "login_customer_id"
			e.Message = fmt.Sprintf("The manager account %s does not manage the Google Ads account %s: correct the login customer ID, or leave it empty if you reach the account directly.", dashed(d.set.loginID), account)
			return e
		case value == "INVALID_USER_LIST_ID":
			e.Category, e.Retryable, e.Field = connectors.CategoryNotFound, false, field
			e.Message = fmt.Sprintf("The customer list chosen for this activation does not exist in the Google Ads account %s any more: choose another list in the activation's settings.", account)
			return e
		case value == "INVALID_USER_LIST_TYPE":
			e.Category, e.Retryable, e.Field = connectors.CategoryConfiguration, false, field
			e.Message = "The list chosen for this activation is not a Customer Match (customer list) audience, which is the only kind Sluice can fill: choose a customer list in the activation's settings."
			return e
		case value == "NO_CONVERSION_ACTION_FOUND":
			e.Category, e.Retryable, e.Field = connectors.CategoryNotFound, false, "conversion_action"
			e.Message = fmt.Sprintf("The conversion action chosen for this activation does not exist in the Google Ads account %s: choose another in the activation's settings.", account)
			return e
		case group == "authenticationError":
			e.Category, e.Retryable = connectors.CategoryCredentials, false
			e.Message = "Google refused Sluice's access to Google Ads: " + words(ae) + ". Re-authorize the platform."
			return e
		case group == "authorizationError":
			e.Category, e.Retryable = connectors.CategoryCredentials, false
			e.Message = fmt.Sprintf("Google Ads does not allow this on the account %s: %s.", account, words(ae))
			return e
		}
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		e.Message = "Google refused the access token: re-authorize the platform."
	case resp.StatusCode >= 500:
		e.Message = fmt.Sprintf("Google Ads failed on its side (%d %s); Sluice will try again.", resp.StatusCode, st.Status)
	case len(st.errors()) > 0:
		e.Message = "Google Ads refused the request: " + words(st.errors()[0]) + "."
	case st.Message != "":
		e.Message = "Google Ads refused the request: " + st.Message
	}
	return e
}

// retryDelay is the wait a throttled answer asks for: QuotaErrorDetails.retryDelay of
// its GoogleAdsFailure, or a google.rpc.RetryInfo's.
func retryDelay(st *rpcStatus) time.Duration {
	var best time.Duration
	for _, det := range st.Details {
		if d, err := time.ParseDuration(det.RetryDelay); err == nil {
			best = max(best, d)
		}
		for _, e := range det.Errors {
			if e.Details != nil && e.Details.QuotaErrorDetails != nil {
				// A protobuf Duration in JSON: seconds with an "s", e.g. "30s" or "1.5s".
				if d, err := time.ParseDuration(e.Details.QuotaErrorDetails.RetryDelay); err == nil {
					best = max(best, d)
				}
			}
		}
	}
	return best
}
