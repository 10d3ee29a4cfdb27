package metaads

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	acct = "1234567890"
	aud  = "23850000000000001"
	tok  = "EAAGtoken"
)

func newServer(t *testing.T) *Server {
	t.Helper()
	s := New()
	t.Cleanup(s.Close)
	s.AddToken(tok, "ads_management")
	s.AddAccount(acct, "Acme")
	s.AddAudience(acct, aud, "VIP")
	return s
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func do(t *testing.T, s *Server, method, path, token string, form url.Values) answer {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("%s %s: the answer is not JSON: %v", method, path, err)
	}
	return answer{resp.StatusCode, resp.Header, m}
}

// wantGraphError checks the Graph API error object: message, type, code, fbtrace_id.
func wantGraphError(t *testing.T, a answer, status, code, subcode int) map[string]any {
	t.Helper()
	e, ok := a.body["error"].(map[string]any)
	if !ok {
		t.Fatalf("answer %d %v has no error object", a.status, a.body)
	}
	if a.status != status || e["code"] != float64(code) || (subcode != 0 && e["error_subcode"] != float64(subcode)) {
		t.Errorf("answer %d %v, want %d with code %d/%d", a.status, e, status, code, subcode)
	}
	for _, k := range []string{"message", "type", "fbtrace_id"} {
		if s, _ := e[k].(string); s == "" {
			t.Errorf("the error object has no %s: %v", k, e)
		}
	}
	return e
}

func usersForm(schema any, rows ...[]string) url.Values {
	b, _ := json.Marshal(map[string]any{"schema": schema, "data": rows})
	return url.Values{"payload": {string(b)}}
}

// The reference's example ("Custom Audience Users", POST /v25.0/<CUSTOM_AUDIENCE_ID>/users
// with payload={"schema":["EMAIL","LOOKALIKE_VALUE"],"data":[["9b431636…",44.5],…]}),
// its hashes taken with the EMAIL key alone: the answer carries audience_id,
// session_id, num_received, num_invalid_entries and invalid_entry_samples.
func TestUsersDocumentedExample(t *testing.T) {
	s := newServer(t)
	hashes := []string{
		"9b431636bd164765d63c573c346708846af4f68fe3701a77a3bdd7e7e5166254",
		"8cc62c145cd0c6dc444168eaeb1b61b351f9b1809a579cc9b4c9e9d7213a39ee",
		"4eaf70b1f7a797962b9d2a533f122c8039012b31e0a52b34a426729319cb792a",
		"98df8d46f118f8bef552b0ec0a3d729466a912577830212a844b73960777ac56",
	}
	var rows [][]string
	for _, h := range hashes {
		rows = append(rows, []string{h})
	}
	a := do(t, s, http.MethodPost, "/v25.0/"+aud+"/users", tok, usersForm([]string{"EMAIL"}, rows...))
	if a.status != 200 || a.body["audience_id"] != aud || a.body["num_received"] != float64(4) || a.body["num_invalid_entries"] != float64(0) || a.body["session_id"] == "" {
		t.Fatalf("answer %d %v", a.status, a.body)
	}
	if _, ok := a.body["invalid_entry_samples"].(map[string]any); !ok {
		t.Errorf("no invalid_entry_samples object: %v", a.body)
	}
	if n := len(s.Users(aud)); n != 4 {
		t.Errorf("%d users stored, want 4", n)
	}
	// A schema given as one string is the documented single-key form.
	a = do(t, s, http.MethodDelete, "/v25.0/"+aud+"/users", tok, usersForm("EMAIL", rows[0]))
	if a.status != 200 || len(s.Users(aud)) != 3 {
		t.Errorf("DELETE answered %d %v, %d users left", a.status, a.body, len(s.Users(aud)))
	}
	if got := s.Received(); len(got) != 2 || got[0].Rows != 4 || got[1].Method != http.MethodDelete {
		t.Errorf("received %+v", got)
	}
}

// What the service refuses: an unhashed identifier (counted invalid, sampled), more than
// 10,000 rows, a row of the wrong length, an unknown schema key, no payload.
func TestUsersRefusals(t *testing.T) {
	s := newServer(t)
	a := do(t, s, http.MethodPost, "/v25.0/"+aud+"/users", tok, usersForm([]string{"EMAIL"}, []string{"ann@example.com"}, []string{strings.Repeat("a", 64)}))
	samples, _ := a.body["invalid_entry_samples"].(map[string]any)
	if a.status != 200 || a.body["num_invalid_entries"] != float64(1) || samples["ann@example.com"] == nil {
		t.Errorf("an unhashed e-mail: %d %v", a.status, a.body)
	}
	if n := len(s.Users(aud)); n != 1 {
		t.Errorf("%d users stored, want the hashed one only", n)
	}
	rows := make([][]string, MaxUsers+1)
	for i := range rows {
		rows[i] = []string{fmt.Sprintf("%064x", i)}
	}
	wantGraphError(t, do(t, s, http.MethodPost, "/v25.0/"+aud+"/users", tok, usersForm([]string{"EMAIL"}, rows...)), 400, 100, 0)
	wantGraphError(t, do(t, s, http.MethodPost, "/v25.0/"+aud+"/users", tok, usersForm([]string{"EMAIL", "PHONE"}, []string{strings.Repeat("a", 64)})), 400, 100, 0)
	wantGraphError(t, do(t, s, http.MethodPost, "/v25.0/"+aud+"/users", tok, usersForm([]string{"E_MAIL"}, []string{strings.Repeat("a", 64)})), 400, 100, 0)
	wantGraphError(t, do(t, s, http.MethodPost, "/v25.0/"+aud+"/users", tok, url.Values{"x": {"1"}}), 400, 100, 0)
	s.MarkInvalid(strings.Repeat("b", 64), "Invalid format")
	a = do(t, s, http.MethodPost, "/v25.0/"+aud+"/users", tok, usersForm([]string{"EMAIL"}, []string{strings.Repeat("b", 64)}))
	if samples, _ := a.body["invalid_entry_samples"].(map[string]any); samples[strings.Repeat("b", 64)] != "Invalid format" {
		t.Errorf("a marked hash: %v", a.body)
	}
}

// Tokens and permissions: none, unknown, revoked (190 with WWW-Authenticate), without
// ads_management (200).
func TestAuthErrors(t *testing.T) {
	s := newServer(t)
	path := "/v25.0/" + aud + "/users"
	body := usersForm([]string{"EMAIL"}, []string{strings.Repeat("a", 64)})
	wantGraphError(t, do(t, s, http.MethodPost, path, "", body), 400, 2500, 0)
	a := do(t, s, http.MethodPost, path, "nope", body)
	wantGraphError(t, a, 400, 190, 0)
	if !strings.Contains(a.header.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("WWW-Authenticate %q", a.header.Get("WWW-Authenticate"))
	}
	s.AddToken("reader", "ads_read")
	if e := wantGraphError(t, do(t, s, http.MethodPost, path, "reader", body), 403, 200, 0); !strings.Contains(e["message"].(string), "ads_management") {
		t.Errorf("message %v", e["message"])
	}
	s.RevokeToken(tok)
	wantGraphError(t, do(t, s, http.MethodPost, path, tok, body), 400, 190, 458)
	if len(s.Users(aud)) != 0 {
		t.Error("a refused request stored users")
	}
}

func TestUnknownObjects(t *testing.T) {
	s := newServer(t)
	body := usersForm([]string{"EMAIL"}, []string{strings.Repeat("a", 64)})
	e := wantGraphError(t, do(t, s, http.MethodPost, "/v25.0/999/users", tok, body), 400, 100, 33)
	if !strings.Contains(e["message"].(string), "Object with ID '999' does not exist") {
		t.Errorf("message %v", e["message"])
	}
	wantGraphError(t, do(t, s, http.MethodGet, "/v25.0/act_42/customaudiences", tok, nil), 400, 100, 33)
	wantGraphError(t, do(t, s, http.MethodGet, "/v25.0/act_42", tok, nil), 400, 100, 33)
	s.DeleteAudience(aud)
	wantGraphError(t, do(t, s, http.MethodPost, "/v25.0/"+aud+"/users", tok, body), 400, 100, 33)
}

// The ad account's score: writes score 3; over the maximum, error 17/2446079 with the
// business use case header, blocked for Block; the score decays with time.
func TestScoreLimit(t *testing.T) {
	s := newServer(t)
	now := time.Unix(1_800_000_000, 0)
	s.now = func() time.Time { return now }
	s.SetLimit(Limit{MaxScore: 9, Decay: 300 * time.Second, Block: 60 * time.Second, ReadScore: 1, WriteScore: 3})
	body := usersForm([]string{"EMAIL"}, []string{strings.Repeat("a", 64)})
	for i := range 3 {
		if a := do(t, s, http.MethodPost, "/v25.0/"+aud+"/users", tok, body); a.status != 200 {
			t.Fatalf("write %d within the score: %d %v", i+1, a.status, a.body)
		}
	}
	a := do(t, s, http.MethodPost, "/v25.0/"+aud+"/users", tok, body)
	wantGraphError(t, a, 400, 17, 2446079)
	var usage map[string][]map[string]any
	if err := json.Unmarshal([]byte(a.header.Get("X-Business-Use-Case-Usage")), &usage); err != nil || usage[acct][0]["estimated_time_to_regain_access"] != float64(1) {
		t.Errorf("X-Business-Use-Case-Usage %q", a.header.Get("X-Business-Use-Case-Usage"))
	}
	// Blocked for a minute even though the score decays meanwhile.
	now = now.Add(59 * time.Second)
	wantGraphError(t, do(t, s, http.MethodPost, "/v25.0/"+aud+"/users", tok, body), 400, 17, 2446079)
	// The score decays 9 points per 300 s, 0.03 a second: at 101 s, past the block,
	// 3.03 points are gone, room for a write of 3.
	now = now.Add(42 * time.Second)
	if a := do(t, s, http.MethodPost, "/v25.0/"+aud+"/users", tok, body); a.status != 200 {
		t.Errorf("after the block: %d %v", a.status, a.body)
	}
	if requests, throttled := s.Counts(); requests != 6 || throttled != 2 {
		t.Errorf("counts %d requests, %d throttled; want 6, 2", requests, throttled)
	}
}

func TestSwitches(t *testing.T) {
	s := newServer(t)
	s.SetDown(true)
	wantGraphError(t, do(t, s, http.MethodGet, "/v25.0/act_"+acct, tok, nil), 500, 2, 0)
	s.SetDown(false)
	s.FailNext(http.StatusTooManyRequests)
	a := do(t, s, http.MethodGet, "/v25.0/act_"+acct, tok, nil)
	wantGraphError(t, a, 429, 4, 0)
	if a.header.Get("Retry-After") != "7" {
		t.Errorf("Retry-After %q", a.header.Get("Retry-After"))
	}
	s.FailNext(http.StatusForbidden)
	wantGraphError(t, do(t, s, http.MethodGet, "/v25.0/act_"+acct, tok, nil), 403, 200, 0)
	if a := do(t, s, http.MethodGet, "/v25.0/act_"+acct+"?fields=id,name", tok, nil); a.status != 200 || a.body["name"] != "Acme" {
		t.Errorf("after the switched failures: %d %v", a.status, a.body)
	}
}

// GET /act_{id}/customaudiences pages with limit and the after cursor.
func TestListAudiencesPaging(t *testing.T) {
	s := newServer(t)
	s.AddAudienceOf(acct, "23850000000000002", "Visitors", "WEBSITE")
	a := do(t, s, http.MethodGet, "/v25.0/act_"+acct+"/customaudiences?fields=id,name,subtype&limit=1", tok, nil)
	data, _ := a.body["data"].([]any)
	paging, _ := a.body["paging"].(map[string]any)
	if len(data) != 1 || paging["next"] == nil {
		t.Fatalf("first page %v", a.body)
	}
	first := data[0].(map[string]any)
	if first["id"] != aud || first["name"] != "VIP" || first["subtype"] != "CUSTOM" {
		t.Errorf("first audience %v", first)
	}
	after := paging["cursors"].(map[string]any)["after"].(string)
	a = do(t, s, http.MethodGet, "/v25.0/act_"+acct+"/customaudiences?fields=id,subtype&limit=1&after="+after, tok, nil)
	data, _ = a.body["data"].([]any)
	paging, _ = a.body["paging"].(map[string]any)
	if len(data) != 1 || data[0].(map[string]any)["subtype"] != "WEBSITE" || paging["next"] != nil {
		t.Errorf("second page %v", a.body)
	}
}

// Facebook Login: the dialog checks the app and the exact redirect URI and sends back a
// code with the state; the code becomes a token once, granted the scopes asked for.
func TestLoginFlow(t *testing.T) {
	s := newServer(t)
	s.AddClient("app1", "appsecret", "https://sluice.example/oauth/callback")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	dialog := func(redirect string) *http.Response {
		q := url.Values{"client_id": {"app1"}, "redirect_uri": {redirect}, "state": {"st8"}, "scope": {"ads_management"}, "response_type": {"code"}}
		resp, err := noRedirect.Get(s.URL + "/v25.0/dialog/oauth?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := dialog("https://sluice.example/oauth/callback/other"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a redirect URI not registered: %d", resp.StatusCode)
	}
	resp := dialog("https://sluice.example/oauth/callback")
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || loc.Query().Get("state") != "st8" || loc.Query().Get("code") == "" {
		t.Fatalf("dialog answered %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	exchange := url.Values{"client_id": {"app1"}, "client_secret": {"appsecret"}, "redirect_uri": {"https://sluice.example/oauth/callback"}, "code": {loc.Query().Get("code")}}
	a := do(t, s, http.MethodGet, "/v25.0/oauth/access_token?"+exchange.Encode(), "", nil)
	token, _ := a.body["access_token"].(string)
	if a.status != 200 || token == "" || a.body["token_type"] != "bearer" || a.body["expires_in"] == nil {
		t.Fatalf("token answer %d %v", a.status, a.body)
	}
	wantGraphError(t, do(t, s, http.MethodGet, "/v25.0/oauth/access_token?"+exchange.Encode(), "", nil), 400, 100, 36009)
	body := usersForm([]string{"EMAIL"}, []string{strings.Repeat("a", 64)})
	if a := do(t, s, http.MethodPost, "/v25.0/"+aud+"/users", token, body); a.status != 200 {
		t.Errorf("the new token was refused: %d %v", a.status, a.body)
	}
	exchange.Set("client_secret", "wrong")
	wantGraphError(t, do(t, s, http.MethodGet, "/v25.0/oauth/access_token?"+exchange.Encode(), "", nil), 400, 1, 0)
}
