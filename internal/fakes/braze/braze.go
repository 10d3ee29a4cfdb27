// Package braze is a fake Braze REST API instance for tests: an HTTPS httptest.Server
// that answers the two endpoints Sluice's Braze connector uses as Braze documents them,
// refuses what Braze refuses, and lets a test switch it (revoke the key, take a
// permission away, blocklist an attribute, go down, fail the next request).
//
// Coded from these pages of the Braze documentation (braze.com/docs):
//
//   - "Track users", POST /users/track: https://www.braze.com/docs/api/endpoints/user_data/post_user_track/
//   - "User attributes object": https://www.braze.com/docs/api/objects_filters/user_attributes_object/
//   - "Export custom attributes", GET /custom_attributes: https://www.braze.com/docs/api/endpoints/export/custom_attributes/get_custom_attributes/
//   - "API errors and responses": https://www.braze.com/docs/api/errors/
//   - "Rate limits": https://www.braze.com/docs/api/api_limits/
//
// What it enforces, and where the rule comes from:
//
//   - Authorization: Bearer <REST API key> on every request (401 otherwise), and the
//     key's permissions: users.track for /users/track, custom_attributes.get for
//     /custom_attributes (403 otherwise). Content-Type: application/json on POST.
//   - At most 75 objects in "attributes" (and in "events", "purchases") per request:
//     400 otherwise, the whole request refused.
//   - Each attributes object names a user by external_id, user_alias, braze_id, email
//     or phone; one that does not is a non-fatal error in the 201 answer's "errors",
//     with "type", "input_array" and "index", and the others are still processed.
//     So is an external_id the test blocked ("provided external_id is blacklisted and
//     disallowed", the documented answer for a dummy user).
//   - Custom attribute arrays are sets: {"add": [...]} appends a value not present (or
//     moves it to the end), {"remove": [...]} drops it, and an array keeps at most 25
//     values (the documented default), the oldest dropped first. Values sent to a
//     blocklisted attribute are ignored, as Braze ignores them.
//   - 3,000 requests to /users/track per fixed window of three seconds (the documented
//     default; SetRateLimit changes it), answered 429 past it. Every answer carries
//     X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset (the window's end in
//     UTC epoch seconds); Braze documents no Retry-After for these endpoints, so none is sent.
package braze

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Documented limits.
const (
	// MaxObjects is the most objects of each array in one /users/track request.
	MaxObjects = 75
	// RateLimit requests to /users/track are allowed per RateWindow.
	RateLimit  = 3000
	RateWindow = 3 * time.Second
	// MaxArrayLength is the default most values a custom attribute array keeps.
	MaxArrayLength = 25
	// PageSize is how many custom attributes GET /custom_attributes answers per page.
	PageSize = 50
)

// Permissions of a REST API key, as the dashboard names them.
const (
	PermUsersTrack          = "users.track"
	PermCustomAttributesGet = "custom_attributes.get"
)

// Answers' "message" texts, from the fatal errors table of "API errors and responses"
// and the "Track users" page.
const (
	MsgSuccess          = "success"
	MsgUnauthorized     = "Invalid API key"
	MsgAccessDenied     = "Access Denied: the REST API key you are using does not have sufficient permissions, check the API key permissions in the Settings page."
	MsgRateLimited      = "Over rate limit"
	MsgMaxInputLength   = "Max Input Length Exceeded"
	MsgBadSyntax        = "Bad syntax"
	MsgServerError      = "Internal Server Error"
	ErrNoIdentifier     = "'external_id' or 'braze_id' or 'user_alias' is required"
	ErrBlockedID        = "provided external_id is blacklisted and disallowed"
	ErrInvalidAttribute = "Invalid attribute value"
)

// Attribute is one custom attribute as GET /custom_attributes lists it.
type Attribute struct {
	ArrayLength *int     `json:"array_length"`
	DataType    string   `json:"data_type"`
	Description string   `json:"description"`
	Name        string   `json:"name"`
	Status      string   `json:"status"`
	TagNames    []string `json:"tag_names"`
}

// Request is one request as the fake received it.
type Request struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
	// Objects is how many attributes objects a /users/track request carried.
	Objects int
	Status  int
}

// Server is a running fake instance. Its URL is the instance's REST endpoint.
type Server struct {
	*httptest.Server

	mu          sync.Mutex
	key         string
	revoked     bool
	perms       map[string]bool
	down        bool
	failNext    []failure
	limit       int
	window      time.Duration
	windowStart time.Time
	used        int
	users       map[string]map[string]any // by "external_id:…", "email:…" or "phone:…"
	attributes  map[string]*Attribute
	blockedIDs  map[string]bool
	received    []Request
	requests    int
	throttled   int
	now         func() time.Time
}

type failure struct {
	status int
	body   string
}

// New starts a fake instance that accepts key, with every permission, and stops it
// when the test ends.
func New(t interface{ Cleanup(func()) }, key string) *Server {
	s := &Server{
		key:        key,
		perms:      map[string]bool{PermUsersTrack: true, PermCustomAttributesGet: true},
		limit:      RateLimit,
		window:     RateWindow,
		users:      map[string]map[string]any{},
		attributes: map[string]*Attribute{},
		blockedIDs: map[string]bool{},
		now:        time.Now,
	}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	// Braze serves HTTP/2 ("Rate limits": headers come back in lower case, as HTTP/2
	// mandates), so a client's concurrent requests share one connection.
	s.EnableHTTP2 = true
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// RootCAs is a pool holding the fake's TLS certificate, for a client to trust it.
func (s *Server) RootCAs() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	return pool
}

// Revoke makes the key unknown: every request is answered 401 from now on.
func (s *Server) Revoke() { s.mu.Lock(); s.revoked = true; s.mu.Unlock() }

// SetPermissions gives the key exactly these permissions (users.track,
// custom_attributes.get); a request needing another is answered 403.
func (s *Server) SetPermissions(perms ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perms = map[string]bool{}
	for _, p := range perms {
		s.perms[p] = true
	}
}

// SetDown makes every request fail with 503 (down) or answer again (up).
func (s *Server) SetDown(down bool) { s.mu.Lock(); s.down = down; s.mu.Unlock() }

// FailNext answers the next request with status and body (a JSON {"message"} of the
// status's text when body is empty), whatever it is. Calls queue up.
func (s *Server) FailNext(status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = append(s.failNext, failure{status, body})
}

// SetRateLimit allows n requests to /users/track per window (fixed windows aligned
// on the epoch, as X-RateLimit-Reset implies).
func (s *Server) SetRateLimit(n int, window time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit, s.window, s.used, s.windowStart = n, window, 0, time.Time{}
}

// DefineAttribute declares a custom attribute, as the dashboard's Data Settings does,
// with a data type ("Array", "String", "Number", "Boolean", "Time") and status "Active".
func (s *Server) DefineAttribute(name, dataType string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attributes[name] = newAttribute(name, dataType)
}

// Blocklist blocklists a custom attribute: it is listed with status "Blocklisted",
// and values sent to it are ignored. It is how an audience's attribute disappears.
func (s *Server) Blocklist(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.attributes[name]
	if !ok {
		a = newAttribute(name, "Array")
		s.attributes[name] = a
	}
	a.Status = "Blocklisted"
}

// BlockExternalID makes Braze refuse this external_id (a "dummy user"), record by record.
func (s *Server) BlockExternalID(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blockedIDs[id] = true
}

// User is the profile stored for an identifier: "external_id:…", "email:…" or
// "phone:…", as the fake keys profiles. ok is false for no such user.
func (s *Server) User(key string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[key]
	if !ok {
		return nil, false
	}
	out := make(map[string]any, len(u))
	for k, v := range u {
		if arr, ok := v.([]any); ok {
			v = slices.Clone(arr)
		}
		out[k] = v
	}
	return out, true
}

// Users is how many profiles the fake holds.
func (s *Server) Users() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.users)
}

// Received returns the requests received since the last call, oldest first.
func (s *Server) Received() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.received
	s.received = nil
	return out
}

// Counts is how many requests the fake answered, and how many of them 429.
func (s *Server) Counts() (requests, throttled int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.throttled
}

func newAttribute(name, dataType string) *Attribute {
	a := &Attribute{Name: name, DataType: dataType, Status: "Active", TagNames: []string{}}
	if dataType == "Array" {
		n := MaxArrayLength
		a.ArrayLength = &n
	}
	return a
}

type answer struct {
	status int
	header http.Header
	body   any
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	s.mu.Lock()
	a, objects := s.handle(r, body)
	s.requests++
	if a.status == http.StatusTooManyRequests {
		s.throttled++
	}
	s.received = append(s.received, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: body, Objects: objects, Status: a.status})
	s.mu.Unlock()
	for k, v := range a.header {
		w.Header()[k] = v
	}
	var out []byte
	switch b := a.body.(type) {
	case string:
		out = []byte(b)
	default:
		out, _ = json.Marshal(b)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	w.Write(out)
}

func message(status int, msg string) answer {
	return answer{status: status, body: map[string]any{"message": msg}}
}

// handle answers one request; s.mu is held.
func (s *Server) handle(r *http.Request, body []byte) (answer, int) {
	if len(s.failNext) > 0 {
		f := s.failNext[0]
		s.failNext = s.failNext[1:]
		if f.body == "" {
			return message(f.status, http.StatusText(f.status)), 0
		}
		return answer{status: f.status, body: f.body}, 0
	}
	if s.down {
		return message(http.StatusServiceUnavailable, "Service Unavailable"), 0
	}
	var need string
	switch {
	case r.URL.Path == "/users/track" && r.Method == http.MethodPost:
		need = PermUsersTrack
	case r.URL.Path == "/custom_attributes" && r.Method == http.MethodGet:
		need = PermCustomAttributesGet
	case r.URL.Path == "/users/track" || r.URL.Path == "/custom_attributes":
		return message(http.StatusMethodNotAllowed, "Method Not Allowed"), 0
	default:
		return message(http.StatusNotFound, "Not Found"), 0
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token != s.key || s.revoked {
		return message(http.StatusUnauthorized, MsgUnauthorized), 0
	}
	if !s.perms[need] {
		return message(http.StatusForbidden, MsgAccessDenied), 0
	}
	if need == PermCustomAttributesGet {
		return s.listAttributes(r), 0
	}
	header, ok := s.take()
	if !ok {
		a := message(http.StatusTooManyRequests, MsgRateLimited)
		a.header = header
		return a, 0
	}
	a, objects := s.track(r, body)
	a.header = header
	return a, objects
}

// take counts a /users/track request in its window: ok is false past the limit. The
// headers are those Braze puts on every answer.
func (s *Server) take() (http.Header, bool) {
	now := s.now()
	start := now.Truncate(s.window)
	if !start.Equal(s.windowStart) {
		s.windowStart, s.used = start, 0
	}
	ok := s.used < s.limit
	if ok {
		s.used++
	}
	reset := start.Add(s.window)
	h := http.Header{}
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(s.limit-s.used))
	// Epoch seconds, rounded up so that waiting until then always reaches the next window.
	h.Set("X-RateLimit-Reset", strconv.FormatInt((reset.UnixNano()+int64(time.Second)-1)/int64(time.Second), 10))
	return h, ok
}

func (s *Server) listAttributes(r *http.Request) answer {
	names := make([]string, 0, len(s.attributes))
	for n := range s.attributes {
		names = append(names, n)
	}
	slices.Sort(names)
	from := 0
	if c := r.URL.Query().Get("cursor"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 0 || n > len(names) {
			return message(http.StatusBadRequest, MsgBadSyntax)
		}
		from = n
	}
	to := min(from+PageSize, len(names))
	page := make([]*Attribute, 0, to-from)
	for _, n := range names[from:to] {
		page = append(page, s.attributes[n])
	}
	a := answer{status: http.StatusOK, body: map[string]any{"message": MsgSuccess, "attributes": page}}
	if to < len(names) {
		next := fmt.Sprintf("https://%s/custom_attributes?cursor=%d", r.Host, to)
		a.header = http.Header{"Link": {`<` + next + `>; rel="next"`}}
	}
	return a
}

// trackError is one non-fatal error of a /users/track answer.
type trackError struct {
	Type       string `json:"type"`
	InputArray string `json:"input_array"`
	Index      int    `json:"index"`
}

func (s *Server) track(r *http.Request, body []byte) (answer, int) {
	if mt := r.Header.Get("Content-Type"); !strings.HasPrefix(mt, "application/json") {
		return message(http.StatusBadRequest, MsgBadSyntax), 0
	}
	var req struct {
		Attributes []json.RawMessage `json:"attributes"`
		Events     []json.RawMessage `json:"events"`
		Purchases  []json.RawMessage `json:"purchases"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		return message(http.StatusBadRequest, MsgBadSyntax), 0
	}
	n := len(req.Attributes)
	if n > MaxObjects || len(req.Events) > MaxObjects || len(req.Purchases) > MaxObjects {
		return message(http.StatusBadRequest, MsgMaxInputLength), n
	}
	var errs []trackError
	processed := 0
	for i, raw := range req.Attributes {
		var obj map[string]any
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if d.Decode(&obj) != nil || obj == nil {
			errs = append(errs, trackError{ErrInvalidAttribute, "attributes", i})
			continue
		}
		key := userKey(obj)
		if key == "" {
			errs = append(errs, trackError{ErrNoIdentifier, "attributes", i})
			continue
		}
		if id, _ := obj["external_id"].(string); s.blockedIDs[id] {
			errs = append(errs, trackError{ErrBlockedID, "attributes", i})
			continue
		}
		s.apply(key, obj)
		processed++
	}
	out := map[string]any{"message": MsgSuccess}
	if n > 0 {
		out["attributes_processed"] = processed
	}
	if len(errs) > 0 {
		out["errors"] = errs
	}
	return answer{status: http.StatusCreated, body: out}, n
}

// userKey is the profile an attributes object names; Braze prefers external_id, then
// email over phone ("If you include a request with both email and phone, Braze will use
// the email as the identifier").
func userKey(obj map[string]any) string {
	for _, f := range []string{"external_id", "braze_id", "email", "phone"} {
		if v, ok := obj[f].(string); ok && v != "" {
			return f + ":" + v
		}
	}
	if alias, ok := obj["user_alias"].(map[string]any); ok {
		name, _ := alias["alias_name"].(string)
		label, _ := alias["alias_label"].(string)
		if name != "" && label != "" {
			return "user_alias:" + label + "/" + name
		}
	}
	return ""
}

// apply stores an attributes object on its profile; "_update_existing_only" true
// leaves an unknown profile uncreated.
func (s *Server) apply(key string, obj map[string]any) {
	u, exists := s.users[key]
	if !exists {
		if only, _ := obj["_update_existing_only"].(bool); only {
			return
		}
		u = map[string]any{}
	}
	for name, v := range obj {
		if name == "_update_existing_only" || name == "user_alias" || name == "push_token_import" {
			continue
		}
		if a := s.attributes[name]; a != nil && a.Status == "Blocklisted" {
			continue
		}
		if v == nil {
			delete(u, name)
			continue
		}
		if op, ok := v.(map[string]any); ok && (op["add"] != nil || op["remove"] != nil) {
			arr, _ := u[name].([]any)
			arr = editArray(arr, op)
			u[name] = arr
			if _, ok := s.attributes[name]; !ok {
				s.attributes[name] = newAttribute(name, "Array")
			}
			continue
		}
		u[name] = v
	}
	s.users[key] = u
}

// editArray applies {"add": [...], "remove": [...]} to a custom attribute array: a
// set in order of last addition, at most MaxArrayLength values, the oldest dropped.
func editArray(arr []any, op map[string]any) []any {
	arr = slices.Clone(arr)
	if rm, ok := op["remove"].([]any); ok {
		for _, v := range rm {
			arr = slices.DeleteFunc(arr, func(x any) bool { return reflect.DeepEqual(x, v) })
		}
	}
	if add, ok := op["add"].([]any); ok {
		for _, v := range add {
			arr = slices.DeleteFunc(arr, func(x any) bool { return reflect.DeepEqual(x, v) })
			arr = append(arr, v)
		}
	}
	if len(arr) > MaxArrayLength {
		arr = arr[len(arr)-MaxArrayLength:]
	}
	if arr == nil {
		arr = []any{}
	}
	return arr
}
