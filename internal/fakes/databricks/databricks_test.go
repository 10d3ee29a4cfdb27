package databricks

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"sluice/internal/testutil"
)

type client struct {
	t     *testing.T
	f     *Fake
	token string
}

func newFake(t *testing.T) (*Fake, *client) {
	t.Helper()
	f, err := New(context.Background(), testutil.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	ctx := context.Background()
	if err := f.CreateSchema(ctx, "main", "sales"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Pool().Exec(ctx, `CREATE TABLE "main.sales".t AS SELECT i AS id, 'n' || i AS name FROM generate_series(1, 25) AS i`); err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, f: f, token: f.AddUser("u@example.com")}
	for _, g := range [][3]string{{UseCatalog, OnCatalog, "main"}, {UseSchema, OnSchema, "main.sales"}, {Select, OnTable, "main.sales.t"}} {
		if err := f.Grant(ctx, "u@example.com", g[0], g[1], g[2]); err != nil {
			t.Fatal(err)
		}
	}
	return f, c
}

// do sends a request and decodes the JSON answer.
func (c *client) do(method, path string, body any, auth string) (int, http.Header, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.f.URL()+path, rd)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		c.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, resp.Header, out
}

func (c *client) exec(req map[string]any) map[string]any {
	c.t.Helper()
	if req["warehouse_id"] == nil {
		req["warehouse_id"] = WarehouseID
	}
	status, _, out := c.do("POST", "/api/2.0/sql/statements", req, "Bearer "+c.token)
	if status != 200 {
		c.t.Fatalf("execute: %d %v", status, out)
	}
	return out
}

func state(out map[string]any) string { return out["status"].(map[string]any)["state"].(string) }

func errMessage(out map[string]any) string {
	e, _ := out["status"].(map[string]any)["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

func TestAuthentication(t *testing.T) {
	_, c := newFake(t)
	status, _, out := c.do("POST", "/api/2.0/sql/statements", map[string]any{}, "")
	if status != 401 || !reflect.DeepEqual(out, map[string]any{"error_code": 401.0, "message": MsgNoCredential}) {
		t.Fatalf("no credential: %d %v", status, out)
	}
	status, h, out := c.do("POST", "/api/2.0/sql/statements", map[string]any{}, "Bearer dapi-nope")
	if status != 403 || out["message"] != MsgInvalidToken || h.Get("X-Databricks-Reason-Phrase") != MsgInvalidToken {
		t.Fatalf("unknown token: %d %v", status, out)
	}
	c.f.RevokeToken(c.token)
	if status, _, _ := c.do("GET", "/api/2.0/sql/statements/x", nil, "Bearer "+c.token); status != 403 {
		t.Fatalf("revoked token: %d", status)
	}
}

func TestTokenEndpoint(t *testing.T) {
	f, _ := newFake(t)
	id, secret := f.AddServicePrincipal()
	post := func(user, pass, form string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", f.URL()+"/oidc/v1/token", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	status, out := post(id, secret, "grant_type=client_credentials&scope=all-apis")
	if status != 200 || out["token_type"] != "Bearer" || out["expires_in"] != 3600.0 || out["scope"] != "all-apis" || out["access_token"] == "" {
		t.Fatalf("token: %d %v", status, out)
	}
	if status, out := post(id, "wrong", "grant_type=client_credentials&scope=all-apis"); status != 401 || out["error"] != "invalid_client" {
		t.Fatalf("wrong secret: %d %v", status, out)
	}
	if status, out := post(id, secret, "grant_type=client_credentials&scope=sql"); status != 400 || out["error"] != "invalid_scope" {
		t.Fatalf("another scope: %d %v", status, out)
	}
	if status, out := post(id, secret, "grant_type=password&scope=all-apis"); status != 400 || out["error"] != "unsupported_grant_type" {
		t.Fatalf("another grant: %d %v", status, out)
	}
	// The access token signs API calls as the service principal.
	c := &client{t: t, f: f, token: out0(t, post, id, secret)}
	res := c.exec(map[string]any{"statement": "SELECT current_user()", "wait_timeout": "10s"})
	if row := res["result"].(map[string]any)["data_array"].([]any)[0].([]any); row[0] != id {
		t.Fatalf("current_user() is %v, want %s", row, id)
	}
}

func out0(t *testing.T, post func(u, p, f string) (int, map[string]any), id, secret string) string {
	_, out := post(id, secret, "grant_type=client_credentials&scope=all-apis")
	return out["access_token"].(string)
}

func TestRequestChecks(t *testing.T) {
	_, c := newFake(t)
	for _, tc := range []struct {
		body   map[string]any
		status int
		code   string
	}{
		{map[string]any{"statement": "SELECT 1"}, 400, "INVALID_PARAMETER_VALUE"},
		{map[string]any{"warehouse_id": WarehouseID}, 400, "INVALID_PARAMETER_VALUE"},
		{map[string]any{"warehouse_id": WarehouseID, "statement": "SELECT 1", "wait_timeout": "3s"}, 400, "INVALID_PARAMETER_VALUE"},
		{map[string]any{"warehouse_id": WarehouseID, "statement": "SELECT 1", "wait_timeout": "51s"}, 400, "INVALID_PARAMETER_VALUE"},
		{map[string]any{"warehouse_id": WarehouseID, "statement": "SELECT 1", "format": "ARROW_STREAM"}, 400, "INVALID_PARAMETER_VALUE"},
		{map[string]any{"warehouse_id": WarehouseID, "statement": "SELECT 1", "disposition": "STREAM"}, 400, "INVALID_PARAMETER_VALUE"},
		{map[string]any{"warehouse_id": WarehouseID, "statement": "SELECT 1", "parameters": []any{map[string]any{"value": "1"}}}, 400, "INVALID_PARAMETER_VALUE"},
		{map[string]any{"warehouse_id": "ffff", "statement": "SELECT 1"}, 404, "RESOURCE_DOES_NOT_EXIST"},
	} {
		status, _, out := c.do("POST", "/api/2.0/sql/statements", tc.body, "Bearer "+c.token)
		if status != tc.status || out["error_code"] != tc.code || out["message"] == "" {
			t.Errorf("%v: %d %v, want %d %s", tc.body, status, out, tc.status, tc.code)
		}
	}
	c.f.AddWarehouse("aaaa")
	c.f.RestrictWarehouse("aaaa", Admin)
	if status, _, out := c.do("POST", "/api/2.0/sql/statements", map[string]any{"warehouse_id": "aaaa", "statement": "SELECT 1"}, "Bearer "+c.token); status != 403 || out["error_code"] != "PERMISSION_DENIED" {
		t.Errorf("a warehouse without CAN USE: %d %v", status, out)
	}
}

// The documented answer to a statement with a syntax error, served by the fake in the
// same shape.
func TestFailedStatementMatchesTheDocs(t *testing.T) {
	_, c := newFake(t)
	raw, err := os.ReadFile("testdata/statement_failed_syntax_error.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden map[string]any
	if err := json.Unmarshal(raw, &golden); err != nil {
		t.Fatal(err)
	}
	out := c.exec(map[string]any{"statement": "SELECT FROM WHERE (", "wait_timeout": "5s"})
	if !sameKeys(golden, out) {
		t.Fatalf("shape %v, want the documented %v", out, golden)
	}
	gs, os := golden["status"].(map[string]any), out["status"].(map[string]any)
	if os["state"] != gs["state"] || os["error"].(map[string]any)["error_code"] != "BAD_REQUEST" ||
		!strings.HasPrefix(errMessage(out), "[PARSE_SYNTAX_ERROR] Syntax error at or near") || os["sql_state"] != "42601" {
		t.Fatalf("answer %v", out)
	}
}

// sameKeys reports whether got has every key of want, recursively (sql_state is extra).
func sameKeys(want, got map[string]any) bool {
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			return false
		}
		if wm, ok := v.(map[string]any); ok {
			gm, ok := g.(map[string]any)
			if !ok || !sameKeys(wm, gm) {
				return false
			}
		}
	}
	return true
}

func TestStatements(t *testing.T) {
	f, c := newFake(t)
	ok := c.exec(map[string]any{"statement": "SELECT id, name, :p1 AS p FROM main.sales.t WHERE id <= :p2 ORDER BY id", "wait_timeout": "10s",
		"parameters": []any{map[string]any{"name": "p1", "value": "x"}, map[string]any{"name": "p2", "value": "2", "type": "INT"}}})
	m := ok["manifest"].(map[string]any)
	cols := m["schema"].(map[string]any)["columns"].([]any)
	if state(ok) != Succeeded || m["format"] != "JSON_ARRAY" || m["total_row_count"] != 2.0 || cols[0].(map[string]any)["type_name"] != "INT" ||
		!reflect.DeepEqual(ok["result"].(map[string]any)["data_array"], []any{[]any{"1", "n1", "x"}, []any{"2", "n2", "x"}}) {
		t.Fatalf("statement: %v", ok)
	}

	for _, tc := range []struct {
		sql    string
		params []any
		class  string
	}{
		{"SELECT id FROM main.sales.t WHERE id = :p1", nil, "[UNBOUND_SQL_PARAMETER]"},
		{"SELECT id FROM main.sales.t WHERE id = :p1", []any{map[string]any{"name": "p1", "value": "abc", "type": "INT"}}, "[CAST_INVALID_INPUT]"},
		{"SELECT id FROM main.sales.t WHERE id = $1", nil, "[PARSE_SYNTAX_ERROR]"},
		{"SELECT id::text FROM main.sales.t", nil, "[PARSE_SYNTAX_ERROR]"},
		{"SELECT 1; SELECT 2", nil, "[PARSE_SYNTAX_ERROR]"},
		{"DROP TABLE main.sales.t", nil, "[UNSUPPORTED_FEATURE]"},
		{"SELECT pg_sleep(1)", nil, "[UNRESOLVED_ROUTINE]"},
		{"SELECT id FROM main.sales.nope", nil, "[TABLE_OR_VIEW_NOT_FOUND]"},
		{"SELECT CAST(id AS STRING) COLLATE UTF8_LCASE FROM main.sales.t", nil, "[COLLATION_INVALID_NAME]"},
	} {
		out := c.exec(map[string]any{"statement": tc.sql, "parameters": tc.params, "wait_timeout": "5s"})
		if state(out) != Failed || !strings.HasPrefix(errMessage(out), tc.class) {
			t.Errorf("%s: %s %q, want FAILED %s", tc.sql, state(out), errMessage(out), tc.class)
		}
	}

	// A double-quoted "name" is a string in Databricks, not a column.
	out := c.exec(map[string]any{"statement": `SELECT "id" AS v, 'it\'s' AS w FROM main.sales.t WHERE id = 1`, "wait_timeout": "5s"})
	if row := out["result"].(map[string]any)["data_array"].([]any)[0]; !reflect.DeepEqual(row, []any{"id", "it's"}) {
		t.Fatalf("string literals: %v", row)
	}

	// Grants: a table without SELECT, a catalog that does not exist.
	if _, err := f.Pool().Exec(context.Background(), `CREATE TABLE "main.sales".hidden (id int)`); err != nil {
		t.Fatal(err)
	}
	out = c.exec(map[string]any{"statement": "SELECT * FROM sales.hidden", "wait_timeout": "5s"})
	if want := "[INSUFFICIENT_PERMISSIONS] Insufficient privileges:\nUser does not have SELECT on Table 'main.sales.hidden'. SQLSTATE: 42501"; errMessage(out) != want {
		t.Fatalf("no SELECT: %q, want %q", errMessage(out), want)
	}
	out = c.exec(map[string]any{"statement": "SELECT 1", "catalog": "nope", "wait_timeout": "5s"})
	if !strings.HasPrefix(errMessage(out), "[NO_SUCH_CATALOG_EXCEPTION] Catalog 'nope' was not found.") {
		t.Fatalf("unknown catalog: %q", errMessage(out))
	}
	out = c.exec(map[string]any{"statement": "SELECT 1", "catalog": "main", "schema": "nope", "wait_timeout": "5s"})
	if !strings.HasPrefix(errMessage(out), "[SCHEMA_NOT_FOUND] The schema `main`.`nope` cannot be found.") {
		t.Fatalf("unknown schema: %q", errMessage(out))
	}
}

func TestAsyncChunksLinksAndCancel(t *testing.T) {
	f, c := newFake(t)
	f.SetChunkRows(10)
	// Asynchronous: PENDING at once, then polled.
	out := c.exec(map[string]any{"statement": "SELECT id FROM main.sales.t ORDER BY id", "wait_timeout": "0s", "disposition": "EXTERNAL_LINKS"})
	id := out["statement_id"].(string)
	if s := state(out); s != Pending && s != Running && s != Succeeded {
		t.Fatalf("state %s", s)
	}
	deadline := time.Now().Add(10 * time.Second)
	for state(out) != Succeeded && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		_, _, out = c.do("GET", "/api/2.0/sql/statements/"+id, nil, "Bearer "+c.token)
	}
	m := out["manifest"].(map[string]any)
	if m["total_chunk_count"] != 3.0 || m["total_row_count"] != 25.0 {
		t.Fatalf("manifest %v", m)
	}
	link := out["result"].(map[string]any)["external_links"].([]any)[0].(map[string]any)
	if link["next_chunk_index"] != 1.0 || link["next_chunk_internal_link"] != "/api/2.0/sql/statements/"+id+"/result/chunks/1" {
		t.Fatalf("link %v", link)
	}
	get := func(u, auth string) (int, string) {
		req, _ := http.NewRequest("GET", u, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	href := link["external_link"].(string)
	if status, body := get(href, ""); status != 200 || body != `[["1"],["2"],["3"],["4"],["5"],["6"],["7"],["8"],["9"],["10"]]` {
		t.Fatalf("chunk 0: %d %s", status, body)
	}
	if status, body := get(href, "Bearer "+c.token); status != 400 || !strings.Contains(body, "Only one auth mechanism allowed") {
		t.Fatalf("a link fetched with the workspace token: %d %s", status, body)
	}
	u, _ := url.Parse(href)
	q := u.Query()
	q.Set("X-Amz-Signature", strings.Repeat("0", 64))
	u.RawQuery = q.Encode()
	if status, body := get(u.String(), ""); status != 403 || !strings.Contains(body, "SignatureDoesNotMatch") {
		t.Fatalf("a forged link: %d %s", status, body)
	}
	_, _, chunk2 := c.do("GET", "/api/2.0/sql/statements/"+id+"/result/chunks/2", nil, "Bearer "+c.token)
	l2 := chunk2["external_links"].([]any)[0].(map[string]any)
	if l2["row_offset"] != 20.0 || l2["row_count"] != 5.0 || l2["next_chunk_index"] != nil {
		t.Fatalf("chunk 2: %v", chunk2)
	}
	if status, out, _ := c.do("GET", "/api/2.0/sql/statements/"+id+"/result/chunks/3", nil, "Bearer "+c.token); status != 400 {
		t.Fatalf("chunk 3 of 3: %d %v", status, out)
	}

	// A statement waiting for a stopped warehouse is cancelled.
	f.StopWarehouse(WarehouseID)
	f.SetStartDelay(10 * time.Second)
	out = c.exec(map[string]any{"statement": "SELECT 1", "wait_timeout": "0s"})
	if state(out) != Pending {
		t.Fatalf("a statement on a stopped warehouse: %s", state(out))
	}
	id = out["statement_id"].(string)
	if status, _, _ := c.do("POST", "/api/2.0/sql/statements/"+id+"/cancel", map[string]any{}, "Bearer "+c.token); status != 200 {
		t.Fatalf("cancel: %d", status)
	}
	_, _, out = c.do("GET", "/api/2.0/sql/statements/"+id, nil, "Bearer "+c.token)
	if state(out) != Canceled {
		t.Fatalf("after cancel: %v", out)
	}
}

func TestTranslate(t *testing.T) {
	for _, tc := range []struct{ in, out string }{
		{"SELECT CAST(`m`.`id` AS STRING) COLLATE UTF8_BINARY, `m`.`Nick \"x\"` FROM `main`.`sales`.`t` AS `m` WHERE `m`.`e` ILIKE :p1 ORDER BY 1",
			`SELECT CAST ( "m" . "id" AS text ) COLLATE "C" , "m" . "Nick ""x""" FROM "main.sales"."t" AS "m" WHERE "m" . "e" ILIKE CAST(CAST($1 AS text) AS text) ORDER BY 1`},
		{"SELECT count(*) FROM sales.t m WHERE m.at >= (current_timestamp() - make_dt_interval(CAST(:p2 AS INT)))",
			`SELECT count ( * ) FROM "main.sales"."t" m WHERE m . at >= ( now() - make_interval(days => CAST ( CAST(CAST($1 AS text) AS bigint) AS integer ) ) )`},
		{"WITH x AS (SELECT * FROM t) SELECT * FROM x, information_schema.tables",
			`WITH x AS ( SELECT * FROM "main.default"."t" ) SELECT * FROM "x" , "main.information_schema"."tables"`},
	} {
		st, err := translate(tc.in, "main", "default", map[string]string{"p2": "BIGINT"})
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if st.sql != tc.out {
			t.Errorf("%s\n got %s\nwant %s", tc.in, st.sql, tc.out)
		}
		if slices.Contains(st.params, "") {
			t.Errorf("an empty parameter name in %v", st.params)
		}
	}
}

func TestInlineResultsStopAt25MiB(t *testing.T) {
	f, c := newFake(t)
	if _, err := f.Pool().Exec(context.Background(), `CREATE TABLE "main.sales".big AS SELECT i AS id, repeat('x', 1 << 20) AS blob FROM generate_series(1, 30) AS i`); err != nil {
		t.Fatal(err)
	}
	if err := f.Grant(context.Background(), "u@example.com", Select, OnTable, "main.sales.big"); err != nil {
		t.Fatal(err)
	}
	out := c.exec(map[string]any{"statement": "SELECT * FROM main.sales.big", "wait_timeout": "50s"})
	if state(out) != Failed || !strings.HasPrefix(errMessage(out), "[RESULT_SIZE_EXCEEDED]") {
		t.Fatalf("30 MiB inline: %s %q", state(out), errMessage(out))
	}
	out = c.exec(map[string]any{"statement": "SELECT * FROM main.sales.big", "wait_timeout": "50s", "disposition": "EXTERNAL_LINKS"})
	if state(out) != Succeeded || out["manifest"].(map[string]any)["total_row_count"] != 30.0 {
		t.Fatalf("30 MiB as links: %v", out["status"])
	}
}
