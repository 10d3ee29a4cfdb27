// Package googleads is a fake of the Google Ads API's REST interface (version V), as
// strict as the service on the calls Sluice makes:
//
//   - OfflineUserDataJobService: customers/{id}/offlineUserDataJobs:create,
//     {job}:addOperations and {job}:run, for Customer Match user lists;
//   - ConversionAdjustmentUploadService: customers/{id}:uploadConversionAdjustments;
//   - GoogleAdsService: customers/{id}/googleAds:search, for the GAQL queries over
//     customer, user_list and conversion_action.
//
// It checks the headers (Authorization: Bearer, developer-token, login-customer-id),
// answers errors in the documented google.rpc.Status shape with a GoogleAdsFailure in
// its details, gives per-operation outcomes in partialFailureError by operation index,
// refuses what the service refuses (identifiers that are not 64 hex characters of
// SHA-256, creation and removal mixed in one job, more than 100,000 identifiers in a
// request, more than 2,000 adjustments in a request, an unknown user list, conversion
// action or order id), and meters the documented daily quota of API operations of a
// developer token's access level (Basic: 15,000 a day; every call here counts as one
// operation), answering 429 RESOURCE_EXHAUSTED with QuotaErrorDetails.retryDelay.
//
// Tests switch it (Revoke, DeleteUserList, Down, FailNext…) and read what it stored
// (Members, Adjustments) and received (Requests, Throttled).
package googleads

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// V is the API version the fake serves.
const V = "v23"

// Documented limits.
const (
	// MaxIdentifiersPerRequest is the most user identifiers one addOperations request
	// carries (OfflineUserDataJobError.TOO_MANY_USER_IDENTIFIERS).
	MaxIdentifiersPerRequest = 100000
	// MaxIdentifiersPerOperation is the most identifiers of one UserData.
	MaxIdentifiersPerOperation = 20
	// MaxAdjustmentsPerRequest is the most conversion adjustments of one upload
	// (ConversionAdjustmentUploadError.TOO_MANY_ADJUSTMENTS_IN_REQUEST).
	MaxAdjustmentsPerRequest = 2000
	// BasicDailyOperations is the daily quota of API operations at Basic access.
	BasicDailyOperations = 15000
)

// Scope is the OAuth scope the API requires.
const Scope = "https://www.googleapis.com/auth/adwords"

// Options configure a fake.
type Options struct {
	// AccessToken is the OAuth access token it accepts ("fake-access-token" when empty).
	AccessToken string
	// DeveloperToken is the developer token it accepts ("fake-developer-token" when empty).
	DeveloperToken string
	// Limit API operations per Window (BasicDailyOperations per 24 hours when 0).
	// Benchmarks compress the window to measure pacing in seconds.
	Limit  int
	Window time.Duration
}

// UserList is a Customer Match (CRM_BASED) user list.
type UserList struct {
	ID, Name string
	// Type is the user list's type (CRM_BASED unless set).
	Type string
}

// ConversionAction is a conversion action of an account.
type ConversionAction struct {
	ID, Name string
}

// Adjustment is a conversion adjustment the fake took.
type Adjustment struct {
	ConversionAction   string
	OrderID            string
	AdjustmentType     string
	AdjustmentDateTime string
	AdjustedValue      *float64
	CurrencyCode       string
	UserIdentifiers    int
}

// Request is one request the fake answered (or refused).
type Request struct {
	Method, Path string
	// Records is the operations or adjustments it carried.
	Records int
	Bytes   int
	Status  int
	Header  http.Header
	Body    []byte
}

type customer struct {
	id, name         string
	manager          string // the manager account a login-customer-id must name ("" for none)
	userLists        map[string]*UserList
	conversionAction map[string]*ConversionAction
	orders           map[string]bool // order ids of conversions that exist
	members          map[string]map[string]bool
	adjustments      []Adjustment
}

type job struct {
	customer, userList string
	ops                []operation
	kind               string // "create" or "remove" once it has operations
	ran                bool
}

type operation struct {
	remove bool
	ids    []string
}

// Server is a running fake.
type Server struct {
	*httptest.Server
	opts Options

	mu          sync.Mutex
	customers   map[string]*customer
	jobs        map[string]*job
	nextID      int
	scopes      map[string]bool // scopes granted to the access token
	revoked     bool
	testOnly    bool // the developer token is approved for test accounts only
	down        bool
	failNext    []int
	windowStart time.Time
	used        int
	throttled   int
	requests    []Request
	unread      int // requests not yet taken by Took
}

// New starts a fake with one account, 1234567890 ("Sluice Test Account"), holding the
// user list 111 ("VIP customers"), the conversion action 222 ("Purchases") and the
// conversions with order ids "order-1" to "order-3".
func New(o Options) *Server {
	if o.AccessToken == "" {
		o.AccessToken = "fake-access-token"
	}
	if o.DeveloperToken == "" {
		o.DeveloperToken = "fake-developer-token"
	}
	if o.Limit <= 0 {
		o.Limit = BasicDailyOperations
	}
	if o.Window <= 0 {
		o.Window = 24 * time.Hour
	}
	s := &Server{opts: o, customers: map[string]*customer{}, jobs: map[string]*job{}, nextID: 1000,
		scopes: map[string]bool{Scope: true}}
	s.AddCustomer("1234567890", "Sluice Test Account", "")
	s.AddUserList("1234567890", UserList{ID: "111", Name: "VIP customers"})
	s.AddConversionAction("1234567890", ConversionAction{ID: "222", Name: "Purchases"})
	s.AddOrders("1234567890", "order-1", "order-2", "order-3")
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// AccessToken is the token the fake accepts.
func (s *Server) AccessToken() string { return s.opts.AccessToken }

// DeveloperToken is the developer token the fake accepts.
func (s *Server) DeveloperToken() string { return s.opts.DeveloperToken }

// AddCustomer adds an account; manager, when set, is the manager account through which
// the token's user reaches it (its id must come as login-customer-id).
func (s *Server) AddCustomer(id, name, manager string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.customers[id] = &customer{id: id, name: name, manager: manager, userLists: map[string]*UserList{},
		conversionAction: map[string]*ConversionAction{}, orders: map[string]bool{}, members: map[string]map[string]bool{}}
}

// AddUserList adds a user list to an account.
func (s *Server) AddUserList(customerID string, l UserList) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l.Type == "" {
		l.Type = "CRM_BASED"
	}
	c := s.customers[customerID]
	c.userLists[l.ID] = &l
	c.members[l.ID] = map[string]bool{}
}

// DeleteUserList removes a user list, as if deleted in the Google Ads interface.
func (s *Server) DeleteUserList(customerID, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.customers[customerID].userLists, id)
}

// AddConversionAction adds a conversion action to an account.
func (s *Server) AddConversionAction(customerID string, a ConversionAction) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.customers[customerID].conversionAction[a.ID] = &a
}

// AddOrders records conversions with these order ids, which adjustments may then name.
func (s *Server) AddOrders(customerID string, orderIDs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range orderIDs {
		s.customers[customerID].orders[id] = true
	}
}

// Revoke makes the access token invalid, as when the user revokes Sluice's access.
func (s *Server) Revoke() { s.mu.Lock(); s.revoked = true; s.mu.Unlock() }

// GrantScopes replaces the scopes granted to the access token (none: the adwords scope
// was not granted at consent).
func (s *Server) GrantScopes(scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scopes = map[string]bool{}
	for _, sc := range scopes {
		s.scopes[sc] = true
	}
}

// TestAccountsOnly makes the developer token one approved for test accounts only.
func (s *Server) TestAccountsOnly() { s.mu.Lock(); s.testOnly = true; s.mu.Unlock() }

// Down makes every request fail with 503 UNAVAILABLE until Down(false).
func (s *Server) Down(down bool) { s.mu.Lock(); s.down = down; s.mu.Unlock() }

// FailNext makes the next request fail with status (429 RESOURCE_EXHAUSTED with a
// retry delay of 30 s, 401, 403, 500, 503…), each call one more request.
func (s *Server) FailNext(status int) {
	s.mu.Lock()
	s.failNext = append(s.failNext, status)
	s.mu.Unlock()
}

// Members is the hashed identifiers a user list holds, sorted.
func (s *Server) Members(customerID, userListID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for h := range s.customers[customerID].members[userListID] {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// Adjustments is the conversion adjustments an account took, oldest first.
func (s *Server) Adjustments(customerID string) []Adjustment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Adjustment(nil), s.customers[customerID].adjustments...)
}

// Requests is every request received, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Took is the requests received since it was last called, oldest first.
func (s *Server) Took() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]Request(nil), s.requests[s.unread:]...)
	s.unread = len(s.requests)
	return out
}

// Throttled is how many requests were answered 429.
func (s *Server) Throttled() int { s.mu.Lock(); defer s.mu.Unlock(); return s.throttled }

// Paths of the API (V).
var (
	pathCreate  = regexp.MustCompile(`^/` + V + `/customers/([0-9]+)/offlineUserDataJobs:create$`)
	pathJob     = regexp.MustCompile(`^/` + V + `/customers/([0-9]+)/offlineUserDataJobs/([0-9]+):(addOperations|run)$`)
	pathAdjust  = regexp.MustCompile(`^/` + V + `/customers/([0-9]+):uploadConversionAdjustments$`)
	pathSearch  = regexp.MustCompile(`^/` + V + `/customers/([0-9]+)/googleAds:search$`)
	hashPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := Request{Method: r.Method, Path: r.URL.Path, Bytes: len(body), Header: r.Header.Clone(), Body: body}
	status, answer := s.handle(r, body, &rec)
	rec.Status = status
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(answer)
}

// handle answers one request: the status and the JSON body.
func (s *Server) handle(r *http.Request, body []byte, rec *Request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return status(503, "UNAVAILABLE", "The service is currently unavailable.")
	}
	if len(s.failNext) > 0 {
		code := s.failNext[0]
		s.failNext = s.failNext[1:]
		return s.failure(code)
	}
	if r.Method != http.MethodPost {
		return status(404, "NOT_FOUND", "Method not found.")
	}
	// Authentication comes first, as at Google's front end.
	auth := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	switch {
	case auth == "":
		return adsFailure(401, "UNAUTHENTICATED", "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
			"authenticationError", "OAUTH_TOKEN_HEADER_INVALID", "Oauth token HTTP header is malformed.")
	case !ok || token != s.opts.AccessToken:
		return adsFailure(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
			"authenticationError", "OAUTH_TOKEN_INVALID", "Oauth token in the header is not valid.")
	case s.revoked:
		return adsFailure(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
			"authenticationError", "OAUTH_TOKEN_REVOKED", "Oauth token in the header has been revoked.")
	case !s.scopes[Scope]:
		return 403, map[string]any{"error": map[string]any{"code": 403, "message": "Request had insufficient authentication scopes.", "status": "PERMISSION_DENIED",
			"details": []any{map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT", "domain": "googleapis.com",
				"metadata": map[string]string{"service": "googleads.googleapis.com"}}}}}
	}
	if dt := r.Header.Get("developer-token"); dt != s.opts.DeveloperToken {
		return adsFailure(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.",
			"authenticationError", "DEVELOPER_TOKEN_INVALID", "The developer token is not valid.")
	}
	if s.testOnly {
		return adsFailure(403, "PERMISSION_DENIED", "The caller does not have permission",
			"authorizationError", "DEVELOPER_TOKEN_NOT_APPROVED", "The developer token is only approved for use with test accounts. To access non-test accounts, apply for Basic or Standard access.")
	}
	var cid, jobID, verb string
	switch {
	case pathCreate.MatchString(r.URL.Path):
		cid, verb = pathCreate.FindStringSubmatch(r.URL.Path)[1], "create"
	case pathJob.MatchString(r.URL.Path):
		m := pathJob.FindStringSubmatch(r.URL.Path)
		cid, jobID, verb = m[1], m[2], m[3]
	case pathAdjust.MatchString(r.URL.Path):
		cid, verb = pathAdjust.FindStringSubmatch(r.URL.Path)[1], "adjust"
	case pathSearch.MatchString(r.URL.Path):
		cid, verb = pathSearch.FindStringSubmatch(r.URL.Path)[1], "search"
	default:
		return status(404, "NOT_FOUND", "The requested URL "+r.URL.Path+" was not found on this server.")
	}
	c := s.customers[cid]
	if c == nil {
		return adsFailure(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.",
			"authenticationError", "CUSTOMER_NOT_FOUND", "No customer found for the provided customer id.")
	}
	login := r.Header.Get("login-customer-id")
	switch {
	case login != "" && login != cid && login != c.manager:
		return adsFailure(403, "PERMISSION_DENIED", "The caller does not have permission",
			"authorizationError", "INVALID_LOGIN_CUSTOMER_ID_SERVING_CUSTOMER_ID_COMBINATION", "The login customer specified does not have access to the account specified, so the request is invalid.")
	case c.manager != "" && login != c.manager:
		return adsFailure(403, "PERMISSION_DENIED", "The caller does not have permission",
			"authorizationError", "USER_PERMISSION_DENIED", "User doesn't have permission to access customer. Note: If you're accessing a client customer, the manager's customer id must be set in the 'login-customer-id' header. See https://developers.google.com/google-ads/api/docs/concepts/call-structure#cid")
	}
	// Every call here is one operation against the developer token's daily quota.
	if code, answer, limited := s.meter(); limited {
		return code, answer
	}
	switch verb {
	case "create":
		return s.create(c, body)
	case "addOperations":
		return s.addOperations(c, jobID, body, rec)
	case "run":
		return s.run(c, jobID)
	case "adjust":
		return s.adjust(c, body, rec)
	default:
		return s.search(c, body)
	}
}

// meter counts one operation in the current window and refuses it past the limit,
// with the delay until the window ends.
func (s *Server) meter() (int, any, bool) {
	now := time.Now()
	if s.windowStart.IsZero() || now.Sub(s.windowStart) >= s.opts.Window {
		if s.windowStart.IsZero() {
			s.windowStart = now
		} else {
			s.windowStart = s.windowStart.Add(now.Sub(s.windowStart).Truncate(s.opts.Window))
		}
		s.used = 0
	}
	if s.used >= s.opts.Limit {
		s.throttled++
		code, answer := quotaFailure(s.windowStart.Add(s.opts.Window).Sub(now))
		return code, answer, true
	}
	s.used++
	return 0, nil, false
}

// failure is the answer FailNext asked for.
func (s *Server) failure(code int) (int, any) {
	switch code {
	case 429:
		s.throttled++
		return quotaFailure(30 * time.Second)
	case 401:
		return adsFailure(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.", "authenticationError", "OAUTH_TOKEN_EXPIRED", "Oauth token in the header has expired.")
	case 403:
		return adsFailure(403, "PERMISSION_DENIED", "The caller does not have permission", "authorizationError", "USER_PERMISSION_DENIED", "User doesn't have permission to access customer.")
	case 500:
		return adsFailure(500, "INTERNAL", "Internal error encountered.", "internalError", "INTERNAL_ERROR", "An internal error has occurred.")
	case 503:
		return status(503, "UNAVAILABLE", "The service is currently unavailable.")
	}
	return status(code, "UNKNOWN", http.StatusText(code))
}

func (s *Server) create(c *customer, body []byte) (int, any) {
	var req struct {
		Job struct {
			Type                          string `json:"type"`
			CustomerMatchUserListMetadata *struct {
				UserList string `json:"userList"`
			} `json:"customerMatchUserListMetadata"`
		} `json:"job"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return badJSON(err)
	}
	if req.Job.Type != "CUSTOMER_MATCH_USER_LIST" || req.Job.CustomerMatchUserListMetadata == nil {
		return adsFailure(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", "fieldError", "REQUIRED", "The required field was not present.")
	}
	list := req.Job.CustomerMatchUserListMetadata.UserList
	id, ok := strings.CutPrefix(list, "customers/"+c.id+"/userLists/")
	l := c.userLists[id]
	switch {
	case !ok || l == nil:
		return adsFailure(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", "offlineUserDataJobError", "INVALID_USER_LIST_ID", "The user list ID provided for the job is invalid.")
	case l.Type != "CRM_BASED":
		return adsFailure(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", "offlineUserDataJobError", "INVALID_USER_LIST_TYPE", "Type of the user list is not applicable for the job.")
	}
	s.nextID++
	jid := strconv.Itoa(s.nextID)
	s.jobs[c.id+"/"+jid] = &job{customer: c.id, userList: id}
	return 200, map[string]string{"resourceName": "customers/" + c.id + "/offlineUserDataJobs/" + jid}
}

type userIdentifier struct {
	HashedEmail       *string `json:"hashedEmail"`
	HashedPhoneNumber *string `json:"hashedPhoneNumber"`
}

func (s *Server) addOperations(c *customer, jobID string, body []byte, rec *Request) (int, any) {
	j := s.jobs[c.id+"/"+jobID]
	if j == nil {
		return status(404, "NOT_FOUND", "Requested entity was not found.")
	}
	var req struct {
		ResourceName         string `json:"resourceName"`
		EnablePartialFailure *bool  `json:"enablePartialFailure"`
		Operations           []struct {
			Create *struct {
				UserIdentifiers []userIdentifier `json:"userIdentifiers"`
			} `json:"create"`
			Remove *struct {
				UserIdentifiers []userIdentifier `json:"userIdentifiers"`
			} `json:"remove"`
		} `json:"operations"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return badJSON(err)
	}
	rec.Records = len(req.Operations)
	if j.ran {
		return adsFailure(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", "offlineUserDataJobError", "JOB_ALREADY_STARTED", "Once the upload job is started, new operations cannot be added.")
	}
	if len(req.Operations) == 0 {
		return adsFailure(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", "requestError", "EMPTY_REQUEST", "Request contains no operations.")
	}
	total := 0
	for _, op := range req.Operations {
		if op.Create != nil {
			total += len(op.Create.UserIdentifiers)
		}
		if op.Remove != nil {
			total += len(op.Remove.UserIdentifiers)
		}
	}
	if total > MaxIdentifiersPerRequest {
		return adsFailure(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", "offlineUserDataJobError", "TOO_MANY_USER_IDENTIFIERS", "Maximum number of user identifiers allowed per request is 100,000 and per operation is 20.")
	}
	var errs []adsError
	var good []operation
	for i, op := range req.Operations {
		kind, ids := "create", []userIdentifier(nil)
		switch {
		case op.Create != nil && op.Remove == nil:
			ids = op.Create.UserIdentifiers
		case op.Remove != nil && op.Create == nil:
			kind, ids = "remove", op.Remove.UserIdentifiers
		default:
			errs = append(errs, opError(i, "", "mutateError", "INVALID_OPERATION", "Exactly one of create or remove must be set."))
			continue
		}
		if j.kind != "" && j.kind != kind {
			errs = append(errs, opError(i, kind, "offlineUserDataJobError", "CONFLICTING_OPERATION", "Mixing creation and removal of offline data in the same job is not allowed."))
			continue
		}
		if len(ids) == 0 {
			errs = append(errs, opError(i, kind, "offlineUserDataJobError", "MISSING_USER_IDENTIFIER", "The user identifier is missing valid data."))
			continue
		}
		if len(ids) > MaxIdentifiersPerOperation {
			errs = append(errs, opError(i, kind, "offlineUserDataJobError", "TOO_MANY_USER_IDENTIFIERS", "Maximum number of user identifiers allowed per request is 100,000 and per operation is 20."))
			continue
		}
		var hashes []string
		bad := false
		for _, id := range ids {
			var v *string
			switch {
			case id.HashedEmail != nil && id.HashedPhoneNumber == nil:
				v = id.HashedEmail
			case id.HashedPhoneNumber != nil && id.HashedEmail == nil:
				v = id.HashedPhoneNumber
			}
			if v == nil || !hashPattern.MatchString(*v) {
				bad = true
				break
			}
			hashes = append(hashes, *v)
		}
		if bad {
			errs = append(errs, opError(i, kind, "offlineUserDataJobError", "INVALID_SHA256_FORMAT", "The SHA256 encoded value is malformed."))
			continue
		}
		j.kind = kind
		good = append(good, operation{remove: kind == "remove", ids: hashes})
	}
	partial := req.EnablePartialFailure != nil && *req.EnablePartialFailure
	if len(errs) > 0 && !partial {
		return 400, map[string]any{"error": map[string]any{"code": 400, "message": "Request contains an invalid argument.", "status": "INVALID_ARGUMENT",
			"details": []any{failureDetail(errs)}}}
	}
	j.ops = append(j.ops, good...)
	if len(errs) == 0 {
		return 200, map[string]any{}
	}
	return 200, map[string]any{"partialFailureError": partialFailure(errs)}
}

func (s *Server) run(c *customer, jobID string) (int, any) {
	j := s.jobs[c.id+"/"+jobID]
	if j == nil {
		return status(404, "NOT_FOUND", "Requested entity was not found.")
	}
	if j.ran {
		return adsFailure(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", "offlineUserDataJobError", "JOB_ALREADY_STARTED", "Once the upload job is started, new operations cannot be added.")
	}
	j.ran = true
	// The service processes the job later; the fake applies it at once, unless the list
	// went away meanwhile (the job then fails, as the service's would).
	if members := c.members[j.userList]; members != nil && c.userLists[j.userList] != nil {
		for _, op := range j.ops {
			for _, h := range op.ids {
				if op.remove {
					delete(members, h)
				} else {
					members[h] = true
				}
			}
		}
	}
	s.nextID++
	return 200, map[string]any{"name": "customers/" + c.id + "/operations/" + strconv.Itoa(s.nextID),
		"metadata": map[string]string{"@type": "type.googleapis.com/google.ads.googleads." + V + ".resources.OfflineUserDataJobMetadata"}}
}

var adjustmentTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$`)

func (s *Server) adjust(c *customer, body []byte, rec *Request) (int, any) {
	var req struct {
		ConversionAdjustments []struct {
			OrderID            *string `json:"orderId"`
			ConversionAction   string  `json:"conversionAction"`
			AdjustmentDateTime string  `json:"adjustmentDateTime"`
			AdjustmentType     string  `json:"adjustmentType"`
			RestatementValue   *struct {
				AdjustedValue *float64 `json:"adjustedValue"`
				CurrencyCode  string   `json:"currencyCode"`
			} `json:"restatementValue"`
			UserIdentifiers []userIdentifier `json:"userIdentifiers"`
		} `json:"conversionAdjustments"`
		PartialFailure bool `json:"partialFailure"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return badJSON(err)
	}
	rec.Records = len(req.ConversionAdjustments)
	if len(req.ConversionAdjustments) > MaxAdjustmentsPerRequest {
		return adsFailure(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", "conversionAdjustmentUploadError", "TOO_MANY_ADJUSTMENTS_IN_REQUEST", "Try uploading fewer than 2001 adjustments in a single API request.")
	}
	var errs []adsError
	var took []Adjustment
	results := make([]any, len(req.ConversionAdjustments))
	for i, a := range req.ConversionAdjustments {
		results[i] = map[string]any{}
		fail := func(group, code, msg string) {
			e := adsError{Code: map[string]string{group: code}, Message: msg,
				Path: []map[string]any{{"fieldName": "conversion_adjustments", "index": i}}}
			errs = append(errs, e)
		}
		id, ok := strings.CutPrefix(a.ConversionAction, "customers/"+c.id+"/conversionActions/")
		switch {
		case !ok || c.conversionAction[id] == nil:
			fail("conversionAdjustmentUploadError", "NO_CONVERSION_ACTION_FOUND", "The conversion action specified in the adjustment request cannot be found. Make sure it's available in this account.")
		case a.AdjustmentType != "ENHANCEMENT" && a.AdjustmentType != "RESTATEMENT" && a.AdjustmentType != "RETRACTION":
			fail("fieldError", "REQUIRED", "The required field was not present.")
		case !adjustmentTime.MatchString(a.AdjustmentDateTime) && a.AdjustmentType != "ENHANCEMENT":
			fail("dateError", "INVALID_FIELD_VALUES_IN_DATE_TIME", "Field values in date time are invalid.")
		case a.OrderID == nil || *a.OrderID == "":
			fail("conversionAdjustmentUploadError", "MISSING_ORDER_ID_FOR_WEBPAGE", "Adjustment for website conversion requires Order ID (ie, transaction ID). Make sure your website tags capture Order IDs and you send the same Order IDs with your adjustment.")
		case a.AdjustmentType == "RESTATEMENT" && (a.RestatementValue == nil || a.RestatementValue.AdjustedValue == nil):
			fail("fieldError", "REQUIRED", "The required field was not present.")
		case a.AdjustmentType == "RETRACTION" && a.RestatementValue != nil:
			fail("fieldError", "VALUE_MUST_BE_UNSET", "The field's value must be unset.")
		case !c.orders[*a.OrderID]:
			fail("conversionAdjustmentUploadError", "CONVERSION_NOT_FOUND", "The conversion for this conversion action and conversion identifier can't be found. Make sure your conversion identifiers are associated with the correct conversion action and try again.")
		default:
			bad := false
			for _, u := range a.UserIdentifiers {
				for _, v := range []*string{u.HashedEmail, u.HashedPhoneNumber} {
					if v != nil && !hashPattern.MatchString(*v) {
						bad = true
					}
				}
			}
			if bad {
				fail("conversionAdjustmentUploadError", "INVALID_USER_IDENTIFIER", "Make sure you hash user provided data using SHA-256 and ensure you are normalizing according to the guidelines.")
				continue
			}
			adj := Adjustment{ConversionAction: a.ConversionAction, OrderID: *a.OrderID, AdjustmentType: a.AdjustmentType,
				AdjustmentDateTime: a.AdjustmentDateTime, UserIdentifiers: len(a.UserIdentifiers)}
			if a.RestatementValue != nil {
				adj.AdjustedValue, adj.CurrencyCode = a.RestatementValue.AdjustedValue, a.RestatementValue.CurrencyCode
			}
			took = append(took, adj)
			results[i] = map[string]any{"orderId": *a.OrderID, "conversionAction": a.ConversionAction,
				"adjustmentDateTime": a.AdjustmentDateTime, "adjustmentType": a.AdjustmentType}
		}
	}
	if len(errs) > 0 && !req.PartialFailure {
		return 400, map[string]any{"error": map[string]any{"code": 400, "message": "Request contains an invalid argument.", "status": "INVALID_ARGUMENT",
			"details": []any{failureDetail(errs)}}}
	}
	c.adjustments = append(c.adjustments, took...)
	s.nextID++
	out := map[string]any{"results": results, "jobId": strconv.Itoa(s.nextID)}
	if len(errs) > 0 {
		out["partialFailureError"] = partialFailure(errs)
	}
	return 200, out
}

var (
	fromClause = regexp.MustCompile(`(?i)^\s*SELECT\s+(.+?)\s+FROM\s+([a-z_]+)(?:\s+WHERE\s+(.+?))?(?:\s+LIMIT\s+\d+)?\s*$`)
	condition  = regexp.MustCompile(`^\s*([a-z_.]+)\s*=\s*'([A-Z_]+)'\s*$`)
)

// search answers the few GAQL queries Sluice asks: over customer, user_list and
// conversion_action, with equality conditions joined by AND.
func (s *Server) search(c *customer, body []byte) (int, any) {
	var req struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return badJSON(err)
	}
	m := fromClause.FindStringSubmatch(req.Query)
	if m == nil {
		return adsFailure(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", "queryError", "UNEXPECTED_END_OF_QUERY", "Error in query: unexpected end of query.")
	}
	resource := strings.ToLower(m[2])
	where := map[string]string{}
	if m[3] != "" {
		for _, part := range regexp.MustCompile(`(?i)\s+AND\s+`).Split(m[3], -1) {
			cm := condition.FindStringSubmatch(part)
			if cm == nil {
				return adsFailure(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", "queryError", "BAD_VALUE_IN_WHERE_CLAUSE", "Error in query: bad value in WHERE clause.")
			}
			where[cm[1]] = cm[2]
		}
	}
	var results []any
	switch resource {
	case "customer":
		results = append(results, map[string]any{"customer": map[string]string{"resourceName": "customers/" + c.id, "id": c.id, "descriptiveName": c.name}})
	case "user_list":
		for _, id := range sortedKeys(c.userLists) {
			l := c.userLists[id]
			if t, ok := where["user_list.type"]; ok && t != l.Type {
				continue
			}
			results = append(results, map[string]any{"userList": map[string]string{"resourceName": "customers/" + c.id + "/userLists/" + id, "id": id, "name": l.Name}})
		}
	case "conversion_action":
		for _, id := range sortedKeys(c.conversionAction) {
			results = append(results, map[string]any{"conversionAction": map[string]string{"resourceName": "customers/" + c.id + "/conversionActions/" + id, "id": id, "name": c.conversionAction[id].Name}})
		}
	default:
		return adsFailure(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", "queryError", "INVALID_RESOURCE_NAME", "Error in query: the resource name is invalid.")
	}
	out := map[string]any{"fieldMask": strings.Join(strings.Fields(m[1]), "")}
	if len(results) > 0 {
		out["results"] = results
	}
	return 200, out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// adsError is one GoogleAdsError.
type adsError struct {
	Code    map[string]string
	Message string
	Path    []map[string]any
	Details map[string]any
}

func (e adsError) json() map[string]any {
	out := map[string]any{"errorCode": e.Code, "message": e.Message}
	if len(e.Path) > 0 {
		out["location"] = map[string]any{"fieldPathElements": e.Path}
	}
	if e.Details != nil {
		out["details"] = e.Details
	}
	return out
}

// opError is the error of operations[i] of an addOperations request.
func opError(i int, kind, group, code, msg string) adsError {
	path := []map[string]any{{"fieldName": "operations", "index": i}}
	if kind != "" {
		path = append(path, map[string]any{"fieldName": kind}, map[string]any{"fieldName": "user_identifiers", "index": 0})
	}
	return adsError{Code: map[string]string{group: code}, Message: msg, Path: path}
}

func failureDetail(errs []adsError) map[string]any {
	list := make([]any, len(errs))
	for i, e := range errs {
		list[i] = e.json()
	}
	return map[string]any{"@type": "type.googleapis.com/google.ads.googleads." + V + ".errors.GoogleAdsFailure", "errors": list, "requestId": "fake-request-id"}
}

// partialFailure is the google.rpc.Status of partialFailureError: code 3
// (INVALID_ARGUMENT), the errors' messages joined, and the GoogleAdsFailure.
func partialFailure(errs []adsError) map[string]any {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Message
	}
	return map[string]any{"code": 3, "message": strings.Join(msgs, ", "), "details": []any{failureDetail(errs)}}
}

// adsFailure is an error answer carrying one GoogleAdsError.
func adsFailure(code int, statusName, message, group, errCode, errMessage string) (int, any) {
	return code, map[string]any{"error": map[string]any{"code": code, "message": message, "status": statusName,
		"details": []any{failureDetail([]adsError{{Code: map[string]string{group: errCode}, Message: errMessage}})}}}
}

// quotaFailure is the answer past the quota: 429 RESOURCE_EXHAUSTED whose
// QuotaErrorDetails says how long to wait.
func quotaFailure(wait time.Duration) (int, any) {
	secs := int(wait.Seconds())
	if time.Duration(secs)*time.Second < wait {
		secs++
	}
	e := adsError{Code: map[string]string{"quotaError": "RESOURCE_EXHAUSTED"},
		Message: fmt.Sprintf("Too many requests. Retry in %d seconds.", secs),
		Details: map[string]any{"quotaErrorDetails": map[string]any{"rateScope": "DEVELOPER", "rateName": "Number of operations for basic access", "retryDelay": fmt.Sprintf("%ds", secs)}}}
	return 429, map[string]any{"error": map[string]any{"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED",
		"details": []any{failureDetail([]adsError{e})}}}
}

// status is a plain google.rpc.Status answer, without Google Ads details.
func status(code int, name, message string) (int, any) {
	return code, map[string]any{"error": map[string]any{"code": code, "message": message, "status": name}}
}

func badJSON(err error) (int, any) {
	return status(400, "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error())
}
