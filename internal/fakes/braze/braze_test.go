package braze

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

const key = "fake-rest-key"

// call sends one request to the fake with the key and JSON body given.
func call(t *testing.T, s *Server, method, path, auth, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s answered %d with a body that is not JSON: %s", method, path, resp.StatusCode, raw)
	}
	return resp, out
}

// The "Update a user profile by email address" example of "Track users" (attributes part).
const docsEmailExample = `{
    "attributes": [
        {
            "email": "test@braze.com",
            "string_attribute": "fruit",
            "boolean_attribute_1": true,
            "integer_attribute": 26,
            "array_attribute": [
                "banana",
                "apple"
            ]
        }
    ]
}`

func TestTrackDocumentedExampleByEmail(t *testing.T) {
	s := New(t, key)
	resp, body := call(t, s, http.MethodPost, "/users/track", key, docsEmailExample)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d, want 201", resp.StatusCode)
	}
	want := map[string]any{"message": "success", "attributes_processed": float64(1)}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("answer %v, want %v", body, want)
	}
	u, ok := s.User("email:test@braze.com")
	if !ok {
		t.Fatal("no profile for test@braze.com")
	}
	if u["string_attribute"] != "fruit" || u["boolean_attribute_1"] != true || u["integer_attribute"] != json.Number("26") {
		t.Errorf("profile %v", u)
	}
	if got := u["array_attribute"]; !reflect.DeepEqual(got, []any{"banana", "apple"}) {
		t.Errorf("array_attribute = %v", got)
	}
	for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("no %s header: Braze sends it with every answer", h)
		}
	}
}

// The "User attribute example request" of "User attributes object": an array edited
// with add and remove.
func TestArrayAddAndRemove(t *testing.T) {
	s := New(t, key)
	call(t, s, http.MethodPost, "/users/track", key, `{"attributes":[{"external_id":"user1","music_videos_favorited":["nickiminaj-anaconda","other"]}]}`)
	_, body := call(t, s, http.MethodPost, "/users/track", key,
		`{"attributes":[{"external_id":"user1","first_name":"Jon","has_profile_picture":true,"dob":"1988-02-14","music_videos_favorited":{"add":["calvinharris-summer"],"remove":["nickiminaj-anaconda"]}}]}`)
	if body["message"] != "success" {
		t.Fatalf("answer %v", body)
	}
	u, _ := s.User("external_id:user1")
	if got := u["music_videos_favorited"]; !reflect.DeepEqual(got, []any{"other", "calvinharris-summer"}) {
		t.Errorf("array = %v, want [other calvinharris-summer]", got)
	}
	// Adding a value present moves it to the end; arrays keep the newest 25.
	for i := range 30 {
		call(t, s, http.MethodPost, "/users/track", key, fmt.Sprintf(`{"attributes":[{"external_id":"user1","music_videos_favorited":{"add":["v%d"]}}]}`, i))
	}
	u, _ = s.User("external_id:user1")
	arr := u["music_videos_favorited"].([]any)
	if len(arr) != MaxArrayLength || arr[0] != "v5" || arr[24] != "v29" {
		t.Errorf("array after 30 adds = %v", arr)
	}
	// Removing for a user who does not exist, update-only, creates no one.
	call(t, s, http.MethodPost, "/users/track", key, `{"attributes":[{"external_id":"ghost","_update_existing_only":true,"music_videos_favorited":{"remove":["x"]}}]}`)
	if _, ok := s.User("external_id:ghost"); ok {
		t.Error("an update-only object created a profile")
	}
}

func TestNonFatalErrorsByIndex(t *testing.T) {
	s := New(t, key)
	s.BlockExternalID("dummy")
	resp, body := call(t, s, http.MethodPost, "/users/track", key,
		`{"attributes":[{"external_id":"a","x":1},{"first_name":"nobody"},{"external_id":"dummy"},{"external_id":"b"}]}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d", resp.StatusCode)
	}
	want := map[string]any{
		"message": "success", "attributes_processed": float64(2),
		"errors": []any{
			map[string]any{"type": ErrNoIdentifier, "input_array": "attributes", "index": float64(1)},
			map[string]any{"type": ErrBlockedID, "input_array": "attributes", "index": float64(2)},
		},
	}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("answer %v\nwant %v", body, want)
	}
	if s.Users() != 2 {
		t.Errorf("%d profiles, want 2", s.Users())
	}
}

func TestFatalErrors(t *testing.T) {
	s := New(t, key)
	objs := make([]string, MaxObjects+1)
	for i := range objs {
		objs[i] = fmt.Sprintf(`{"external_id":"u%d"}`, i)
	}
	tooMany := `{"attributes":[` + strings.Join(objs, ",") + `]}`
	cases := []struct {
		name, method, path, auth, body string
		status                         int
		message                        string
	}{
		{"no key", http.MethodPost, "/users/track", "", `{"attributes":[]}`, 401, MsgUnauthorized},
		{"wrong key", http.MethodPost, "/users/track", "nope", `{"attributes":[]}`, 401, MsgUnauthorized},
		{"76 objects", http.MethodPost, "/users/track", key, tooMany, 400, MsgMaxInputLength},
		{"not JSON", http.MethodPost, "/users/track", key, `{"attributes":`, 400, MsgBadSyntax},
		{"unknown path", http.MethodPost, "/users/nope", key, `{}`, 404, "Not Found"},
	}
	for _, tc := range cases {
		resp, body := call(t, s, tc.method, tc.path, tc.auth, tc.body)
		if resp.StatusCode != tc.status || body["message"] != tc.message {
			t.Errorf("%s: %d %v, want %d %q", tc.name, resp.StatusCode, body, tc.status, tc.message)
		}
	}
	if s.Users() != 0 {
		t.Errorf("refused requests stored %d profiles", s.Users())
	}

	s.SetPermissions(PermCustomAttributesGet)
	if resp, body := call(t, s, http.MethodPost, "/users/track", key, `{"attributes":[]}`); resp.StatusCode != 403 || body["message"] != MsgAccessDenied {
		t.Errorf("without users.track: %d %v", resp.StatusCode, body)
	}
	s.SetPermissions(PermUsersTrack)
	if resp, _ := call(t, s, http.MethodGet, "/custom_attributes", key, ""); resp.StatusCode != 403 {
		t.Errorf("without custom_attributes.get: %d", resp.StatusCode)
	}
	s.SetPermissions(PermUsersTrack, PermCustomAttributesGet)

	s.FailNext(http.StatusBadGateway, "")
	if resp, _ := call(t, s, http.MethodGet, "/custom_attributes", key, ""); resp.StatusCode != 502 {
		t.Errorf("FailNext: %d", resp.StatusCode)
	}
	if resp, _ := call(t, s, http.MethodGet, "/custom_attributes", key, ""); resp.StatusCode != 200 {
		t.Errorf("after FailNext: %d", resp.StatusCode)
	}
	s.SetDown(true)
	if resp, _ := call(t, s, http.MethodPost, "/users/track", key, `{"attributes":[]}`); resp.StatusCode != 503 {
		t.Errorf("down: %d", resp.StatusCode)
	}
	s.SetDown(false)
	s.Revoke()
	if resp, _ := call(t, s, http.MethodGet, "/custom_attributes", key, ""); resp.StatusCode != 401 {
		t.Errorf("revoked: %d", resp.StatusCode)
	}
}

func TestRateLimit(t *testing.T) {
	s := New(t, key)
	at := time.Unix(1_800_000_001, 0) // one second into a three-second window
	s.now = func() time.Time { return at }
	s.SetRateLimit(3, 3*time.Second)
	for i := range 3 {
		resp, _ := call(t, s, http.MethodPost, "/users/track", key, `{"attributes":[{"external_id":"a"}]}`)
		if resp.StatusCode != 201 || resp.Header.Get("X-RateLimit-Remaining") != strconv.Itoa(2-i) {
			t.Fatalf("request %d: %d, remaining %s", i+1, resp.StatusCode, resp.Header.Get("X-RateLimit-Remaining"))
		}
	}
	resp, body := call(t, s, http.MethodPost, "/users/track", key, `{"attributes":[{"external_id":"a"}]}`)
	if resp.StatusCode != http.StatusTooManyRequests || body["message"] != MsgRateLimited {
		t.Fatalf("request 4: %d %v, want 429", resp.StatusCode, body)
	}
	if resp.Header.Get("X-RateLimit-Limit") != "3" || resp.Header.Get("X-RateLimit-Remaining") != "0" || resp.Header.Get("X-RateLimit-Reset") != "1800000003" {
		t.Errorf("429 headers %v", resp.Header)
	}
	if n, throttled := s.Counts(); n != 4 || throttled != 1 {
		t.Errorf("counts %d, %d; want 4, 1", n, throttled)
	}
	at = at.Add(2 * time.Second) // the next window
	if resp, _ := call(t, s, http.MethodPost, "/users/track", key, `{"attributes":[{"external_id":"a"}]}`); resp.StatusCode != 201 {
		t.Errorf("in the next window: %d", resp.StatusCode)
	}
}

func TestCustomAttributesPages(t *testing.T) {
	s := New(t, key)
	for i := range 60 {
		s.DefineAttribute(fmt.Sprintf("attr_%02d", i), "Array")
	}
	s.DefineAttribute("plan", "String")
	s.Blocklist("attr_00")
	resp, body := call(t, s, http.MethodGet, "/custom_attributes", key, "")
	attrs := body["attributes"].([]any)
	if resp.StatusCode != 200 || body["message"] != "success" || len(attrs) != PageSize {
		t.Fatalf("first page: %d, %d attributes", resp.StatusCode, len(attrs))
	}
	first := attrs[0].(map[string]any)
	if first["name"] != "attr_00" || first["status"] != "Blocklisted" || first["data_type"] != "Array" || first["array_length"] != float64(MaxArrayLength) {
		t.Errorf("first attribute %v", first)
	}
	link := resp.Header.Get("Link")
	if !strings.Contains(link, `rel="next"`) || !strings.Contains(link, "/custom_attributes?cursor=50") {
		t.Fatalf("Link %q", link)
	}
	resp, body = call(t, s, http.MethodGet, "/custom_attributes?cursor=50", key, "")
	if attrs := body["attributes"].([]any); len(attrs) != 11 || resp.Header.Get("Link") != "" {
		t.Errorf("last page: %d attributes, Link %q", len(attrs), resp.Header.Get("Link"))
	}
}
