package hubspot

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func do(t *testing.T, s *Server, method, path, token, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s answered %d with a body that is not JSON: %s", method, path, resp.StatusCode, raw)
		}
	}
	return resp, out
}

func inputs(n int, traced bool, email func(i int) string) string {
	var parts []string
	for i := range n {
		trace := ""
		if traced {
			trace = fmt.Sprintf(`,"objectWriteTraceId":"%d"`, i)
		}
		parts = append(parts, fmt.Sprintf(`{"idProperty":"email","id":%q%s,"properties":{"firstname":"N%d"}}`, email(i), trace, i))
	}
	return `{"inputs":[` + strings.Join(parts, ",") + `]}`
}

const upsertPath = "/crm/v3/objects/contacts/batch/upsert"

// The documented request of the contacts batch upsert reference, with values filled in,
// is taken and the contact stored by its e-mail, lower-cased.
func TestUpsertStoresContacts(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	body := `{"inputs":[{"idProperty":"email","id":"Ada@Example.com","objectWriteTraceId":"0","properties":{"firstname":"Ada","phone":"+14155550100"}}]}`
	resp, out := do(t, s, http.MethodPost, upsertPath, Token, body)
	if resp.StatusCode != http.StatusOK || out["status"] != "COMPLETE" {
		t.Fatalf("answer %d %v", resp.StatusCode, out)
	}
	results := out["results"].([]any)
	if len(results) != 1 || results[0].(map[string]any)["new"] != true || results[0].(map[string]any)["objectWriteTraceId"] != "0" {
		t.Errorf("results %v", results)
	}
	rec := s.Records("contacts")["ada@example.com"]
	if rec["firstname"] != "Ada" || rec["phone"] != "+14155550100" || rec["email"] != "ada@example.com" || rec["hs_object_id"] == "" {
		t.Errorf("stored %v", s.Records("contacts"))
	}
	for _, h := range []string{"X-HubSpot-RateLimit-Max", "X-HubSpot-RateLimit-Remaining", "X-HubSpot-RateLimit-Interval-Milliseconds"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	if got := s.TakeReceived(); len(got) != 1 || got[0].Inputs != 1 || got[0].Bytes != len(body) {
		t.Errorf("received %v", got)
	}
}

// With objectWriteTraceId on each input, a bad input is one entry of errors[] in a 207;
// without, it fails the whole batch with 400 (Error handling, "Multi-status errors").
func TestPerInputErrors(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	email := func(i int) string {
		if i == 1 {
			return "not-an-address"
		}
		return fmt.Sprintf("p%d@example.com", i)
	}
	resp, out := do(t, s, http.MethodPost, upsertPath, Token, inputs(3, true, email))
	if resp.StatusCode != http.StatusMultiStatus {
		t.Fatalf("status %d, want 207: %v", resp.StatusCode, out)
	}
	errs := out["errors"].([]any)
	if len(errs) != 1 || out["numErrors"] != float64(1) {
		t.Fatalf("errors %v", errs)
	}
	e := errs[0].(map[string]any)
	trace := e["context"].(map[string]any)["objectWriteTraceId"].([]any)
	if e["category"] != "VALIDATION_ERROR" || trace[0] != "1" || !strings.Contains(e["message"].(string), "INVALID_EMAIL") {
		t.Errorf("error %v", e)
	}
	if n := len(s.Records("contacts")); n != 2 {
		t.Errorf("%d contacts stored, want the 2 good ones", n)
	}
	resp, _ = do(t, s, http.MethodPost, upsertPath, Token, inputs(3, false, email))
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("untraced batch with a bad input: %d, want 400", resp.StatusCode)
	}
}

func TestRefusesWhatHubSpotRefuses(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	addr := func(i int) string { return fmt.Sprintf("c%d@example.com", i) }
	cases := []struct {
		name, body string
		status     int
	}{
		{"101 inputs", inputs(101, true, addr), 400},
		{"no inputs", `{"inputs":[]}`, 400},
		{"duplicate ids", inputs(2, true, func(int) string { return "same@example.com" }), 400},
		{"duplicate ids differing in case", `{"inputs":[{"idProperty":"email","id":"A@x.io","properties":{}},{"idProperty":"email","id":"a@x.io","properties":{}}]}`, 400},
		{"a property that is not unique as idProperty", `{"inputs":[{"idProperty":"firstname","id":"Ada","properties":{}}]}`, 400},
		{"a number value", `{"inputs":[{"idProperty":"email","id":"n@x.io","properties":{"firstname":3}}]}`, 400},
		{"no id", `{"inputs":[{"idProperty":"email","properties":{}}]}`, 400},
	}
	for _, tc := range cases {
		resp, out := do(t, s, http.MethodPost, upsertPath, Token, tc.body)
		if resp.StatusCode != tc.status || out["status"] != "error" {
			t.Errorf("%s: %d %v, want %d with an error body", tc.name, resp.StatusCode, out, tc.status)
		}
	}
	if n := len(s.Records("contacts")); n != 0 {
		t.Errorf("refused batches stored %d contacts", n)
	}
	resp, _ := do(t, s, http.MethodPost, "/crm/v3/objects/companies/batch/upsert", Token,
		`{"inputs":[{"idProperty":"domain","id":"example.com","properties":{}}]}`)
	if resp.StatusCode != 400 {
		t.Errorf("companies upserted by domain, which has no unique values: %d, want 400", resp.StatusCode)
	}
}

// The documented 401 and 403 bodies.
func TestAuthErrors(t *testing.T) {
	s := New(Options{Tokens: func(token string) ([]string, bool) {
		switch token {
		case "read-only":
			return []string{"oauth", "crm.objects.contacts.read"}, true
		case Token:
			return AllScopes, true
		}
		return nil, false
	}})
	defer s.Close()
	body := inputs(1, true, func(int) string { return "a@example.com" })
	resp, out := do(t, s, http.MethodPost, upsertPath, "", body)
	if resp.StatusCode != 401 || out["category"] != "INVALID_AUTHENTICATION" || out["message"] != msgInvalidAuth || out["correlationId"] == "" {
		t.Errorf("no token: %d %v", resp.StatusCode, out)
	}
	resp, out = do(t, s, http.MethodPost, upsertPath, "read-only", body)
	if resp.StatusCode != 403 || out["category"] != "MISSING_SCOPES" {
		t.Fatalf("read-only token: %d %v", resp.StatusCode, out)
	}
	ctx := out["errors"].([]any)[0].(map[string]any)["context"].(map[string]any)
	if fmt.Sprint(ctx["requiredGranularScopes"]) != "[crm.objects.contacts.write]" {
		t.Errorf("required scopes %v", ctx)
	}
	s.Expire()
	resp, out = do(t, s, http.MethodGet, "/account-info/v3/details", Token, "")
	if resp.StatusCode != 401 || out["category"] != "EXPIRED_AUTHENTICATION" {
		t.Errorf("expired: %d %v", resp.StatusCode, out)
	}
	s.Revoke()
	resp, out = do(t, s, http.MethodGet, "/account-info/v3/details", Token, "")
	if resp.StatusCode != 401 || out["category"] != "INVALID_AUTHENTICATION" {
		t.Errorf("revoked: %d %v", resp.StatusCode, out)
	}
}

// 100 requests per rolling 10 s: the 101st is the documented 429, with the headers.
func TestRateLimit(t *testing.T) {
	s := New(Options{Limit: 5, Window: time.Second})
	defer s.Close()
	for i := range 5 {
		resp, _ := do(t, s, http.MethodGet, "/account-info/v3/details", Token, "")
		if resp.StatusCode != 200 || resp.Header.Get("X-HubSpot-RateLimit-Remaining") != fmt.Sprint(4-i) {
			t.Fatalf("request %d: %d, remaining %s", i+1, resp.StatusCode, resp.Header.Get("X-HubSpot-RateLimit-Remaining"))
		}
	}
	resp, out := do(t, s, http.MethodGet, "/account-info/v3/details", Token, "")
	if resp.StatusCode != 429 || out["policyName"] != "TEN_SECONDLY_ROLLING" || out["errorType"] != "RATE_LIMIT" || out["message"] != msgRateLimit {
		t.Fatalf("6th request: %d %v", resp.StatusCode, out)
	}
	if resp.Header.Get("Retry-After") != "1" || resp.Header.Get("X-HubSpot-RateLimit-Interval-Milliseconds") != "1000" || resp.Header.Get("X-HubSpot-RateLimit-Max") != "5" {
		t.Errorf("429 headers %v", resp.Header)
	}
	if s.Throttled() != 1 || s.Requests() != 6 {
		t.Errorf("counted %d requests, %d throttled", s.Requests(), s.Throttled())
	}
	time.Sleep(1100 * time.Millisecond)
	if resp, _ := do(t, s, http.MethodGet, "/account-info/v3/details", Token, ""); resp.StatusCode != 200 {
		t.Errorf("after the window: %d", resp.StatusCode)
	}
	// The default is the documented limit.
	d := New(Options{})
	defer d.Close()
	resp, _ = do(t, d, http.MethodGet, "/account-info/v3/details", Token, "")
	if resp.Header.Get("X-HubSpot-RateLimit-Max") != "100" || resp.Header.Get("X-HubSpot-RateLimit-Interval-Milliseconds") != "10000" {
		t.Errorf("default limit headers %v", resp.Header)
	}
}

func TestSwitchesAndProperties(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	resp, out := do(t, s, http.MethodGet, "/crm/v3/properties/companies", Token, "")
	if resp.StatusCode != 200 || !strings.Contains(fmt.Sprint(out["results"]), "company_id") {
		t.Fatalf("properties: %d %v", resp.StatusCode, out)
	}
	s.DeleteProperty("companies", "company_id")
	if resp, _ := do(t, s, http.MethodGet, "/crm/v3/properties/companies/company_id", Token, ""); resp.StatusCode != 404 {
		t.Errorf("a deleted property: %d, want 404", resp.StatusCode)
	}
	if _, out := do(t, s, http.MethodGet, "/account-info/v3/details", Token, ""); out["portalId"] != float64(PortalID) {
		t.Errorf("details %v", out)
	}
	s.FailNext(http.StatusBadGateway)
	if resp, _ := do(t, s, http.MethodGet, "/account-info/v3/details", Token, ""); resp.StatusCode != 502 {
		t.Errorf("FailNext: %d", resp.StatusCode)
	}
	s.Down()
	if resp, _ := do(t, s, http.MethodGet, "/account-info/v3/details", Token, ""); resp.StatusCode != 503 {
		t.Errorf("Down: %d", resp.StatusCode)
	}
	s.Up()
	if resp, _ := do(t, s, http.MethodGet, "/account-info/v3/details", Token, ""); resp.StatusCode != 200 {
		t.Errorf("Up: %d", resp.StatusCode)
	}
	if resp, _ := do(t, s, http.MethodGet, "/crm/v3/objects/deals/batch/upsert", Token, ""); resp.StatusCode != 404 {
		t.Errorf("an unknown path: %d", resp.StatusCode)
	}
}
