package snowflake_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"sluice/connectors"
	sffake "sluice/internal/fakes/snowflake"
	"sluice/sources/snowflake"
)

// TestAccountAddress: the account identifier as users copy it becomes the account's
// host and the JWT's account (upper case, without the region).
func TestAccountAddress(t *testing.T) {
	_, key, err := sffake.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ account, base, jwt string }{
		{"myorg-myaccount", "https://myorg-myaccount.snowflakecomputing.com", "MYORG-MYACCOUNT"},
		{"https://MyOrg-My_Account.snowflakecomputing.com/", "https://myorg-my-account.snowflakecomputing.com", "MYORG-MY_ACCOUNT"},
		{"xy12345.eu-west-1", "https://xy12345.eu-west-1.snowflakecomputing.com", "XY12345"},
	} {
		src, err := snowflake.New(snowflake.Options{}).Open(context.Background(), connectors.Config{
			"account": tc.account, "user": `"Mixed.Case"`, "private_key": key, "warehouse": "wh", "database": "db"})
		if err != nil {
			t.Fatalf("%s: %v", tc.account, err)
		}
		base, jwt, user := snowflake.BaseOf(src)
		if base != tc.base || jwt != tc.jwt || user != "MIXED.CASE" {
			t.Errorf("%s: %s, %s, %s", tc.account, base, jwt, user)
		}
	}
}

// TestRequestShape: what the connector sends is what the SQL API reference asks for:
// the headers, a JWT with the documented claims, the statement with its session and
// timeout, and bindings typed by value (the role left out when the form has none).
func TestRequestShape(t *testing.T) {
	keyRSA, key, err := sffake.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	var got *http.Request
	var body map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"resultSetMetaData":{"numRows":1,"format":"jsonv2","rowType":[{"name":"N","type":"fixed","scale":0}],"partitionInfo":[{"rowCount":1}]},"data":[["7"]],"code":"090001","sqlState":"00000","statementHandle":"h"}`))
	}))
	defer srv.Close()
	src, err := snowflake.New(snowflake.Options{BaseURL: srv.URL}).Open(context.Background(), connectors.Config{
		"account": "myorg-acct", "user": "reader", "private_key": key, "warehouse": "wh", "database": "db", "schema": "s"})
	if err != nil {
		t.Fatal(err)
	}
	var n any
	if err := src.Query(context.Background(), "SELECT ?, ?, ?, ?, ?", []any{int64(1), 2.5, true, "x", nil}, func(r []any) error { n = r[0]; return nil }); err != nil || n != int64(7) {
		t.Fatalf("%v %v", n, err)
	}
	if got.Method != "POST" || got.URL.Path != "/api/v2/statements" || got.URL.Query().Get("requestId") == "" {
		t.Errorf("request %s %s", got.Method, got.URL)
	}
	for h, want := range map[string]string{"X-Snowflake-Authorization-Token-Type": "KEYPAIR_JWT", "Accept": "application/json", "Content-Type": "application/json"} {
		if got.Header.Get(h) != want {
			t.Errorf("%s: %q", h, got.Header.Get(h))
		}
	}
	if got.Header.Get("User-Agent") == "" {
		t.Error("no User-Agent")
	}
	parts := strings.Split(strings.TrimPrefix(got.Header.Get("Authorization"), "Bearer "), ".")
	claims := map[string]any{}
	if len(parts) == 3 {
		b, _ := base64.RawURLEncoding.DecodeString(parts[1])
		_ = json.Unmarshal(b, &claims)
	}
	if claims["sub"] != "MYORG-ACCT.READER" || claims["iss"] != "MYORG-ACCT.READER."+sffake.Fingerprint(&keyRSA.PublicKey) ||
		claims["exp"].(float64)-claims["iat"].(float64) != 3600 {
		t.Errorf("claims %v", claims)
	}
	if _, ok := body["role"]; ok || body["warehouse"] != "WH" || body["database"] != "DB" || body["schema"] != "S" || body["timeout"] != 3600.0 {
		t.Errorf("body %v", body)
	}
	b, _ := json.Marshal(body["bindings"])
	if string(b) != `{"1":{"type":"FIXED","value":"1"},"2":{"type":"REAL","value":"2.5"},"3":{"type":"BOOLEAN","value":"true"},"4":{"type":"TEXT","value":"x"},"5":{"type":"TEXT","value":null}}` {
		t.Errorf("bindings %s", b)
	}
}
