package klaviyo

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

const key = "pk_fake_key"

func call(t *testing.T, s *Server, method, path, body string, edit ...func(h http.Header)) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Klaviyo-API-Key "+key)
	req.Header.Set("revision", "2026-07-15")
	req.Header.Set("Accept", JSONAPI)
	if body != "" {
		req.Header.Set("Content-Type", JSONAPI)
	}
	for _, e := range edit {
		e(req.Header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func errorCode(t *testing.T, b []byte) string {
	t.Helper()
	var e ErrorBody
	if err := json.Unmarshal(b, &e); err != nil || len(e.Errors) != 1 || e.Errors[0].ID == "" || e.Errors[0].Title == "" {
		t.Fatalf("not a JSON:API errors body: %s", b)
	}
	return e.Errors[0].Code
}

// exampleJob is the Bulk Import Profiles request with the reference's example values:
// the profile of ProfileUpsertQueryResourceObject and the list id "VRgFBd".
func exampleJob(listID string) string {
	return `{"data":{"type":"profile-bulk-import-job","attributes":{"profiles":{"data":[
		{"type":"profile","attributes":{"email":"sarah.mason@klaviyo-demo.com","phone_number":"+15005550006","first_name":"Sarah","last_name":"Mason","organization":"Example Corporation","properties":{"pseudonym":"Dr. Octopus"}}},
		{"type":"profile","attributes":{"email":"not an e-mail"}}
	]}},"relationships":{"lists":{"data":[{"type":"list","id":"` + listID + `"}]}}}}`
}

func TestRequestsNeedDocumentedHeaders(t *testing.T) {
	s := New(key)
	defer s.Close()
	for _, c := range []struct {
		name   string
		edit   func(h http.Header)
		status int
		code   string
	}{
		{"no key", func(h http.Header) { h.Del("Authorization") }, 401, "not_authenticated"},
		{"a Bearer token", func(h http.Header) { h.Set("Authorization", "Bearer "+key) }, 401, "not_authenticated"},
		{"another key", func(h http.Header) { h.Set("Authorization", "Klaviyo-API-Key pk_other") }, 401, "not_authenticated"},
		{"no revision", func(h http.Header) { h.Del("revision") }, 400, "invalid"},
		{"a bad revision", func(h http.Header) { h.Set("revision", "latest") }, 400, "invalid"},
		{"plain JSON body", func(h http.Header) { h.Set("Content-Type", "application/json") }, 415, "unsupported_media_type"},
	} {
		resp, b := call(t, s, "POST", "/api/profile-bulk-import-jobs", exampleJob("x"), c.edit)
		if resp.StatusCode != c.status || errorCode(t, b) != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, resp.StatusCode, b, c.status, c.code)
		}
	}
}

// TestBulkImportJob follows the documented life of a job: 202 queued, polled to
// complete, its counts, the import error of the invalid profile with its payload, the
// profile stored and in the list.
func TestBulkImportJob(t *testing.T) {
	s := New(key)
	defer s.Close()
	list := s.AddList("Newsletter")
	s.SetPolls(1)
	resp, b := call(t, s, "POST", "/api/profile-bulk-import-jobs", exampleJob(list))
	if resp.StatusCode != 202 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	var job struct {
		Data struct {
			Type, ID   string
			Attributes struct{ Status string }
		}
	}
	json.Unmarshal(b, &job)
	if job.Data.Type != "profile-bulk-import-job" || job.Data.ID == "" || job.Data.Attributes.Status != "queued" {
		t.Fatalf("created %s", b)
	}
	var polled struct {
		Data struct {
			Attributes map[string]any
		}
	}
	_, b = call(t, s, "GET", "/api/profile-bulk-import-jobs/"+job.Data.ID, "")
	json.Unmarshal(b, &polled)
	if polled.Data.Attributes["status"] != "processing" {
		t.Fatalf("first poll %s", b)
	}
	_, b = call(t, s, "GET", "/api/profile-bulk-import-jobs/"+job.Data.ID, "")
	json.Unmarshal(b, &polled)
	a := polled.Data.Attributes
	if a["status"] != "complete" || a["total_count"] != 2.0 || a["completed_count"] != 1.0 || a["failed_count"] != 1.0 {
		t.Fatalf("second poll %s", b)
	}
	_, b = call(t, s, "GET", "/api/profile-bulk-import-jobs/"+job.Data.ID+"/import-errors", "")
	var errs struct {
		Data []struct {
			Type       string
			Attributes struct {
				Code, Title, Detail string
				Source              struct{ Pointer string }
				OriginalPayload     struct {
					Attributes struct{ Email string }
				} `json:"original_payload"`
			}
		}
	}
	json.Unmarshal(b, &errs)
	if len(errs.Data) != 1 || errs.Data[0].Type != "import-error" || errs.Data[0].Attributes.Source.Pointer != "/data/attributes/profiles/data/1/attributes/email" ||
		errs.Data[0].Attributes.OriginalPayload.Attributes.Email != "not an e-mail" || errs.Data[0].Attributes.Code != "invalid" {
		t.Fatalf("import errors %s", b)
	}
	ps := s.Profiles()
	if len(ps) != 1 || ps[0].Email != "sarah.mason@klaviyo-demo.com" || ps[0].Phone != "+15005550006" || ps[0].Properties["pseudonym"] != "Dr. Octopus" {
		t.Fatalf("stored %+v", ps)
	}
	if m := s.Members(list); len(m) != 1 || m[0] != "sarah.mason@klaviyo-demo.com" {
		t.Fatalf("members %v", m)
	}
}

func TestRefusals(t *testing.T) {
	s := New(key)
	defer s.Close()
	s.SetRateLimits(false)
	// 10,001 profiles: over the documented 10,000.
	var b strings.Builder
	b.WriteString(`{"data":{"type":"profile-bulk-import-job","attributes":{"profiles":{"data":[`)
	for i := range MaxJobProfiles + 1 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":"profile","attributes":{"email":"p%d@example.com"}}`, i)
	}
	b.WriteString(`]}}}}`)
	if resp, body := call(t, s, "POST", "/api/profile-bulk-import-jobs", b.String()); resp.StatusCode != 400 || errorCode(t, body) != "invalid" {
		t.Errorf("10,001 profiles: %d", resp.StatusCode)
	}
	big := `{"data":{"type":"profile-bulk-import-job","attributes":{"profiles":{"data":[{"type":"profile","attributes":{"email":"a@example.com","properties":{"x":"` + strings.Repeat("x", MaxJobBytes) + `"}}}]}}}}`
	if resp, _ := call(t, s, "POST", "/api/profile-bulk-import-jobs", big); resp.StatusCode != 413 {
		t.Errorf("over 5 MB: %d", resp.StatusCode)
	}
	if resp, body := call(t, s, "POST", "/api/profile-bulk-import-jobs", exampleJob("NoSuch")); resp.StatusCode != 404 || errorCode(t, body) != "not_found" {
		t.Errorf("unknown list: %d %s", resp.StatusCode, body)
	}
	s.SetScopes("profiles:write", "profiles:read")
	resp, body := call(t, s, "POST", "/api/profile-bulk-import-jobs", exampleJob("x"))
	if resp.StatusCode != 403 || errorCode(t, body) != "permission_denied" || !strings.Contains(string(body), "lists:write") {
		t.Errorf("missing scope: %d %s", resp.StatusCode, body)
	}
	s.SetScopes(AllScopes...)
	list := s.AddList("VIP")
	ids := make([]string, MaxListRemoval+1)
	for i := range ids {
		ids[i] = `{"type":"profile","id":"p` + fmt.Sprint(i) + `"}`
	}
	if resp, _ := call(t, s, "DELETE", "/api/lists/"+list+"/relationships/profiles", `{"data":[`+strings.Join(ids, ",")+`]}`); resp.StatusCode != 400 {
		t.Errorf("1,001 removals: %d", resp.StatusCode)
	}
	id := s.AddProfile(Profile{Email: "a@example.com"}, list)
	if resp, _ := call(t, s, "DELETE", "/api/lists/"+list+"/relationships/profiles", `{"data":[{"type":"profile","id":"`+id+`"}]}`); resp.StatusCode != 204 || len(s.Members(list)) != 0 {
		t.Errorf("removal: %d, members %v", resp.StatusCode, s.Members(list))
	}
	if resp, _ := call(t, s, "GET", "/api/lists?page[size]=11", ""); resp.StatusCode != 400 {
		t.Errorf("lists page of 11: %d", resp.StatusCode)
	}
	s.Down(true)
	if resp, _ := call(t, s, "GET", "/api/accounts", ""); resp.StatusCode != 503 {
		t.Errorf("down: %d", resp.StatusCode)
	}
}

// TestRateLimit: the eleventh import in one second is refused with 429, Retry-After and
// the throttled error; the 151st in a minute likewise; other answers carry the steady
// window's RateLimit headers.
func TestRateLimit(t *testing.T) {
	s := New(key)
	defer s.Close()
	now := time.Date(2026, 7, 15, 10, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	post := func() (*http.Response, []byte) {
		return call(t, s, "GET", "/api/profile-bulk-import-jobs/none", "")
	}
	for i := range 10 {
		resp, _ := post()
		if resp.StatusCode != 404 || resp.Header.Get("RateLimit-Limit") != "150" || resp.Header.Get("RateLimit-Remaining") != fmt.Sprint(149-i) {
			t.Fatalf("request %d: %d %v", i+1, resp.StatusCode, resp.Header)
		}
	}
	resp, b := post()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" || errorCode(t, b) != "throttled" {
		t.Fatalf("11th in a second: %d %v %s", resp.StatusCode, resp.Header, b)
	}
	for sec := 1; sec < 15; sec++ {
		now = now.Add(time.Second)
		for range 10 {
			post()
		}
	}
	now = now.Add(time.Second)
	resp, _ = post()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "45" {
		t.Fatalf("151st in a minute: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if requests, throttled := s.Counts(); requests != 152 || throttled != 2 {
		t.Fatalf("counted %d requests, %d throttled", requests, throttled)
	}
}
