package hubspot

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"time"
)

// The documented error bodies (Error handling; the usage guidelines for the 429), with
// a fresh correlationId each time. The 401 messages are HubSpot's own wording.
const (
	msgInvalidAuth = "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
	msgExpiredAuth = "The OAuth token used to make this call expired 1 minute(s) ago."
	msgMissing     = "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes."
	msgRateLimit   = "You have reached your ten_secondly_rolling limit."
)

// errorBody is HubSpot's standard error shape.
type errorBody struct {
	Status        string              `json:"status"`
	Message       string              `json:"message"`
	CorrelationID string              `json:"correlationId"`
	Category      string              `json:"category,omitempty"`
	Errors        []errorDetail       `json:"errors,omitempty"`
	Links         map[string]string   `json:"links,omitempty"`
	Context       map[string][]string `json:"context,omitempty"`
	// The 429 body's own fields.
	ErrorType  string `json:"errorType,omitempty"`
	PolicyName string `json:"policyName,omitempty"`
}

type errorDetail struct {
	Message string              `json:"message"`
	Context map[string][]string `json:"context,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, category, message string) {
	writeJSON(w, status, errorBody{Status: "error", Message: message, CorrelationID: correlationID(), Category: category})
}

// route is one endpoint: the scopes any one of which it needs.
type route struct {
	object string
	scopes []string
	handle func(w http.ResponseWriter, r *http.Request, body []byte)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	s.mu.Lock()
	s.requests++
	down := s.down
	var failWith int
	if len(s.failNext) > 0 {
		failWith, s.failNext = s.failNext[0], s.failNext[1:]
	}
	s.mu.Unlock()
	if down {
		fail(w, http.StatusServiceUnavailable, "", "Service Unavailable")
		return
	}
	if failWith != 0 {
		fail(w, failWith, "", http.StatusText(failWith))
		return
	}
	rt, ok := s.route(r)
	if !ok {
		fail(w, http.StatusNotFound, "", "Not Found")
		return
	}
	if !s.authorize(w, r, rt.scopes) {
		return
	}
	if !s.limit(w) {
		return
	}
	rt.handle(w, r, body)
}

func (s *Server) route(r *http.Request) (route, bool) {
	p := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	object := func(i int) (string, bool) {
		if len(p) > i && (p[i] == "contacts" || p[i] == "companies") {
			return p[i], true
		}
		return "", false
	}
	switch {
	case r.Method == http.MethodPost && len(p) == 6 && p[0] == "crm" && p[1] == "v3" && p[2] == "objects" && p[4] == "batch" && p[5] == "upsert":
		if o, ok := object(3); ok {
			return route{o, []string{"crm.objects." + o + ".write"}, func(w http.ResponseWriter, r *http.Request, b []byte) { s.upsert(w, r, o, b) }}, true
		}
	case r.Method == http.MethodGet && (len(p) == 4 || len(p) == 5) && p[0] == "crm" && p[1] == "v3" && p[2] == "properties":
		if o, ok := object(3); ok {
			name := ""
			if len(p) == 5 {
				name = p[4]
			}
			return route{o, []string{"crm.objects." + o + ".read", "crm.schemas." + o + ".read"}, func(w http.ResponseWriter, _ *http.Request, _ []byte) { s.listProperties(w, o, name) }}, true
		}
	case r.Method == http.MethodGet && r.URL.Path == "/account-info/v3/details":
		return route{"", []string{"oauth"}, func(w http.ResponseWriter, _ *http.Request, _ []byte) { s.details(w) }}, true
	}
	return route{}, false
}

// authorize answers 401 or 403 as documented, or reports the request may go on.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, need []string) bool {
	s.mu.Lock()
	revoked, expired := s.revoked, s.expired
	s.mu.Unlock()
	token := bearer(r)
	scopes, ok := s.opts.Tokens(token)
	switch {
	case token == "" || !ok || revoked:
		fail(w, http.StatusUnauthorized, "INVALID_AUTHENTICATION", msgInvalidAuth)
		return false
	case expired:
		fail(w, http.StatusUnauthorized, "EXPIRED_AUTHENTICATION", msgExpiredAuth)
		return false
	}
	for _, n := range need {
		for _, have := range scopes {
			if n == have {
				return true
			}
		}
	}
	writeJSON(w, http.StatusForbidden, errorBody{
		Status: "error", Message: msgMissing, CorrelationID: correlationID(), Category: "MISSING_SCOPES",
		Errors: []errorDetail{{Message: "One or more of the following scopes are required.", Context: map[string][]string{"requiredGranularScopes": need}}},
		Links:  map[string]string{"scopes": "https://developers.hubspot.com/scopes"},
	})
	return false
}

// limit applies the rolling window, setting the rate-limit headers on every answer.
func (s *Server) limit(w http.ResponseWriter) bool {
	s.mu.Lock()
	ok, remaining, free := s.admit(time.Now())
	if !ok {
		s.throttled++
	}
	s.mu.Unlock()
	h := w.Header()
	h.Set("X-HubSpot-RateLimit-Interval-Milliseconds", strconv.FormatInt(s.opts.Window.Milliseconds(), 10))
	h.Set("X-HubSpot-RateLimit-Max", strconv.Itoa(s.opts.Limit))
	h.Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(remaining))
	if ok {
		return true
	}
	if !s.opts.NoRetryAfter {
		h.Set("Retry-After", strconv.Itoa(int(math.Max(1, math.Ceil(free.Seconds())))))
	}
	writeJSON(w, http.StatusTooManyRequests, errorBody{Status: "error", Message: msgRateLimit, CorrelationID: correlationID(),
		ErrorType: "RATE_LIMIT", PolicyName: "TEN_SECONDLY_ROLLING"})
	return false
}

func (s *Server) details(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, map[string]any{
		"portalId": PortalID, "accountType": "STANDARD", "timeZone": "US/Eastern", "companyCurrency": "USD",
		"additionalCurrencies": []string{}, "utcOffset": "-05:00", "utcOffsetMilliseconds": -18000000,
		"uiDomain": "app.hubspot.com", "dataHostingLocation": "na1",
	})
}

func (s *Server) listProperties(w http.ResponseWriter, object, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name != "" {
		p, ok := s.properties[object][name]
		if !ok {
			// Not published word for word: HubSpot answers 404 for a property it does not have.
			fail(w, http.StatusNotFound, "OBJECT_NOT_FOUND", fmt.Sprintf("Unable to find property %s for object type %s", name, object))
			return
		}
		writeJSON(w, http.StatusOK, p)
		return
	}
	out := make([]Property, 0, len(s.properties[object]))
	for _, p := range s.properties[object] {
		out = append(out, p)
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": out})
}

// upsertInput is one input of a batch upsert; properties stay raw to refuse non-strings.
type upsertInput struct {
	ID                 *string                    `json:"id"`
	IDProperty         string                     `json:"idProperty"`
	ObjectWriteTraceID string                     `json:"objectWriteTraceId"`
	Properties         map[string]json.RawMessage `json:"properties"`
}

// propertyError is one entry of the list HubSpot writes into a VALIDATION_ERROR message.
type propertyError struct {
	IsValid               bool   `json:"isValid"`
	Message               string `json:"message"`
	Error                 string `json:"error"`
	Name                  string `json:"name"`
	LocalizedErrorMessage string `json:"localizedErrorMessage"`
	PortalID              int    `json:"portalId"`
}

func (s *Server) upsert(w http.ResponseWriter, r *http.Request, object string, body []byte) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		fail(w, http.StatusUnsupportedMediaType, "", "Unsupported Media Type")
		return
	}
	var in struct {
		Inputs []upsertInput `json:"inputs"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.Inputs == nil {
		fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "Invalid input JSON on line 1: the body must be an object with an array of inputs")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = append(s.received, Received{Object: object, Inputs: len(in.Inputs), Bytes: len(body)})
	s.bodies = append(s.bodies, string(body))
	if n := len(in.Inputs); n == 0 || n > MaxInputs {
		// The fake's wording: the docs state the limit, not the message.
		fail(w, http.StatusBadRequest, "VALIDATION_ERROR", fmt.Sprintf("Batch input of %d inputs is outside the allowed range of 1 to %d", n, MaxInputs))
		return
	}
	traced := true
	seen := map[string]bool{}
	var dups []string
	for _, input := range in.Inputs {
		traced = traced && input.ObjectWriteTraceID != ""
		if input.ID == nil || *input.ID == "" {
			fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "Every input needs an id")
			return
		}
		p, ok := s.properties[object][input.IDProperty]
		if !ok || !(p.HasUniqueValue || object == "contacts" && input.IDProperty == "email") {
			fail(w, http.StatusBadRequest, "VALIDATION_ERROR", fmt.Sprintf("Property %q does not exist or does not have unique values, so it cannot be an idProperty", input.IDProperty))
			return
		}
		id := s.canonical(object, input.IDProperty, *input.ID)
		if seen[id] {
			dups = append(dups, *input.ID)
		}
		seen[id] = true
	}
	if len(dups) > 0 {
		fail(w, http.StatusBadRequest, "VALIDATION_ERROR", "Duplicate IDs found in batch input: "+strings.Join(dups, ", "))
		return
	}
	type outcome struct {
		props map[string]string
		errs  []propertyError
	}
	outcomes := make([]outcome, len(in.Inputs))
	for i, input := range in.Inputs {
		props := map[string]string{}
		for name, raw := range input.Properties {
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				fail(w, http.StatusBadRequest, "VALIDATION_ERROR", fmt.Sprintf("Invalid input JSON: property %s must be a string", name))
				return
			}
			props[name] = v
		}
		props[input.IDProperty] = *input.ID
		outcomes[i] = outcome{props: props, errs: s.validate(object, props)}
	}
	var errs []errorBody
	for i, o := range outcomes {
		if len(o.errs) == 0 {
			continue
		}
		list, _ := json.Marshal(o.errs)
		e := errorBody{Status: "error", Category: "VALIDATION_ERROR", Message: "Property values were not valid: " + string(list)}
		if !traced {
			e.CorrelationID = correlationID()
			writeJSON(w, http.StatusBadRequest, e)
			return
		}
		e.Context = map[string][]string{"objectWriteTraceId": {in.Inputs[i].ObjectWriteTraceID}}
		errs = append(errs, e)
	}
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	results := []map[string]any{}
	for i, o := range outcomes {
		if len(o.errs) > 0 {
			continue
		}
		input := in.Inputs[i]
		id := s.canonical(object, input.IDProperty, *input.ID)
		if s.records[object] == nil {
			s.records[object] = map[string]map[string]string{}
		}
		rec, exists := s.records[object][id]
		if !exists {
			rec = map[string]string{"hs_object_id": strconv.Itoa(s.nextID)}
			s.nextID++
			s.records[object][id] = rec
		}
		for k, v := range o.props {
			if k == "email" {
				v = strings.ToLower(v)
			}
			rec[k] = v
		}
		res := map[string]any{"id": rec["hs_object_id"], "properties": rec, "createdAt": now, "updatedAt": now, "archived": false, "new": !exists}
		if input.ObjectWriteTraceID != "" {
			res["objectWriteTraceId"] = input.ObjectWriteTraceID
		}
		results = append(results, res)
	}
	answer := map[string]any{"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusMultiStatus
		answer["numErrors"] = len(errs)
		answer["errors"] = errs
	}
	writeJSON(w, status, answer)
}

// canonical is the id as HubSpot matches it: e-mail addresses regardless of case.
func (s *Server) canonical(object, idProperty, id string) string {
	if object == "contacts" && idProperty == "email" {
		return strings.ToLower(id)
	}
	return id
}

// validate checks property values as HubSpot does: the property exists, an e-mail is
// an address, a number is a number.
func (s *Server) validate(object string, props map[string]string) []propertyError {
	var out []propertyError
	bad := func(name, code, msg string) {
		out = append(out, propertyError{Message: msg, Error: code, Name: name, LocalizedErrorMessage: msg, PortalID: PortalID})
	}
	for name, v := range props {
		p, ok := s.properties[object][name]
		switch {
		case !ok:
			bad(name, "PROPERTY_DOESNT_EXIST", fmt.Sprintf("Property \"%s\" does not exist", name))
		case name == "email" && !validEmail(v):
			bad(name, "INVALID_EMAIL", fmt.Sprintf("Email address %s is invalid", v))
		case p.Type == "number" && v != "":
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				bad(name, "INVALID_DOUBLE", fmt.Sprintf("%s was not a valid number.", v))
			}
		}
	}
	return out
}

func validEmail(v string) bool {
	a, err := mail.ParseAddress(v)
	return err == nil && a.Address == v && strings.Contains(v[strings.LastIndex(v, "@")+1:], ".")
}
