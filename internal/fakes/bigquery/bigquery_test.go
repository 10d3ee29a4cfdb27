package bigquery

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/google"

	"sluice/internal/testutil"
)

// newFake is a fake with dataset shop (US) holding people(id, name, joined), and a
// service account that may run jobs and read shop, with its access token.
func newFake(t *testing.T) (*Server, string, string) {
	t.Helper()
	s, err := New(Options{PostgresURL: testutil.PostgresURL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx := context.Background()
	if err := s.CreateDataset(ctx, "shop", "US"); err != nil {
		t.Fatal(err)
	}
	if err := s.Exec(ctx, `CREATE TABLE shop.people AS SELECT g AS id, 'person ' || g AS name,
		timestamptz '2024-01-01 00:00:00+00' + g * interval '1 hour' AS joined FROM generate_series(1, 2500) g`); err != nil {
		t.Fatal(err)
	}
	email, key := s.ServiceAccount("reader")
	s.GrantProject(email, RoleJobUser)
	s.GrantDataset(email, "shop", RoleDataViewer)
	return s, email, signIn(t, key)
}

// accessToken signs in with the key as Google's client library does.
func signIn(t *testing.T, key []byte) string {
	t.Helper()
	cfg, err := google.JWTConfigFromJSON(key, "https://www.googleapis.com/auth/bigquery")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cfg.TokenSource(context.Background()).Token()
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

func call(t *testing.T, s *Server, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: %d, not JSON: %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// wantError checks Google's error object: code, reason, message.
func wantError(t *testing.T, status int, body map[string]any, code int, reason, message string) {
	t.Helper()
	e, _ := body["error"].(map[string]any)
	if status != code || e == nil {
		t.Fatalf("answer %d %v, want %d with an error object", status, body, code)
	}
	items, _ := e["errors"].([]any)
	if len(items) == 0 {
		t.Fatalf("error without errors[]: %v", e)
	}
	item := items[0].(map[string]any)
	if item["reason"] != reason || !strings.Contains(fmt.Sprint(e["message"]), message) || e["code"] != float64(code) || e["status"] == "" {
		t.Errorf("error %v, want code %d, reason %s, message with %q", e, code, reason, message)
	}
}

const queries = "/bigquery/v2/projects/sluice-fake/queries"

func TestTokenEndpoint(t *testing.T) {
	s, email, _ := newFake(t)
	_, key := s.ServiceAccount("signer")
	var k struct {
		PrivateKey string `json:"private_key"`
		KeyID      string `json:"private_key_id"`
		Email      string `json:"client_email"`
	}
	if err := json.Unmarshal(key, &k); err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(k.PrivateKey))
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(priv *rsa.PrivateKey, claims map[string]any) string {
		h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": k.KeyID})
		c, _ := json.Marshal(claims)
		in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
		sum := sha256.Sum256([]byte(in))
		sig, _ := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, sum[:])
		return in + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	now := time.Now().Unix()
	good := map[string]any{"iss": k.Email, "scope": "https://www.googleapis.com/auth/bigquery", "aud": s.TokenURL(), "iat": now, "exp": now + 3600}
	grant := func(assertion string) (int, map[string]any) {
		resp, err := http.PostForm(s.TokenURL(), url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if code, out := grant(sign(priv.(*rsa.PrivateKey), good)); code != 200 || out["token_type"] != "Bearer" || !strings.HasPrefix(fmt.Sprint(out["access_token"]), "ya29.") {
		t.Fatalf("a good assertion: %d %v", code, out)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	with := func(k string, v any) map[string]any {
		c := map[string]any{}
		for a, b := range good {
			c[a] = b
		}
		c[k] = v
		return c
	}
	for _, tc := range []struct {
		name, assertion, code, description string
	}{
		{"signed by another key", sign(other, good), "invalid_grant", "Invalid JWT Signature."},
		{"unknown account", sign(priv.(*rsa.PrivateKey), with("iss", "nobody@sluice-fake.iam.gserviceaccount.com")), "invalid_grant", "Invalid grant: account not found"},
		{"wrong audience", sign(priv.(*rsa.PrivateKey), with("aud", "https://oauth2.googleapis.com/token")), "invalid_grant", "Invalid JWT: Failed audience check."},
		{"expired", sign(priv.(*rsa.PrivateKey), with("exp", now-10)), "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes)"},
		{"two hours", sign(priv.(*rsa.PrivateKey), with("exp", now+7200)), "invalid_grant", "Token must be a short-lived token"},
		{"no scope", sign(priv.(*rsa.PrivateKey), with("scope", "")), "invalid_scope", "Invalid OAuth scope"},
		{"not a JWT", "abc", "invalid_grant", "Invalid JWT"},
	} {
		code, out := grant(tc.assertion)
		if code != 400 || out["error"] != tc.code || !strings.Contains(fmt.Sprint(out["error_description"]), tc.description) {
			t.Errorf("%s: %d %v, want 400 %s %q", tc.name, code, out, tc.code, tc.description)
		}
	}
	s.DeleteKey(k.Email)
	if code, out := grant(sign(priv.(*rsa.PrivateKey), good)); code != 400 || out["error_description"] != "Invalid JWT Signature." {
		t.Errorf("a deleted key: %d %v", code, out)
	}
	_ = email
}

func TestAPIAuthentication(t *testing.T) {
	s, _, token := newFake(t)
	code, body := call(t, s, "GET", "/bigquery/v2/projects/sluice-fake/datasets/shop", "", "")
	wantError(t, code, body, 401, "required", "Request is missing required authentication credential")
	code, body = call(t, s, "GET", "/bigquery/v2/projects/sluice-fake/datasets/shop", "ya29.forged", "")
	wantError(t, code, body, 401, "authError", "Request had invalid authentication credentials")
	code, body = call(t, s, "GET", "/bigquery/v2/projects/sluice-fake/datasets/shop", token, "")
	if code != 200 || body["location"] != "US" || body["id"] != "sluice-fake:shop" {
		t.Fatalf("datasets.get: %d %v", code, body)
	}
	s.RevokeTokens()
	code, body = call(t, s, "GET", "/bigquery/v2/projects/sluice-fake/datasets/shop", token, "")
	wantError(t, code, body, 401, "authError", "invalid authentication credentials")
}

func TestQueryPagesAndErrors(t *testing.T) {
	s, email, token := newFake(t)
	q := func(body string) (int, map[string]any) { return call(t, s, "POST", queries, token, body) }

	// Pages of 1,000 by pageToken, in the query's order, with totalRows and int64 timestamps.
	code, body := q(`{"query": "SELECT id, name, joined FROM ` + "`shop.people`" + ` WHERE id > @min ORDER BY id", "useLegacySql": false,
		"parameterMode": "NAMED", "queryParameters": [{"name": "min", "parameterType": {"type": "INT64"}, "parameterValue": {"value": "100"}}],
		"maxResults": 1000, "formatOptions": {"useInt64Timestamp": true}}`)
	if code != 200 || body["jobComplete"] != true || body["totalRows"] != "2400" {
		t.Fatalf("jobs.query: %d %v", code, body["error"])
	}
	schema := body["schema"].(map[string]any)["fields"].([]any)
	if got := fmt.Sprint(schema); got != "[map[mode:NULLABLE name:id type:INTEGER] map[mode:NULLABLE name:name type:STRING] map[mode:NULLABLE name:joined type:TIMESTAMP]]" {
		t.Errorf("schema %s", got)
	}
	job := body["jobReference"].(map[string]any)["jobId"].(string)
	seen := 0
	next := int64(101)
	for page := 1; ; page++ {
		for _, r := range body["rows"].([]any) {
			f := r.(map[string]any)["f"].([]any)
			id := f[0].(map[string]any)["v"]
			if id != fmt.Sprint(next) {
				t.Fatalf("page %d: row id %v, want %d", page, id, next)
			}
			wantJoined := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(next) * time.Hour).UnixMicro()
			if j := f[2].(map[string]any)["v"]; j != fmt.Sprint(wantJoined) {
				t.Fatalf("joined %v, want %d microseconds", j, wantJoined)
			}
			next++
			seen++
		}
		tok, _ := body["pageToken"].(string)
		if tok == "" {
			break
		}
		code, body = call(t, s, "GET", "/bigquery/v2/projects/sluice-fake/queries/"+job+"?location=US&maxResults=1000&formatOptions.useInt64Timestamp=true&pageToken="+url.QueryEscape(tok), token, "")
		if code != 200 {
			t.Fatalf("page %d: %d %v", page+1, code, body)
		}
	}
	if seen != 2400 {
		t.Fatalf("read %d rows, want 2400", seen)
	}
	if n := s.OpenJobs(); n != 0 {
		t.Errorf("%d jobs still hold a cursor after their last page", n)
	}
	// An earlier page by startIndex reopens the results.
	code, body = call(t, s, "GET", "/bigquery/v2/projects/sluice-fake/queries/"+job+"?maxResults=2&startIndex=5", token, "")
	if rows := body["rows"].([]any); code != 200 || len(rows) != 2 || rows[0].(map[string]any)["f"].([]any)[0].(map[string]any)["v"] != "106" {
		t.Errorf("startIndex 5: %d %v", code, body)
	}
	// Names: an alias, a column's own, f0_ for an expression without one.
	code, body = q(`{"query": "SELECT COUNT(*), COUNT(id) AS n, MAX(` + "`p`.`name`" + `) FROM ` + "`shop.people` AS p" + `", "useLegacySql": false}`)
	if got := fmt.Sprint(body["schema"]); code != 200 || got != "map[fields:[map[mode:NULLABLE name:f0_ type:INTEGER] map[mode:NULLABLE name:n type:INTEGER] map[mode:NULLABLE name:f2_ type:STRING]]]" {
		t.Errorf("names: %d %s", code, got)
	}
	// Another location, another caller: not found.
	code, body = call(t, s, "GET", "/bigquery/v2/projects/sluice-fake/queries/"+job+"?location=EU", token, "")
	wantError(t, code, body, 404, "notFound", "Not found: Job sluice-fake:EU."+job)

	for _, tc := range []struct {
		name, body   string
		code         int
		reason, text string
	}{
		{"legacy SQL by default", `{"query": "SELECT 1"}`, 400, "invalidQuery", "useLegacySql"},
		{"unknown field", `{"query": "SELECT 1", "useLegacySql": false, "sqlDialect": "x"}`, 400, "invalid", `Unknown name "sqlDialect"`},
		{"ILIKE", `{"query": "SELECT id FROM ` + "`shop.people`" + ` WHERE name ILIKE 'a%'", "useLegacySql": false}`, 400, "invalidQuery", `Syntax error: Unexpected identifier "ILIKE" at [1:41]`},
		{"double-quoted identifiers", `{"query": "SELECT \"m\".\"id\" FROM ` + "`shop.people`" + ` AS m", "useLegacySql": false}`, 400, "invalidQuery", "Syntax error"},
		{"PostgreSQL placeholder", `{"query": "SELECT $1", "useLegacySql": false}`, 400, "invalidQuery", `Illegal input character "$"`},
		{"unknown function", `{"query": "SELECT make_interval(1)", "useLegacySql": false}`, 400, "invalidQuery", "Function not found: make_interval"},
		{"unqualified table", `{"query": "SELECT id FROM people", "useLegacySql": false}`, 400, "invalidQuery", `Table "people" must be qualified with a dataset`},
		{"missing parameter", `{"query": "SELECT @x", "useLegacySql": false, "parameterMode": "NAMED"}`, 400, "invalidQuery", "Query parameter 'x' not found"},
		{"unknown column", `{"query": "SELECT nope FROM ` + "`shop.people`" + `", "useLegacySql": false}`, 400, "invalidQuery", "Unrecognized name: nope"},
		{"unknown dataset", `{"query": "SELECT 1 FROM ` + "`nope.people`" + `", "useLegacySql": false}`, 404, "notFound", "Not found: Dataset sluice-fake:nope"},
		{"unknown table", `{"query": "SELECT 1 FROM ` + "`shop.nope`" + `", "useLegacySql": false}`, 404, "notFound", "Not found: Table sluice-fake:shop.nope was not found in location US"},
		{"other location", `{"query": "SELECT 1 FROM ` + "`shop.people`" + `", "useLegacySql": false, "location": "EU"}`, 404, "notFound", "Not found: Dataset sluice-fake:shop was not found in location EU"},
		{"a script", `{"query": "SELECT 1; DROP TABLE shop.people", "useLegacySql": false}`, 400, "invalidQuery", "not a script"},
		{"TIMESTAMP with DATETIME", `{"query": "SELECT id FROM ` + "`shop.people` AS p" + ` WHERE p.joined >= DATETIME_SUB(CURRENT_DATETIME('UTC'), INTERVAL 1 DAY)", "useLegacySql": false}`, 400, "invalidQuery", "No matching signature for operator >= for argument types: TIMESTAMP, DATETIME"},
		{"duplicate names", `{"query": "SELECT id, id FROM ` + "`shop.people`" + `", "useLegacySql": false}`, 400, "invalidQuery", "Duplicate column names in the result are not supported"},
	} {
		code, body := q(tc.body)
		t.Run(tc.name, func(t *testing.T) { wantError(t, code, body, tc.code, tc.reason, tc.text) })
	}

	// Access: a table of a dataset not shared, then no jobs.create at all.
	if err := s.CreateDataset(context.Background(), "secret", "US"); err != nil {
		t.Fatal(err)
	}
	if err := s.Exec(context.Background(), `CREATE TABLE secret.salaries (id int)`); err != nil {
		t.Fatal(err)
	}
	code, body = q(`{"query": "SELECT * FROM ` + "`secret.salaries`" + `", "useLegacySql": false}`)
	wantError(t, code, body, 403, "accessDenied", "Access Denied: Table sluice-fake:secret.salaries: User does not have permission to query table sluice-fake:secret.salaries, or perhaps it does not exist.")
	s.RevokeProject(email, RoleJobUser)
	code, body = q(`{"query": "SELECT 1", "useLegacySql": false}`)
	wantError(t, code, body, 403, "accessDenied", "Access Denied: Project sluice-fake: User does not have bigquery.jobs.create permission in project sluice-fake.")
}

func TestJobsPolledAndCancelled(t *testing.T) {
	s, _, token := newFake(t)
	s.SetJobDelay(600 * time.Millisecond)
	code, body := call(t, s, "POST", "/bigquery/v2/projects/sluice-fake/jobs", token, `{"jobReference": {"projectId": "sluice-fake", "jobId": "j1", "location": "US"},
		"configuration": {"query": {"query": "SELECT count(*) AS n FROM `+"`shop.people`"+`", "useLegacySql": false}}}`)
	if code != 200 || body["status"].(map[string]any)["state"] != "RUNNING" {
		t.Fatalf("jobs.insert: %d %v", code, body)
	}
	code, body = call(t, s, "GET", "/bigquery/v2/projects/sluice-fake/queries/j1?location=US&timeoutMs=50", token, "")
	if code != 200 || body["jobComplete"] != false {
		t.Fatalf("getQueryResults of a running job: %d %v", code, body)
	}
	code, body = call(t, s, "GET", "/bigquery/v2/projects/sluice-fake/queries/j1?location=US&timeoutMs=5000", token, "")
	if code != 200 || body["jobComplete"] != true || body["rows"].([]any)[0].(map[string]any)["f"].([]any)[0].(map[string]any)["v"] != "2500" {
		t.Fatalf("getQueryResults once done: %d %v", code, body)
	}
	code, body = call(t, s, "GET", "/bigquery/v2/projects/sluice-fake/jobs/j1?location=US", token, "")
	if code != 200 || body["status"].(map[string]any)["state"] != "DONE" || body["statistics"].(map[string]any)["query"] == nil {
		t.Fatalf("jobs.get: %d %v", code, body)
	}
	// A job cancelled while it runs ends stopped.
	s.SetJobDelay(5 * time.Second)
	call(t, s, "POST", "/bigquery/v2/projects/sluice-fake/jobs", token, `{"jobReference": {"jobId": "j2"},
		"configuration": {"query": {"query": "SELECT id FROM `+"`shop.people`"+`", "useLegacySql": false}}}`)
	code, body = call(t, s, "POST", "/bigquery/v2/projects/sluice-fake/jobs/j2/cancel?location=US", token, "")
	st := body["job"].(map[string]any)["status"].(map[string]any)
	if code != 200 || st["state"] != "DONE" || st["errorResult"].(map[string]any)["reason"] != "stopped" {
		t.Fatalf("jobs.cancel: %d %v", code, body)
	}
	code, body = call(t, s, "GET", "/bigquery/v2/projects/sluice-fake/queries/j2?location=US", token, "")
	wantError(t, code, body, 400, "stopped", "Job execution was cancelled")
	if n := s.OpenJobs(); n != 0 {
		t.Errorf("%d jobs hold a cursor after cancellation", n)
	}
	// A dry run: schema and bytes, no rows, no job kept.
	code, body = call(t, s, "POST", queries, token, `{"query": "SELECT id FROM `+"`shop.people`"+`", "useLegacySql": false, "dryRun": true}`)
	if code != 200 || body["totalBytesProcessed"] == "0" || body["rows"] != nil || body["schema"] == nil {
		t.Fatalf("dry run: %d %v", code, body)
	}
}

func TestTranslate(t *testing.T) {
	named := map[string]string{"p1": "'FR'", "p2": "CAST('7' AS bigint)"}
	for _, tc := range []struct{ in, out string }{
		{"SELECT `m`.`id` FROM `shop`.`people` AS `m` WHERE `m`.`country` = @p1",
			`SELECT "m"."id" FROM "shop"."people" AS "m" WHERE "m"."country" = 'FR'`},
		{"SELECT 1 FROM `sluice-fake.shop.people` WHERE LOWER(`name`) LIKE LOWER(@P1)",
			`SELECT 1 FROM "shop"."people" WHERE lower("name") LIKE lower('FR')`},
		{"SELECT CAST(CAST(`m`.`id` AS STRING) AS BYTES) FROM `shop.people` AS `m`",
			`SELECT convert_to(CAST(CAST("m"."id" AS text) AS text), 'UTF8') FROM "shop"."people" AS "m"`},
		{"SELECT 1 FROM `shop.people` AS m WHERE m.joined >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL @p2 DAY)",
			`SELECT 1 FROM "shop"."people" AS "m" WHERE "m"."joined" >= (now() - make_interval(days => CAST(CAST('7' AS bigint) AS integer)))`},
		{"SELECT DATETIME_SUB(CURRENT_DATETIME('UTC'), INTERVAL 1 DAY), 'it\\'s'",
			`SELECT CAST(((now() AT TIME ZONE 'UTC') - make_interval(days => CAST(1 AS integer))) AS timestamp), 'it''s'`},
	} {
		got, err := translate(tc.in, "sluice-fake", "", named, nil)
		if err != nil || got.sql != tc.out {
			t.Errorf("translate(%s)\n got %s (%v)\nwant %s", tc.in, got.sql, err, tc.out)
		}
	}
}

func TestRateLimit(t *testing.T) {
	s, err := New(Options{PostgresURL: testutil.PostgresURL(t), RequestsPerSecond: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.CreateDataset(context.Background(), "shop", "US"); err != nil {
		t.Fatal(err)
	}
	email, key := s.ServiceAccount("busy")
	s.GrantDataset(email, "shop", RoleDataViewer)
	token := signIn(t, key)
	codes := map[int]int{}
	var last map[string]any
	for range 6 {
		code, body := call(t, s, "GET", "/bigquery/v2/projects/sluice-fake/datasets/shop", token, "")
		codes[code]++
		if code != 200 {
			last = body
		}
	}
	if codes[200] != 3 || codes[403] != 3 {
		t.Fatalf("6 requests at once under a limit of 3 a second: %v", codes)
	}
	wantError(t, 403, last, 403, "rateLimitExceeded", "Exceeded rate limits: too many api requests per user per method")
	time.Sleep(400 * time.Millisecond)
	if code, _ := call(t, s, "GET", "/bigquery/v2/projects/sluice-fake/datasets/shop", token, ""); code != 200 {
		t.Errorf("a request after the bucket refilled: %d", code)
	}
}
