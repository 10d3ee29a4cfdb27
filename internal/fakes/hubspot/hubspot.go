// Package hubspot is a fake of the HubSpot APIs the hubspot destination uses, as strict
// as the documented service: an httptest.Server answering
//
//   - POST /crm/v3/objects/{contacts|companies}/batch/upsert: at most 100 inputs, each
//     with an id, an idProperty that is "email" (contacts) or a property whose values are
//     unique, and string property values of properties that exist. With an
//     objectWriteTraceId on every input it answers 207 Multi-Status with errors[] per
//     input (context.objectWriteTraceId), as documented; without, one bad input fails
//     the whole batch with 400. Duplicate ids in one batch are refused with 400.
//   - GET /crm/v3/properties/{object} and /crm/v3/properties/{object}/{name}.
//   - GET /account-info/v3/details.
//
// Every request needs "Authorization: Bearer <token>", checked by Options.Tokens: an
// unknown token is the documented 401 INVALID_AUTHENTICATION, an expired one 401
// EXPIRED_AUTHENTICATION, a token without the endpoint's scope 403 MISSING_SCOPES
// naming the scopes required. Requests are limited to 100 per rolling 10 seconds per
// account (OAuth apps' documented limit, policy TEN_SECONDLY_ROLLING), with the
// X-HubSpot-RateLimit-* headers on every answer and the documented 429 body.
//
// Sources: "Error handling" (https://developers.hubspot.com/docs/api-reference/error-handling),
// "API usage guidelines and limits" (https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines),
// the companies and contacts batch upsert references, the properties reference and
// "Retrieve account details" (developers.hubspot.com/docs/api-reference/legacy/...).
// Where the docs publish no wording (the message of a batch over 100 inputs, of an
// unknown idProperty), the fake's own is marked as such in answers.go.
package hubspot

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Documented figures.
const (
	// MaxInputs is the most inputs one batch request takes.
	MaxInputs = 100
	// Limit requests per Window: OAuth apps' burst limit per account.
	Limit  = 100
	Window = 10 * time.Second
	// Token is the access token the fake accepts by default, with every scope.
	Token = "hubspot-fake-access-token"
	// PortalID is the account (Hub ID) the default token belongs to.
	PortalID = 62515
)

// AllScopes are the scopes the default token carries.
var AllScopes = []string{
	"oauth",
	"crm.objects.contacts.read", "crm.objects.contacts.write",
	"crm.objects.companies.read", "crm.objects.companies.write",
	"crm.schemas.contacts.read", "crm.schemas.companies.read",
}

// Options configure the fake.
type Options struct {
	// Tokens says whether a bearer token is valid and its scopes (nil: only Token, with
	// AllScopes). A test plugs in a local OAuth server's tokens here.
	Tokens func(token string) (scopes []string, ok bool)
	// Limit and Window override the rate limit (0: the documented 100 per 10 s).
	Limit  int
	Window time.Duration
	// NoRetryAfter leaves Retry-After out of 429 answers, which HubSpot's docs do not
	// promise, so a client must fall back on X-HubSpot-RateLimit-Interval-Milliseconds.
	NoRetryAfter bool
}

// Property is a CRM property as the properties API describes it.
type Property struct {
	Name           string `json:"name"`
	Label          string `json:"label"`
	Type           string `json:"type"`
	FieldType      string `json:"fieldType"`
	GroupName      string `json:"groupName"`
	HasUniqueValue bool   `json:"hasUniqueValue"`
	HubspotDefined bool   `json:"hubspotDefined"`
}

// Received is one batch upsert request the fake took (whatever it answered but 401,
// 403 and 429): the object, how many inputs it carried and its body's size.
type Received struct {
	Object string
	Inputs int
	Bytes  int
}

// Server is the fake. Its methods switch it and read what it holds; all are safe to
// call while requests are served.
type Server struct {
	*httptest.Server
	opts Options

	mu         sync.Mutex
	properties map[string]map[string]Property          // object → name → property
	records    map[string]map[string]map[string]string // object → id value → properties
	nextID     int
	revoked    bool
	expired    bool
	down       bool
	failNext   []int
	hits       []time.Time // accepted requests in the current window
	requests   int
	throttled  int
	received   []Received
	bodies     []string
}

// New starts a fake; Close stops it.
func New(o Options) *Server {
	if o.Limit <= 0 {
		o.Limit = Limit
	}
	if o.Window <= 0 {
		o.Window = Window
	}
	if o.Tokens == nil {
		o.Tokens = func(token string) ([]string, bool) {
			if token == Token {
				return AllScopes, true
			}
			return nil, false
		}
	}
	s := &Server{opts: o, properties: defaultProperties(), records: map[string]map[string]map[string]string{}, nextID: 1001}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// defaultProperties are a few of HubSpot's default properties of each object, and one
// custom unique-value property each (external_id, company_id), as a portal may have.
func defaultProperties() map[string]map[string]Property {
	str := func(name, label, group string) Property {
		return Property{Name: name, Label: label, Type: "string", FieldType: "text", GroupName: group, HubspotDefined: true}
	}
	contacts := []Property{
		str("email", "Email", "contactinformation"), str("firstname", "First Name", "contactinformation"),
		str("lastname", "Last Name", "contactinformation"), str("phone", "Phone Number", "contactinformation"),
		str("company", "Company Name", "contactinformation"), str("jobtitle", "Job Title", "contactinformation"),
		str("city", "City", "contactinformation"), str("country", "Country/Region", "contactinformation"),
		{Name: "lifecyclestage", Label: "Lifecycle Stage", Type: "enumeration", FieldType: "radio", GroupName: "contactinformation", HubspotDefined: true},
		{Name: "external_id", Label: "External ID", Type: "string", FieldType: "text", GroupName: "contactinformation", HasUniqueValue: true},
	}
	companies := []Property{
		str("name", "Company name", "companyinformation"), str("domain", "Company Domain Name", "companyinformation"),
		str("phone", "Phone Number", "companyinformation"), str("city", "City", "companyinformation"),
		str("country", "Country/Region", "companyinformation"), str("industry", "Industry", "companyinformation"),
		{Name: "numberofemployees", Label: "Number of Employees", Type: "number", FieldType: "number", GroupName: "companyinformation", HubspotDefined: true},
		{Name: "company_id", Label: "Company ID", Type: "string", FieldType: "text", GroupName: "companyinformation", HasUniqueValue: true},
	}
	out := map[string]map[string]Property{"contacts": {}, "companies": {}}
	for _, p := range contacts {
		out["contacts"][p.Name] = p
	}
	for _, p := range companies {
		out["companies"][p.Name] = p
	}
	return out
}

// AddProperty creates a property of an object ("contacts", "companies").
func (s *Server) AddProperty(object string, p Property) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.properties[object][p.Name] = p
}

// DeleteProperty archives a property: it is no longer listed nor usable as idProperty.
func (s *Server) DeleteProperty(object, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.properties[object], name)
}

// Revoke makes every token unknown, as when the app is uninstalled (401
// INVALID_AUTHENTICATION).
func (s *Server) Revoke() { s.set(func() { s.revoked = true }) }

// Expire makes every token expired (401 EXPIRED_AUTHENTICATION).
func (s *Server) Expire() { s.set(func() { s.expired = true }) }

// Down makes every request fail with 503 until Up.
func (s *Server) Down() { s.set(func() { s.down = true }) }

// Up ends Down.
func (s *Server) Up() { s.set(func() { s.down = false }) }

// FailNext answers the next request with status (a HubSpot error body), once.
func (s *Server) FailNext(status int) { s.set(func() { s.failNext = append(s.failNext, status) }) }

func (s *Server) set(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

// Records are the object's records as stored, by their idProperty value (e-mails
// lower-cased, as HubSpot keeps them), each with its properties and hs_object_id.
func (s *Server) Records(object string) map[string]map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]map[string]string{}
	for id, props := range s.records[object] {
		c := map[string]string{}
		for k, v := range props {
			c[k] = v
		}
		out[id] = c
	}
	return out
}

// TakeReceived returns the batch upserts taken since the last call, oldest first.
func (s *Server) TakeReceived() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.received
	s.received = nil
	return out
}

// Bodies are the bodies of every batch upsert taken, oldest first.
func (s *Server) Bodies() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...)
}

// Requests counts every request answered; Throttled those answered 429.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Throttled counts the requests answered 429.
func (s *Server) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
}

// admit applies the rolling window: it reports whether one more request fits, records
// it if so, and says how many remain and when the oldest counted request leaves.
func (s *Server) admit(now time.Time) (ok bool, remaining int, free time.Duration) {
	cut := now.Add(-s.opts.Window)
	i := 0
	for i < len(s.hits) && !s.hits[i].After(cut) {
		i++
	}
	s.hits = s.hits[i:]
	if len(s.hits) >= s.opts.Limit {
		return false, 0, s.hits[0].Add(s.opts.Window).Sub(now)
	}
	s.hits = append(s.hits, now)
	return true, s.opts.Limit - len(s.hits), 0
}

func correlationID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}
