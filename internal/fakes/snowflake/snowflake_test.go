package snowflake_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	sffake "sluice/internal/fakes/snowflake"
	"sluice/internal/testutil"
)

type fixture struct {
	fake *sffake.Server
	key  *rsa.PrivateKey
}

func newFixture(t *testing.T, o sffake.Options) *fixture {
	t.Helper()
	o.PostgresURL = testutil.PostgresURL(t)
	fake, err := sffake.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	ctx := context.Background()
	for _, q := range []string{
		`CREATE SCHEMA "PUBLIC"`,
		`CREATE TABLE "PUBLIC"."T" ("ID" integer, "NAME" text, "AT" timestamp, "D" date, "OK" boolean, "X" double precision)`,
		`INSERT INTO "PUBLIC"."T" SELECT i, 'n' || i, TIMESTAMP '2021-03-19 17:06:59.5' + i * INTERVAL '1 second', DATE '1970-01-01' + i, i > 2, i / 2.0 FROM generate_series(1, 5) i`,
		`CREATE TABLE "PUBLIC"."HIDDEN" ("ID" integer)`,
	} {
		if err := fake.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := fake.AddRole(ctx, "R"); err != nil {
		t.Fatal(err)
	}
	key, _, err := sffake.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	fake.AddUser("U", &key.PublicKey, "R")
	fake.AddWarehouse(sffake.Warehouse{Name: "WH", State: "STARTED", AutoResume: true})
	fake.GrantWarehouse("R", "WH", true)
	fake.GrantDatabase("R", true)
	if err := fake.GrantSchema(ctx, "R", "PUBLIC", true); err != nil {
		t.Fatal(err)
	}
	if err := fake.GrantSelect(ctx, "R", "PUBLIC", "T", true); err != nil {
		t.Fatal(err)
	}
	return &fixture{fake: fake, key: key}
}

func (f *fixture) token(t *testing.T, mutate func(map[string]any)) string {
	t.Helper()
	now := time.Now()
	claims := map[string]any{
		"iss": "SLUICE-TEST.U." + sffake.Fingerprint(&f.key.PublicKey), "sub": "SLUICE-TEST.U",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	if mutate != nil {
		mutate(claims)
	}
	tok, err := sffake.Token(f.key, claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type answer struct {
	status int
	body   map[string]any
}

func (f *fixture) do(t *testing.T, method, path string, body any, headers map[string]string) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, f.fake.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+f.token(t, nil))
	req.Header.Set("X-Snowflake-Authorization-Token-Type", "KEYPAIR_JWT")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "fake-test/1.0")
	for k, v := range headers {
		if v == "" && k == "User-Agent" {
			req.Header.Set(k, "") // set empty, Go's client sends none (deleted, it sends its own)
		} else if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return answer{resp.StatusCode, out}
}

func stmt(sql string, extra ...any) map[string]any {
	body := map[string]any{"statement": sql, "warehouse": "WH", "role": "R", "database": "ANALYTICS", "schema": "PUBLIC", "timeout": 60}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i].(string)] = extra[i+1]
	}
	return body
}

// TestResultSet: a statement answers the documented ResultSet: resultSetMetaData with
// numRows, format jsonv2, rowType and partitionInfo; data as arrays of strings in the
// jsonv2 forms; code 090001, sqlState 00000 and the statement's handle and status URL.
func TestResultSet(t *testing.T) {
	f := newFixture(t, sffake.Options{})
	a := f.do(t, "POST", "/api/v2/statements?requestId=3f8a2c1e-0000-4000-8000-000000000001", stmt(
		`SELECT "ID", name, "AT", "D", "OK", "X", NULL AS "N" FROM t WHERE "ID" = ? AND "NAME" LIKE ? ESCAPE '\\'`,
		"bindings", map[string]any{"1": map[string]string{"type": "FIXED", "value": "3"}, "2": map[string]string{"type": "TEXT", "value": `n3%`}}), nil)
	if a.status != 200 {
		t.Fatalf("%d %v", a.status, a.body)
	}
	meta := a.body["resultSetMetaData"].(map[string]any)
	if meta["numRows"] != 1.0 || meta["format"] != "jsonv2" || len(meta["partitionInfo"].([]any)) != 1 {
		t.Fatalf("meta %v", meta)
	}
	var types []string
	for _, c := range meta["rowType"].([]any) {
		types = append(types, c.(map[string]any)["name"].(string)+":"+c.(map[string]any)["type"].(string))
	}
	if strings.Join(types, ",") != "ID:fixed,NAME:text,AT:timestamp_ntz,D:date,OK:boolean,X:real,N:text" {
		t.Fatalf("rowType %v", types)
	}
	row := a.body["data"].([]any)[0].([]any)
	want := []any{"3", "n3", "1616173622.500000000", "3", "true", "1.5", nil}
	for i := range want {
		if row[i] != want[i] {
			t.Errorf("cell %d = %#v, want %#v", i, row[i], want[i])
		}
	}
	if a.body["code"] != "090001" || a.body["sqlState"] != "00000" || a.body["message"] != "Statement executed successfully." ||
		a.body["statementHandle"] == "" || !strings.HasPrefix(a.body["statementStatusUrl"].(string), "/api/v2/statements/") {
		t.Fatalf("body %v", a.body)
	}
}

// TestAsyncAndPartitions: async=true answers 202 with a QueryStatus; polling the handle
// gives the ResultSet, and each further partition is fetched by number.
func TestAsyncAndPartitions(t *testing.T) {
	f := newFixture(t, sffake.Options{PartitionRows: 2})
	a := f.do(t, "POST", "/api/v2/statements?async=true", stmt(`SELECT "ID" FROM "ANALYTICS"."PUBLIC"."T" ORDER BY "ID"`), nil)
	if a.status != 202 || a.body["code"] != "333334" || a.body["statementHandle"] == nil {
		t.Fatalf("%d %v", a.status, a.body)
	}
	url := a.body["statementStatusUrl"].(string)
	for a.status == 202 {
		time.Sleep(10 * time.Millisecond)
		a = f.do(t, "GET", url, nil, nil)
	}
	meta := a.body["resultSetMetaData"].(map[string]any)
	if a.status != 200 || meta["numRows"] != 5.0 || len(meta["partitionInfo"].([]any)) != 3 || len(a.body["data"].([]any)) != 2 {
		t.Fatalf("%d %v", a.status, a.body)
	}
	p := f.do(t, "GET", url+"?partition=2", nil, nil)
	if p.status != 200 || len(p.body["data"].([]any)) != 1 || p.body["data"].([]any)[0].([]any)[0] != "5" {
		t.Fatalf("partition 2: %d %v", p.status, p.body)
	}
}

// TestAuth: every refusal of "Using key-pair authentication" is the 401 with code 390144
// and "JWT token is invalid. [uuid]"; the reason is kept for SYSTEM$GET_LOGIN_FAILURE_DETAILS.
func TestAuth(t *testing.T) {
	f := newFixture(t, sffake.Options{})
	other, _, err := sffake.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		headers func() map[string]string
		reason  string
	}{
		{"no token", func() map[string]string { return map[string]string{"Authorization": ""} }, "JWT_TOKEN_MISSING"},
		{"no token type", func() map[string]string { return map[string]string{"X-Snowflake-Authorization-Token-Type": ""} }, "JWT_TOKEN_TYPE_NOT_KEYPAIR"},
		{"expired", func() map[string]string {
			return map[string]string{"Authorization": "Bearer " + f.token(t, func(c map[string]any) {
				c["iat"], c["exp"] = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
			})}
		}, "JWT_TOKEN_EXPIRED"},
		{"living over an hour", func() map[string]string {
			return map[string]string{"Authorization": "Bearer " + f.token(t, func(c map[string]any) { c["exp"] = time.Now().Add(2 * time.Hour).Unix() })}
		}, "JWT_TOKEN_INVALID_ISSUE_TIME"},
		{"another account", func() map[string]string {
			return map[string]string{"Authorization": "Bearer " + f.token(t, func(c map[string]any) {
				c["iss"], c["sub"] = "OTHER.U."+sffake.Fingerprint(&f.key.PublicKey), "OTHER.U"
			})}
		}, "JWT_TOKEN_INVALID_ISSUER"},
		{"another key's fingerprint", func() map[string]string {
			return map[string]string{"Authorization": "Bearer " + f.token(t, func(c map[string]any) { c["iss"] = "SLUICE-TEST.U." + sffake.Fingerprint(&other.PublicKey) })}
		}, "JWT_TOKEN_INVALID_PUBLIC_KEY_FINGERPRINT_MISMATCH"},
		{"signed by another key", func() map[string]string {
			tok, _ := sffake.Token(other, map[string]any{"iss": "SLUICE-TEST.U." + sffake.Fingerprint(&f.key.PublicKey), "sub": "SLUICE-TEST.U",
				"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
			return map[string]string{"Authorization": "Bearer " + tok}
		}, "JWT_TOKEN_INVALID_SIGNATURE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := f.do(t, "POST", "/api/v2/statements", stmt("SELECT 1"), tc.headers())
			code, prefix := "390144", "JWT token is invalid. ["
			if tc.reason == "JWT_TOKEN_TYPE_NOT_KEYPAIR" {
				// Without the header the token is taken for an OAuth token.
				code, prefix = "390303", "Invalid OAuth access token. ["
			}
			if a.status != 401 || a.body["code"] != code || !strings.HasPrefix(a.body["message"].(string), prefix) {
				t.Fatalf("%d %v", a.status, a.body)
			}
			fails := f.fake.LoginFailures()
			if fails[len(fails)-1] != tc.reason {
				t.Fatalf("reason %v, want %s", fails, tc.reason)
			}
		})
	}
	// The headers as the SQL API's OpenAPI spec has them: Accept and Content-Type are
	// optional (the body is then JSON), another media type is 415, User-Agent is required.
	for _, tc := range []struct {
		header, value string
		status        int
	}{
		{"Accept", "", 200}, {"Content-Type", "", 200}, {"Accept", "text/html", 400},
		{"Content-Type", "text/plain", 415}, {"User-Agent", "", 400},
	} {
		if a := f.do(t, "POST", "/api/v2/statements", stmt("SELECT 1"), map[string]string{tc.header: tc.value}); a.status != tc.status {
			t.Errorf("%s %q: %d, want %d", tc.header, tc.value, a.status, tc.status)
		}
	}
}

// TestFailures: statements that fail answer 422 with a QueryFailureStatus in
// Snowflake's words; grants and warehouses are enforced; the network policy, throttling
// and unknown handles answer 403, 429 and 404.
func TestFailures(t *testing.T) {
	f := newFixture(t, sffake.Options{})
	for _, tc := range []struct {
		sql                 string
		body                []any
		code, state, prefix string
	}{
		{`SELECT * FROM "PUBLIC"."HIDDEN"`, nil, "002003", "42S02", "SQL compilation error:\nObject 'HIDDEN' does not exist or not authorized."},
		{`SELECT * FROM "PUBLIC"."NOPE"`, nil, "002003", "42S02", "SQL compilation error:\nObject 'PUBLIC.NOPE' does not exist or not authorized."},
		{`SELECT * FROM OTHERDB.PUBLIC.T`, nil, "002003", "02000", "SQL compilation error:\nDatabase 'OTHERDB' does not exist or not authorized."},
		{`SELECT "NOPE" FROM T`, nil, "000904", "42000", "SQL compilation error: error line 1 at position"},
		{`SELECT PG_SLEEP(1)`, nil, "002140", "42601", "SQL compilation error:\nUnknown function PG_SLEEP"},
		{`SELECT 1; SELECT 2`, nil, "000008", "0A000", "Actual statement count 2 did not match the desired statement count 1."},
		{`SELECT "ID" FROM T`, []any{"warehouse", "NOPE"}, "000606", "57P03", "No active warehouse selected in the current session."},
		{`SELECT "ID" FROM T`, []any{"database", "NOPE"}, "090105", "22000", "Cannot perform SELECT. This session does not have a current database."},
		{`SELECT 1`, []any{"role", "ACCOUNTADMIN"}, "390189", "08004", "Role 'ACCOUNTADMIN' specified in the connect string is not granted to this user."},
		{`SELECT ? AS A`, nil, "002049", "22000", "SQL compilation error: Bind variable ? not set."},
	} {
		a := f.do(t, "POST", "/api/v2/statements", stmt(tc.sql, tc.body...), nil)
		if a.status != 422 || a.body["code"] != tc.code || a.body["sqlState"] != tc.state ||
			!strings.HasPrefix(a.body["message"].(string), tc.prefix) || a.body["statementHandle"] == nil || a.body["createdOn"] == nil {
			t.Errorf("%s: %d %v", tc.sql, a.status, a.body)
		}
	}
	f.fake.SetWarehouse("WH", "SUSPENDED", false)
	if a := f.do(t, "POST", "/api/v2/statements", stmt(`SELECT "ID" FROM T`), nil); a.body["code"] != "000606" {
		t.Errorf("suspended warehouse without auto-resume: %v", a.body)
	}
	// SHOW WAREHOUSES and metadata need no running warehouse.
	a := f.do(t, "POST", "/api/v2/statements", stmt(`SHOW WAREHOUSES LIKE 'w%'`), nil)
	if a.status != 200 || a.body["data"].([]any)[0].([]any)[1] != "SUSPENDED" || a.body["data"].([]any)[0].([]any)[12] != "false" {
		t.Errorf("show warehouses: %d %v", a.status, a.body)
	}
	f.fake.SetWarehouse("WH", "SUSPENDED", true)
	if a := f.do(t, "POST", "/api/v2/statements", stmt(`SELECT "ID" FROM T`), nil); a.status != 200 || f.fake.WarehouseState("WH") != "STARTED" {
		t.Errorf("auto-resume: %d %v, state %s", a.status, a.body, f.fake.WarehouseState("WH"))
	}
	if a := f.do(t, "GET", "/api/v2/statements/01b2c3d4-0000-4000-8000-000000000000", nil, nil); a.status != 404 {
		t.Errorf("unknown handle: %d", a.status)
	}
	f.fake.Throttle(1)
	if a := f.do(t, "POST", "/api/v2/statements", stmt("SELECT 1"), nil); a.status != 429 {
		t.Errorf("throttled: %d", a.status)
	}
	f.fake.Block(true)
	if a := f.do(t, "POST", "/api/v2/statements", stmt("SELECT 1"), nil); a.status != 403 || a.body["code"] != "390422" {
		t.Errorf("blocked: %d %v", a.status, a.body)
	}
}

// TestTimeoutAndCancel: a statement past its "timeout" answers 408 with 000630; a
// cancelled one 422 with 000604.
func TestTimeoutAndCancel(t *testing.T) {
	f := newFixture(t, sffake.Options{SyncWait: 20 * time.Millisecond})
	ctx := context.Background()
	if err := f.fake.Exec(ctx, `CREATE TABLE "PUBLIC"."BIG" AS SELECT i AS "N" FROM generate_series(1, 20000) i`); err != nil {
		t.Fatal(err)
	}
	if err := f.fake.GrantSelect(ctx, "R", "PUBLIC", "BIG", true); err != nil {
		t.Fatal(err)
	}
	slow := `SELECT COUNT(*) FROM BIG a, BIG b, BIG c`
	a := f.do(t, "POST", "/api/v2/statements", stmt(slow, "timeout", 1), nil)
	for a.status == 202 {
		time.Sleep(50 * time.Millisecond)
		a = f.do(t, "GET", "/api/v2/statements/"+a.body["statementHandle"].(string), nil, nil)
	}
	if a.status != 408 || a.body["code"] != "000630" || !strings.Contains(a.body["message"].(string), "timeout of 1 second(s)") {
		t.Fatalf("timeout: %d %v", a.status, a.body)
	}
	a = f.do(t, "POST", "/api/v2/statements", stmt(slow), nil)
	if a.status != 202 {
		t.Fatalf("slow statement: %d %v", a.status, a.body)
	}
	handle := a.body["statementHandle"].(string)
	if c := f.do(t, "POST", "/api/v2/statements/"+handle+"/cancel", nil, nil); c.status != 200 {
		t.Fatalf("cancel: %d %v", c.status, c.body)
	}
	if a = f.do(t, "GET", "/api/v2/statements/"+handle, nil, nil); a.status != 422 || a.body["code"] != "000604" {
		t.Fatalf("after cancel: %d %v", a.status, a.body)
	}
	if f.fake.Running() != 0 {
		t.Fatal("a cancelled statement still runs")
	}
}
