// Package metaads is a fake of the parts of Meta's Graph API (Marketing API, v25.0)
// that the Meta Ads connector uses, as strict as the documentation makes the real one:
//
//   - POST and DELETE /v25.0/{custom_audience_id}/users with a payload
//     {"schema": [...], "data": [[...], ...]} of at most 10,000 rows, every value the
//     lower-case hex SHA-256 of a normalized identifier ("Custom Audience Users",
//     https://developers.facebook.com/docs/marketing-api/reference/custom-audience/users),
//     answered {audience_id, session_id, num_received, num_invalid_entries,
//     invalid_entry_samples};
//   - GET /v25.0/act_{ad_account_id}/customaudiences (fields, limit, after cursor) and
//     GET /v25.0/act_{ad_account_id} ("Ad Account Customaudiences", "Ad Account");
//   - GET /v25.0/me/permissions, and GET /v25.0/{custom_audience_id} (name, subtype,
//     account_id);
//   - Facebook Login ("Manually Build a Login Flow"): the dialog at /v25.0/dialog/oauth
//     (app id and exact redirect URI checked, consent skipped, code and state sent back)
//     and /v25.0/oauth/access_token (code once only, same redirect URI, app secret;
//     fb_exchange_token for a long-lived token), answering {access_token, token_type,
//     expires_in} and no refresh token;
//   - errors as the Graph API error object {"error": {message, type, code,
//     error_subcode, fbtrace_id}} ("Handling Errors",
//     https://developers.facebook.com/docs/graph-api/guides/error-handling): 190 for an
//     unknown, expired or revoked token, 200 for a missing ads_management permission,
//     100/33 for an object that does not exist, 17/2446079 when the ad account's score is
//     spent, 2 when the service is down;
//   - the ad account's rate limit ("Marketing API Rate Limiting",
//     https://developers.facebook.com/docs/marketing-api/overview/rate-limiting): each call
//     scores 1 point (read) or 3 (write); at most 9,000 points (Standard tier), decaying
//     over 300 seconds; an account over it is blocked for 60 seconds and answered with the
//     X-Business-Use-Case-Usage header and its estimated_time_to_regain_access (minutes).
//
// Tests switch it (RevokeToken, DeleteAudience, SetDown, FailNext, MarkInvalid, SetLimit) and read
// what it stored (Users) and received (Received, Counts).
package metaads

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

// Version is the Graph API version the fake serves.
const Version = "v25.0"

// MaxUsers is the documented most rows one users call takes.
const MaxUsers = 10000

// Limit is the ad account score limit: MaxScore points, decaying to zero over Decay; a
// call that would go over is refused and the account blocked for Block.
type Limit struct {
	MaxScore   float64
	Decay      time.Duration
	Block      time.Duration
	ReadScore  float64
	WriteScore float64
}

// StandardLimit is the documented limit of an app on the Standard (Full access) tier of
// the Marketing API: 9,000 points decaying in 300 s, blocked for 60 s; a read scores 1,
// a write 3.
var StandardLimit = Limit{MaxScore: 9000, Decay: 300 * time.Second, Block: 60 * time.Second, ReadScore: 1, WriteScore: 3}

// Schema keys the fake accepts in a users payload (the multi-key schema).
var knownKeys = map[string]bool{
	"EXTERN_ID": true, "EMAIL": true, "PHONE": true, "GEN": true, "DOBY": true, "DOBM": true, "DOBD": true,
	"LN": true, "FN": true, "FI": true, "CT": true, "ST": true, "ZIP": true, "MADID": true, "COUNTRY": true,
}

// unhashed keys are sent as they are (EXTERN_ID, MADID); every other value must be a hash.
var unhashed = map[string]bool{"EXTERN_ID": true, "MADID": true}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Received is one users request as the fake took it.
type Received struct {
	Method     string
	AudienceID string
	Schema     []string
	Rows       int
	Bytes      int
}

type audience struct {
	id, name, subtype, account string
	users                      map[string]map[string]string // row key -> schema key -> value
}

type account struct {
	id, name string
	score    float64
	at       time.Time
	blocked  time.Time
}

type token struct {
	scopes  map[string]bool
	revoked bool
}

// Server is the fake; its URL is the Graph API's base (without the version).
type Server struct {
	*httptest.Server
	mu        sync.Mutex
	limit     Limit
	accounts  map[string]*account
	audiences map[string]*audience
	tokens    map[string]*token
	invalid   map[string]string // hash -> reason
	down      bool
	failNext  []int
	clients   map[string]oauthClient
	codes     map[string]grant // authorization code -> what it grants, until used
	received  []Received
	requests  int
	throttled int
	now       func() time.Time
}

// New starts a fake with the Standard tier's limit; Close stops it.
func New() *Server {
	s := &Server{
		limit:     StandardLimit,
		accounts:  map[string]*account{},
		audiences: map[string]*audience{},
		tokens:    map[string]*token{},
		invalid:   map[string]string{},
		clients:   map[string]oauthClient{},
		codes:     map[string]grant{},
		now:       time.Now,
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// SetLimit replaces the ad accounts' score limit (tests shrink it to reach it quickly).
func (s *Server) SetLimit(l Limit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = l
}

// AddToken makes tok a valid user access token granted scopes (e.g. "ads_management").
func (s *Server) AddToken(tok string, scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &token{scopes: map[string]bool{}}
	for _, sc := range scopes {
		t.scopes[sc] = true
	}
	s.tokens[tok] = t
}

// RevokeToken makes tok answer error 190 from now on, as a token the user revoked.
func (s *Server) RevokeToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[tok]; ok {
		t.revoked = true
	}
}

// AddAccount adds an ad account by its numeric id (without act_).
func (s *Server) AddAccount(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[id] = &account{id: id, name: name}
}

// AddAudience adds a customer list custom audience (subtype CUSTOM) to an account.
func (s *Server) AddAudience(accountID, id, name string) {
	s.AddAudienceOf(accountID, id, name, "CUSTOM")
}

// AddAudienceOf adds a custom audience of any subtype (WEBSITE, LOOKALIKE…).
func (s *Server) AddAudienceOf(accountID, id, name, subtype string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.audiences[id] = &audience{id: id, name: name, subtype: subtype, account: accountID, users: map[string]map[string]string{}}
}

// DeleteAudience removes an audience: later calls on it answer 100/33.
func (s *Server) DeleteAudience(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.audiences, id)
}

// SetDown makes every request answer 500 with error code 2 (service unavailable).
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// FailNext makes the next request answer status with the Graph error Meta gives for it
// (401: 190; 403: 200; 404: 100/33; 429: 4 with Retry-After; 5xx: 2).
func (s *Server) FailNext(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = append(s.failNext, status)
}

// MarkInvalid makes rows carrying hash count as invalid entries, sampled with reason.
func (s *Server) MarkInvalid(hash, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invalid[hash] = reason
}

// Users returns an audience's members as stored: each row's schema keys and hashes,
// sorted by their rendering.
func (s *Server) Users(audienceID string) []map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.audiences[audienceID]
	if !ok {
		return nil
	}
	keys := make([]string, 0, len(a.users))
	for k := range a.users {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]map[string]string, len(keys))
	for i, k := range keys {
		out[i] = a.users[k]
	}
	return out
}

// Received returns the users requests taken since the last call, oldest first.
func (s *Server) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.received
	s.received = nil
	return out
}

// Counts returns how many requests the fake answered and how many of them it throttled.
func (s *Server) Counts() (requests, throttled int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.throttled
}

type oauthClient struct{ secret, redirectURI string }

type grant struct {
	client, redirectURI string
	scopes              []string
}

// AddClient registers a Facebook app for the login flow: its id, secret and the one
// redirect URI it accepts (Meta matches it exactly).
func (s *Server) AddClient(id, secret, redirectURI string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[id] = oauthClient{secret: secret, redirectURI: redirectURI}
}

// dialog is the Login dialog (www.facebook.com/v25.0/dialog/oauth) with consent
// skipped: it checks the app and the exact redirect URI, then redirects there with a
// code and the state.
func (s *Server) dialog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c, ok := s.clients[q.Get("client_id")]
	if !ok {
		http.Error(w, "Invalid App ID: The provided app ID does not look like a valid app ID.", http.StatusBadRequest)
		return
	}
	if q.Get("redirect_uri") != c.redirectURI {
		http.Error(w, "URL blocked: This redirect failed because the redirect URI is not whitelisted in the app's Client OAuth Settings.", http.StatusBadRequest)
		return
	}
	if q.Get("response_type") != "" && q.Get("response_type") != "code" {
		http.Error(w, "Unsupported response_type", http.StatusBadRequest)
		return
	}
	code := "AQ" + hex.EncodeToString([]byte(traceID()))
	scopes := strings.FieldsFunc(q.Get("scope"), func(r rune) bool { return r == ',' || r == ' ' })
	s.codes[code] = grant{client: q.Get("client_id"), redirectURI: c.redirectURI, scopes: scopes}
	to, _ := url.Parse(c.redirectURI)
	v := to.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	to.RawQuery = v.Encode()
	http.Redirect(w, r, to.String()+"#_=_", http.StatusFound)
}

// accessToken is GET/POST /v25.0/oauth/access_token: a code (once only, with the same
// redirect URI and the app's secret) becomes a user access token; fb_exchange_token
// turns one into a long-lived token of about 60 days.
func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, invalidParam("Could not read the request"))
		return
	}
	c, ok := s.clients[r.Form.Get("client_id")]
	if !ok || r.Form.Get("client_secret") != c.secret {
		writeError(w, http.StatusBadRequest, graphError{Message: "Error validating client secret.", Type: "OAuthException", Code: 1})
		return
	}
	var scopes []string
	switch {
	case r.Form.Get("grant_type") == "fb_exchange_token":
		t, ok := s.tokens[r.Form.Get("fb_exchange_token")]
		if !ok || t.revoked {
			writeError(w, http.StatusBadRequest, errTokenInvalid)
			return
		}
		for sc := range t.scopes {
			scopes = append(scopes, sc)
		}
	default:
		g, ok := s.codes[r.Form.Get("code")]
		if !ok {
			writeError(w, http.StatusBadRequest, graphError{Message: "This authorization code has been used.", Type: "OAuthException", Code: 100, ErrorSubcode: 36009})
			return
		}
		if g.client != r.Form.Get("client_id") || g.redirectURI != r.Form.Get("redirect_uri") {
			writeError(w, http.StatusBadRequest, graphError{Message: "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request", Type: "OAuthException", Code: 100, ErrorSubcode: 36008})
			return
		}
		delete(s.codes, r.Form.Get("code"))
		scopes = g.scopes
	}
	tok := "EAAG" + hex.EncodeToString([]byte(traceID()))
	t := &token{scopes: map[string]bool{}}
	for _, sc := range scopes {
		t.scopes[sc] = true
	}
	s.tokens[tok] = t
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": 5183944})
}

// graphError is the Graph API error object.
type graphError struct {
	Message      string `json:"message"`
	Type         string `json:"type"`
	Code         int    `json:"code"`
	ErrorSubcode int    `json:"error_subcode,omitempty"`
	FBTraceID    string `json:"fbtrace_id"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, e graphError) {
	e.FBTraceID = traceID()
	if e.Code == 190 {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`OAuth "Facebook Platform" "invalid_token" %q`, e.Message))
	}
	writeJSON(w, status, map[string]graphError{"error": e})
}

func traceID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "A" + hex.EncodeToString(b)[:10]
}

// Errors as Meta words them.
var (
	errTokenInvalid = graphError{Message: "Invalid OAuth access token - Cannot parse access token", Type: "OAuthException", Code: 190}
	errTokenRevoked = graphError{Message: "Error validating access token: The user has not authorized application.", Type: "OAuthException", Code: 190, ErrorSubcode: 458}
	errNoToken      = graphError{Message: "An active access token must be used to query information about the current user.", Type: "OAuthException", Code: 2500}
	errPermission   = graphError{Message: "(#200) Requires ads_management permission to manage the object", Type: "OAuthException", Code: 200}
	errDown         = graphError{Message: "An unexpected error has occurred. Please retry your request later.", Type: "OAuthException", Code: 2}
	errAppThrottled = graphError{Message: "(#4) Application request limit reached", Type: "OAuthException", Code: 4}
	errUserLimit    = graphError{Message: "User request limit reached", Type: "OAuthException", Code: 17, ErrorSubcode: 2446079}
)

func notFound(method, id string) graphError {
	return graphError{Type: "GraphMethodException", Code: 100, ErrorSubcode: 33,
		Message: fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api", strings.ToLower(method), id)}
}

func invalidParam(msg string) graphError {
	return graphError{Message: "(#100) " + msg, Type: "OAuthException", Code: 100}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if s.down {
		writeError(w, http.StatusInternalServerError, errDown)
		return
	}
	if len(s.failNext) > 0 {
		status := s.failNext[0]
		s.failNext = s.failNext[1:]
		s.fail(w, r, status)
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/"+Version+"/")
	if !ok {
		writeError(w, http.StatusBadRequest, graphError{Message: "Unknown path components: " + r.URL.Path, Type: "OAuthException", Code: 2500})
		return
	}
	switch path {
	case "dialog/oauth":
		s.dialog(w, r)
		return
	case "oauth/access_token":
		s.accessToken(w, r)
		return
	}
	tok, terr := s.authorize(r)
	if terr != nil {
		writeError(w, http.StatusBadRequest, *terr)
		return
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) == 2 && parts[0] == "me" && parts[1] == "permissions" && r.Method == http.MethodGet:
		s.permissions(w, tok)
	case len(parts) == 1 && strings.HasPrefix(parts[0], "act_") && r.Method == http.MethodGet:
		s.getAccount(w, r, tok, strings.TrimPrefix(parts[0], "act_"))
	case len(parts) == 2 && strings.HasPrefix(parts[0], "act_") && parts[1] == "customaudiences" && r.Method == http.MethodGet:
		s.listAudiences(w, r, tok, strings.TrimPrefix(parts[0], "act_"))
	case len(parts) == 1 && r.Method == http.MethodGet && s.audiences[parts[0]] != nil:
		s.getAudience(w, r, tok, parts[0])
	case len(parts) == 2 && parts[1] == "users" && (r.Method == http.MethodPost || r.Method == http.MethodDelete):
		s.users(w, r, tok, parts[0])
	default:
		writeError(w, http.StatusBadRequest, notFound(r.Method, parts[0]))
	}
}

// fail answers a switched failure with the error Meta gives for that status.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int) {
	switch {
	case status == http.StatusUnauthorized:
		writeError(w, status, errTokenRevoked)
	case status == http.StatusForbidden:
		writeError(w, status, errPermission)
	case status == http.StatusNotFound:
		writeError(w, status, notFound(r.Method, strings.Trim(strings.TrimPrefix(r.URL.Path, "/"+Version), "/")))
	case status == http.StatusTooManyRequests:
		s.throttled++
		w.Header().Set("Retry-After", "7")
		writeError(w, status, errAppThrottled)
	case status >= 500:
		writeError(w, status, errDown)
	default:
		writeError(w, status, invalidParam("Invalid parameter"))
	}
}

// authorize reads the access token from the Authorization header (Bearer or OAuth
// scheme) or the access_token parameter.
func (s *Server) authorize(r *http.Request) (*token, *graphError) {
	raw := r.URL.Query().Get("access_token")
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, v, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "OAuth") {
			raw = strings.TrimSpace(v)
		}
	}
	if raw == "" {
		return nil, &errNoToken
	}
	t, ok := s.tokens[raw]
	if !ok {
		return nil, &errTokenInvalid
	}
	if t.revoked {
		return nil, &errTokenRevoked
	}
	return t, nil
}

func (s *Server) permissions(w http.ResponseWriter, t *token) {
	type perm struct {
		Permission string `json:"permission"`
		Status     string `json:"status"`
	}
	data := []perm{}
	names := make([]string, 0, len(t.scopes))
	for p := range t.scopes {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		data = append(data, perm{p, "granted"})
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

// spend charges an account's score, refusing the call (and blocking the account) when it
// would go over the limit. It reports false after writing the throttling answer.
func (s *Server) spend(w http.ResponseWriter, acc *account, points float64) bool {
	now := s.now()
	l := s.limit
	if !acc.at.IsZero() && l.Decay > 0 {
		acc.score = math.Max(0, acc.score-now.Sub(acc.at).Seconds()*l.MaxScore/l.Decay.Seconds())
	}
	acc.at = now
	if now.Before(acc.blocked) || acc.score+points > l.MaxScore {
		if !now.Before(acc.blocked) {
			acc.blocked = now.Add(l.Block)
		}
		s.throttled++
		minutes := int(math.Ceil(acc.blocked.Sub(now).Minutes()))
		usage := map[string][]map[string]any{acc.id: {{
			"type": "ads_management", "call_count": 100, "total_cputime": 1, "total_time": 1,
			"estimated_time_to_regain_access": minutes, "ads_api_access_tier": "standard_access",
		}}}
		b, _ := json.Marshal(usage)
		w.Header().Set("X-Business-Use-Case-Usage", string(b))
		writeError(w, http.StatusBadRequest, errUserLimit)
		return false
	}
	acc.score += points
	pct := int(acc.score * 100 / l.MaxScore)
	b, _ := json.Marshal(map[string][]map[string]any{acc.id: {{
		"type": "ads_management", "call_count": pct, "total_cputime": 1, "total_time": 1,
		"estimated_time_to_regain_access": 0, "ads_api_access_tier": "standard_access",
	}}})
	w.Header().Set("X-Business-Use-Case-Usage", string(b))
	return true
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request, t *token, id string) {
	acc, ok := s.accounts[id]
	if !ok {
		writeError(w, http.StatusBadRequest, notFound(r.Method, "act_"+id))
		return
	}
	if !t.scopes["ads_management"] && !t.scopes["ads_read"] {
		writeError(w, http.StatusForbidden, errPermission)
		return
	}
	if !s.spend(w, acc, s.limit.ReadScore) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": "act_" + id, "account_id": id, "name": acc.name, "account_status": 1})
}

func (s *Server) getAudience(w http.ResponseWriter, r *http.Request, t *token, id string) {
	a := s.audiences[id]
	if !t.scopes["ads_management"] && !t.scopes["ads_read"] {
		writeError(w, http.StatusForbidden, errPermission)
		return
	}
	if acc := s.accounts[a.account]; acc != nil && !s.spend(w, acc, s.limit.ReadScore) {
		return
	}
	out := map[string]any{"id": id}
	for _, f := range strings.Split(r.URL.Query().Get("fields"), ",") {
		switch strings.TrimSpace(f) {
		case "name":
			out["name"] = a.name
		case "subtype":
			out["subtype"] = a.subtype
		case "account_id":
			out["account_id"] = a.account
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listAudiences(w http.ResponseWriter, r *http.Request, t *token, id string) {
	acc, ok := s.accounts[id]
	if !ok {
		writeError(w, http.StatusBadRequest, notFound(r.Method, "act_"+id))
		return
	}
	if !t.scopes["ads_management"] && !t.scopes["ads_read"] {
		writeError(w, http.StatusForbidden, errPermission)
		return
	}
	if !s.spend(w, acc, s.limit.ReadScore) {
		return
	}
	q := r.URL.Query()
	limit := 25
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, invalidParam("Param limit must be a positive integer"))
			return
		}
		limit = n
	}
	fields := map[string]bool{"id": true}
	for _, f := range strings.Split(q.Get("fields"), ",") {
		if f = strings.TrimSpace(f); f != "" {
			fields[f] = true
		}
	}
	var ids []string
	for aid, a := range s.audiences {
		if a.account == id {
			ids = append(ids, aid)
		}
	}
	sort.Strings(ids)
	start := 0
	if after := q.Get("after"); after != "" {
		b, err := hex.DecodeString(after)
		if err != nil {
			writeError(w, http.StatusBadRequest, invalidParam("Invalid cursor"))
			return
		}
		start = sort.SearchStrings(ids, string(b)) + 1
	}
	end := min(start+limit, len(ids))
	data := []map[string]any{}
	for _, aid := range ids[min(start, len(ids)):end] {
		a := s.audiences[aid]
		item := map[string]any{"id": aid}
		if fields["name"] {
			item["name"] = a.name
		}
		if fields["subtype"] {
			item["subtype"] = a.subtype
		}
		if fields["approximate_count_lower_bound"] {
			item["approximate_count_lower_bound"] = len(a.users)
		}
		data = append(data, item)
	}
	out := map[string]any{"data": data}
	if len(data) > 0 {
		cursors := map[string]string{"before": hex.EncodeToString([]byte(ids[start])), "after": hex.EncodeToString([]byte(ids[end-1]))}
		paging := map[string]any{"cursors": cursors}
		if end < len(ids) {
			paging["next"] = fmt.Sprintf("https://graph.facebook.com/%s/act_%s/customaudiences?limit=%d&after=%s", Version, id, limit, cursors["after"])
		}
		out["paging"] = paging
	}
	writeJSON(w, http.StatusOK, out)
}

// payload is the users call's body parameter.
type payload struct {
	Schema json.RawMessage   `json:"schema"`
	Data   []json.RawMessage `json:"data"`
}

func (s *Server) users(w http.ResponseWriter, r *http.Request, t *token, audienceID string) {
	// DELETE carries its parameters in a form body as POST does (a query of 10,000 hashes
	// would not fit a URL); net/http parses bodies of POST only, so read it here.
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, invalidParam("Could not read the request body"))
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeError(w, http.StatusBadRequest, invalidParam("Could not read the request body"))
		return
	}
	raw := form.Get("payload")
	a, ok := s.audiences[audienceID]
	if !ok {
		writeError(w, http.StatusBadRequest, notFound(r.Method, audienceID))
		return
	}
	if !t.scopes["ads_management"] {
		writeError(w, http.StatusForbidden, errPermission)
		return
	}
	acc := s.accounts[a.account]
	if acc != nil && !s.spend(w, acc, s.limit.WriteScore) {
		return
	}
	if raw == "" {
		writeError(w, http.StatusBadRequest, invalidParam("The parameter payload is required"))
		return
	}
	var p payload
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		writeError(w, http.StatusBadRequest, invalidParam("Param payload must be a JSON object"))
		return
	}
	schema, gerr := parseSchema(p.Schema)
	if gerr != nil {
		writeError(w, http.StatusBadRequest, *gerr)
		return
	}
	if len(p.Data) == 0 {
		writeError(w, http.StatusBadRequest, invalidParam("The parameter data is required"))
		return
	}
	if len(p.Data) > MaxUsers {
		writeError(w, http.StatusBadRequest, invalidParam(fmt.Sprintf("Too many users in one request: at most %d are allowed, %d were sent", MaxUsers, len(p.Data))))
		return
	}
	s.received = append(s.received, Received{Method: r.Method, AudienceID: audienceID, Schema: schema, Rows: len(p.Data), Bytes: len(raw)})
	invalid := 0
	samples := map[string]string{}
	for _, rawRow := range p.Data {
		row, refused := parseRow(rawRow, len(schema))
		if refused != "" {
			writeError(w, http.StatusBadRequest, invalidParam(refused))
			return
		}
		reason := ""
		values := map[string]string{}
		for i, v := range row {
			if v == "" {
				continue
			}
			if !unhashed[schema[i]] && !sha256Hex.MatchString(v) {
				reason = fmt.Sprintf("%s value is not a SHA-256 hash", schema[i])
			} else if why, bad := s.invalid[v]; bad {
				reason = why
			}
			values[schema[i]] = v
			if reason != "" {
				if len(samples) < 10 {
					samples[v] = reason
				}
				break
			}
		}
		if reason == "" && len(values) == 0 {
			reason = "No identifier in the row"
		}
		if reason != "" {
			invalid++
			continue
		}
		key := rowKey(values)
		if r.Method == http.MethodPost {
			a.users[key] = values
		} else {
			delete(a.users, key)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"audience_id":           audienceID,
		"session_id":            strconv.FormatInt(time.Now().UnixNano(), 10),
		"num_received":          len(p.Data),
		"num_invalid_entries":   invalid,
		"invalid_entry_samples": samples,
	})
}

func parseSchema(raw json.RawMessage) ([]string, *graphError) {
	var one string
	var list []string
	switch {
	case len(raw) == 0:
		e := invalidParam("The parameter schema is required")
		return nil, &e
	case json.Unmarshal(raw, &one) == nil:
		list = []string{one}
	case json.Unmarshal(raw, &list) == nil:
	default:
		e := invalidParam("Param schema must be a string or an array of strings")
		return nil, &e
	}
	seen := map[string]bool{}
	for _, k := range list {
		if !knownKeys[k] || seen[k] {
			e := invalidParam(fmt.Sprintf("Invalid schema key %q", k))
			return nil, &e
		}
		seen[k] = true
	}
	if len(list) == 0 {
		e := invalidParam("The parameter schema is required")
		return nil, &e
	}
	return list, nil
}

// parseRow reads one row of data; refused says why Meta would refuse it ("" when not).
func parseRow(raw json.RawMessage, n int) (row []string, refused string) {
	if err := json.Unmarshal(raw, &row); err != nil {
		var one string
		if n != 1 || json.Unmarshal(raw, &one) != nil {
			return nil, fmt.Sprintf("Each entry of data must be an array of %d strings", n)
		}
		row = []string{one}
	}
	if len(row) != n {
		return nil, fmt.Sprintf("Number of keys in each row of data (%d) must match the schema (%d)", len(row), n)
	}
	return row, ""
}

// rowKey identifies a stored row by its values, so that removing the same row finds it.
func rowKey(values map[string]string) string {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + values[k] + ";")
	}
	return b.String()
}
