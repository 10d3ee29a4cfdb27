package googleads

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func call(t *testing.T, s *Server, path string, body any, header ...string) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/"+V+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+s.AccessToken())
	req.Header.Set("developer-token", s.DeveloperToken())
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// firstError is the first GoogleAdsError of a status's details.
func firstError(st any) map[string]any {
	m, _ := st.(map[string]any)
	details, _ := m["details"].([]any)
	if len(details) == 0 {
		return nil
	}
	errs, _ := details[0].(map[string]any)["errors"].([]any)
	if len(errs) == 0 {
		return nil
	}
	return errs[0].(map[string]any)
}

const sha = "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976"

func newJob(t *testing.T, s *Server) string {
	t.Helper()
	code, out := call(t, s, "/customers/1234567890/offlineUserDataJobs:create", map[string]any{"job": map[string]any{
		"type": "CUSTOMER_MATCH_USER_LIST", "customerMatchUserListMetadata": map[string]string{"userList": "customers/1234567890/userLists/111"}}})
	name, _ := out["resourceName"].(string)
	if code != 200 || !strings.HasPrefix(name, "customers/1234567890/offlineUserDataJobs/") {
		t.Fatalf("create: %d %v", code, out)
	}
	return strings.TrimPrefix(name, "customers/1234567890")
}

func TestCustomerMatchJob(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	job := newJob(t, s)
	ops := []any{
		map[string]any{"create": map[string]any{"userIdentifiers": []any{map[string]string{"hashedEmail": sha}}}},
		map[string]any{"create": map[string]any{"userIdentifiers": []any{map[string]string{"hashedEmail": "alice@example.com"}}}},
		map[string]any{"remove": map[string]any{"userIdentifiers": []any{map[string]string{"hashedEmail": sha}}}},
	}
	code, out := call(t, s, "/customers/1234567890"+job+":addOperations", map[string]any{"enablePartialFailure": true, "operations": ops})
	if code != 200 {
		t.Fatalf("addOperations: %d %v", code, out)
	}
	pf, _ := out["partialFailureError"].(map[string]any)
	details := pf["details"].([]any)[0].(map[string]any)
	errs := details["errors"].([]any)
	if len(errs) != 2 || pf["code"] != 3.0 {
		t.Fatalf("partialFailureError %v", pf)
	}
	wantCodes := map[float64]string{1: "INVALID_SHA256_FORMAT", 2: "CONFLICTING_OPERATION"}
	for _, e := range errs {
		e := e.(map[string]any)
		at := e["location"].(map[string]any)["fieldPathElements"].([]any)[0].(map[string]any)
		code := e["errorCode"].(map[string]any)["offlineUserDataJobError"]
		if at["fieldName"] != "operations" || wantCodes[at["index"].(float64)] != code {
			t.Errorf("error %v", e)
		}
	}
	if code, out := call(t, s, "/customers/1234567890"+job+":run", map[string]any{}); code != 200 || !strings.Contains(out["name"].(string), "/operations/") {
		t.Fatalf("run: %d %v", code, out)
	}
	if got := s.Members("1234567890", "111"); len(got) != 1 || got[0] != sha {
		t.Errorf("members %v", got)
	}
	// A job that ran takes no more operations.
	code, out = call(t, s, "/customers/1234567890"+job+":addOperations", map[string]any{"enablePartialFailure": true, "operations": ops[:1]})
	if e := firstError(out["error"]); code != 400 || e["errorCode"].(map[string]any)["offlineUserDataJobError"] != "JOB_ALREADY_STARTED" {
		t.Errorf("after run: %d %v", code, out)
	}
	// Without partial failure, one bad operation fails the request.
	job = newJob(t, s)
	code, out = call(t, s, "/customers/1234567890"+job+":addOperations", map[string]any{"operations": ops[1:2]})
	if e := firstError(out["error"]); code != 400 || e["errorCode"].(map[string]any)["offlineUserDataJobError"] != "INVALID_SHA256_FORMAT" {
		t.Errorf("without partial failure: %d %v", code, out)
	}
	// An unknown list.
	code, out = call(t, s, "/customers/1234567890/offlineUserDataJobs:create", map[string]any{"job": map[string]any{
		"type": "CUSTOMER_MATCH_USER_LIST", "customerMatchUserListMetadata": map[string]string{"userList": "customers/1234567890/userLists/9"}}})
	if e := firstError(out["error"]); code != 400 || e["errorCode"].(map[string]any)["offlineUserDataJobError"] != "INVALID_USER_LIST_ID" {
		t.Errorf("unknown list: %d %v", code, out)
	}
}

func TestConversionAdjustments(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	adj := func(order string) map[string]any {
		return map[string]any{"orderId": order, "conversionAction": "customers/1234567890/conversionActions/222",
			"adjustmentType": "RESTATEMENT", "adjustmentDateTime": "2019-01-01 12:32:45-08:00", "restatementValue": map[string]any{"adjustedValue": 70}}
	}
	code, out := call(t, s, "/customers/1234567890:uploadConversionAdjustments", map[string]any{
		"conversionAdjustments": []any{adj("order-1"), adj("nope")}, "partialFailure": true})
	if code != 200 {
		t.Fatalf("%d %v", code, out)
	}
	e := firstError(out["partialFailureError"])
	if e["errorCode"].(map[string]any)["conversionAdjustmentUploadError"] != "CONVERSION_NOT_FOUND" ||
		e["location"].(map[string]any)["fieldPathElements"].([]any)[0].(map[string]any)["index"] != 1.0 {
		t.Errorf("partial failure %v", e)
	}
	if results := out["results"].([]any); len(results) != 2 || results[0].(map[string]any)["orderId"] != "order-1" || len(results[1].(map[string]any)) != 0 {
		t.Errorf("results %v", results)
	}
	if got := s.Adjustments("1234567890"); len(got) != 1 || got[0].OrderID != "order-1" {
		t.Errorf("stored %v", got)
	}
	many := make([]any, MaxAdjustmentsPerRequest+1)
	for i := range many {
		many[i] = adj("order-1")
	}
	code, out = call(t, s, "/customers/1234567890:uploadConversionAdjustments", map[string]any{"conversionAdjustments": many, "partialFailure": true})
	if e := firstError(out["error"]); code != 400 || e["errorCode"].(map[string]any)["conversionAdjustmentUploadError"] != "TOO_MANY_ADJUSTMENTS_IN_REQUEST" {
		t.Errorf("2,001 adjustments: %d %v", code, out)
	}
}

func TestAuthAndQuota(t *testing.T) {
	s := New(Options{Limit: 2, Window: time.Hour})
	defer s.Close()
	q := map[string]string{"query": "SELECT customer.id FROM customer"}
	if code, out := call(t, s, "/customers/1234567890/googleAds:search", q, "Authorization", "Bearer wrong"); code != 401 || out["error"].(map[string]any)["status"] != "UNAUTHENTICATED" {
		t.Errorf("wrong token: %d %v", code, out)
	}
	if code, out := call(t, s, "/customers/1234567890/googleAds:search", q, "developer-token", "wrong"); code != 401 ||
		firstError(out["error"])["errorCode"].(map[string]any)["authenticationError"] != "DEVELOPER_TOKEN_INVALID" {
		t.Errorf("wrong developer token: %d %v", code, out)
	}
	if code, out := call(t, s, "/customers/1111111111/googleAds:search", q); code != 401 ||
		firstError(out["error"])["errorCode"].(map[string]any)["authenticationError"] != "CUSTOMER_NOT_FOUND" {
		t.Errorf("unknown customer: %d %v", code, out)
	}
	for i := range 2 {
		if code, out := call(t, s, "/customers/1234567890/googleAds:search", q); code != 200 {
			t.Fatalf("search %d: %d %v", i, code, out)
		}
	}
	code, out := call(t, s, "/customers/1234567890/googleAds:search", q)
	e := firstError(out["error"])
	if code != 429 || e["errorCode"].(map[string]any)["quotaError"] != "RESOURCE_EXHAUSTED" {
		t.Fatalf("over the quota: %d %v", code, out)
	}
	delay := e["details"].(map[string]any)["quotaErrorDetails"].(map[string]any)["retryDelay"].(string)
	if d, err := time.ParseDuration(delay); err != nil || d < 59*time.Minute || d > time.Hour {
		t.Errorf("retryDelay %q, want about the hour left in the window", delay)
	}
	if s.Throttled() != 1 {
		t.Errorf("Throttled = %d", s.Throttled())
	}
	s.GrantScopes()
	if code, out := call(t, s, "/customers/1234567890/googleAds:search", q); code != 403 || !strings.Contains(out["error"].(map[string]any)["message"].(string), "insufficient authentication scopes") {
		t.Errorf("no scope: %d %v", code, out)
	}
}
