// Package klaviyo is a fake of Klaviyo's REST API (https://a.klaviyo.com, revision
// 2026-07-15) for tests, as strict as the service on what Sluice uses of it:
//
//   - POST /api/profile-bulk-import-jobs (Bulk Import Profiles): up to 10,000 profiles
//     and 5 MB a job, 100 KB a profile; an optional list relationship; the job is
//     asynchronous (queued, then complete after a number of polls the test chooses),
//     and each profile it could not import becomes an import error;
//   - GET /api/profile-bulk-import-jobs/{id} and GET .../{id}/import-errors (cursor
//     pages of at most 100, original_payload and source.pointer per error);
//   - GET /api/lists (pages of at most 10), GET /api/profiles with
//     filter=any(email|phone_number|external_id,[...]) or equals(...), pages of at most
//     100, DELETE /api/lists/{id}/relationships/profiles (at most 1,000 profiles);
//   - GET /api/accounts.
//
// Every request needs `Authorization: Klaviyo-API-Key <key>`, a `revision` header of
// the form YYYY-MM-DD, and JSON:API content types; each endpoint needs the scopes its
// reference page lists, and answers 403 naming what is missing. Each endpoint has the
// documented rate limit of its reference page, counted per account in fixed windows of
// one second (burst) and one minute (steady), answering 429 with Retry-After; every
// other answer carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset for
// the steady window. Errors are Klaviyo's JSON:API errors body (the ClientError schema
// of the OpenAPI spec: id, status, code, title, detail, source).
//
// Tests switch it: Revoke the key, DeleteList, Down (5xx), FailNext with a status,
// SetScopes, SetPolls (how long jobs stay queued), SetRateLimits. It records what it
// received and counts requests and 429s.
package klaviyo

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Documented limits (Bulk Import Profiles reference, Remove Profiles from List reference).
const (
	MaxJobProfiles    = 10000
	MaxJobBytes       = 5_000_000 // "5MB"; the decimal reading is the stricter one
	MaxProfileBytes   = 100_000   // "100KB" per profile
	MaxListRemoval    = 1000
	MaxErrorsPageSize = 100
	MaxListsPageSize  = 10
	MaxProfilesPage   = 100
)

// JSONAPI is the media type of every body.
const JSONAPI = "application/vnd.api+json"

// Limit is an endpoint's documented rate limit.
type Limit struct{ Burst, Steady int }

// The tiers of "Rate limits, status codes, and errors" as each reference page gives them.
var (
	LimitXS = Limit{Burst: 1, Steady: 15}
	LimitM  = Limit{Burst: 10, Steady: 150}
	LimitL  = Limit{Burst: 75, Steady: 750}
)

// Profile is a profile as the fake stores it.
type Profile struct {
	ID         string         `json:"id"`
	Email      string         `json:"email,omitempty"`
	Phone      string         `json:"phone_number,omitempty"`
	ExternalID string         `json:"external_id,omitempty"`
	FirstName  string         `json:"first_name,omitempty"`
	LastName   string         `json:"last_name,omitempty"`
	Attributes map[string]any `json:"attributes,omitempty"`
	Properties map[string]any `json:"properties,omitempty"`
}

// Received is one request as the fake took it.
type Received struct {
	Method, Path string
	// Profiles is how many profiles a bulk import job carried, or how many profile ids a
	// list removal named.
	Profiles int
	Bytes    int
	Status   int
	Header   http.Header
	Body     []byte
}

type list struct {
	id, name string
	members  map[string]bool
}

type importError struct {
	ID      string
	Code    string
	Title   string
	Detail  string
	Pointer string
	Payload json.RawMessage
}

type job struct {
	id       string
	created  time.Time
	profiles []json.RawMessage
	listIDs  []string
	polls    int
	status   string
	failed   []importError
	imported []string
}

type window struct {
	start time.Time
	n     int
}

type endpointLimit struct {
	limit         Limit
	burst, steady window
}

// Server is the fake. Its zero value is not usable: call New.
type Server struct {
	*httptest.Server

	mu           sync.Mutex
	key          string
	revoked      bool
	scopes       map[string]bool
	down         bool
	failNext     []int
	pollsToDone  int
	rateLimits   bool
	lists        map[string]*list
	listOrder    []string
	profiles     map[string]*Profile
	profileOrder []string
	byEmail      map[string]*Profile
	byPhone      map[string]*Profile
	byExt        map[string]*Profile
	jobs         map[string]*job
	limits       map[string]*endpointLimit
	received     []Received
	requests     int
	throttled    int
	now          func() time.Time
}

// AllScopes are the scopes of a full-access private key, as far as this fake checks them.
var AllScopes = []string{"accounts:read", "lists:read", "lists:write", "profiles:read", "profiles:write"}

// New starts a fake that takes the private key key with every scope, rate limits on and
// jobs complete at their first poll. Close it when done.
func New(key string) *Server {
	s := &Server{
		key:        key,
		scopes:     map[string]bool{},
		rateLimits: true,
		lists:      map[string]*list{},
		profiles:   map[string]*Profile{},
		byEmail:    map[string]*Profile{},
		byPhone:    map[string]*Profile{},
		byExt:      map[string]*Profile{},
		jobs:       map[string]*job{},
		limits:     map[string]*endpointLimit{},
		now:        time.Now,
	}
	for _, sc := range AllScopes {
		s.scopes[sc] = true
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// AddList creates a list and returns its id.
func (s *Server) AddList(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := randomID(6)
	s.lists[id] = &list{id: id, name: name, members: map[string]bool{}}
	s.listOrder = append(s.listOrder, id)
	return id
}

// DeleteList deletes a list, as a user would in Klaviyo.
func (s *Server) DeleteList(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.lists, id)
}

// AddProfile stores a profile directly (as if imported long ago) and returns its id;
// listIDs are lists it is a member of.
func (s *Server) AddProfile(p Profile, listIDs ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p.ID = randomID(26)
	s.profiles[p.ID] = &p
	s.profileOrder = append(s.profileOrder, p.ID)
	s.index(&p)
	for _, l := range listIDs {
		if li := s.lists[l]; li != nil {
			li.members[p.ID] = true
		}
	}
	return p.ID
}

// Revoke makes the key invalid: every request answers 401.
func (s *Server) Revoke() { s.mu.Lock(); s.revoked = true; s.mu.Unlock() }

// SetScopes replaces the key's scopes.
func (s *Server) SetScopes(scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scopes = map[string]bool{}
	for _, sc := range scopes {
		s.scopes[sc] = true
	}
}

// Down makes every request answer 503 (down true) or serves again.
func (s *Server) Down(down bool) { s.mu.Lock(); s.down = down; s.mu.Unlock() }

// FailNext makes the next request answer status (after the key is checked), with the
// error body of that status and, for 429, Retry-After: 7.
func (s *Server) FailNext(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = append(s.failNext, status)
}

// SetPolls makes new jobs answer "queued" to the first n polls and "complete" after.
func (s *Server) SetPolls(n int) { s.mu.Lock(); s.pollsToDone = n; s.mu.Unlock() }

// SetRateLimits turns the documented rate limits on (the default) or off.
func (s *Server) SetRateLimits(on bool) { s.mu.Lock(); s.rateLimits = on; s.mu.Unlock() }

// Counts is how many requests the fake answered and how many of them were 429.
func (s *Server) Counts() (requests, throttled int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.throttled
}

// TakeReceived returns the requests received since the last call, oldest first.
func (s *Server) TakeReceived() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.received
	s.received = nil
	return out
}

// Profiles returns the stored profiles, in the order they were created.
func (s *Server) Profiles() []Profile {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Profile, 0, len(s.profileOrder))
	for _, id := range s.profileOrder {
		out = append(out, *s.profiles[id])
	}
	return out
}

// Members returns the e-mails (or phone numbers, or external ids) of a list's members, sorted.
func (s *Server) Members(listID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	li := s.lists[listID]
	if li == nil {
		return nil
	}
	var out []string
	for id := range li.members {
		p := s.profiles[id]
		out = append(out, firstNonEmpty(p.Email, p.Phone, p.ExternalID, p.ID))
	}
	sort.Strings(out)
	return out
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// route is an endpoint: its name (for rate limits), the scopes it needs, its limit.
type route struct {
	name   string
	scopes []string
	limit  Limit
	handle func(w http.ResponseWriter, r *http.Request, body []byte, args []string) (status, profiles int)
}

var (
	reJob       = regexp.MustCompile(`^/api/profile-bulk-import-jobs/([^/]+)$`)
	reJobErrors = regexp.MustCompile(`^/api/profile-bulk-import-jobs/([^/]+)/import-errors$`)
	reListRel   = regexp.MustCompile(`^/api/lists/([^/]+)/relationships/profiles$`)
	reRevision  = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(\.[a-z0-9]+)?$`)
)

// match finds the endpoint of a request; scopes and limits are those of the reference
// pages of revision 2026-07-15.
func (s *Server) match(method, path string) (route, []string, bool) {
	switch {
	case method == http.MethodPost && path == "/api/profile-bulk-import-jobs":
		return route{"bulk_import_profiles", []string{"lists:write", "profiles:write"}, LimitM, s.createJob}, nil, true
	case method == http.MethodGet && reJob.MatchString(path):
		return route{"get_bulk_import_profiles_job", []string{"lists:read", "profiles:read"}, LimitM, s.getJob}, reJob.FindStringSubmatch(path)[1:], true
	case method == http.MethodGet && reJobErrors.MatchString(path):
		return route{"get_errors_for_bulk_import_profiles_job", []string{"profiles:read"}, LimitM, s.getJobErrors}, reJobErrors.FindStringSubmatch(path)[1:], true
	case method == http.MethodGet && path == "/api/lists":
		return route{"get_lists", []string{"lists:read"}, LimitL, s.getLists}, nil, true
	case method == http.MethodGet && path == "/api/profiles":
		return route{"get_profiles", []string{"profiles:read"}, LimitL, s.getProfiles}, nil, true
	case method == http.MethodDelete && reListRel.MatchString(path):
		return route{"remove_profiles_from_list", []string{"lists:write", "profiles:write"}, LimitM, s.removeFromList}, reListRel.FindStringSubmatch(path)[1:], true
	case method == http.MethodGet && path == "/api/accounts":
		return route{"get_accounts", []string{"accounts:read"}, LimitXS, s.getAccounts}, nil, true
	}
	return route{}, nil, false
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, MaxJobBytes*2))
	rec := &recorder{ResponseWriter: w}
	profiles := 0
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	defer func() {
		if rec.status == http.StatusTooManyRequests {
			s.throttled++
		}
		s.received = append(s.received, Received{Method: r.Method, Path: r.URL.Path, Profiles: profiles, Bytes: len(body),
			Status: rec.status, Header: r.Header.Clone(), Body: body})
	}()
	w = rec
	w.Header().Set("Content-Type", JSONAPI)
	if s.down {
		writeError(w, http.StatusServiceUnavailable, "service_unavailable", "Service unavailable.", "Klaviyo is temporarily unavailable. Please try again later.", "")
		return
	}
	// Authentication first, as the service does: a wrong key learns nothing else.
	auth := r.Header.Get("Authorization")
	key, ok := strings.CutPrefix(auth, "Klaviyo-API-Key ")
	if !ok || key == "" || key != s.key || s.revoked {
		writeError(w, http.StatusUnauthorized, "not_authenticated", "Authentication credentials were not provided.", "Missing or invalid private key.", "")
		return
	}
	rev := r.Header.Get("revision")
	if rev == "" {
		writeError(w, http.StatusBadRequest, "invalid", "Invalid input.", "The revision header is required.", "")
		return
	}
	if !reRevision.MatchString(rev) {
		writeError(w, http.StatusBadRequest, "invalid", "Invalid input.", fmt.Sprintf("Invalid revision header %q: expected YYYY-MM-DD.", rev), "")
		return
	}
	if a := r.Header.Get("Accept"); a != "" && !strings.Contains(a, JSONAPI) && !strings.Contains(a, "*/*") && !strings.Contains(a, "application/json") {
		writeError(w, http.StatusNotAcceptable, "not_acceptable", "Could not satisfy the request Accept header.", "Accept "+JSONAPI+".", "")
		return
	}
	rt, args, found := s.match(r.Method, r.URL.Path)
	if !found {
		writeError(w, http.StatusNotFound, "not_found", "Not found.", "No endpoint "+r.Method+" "+r.URL.Path+".", "")
		return
	}
	if r.Method != http.MethodGet {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, JSONAPI) {
			writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "Unsupported media type.", fmt.Sprintf("Unsupported media type %q in request: use %s.", ct, JSONAPI), "")
			return
		}
	}
	if len(s.failNext) > 0 {
		status := s.failNext[0]
		s.failNext = s.failNext[1:]
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "7")
		}
		code, title := statusCode(status)
		writeError(w, status, code, title, "Failed as the test asked.", "")
		return
	}
	var missing []string
	for _, sc := range rt.scopes {
		if !s.scopes[sc] {
			missing = append(missing, sc)
		}
	}
	if len(missing) > 0 {
		writeError(w, http.StatusForbidden, "permission_denied", "You do not have permission to perform this action.",
			"This API key is missing required scopes: "+strings.Join(missing, ", ")+".", "")
		return
	}
	if s.rateLimits && !s.take(w, rt) {
		return
	}
	_, profiles = rt.handle(w, r, body, args)
}

// take counts the request in its endpoint's windows: false (and a 429 written) when
// either is full, as Klaviyo's fixed windows do.
func (s *Server) take(w http.ResponseWriter, rt route) bool {
	now := s.now()
	el := s.limits[rt.name]
	if el == nil {
		el = &endpointLimit{limit: rt.limit}
		s.limits[rt.name] = el
	}
	if now.Sub(el.burst.start) >= time.Second {
		el.burst = window{start: now.Truncate(time.Second)}
	}
	if now.Sub(el.steady.start) >= time.Minute {
		el.steady = window{start: now.Truncate(time.Minute)}
	}
	var wait time.Duration
	if el.steady.n >= el.limit.Steady {
		wait = el.steady.start.Add(time.Minute).Sub(now)
	} else if el.burst.n >= el.limit.Burst {
		wait = el.burst.start.Add(time.Second).Sub(now)
	}
	if wait > 0 {
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		writeError(w, http.StatusTooManyRequests, "throttled", "Request was throttled.",
			fmt.Sprintf("Request was throttled. Expected available in %d second%s.", max(secs, 1), plural(max(secs, 1))), "")
		return false
	}
	el.burst.n++
	el.steady.n++
	reset := int(math.Ceil(el.steady.start.Add(time.Minute).Sub(now).Seconds()))
	w.Header().Set("RateLimit-Limit", strconv.Itoa(el.limit.Steady))
	w.Header().Set("RateLimit-Remaining", strconv.Itoa(el.limit.Steady-el.steady.n))
	w.Header().Set("RateLimit-Reset", strconv.Itoa(reset))
	return true
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func statusCode(status int) (code, title string) {
	switch status {
	case http.StatusBadRequest:
		return "invalid", "Invalid input."
	case http.StatusUnauthorized:
		return "not_authenticated", "Authentication credentials were not provided."
	case http.StatusForbidden:
		return "permission_denied", "You do not have permission to perform this action."
	case http.StatusNotFound:
		return "not_found", "Not found."
	case http.StatusTooManyRequests:
		return "throttled", "Request was throttled."
	}
	if status >= 500 {
		return "error", "A server error occurred."
	}
	return "error", http.StatusText(status)
}

// ErrorBody is Klaviyo's JSON:API errors document.
type ErrorBody struct {
	Errors []ErrorObject `json:"errors"`
}

// ErrorObject is one error of an ErrorBody.
type ErrorObject struct {
	ID     string `json:"id"`
	Status int    `json:"status"`
	Code   string `json:"code"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Source *struct {
		Pointer   string `json:"pointer,omitempty"`
		Parameter string `json:"parameter,omitempty"`
	} `json:"source,omitempty"`
}

func writeError(w http.ResponseWriter, status int, code, title, detail, pointer string) {
	e := ErrorObject{ID: uuid(), Status: status, Code: code, Title: title, Detail: detail}
	if pointer != "" {
		e.Source = &struct {
			Pointer   string `json:"pointer,omitempty"`
			Parameter string `json:"parameter,omitempty"`
		}{Pointer: pointer}
	}
	writeJSON(w, status, ErrorBody{Errors: []ErrorObject{e}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", JSONAPI)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// baseURL is the absolute URL of the fake, for links.
func baseURL(r *http.Request) string { return "http://" + r.Host }

// pageParams reads page[size] within [1, maxSize] and page[cursor] (an offset here).
func pageParams(w http.ResponseWriter, q url.Values, def, maxSize int) (size, offset int, ok bool) {
	size = def
	if v := q.Get("page[size]"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxSize {
			writeError(w, http.StatusBadRequest, "invalid", "Invalid input.",
				fmt.Sprintf("page[size] must be an integer between 1 and %d.", maxSize), "")
			return 0, 0, false
		}
		size = n
	}
	if c := q.Get("page[cursor]"); c != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(c, "c"))
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "invalid", "Invalid input.", "Invalid page cursor.", "")
			return 0, 0, false
		}
		offset = n
	}
	return size, offset, true
}

// links is a collection's links object: self, and next when there is more.
func links(r *http.Request, size, offset, total int) map[string]any {
	self := baseURL(r) + r.URL.RequestURI()
	out := map[string]any{"self": self, "prev": nil, "next": nil}
	if offset+size < total {
		q := r.URL.Query()
		q.Set("page[cursor]", "c"+strconv.Itoa(offset+size))
		out["next"] = baseURL(r) + r.URL.Path + "?" + q.Encode()
	}
	return out
}
