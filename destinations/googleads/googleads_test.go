package googleads_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/destinations/googleads"
	fake "sluice/internal/fakes/googleads"
)

// Digests computed outside this code (printf '%s' value | sha256sum).
const (
	aliceHash = "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976" // alice@example.com
	phoneHash = "36a2cef4ff9bf7a1abd2a93359136b870393be4106e6c5d19b72ff564f9deca4" // +14155550123
	bobHash   = "686b5e4cf4f963adf8f51468a48028ef8d15bd02fa335f821279a3d1678c9615" // bob@example.org
)

func setup(t *testing.T, extra ...string) (*fake.Server, connectors.Destination) {
	t.Helper()
	srv := fake.New(fake.Options{})
	t.Cleanup(srv.Close)
	return srv, open(t, srv, extra...)
}

func open(t *testing.T, srv *fake.Server, extra ...string) connectors.Destination {
	t.Helper()
	cfg := connectors.Config{"developer_token": srv.DeveloperToken(), "customer_id": "123-456-7890"}
	for i := 0; i+1 < len(extra); i += 2 {
		cfg[extra[i]] = extra[i+1]
	}
	dest, err := googleads.New(googleads.Options{BaseURL: srv.URL, AllowPrivate: true}).Open(context.Background(), cfg, connectors.StaticToken(srv.AccessToken()))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { dest.Close() })
	return dest
}

func audience(records ...connectors.Record) connectors.Batch {
	return connectors.Batch{Action: googleads.ActionExportAudience, Settings: map[string]string{"user_list": "111"}, Records: records}
}

func adjustments(kind string, records ...connectors.Record) connectors.Batch {
	return connectors.Batch{Action: googleads.ActionAdjustConversions,
		Settings: map[string]string{"conversion_action": "222", "adjustment_type": kind}, Records: records}
}

func upsert(key string, fields map[string]any) connectors.Record {
	return connectors.Record{Key: key, Op: connectors.OpUpsert, Fields: fields}
}

// The Customer Match guide: "SHA-256 ... To standardize the hash results, prior to
// hashing one of these values make sure you: Remove leading and trailing whitespaces.
// Convert the text to lowercase. Format phone numbers according to the E164 standard."
// It publishes the rules, not digests: the digests here come from sha256sum.
func TestIdentifiersNormalizedAndHashedAsDocumented(t *testing.T) {
	cases := []struct{ in, normalized, hash string }{
		{"  Alice@Example.COM ", "alice@example.com", aliceHash},
		{"alice@example.com", "alice@example.com", aliceHash},
		{"BOB@example.org\t", "bob@example.org", bobHash},
	}
	for _, c := range cases {
		if got := googleads.NormalizeEmail(c.in); got != c.normalized {
			t.Errorf("NormalizeEmail(%q) = %q, want %q", c.in, got, c.normalized)
		}
		if got := googleads.Hash(googleads.NormalizeEmail(c.in)); got != c.hash {
			t.Errorf("hash of %q = %s, want %s", c.in, got, c.hash)
		}
	}
	if got := googleads.Hash(googleads.NormalizePhone(" +14155550123 ")); got != phoneHash {
		t.Errorf("hash of the phone = %s, want %s (E.164 with its +)", got, phoneHash)
	}
}

func TestExportAudienceHappyPath(t *testing.T) {
	srv, dest := setup(t)
	ctx := context.Background()
	res, err := dest.Write(ctx, audience(
		upsert("a", map[string]any{"email": " Alice@Example.COM ", "phone": "+14155550123"}),
		upsert("b", map[string]any{"email": "bob@example.org"}),
	))
	if err != nil || len(res.Rejected) > 0 {
		t.Fatalf("Write = %+v, %v", res, err)
	}
	got := srv.Members("1234567890", "111")
	want := []string{phoneHash, bobHash, aliceHash}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("the list holds %v, want %v", got, want)
	}
	// The wire format: one create job for the list, its operations, then run.
	reqs := srv.Took()
	if len(reqs) != 3 || !strings.HasSuffix(reqs[0].Path, "/v23/customers/1234567890/offlineUserDataJobs:create") ||
		!strings.HasSuffix(reqs[1].Path, ":addOperations") || !strings.HasSuffix(reqs[2].Path, ":run") {
		t.Fatalf("requests %v", paths(reqs))
	}
	var add struct {
		EnablePartialFailure bool `json:"enablePartialFailure"`
		Operations           []struct {
			Create struct {
				UserIdentifiers []map[string]string `json:"userIdentifiers"`
			} `json:"create"`
		} `json:"operations"`
	}
	if err := json.Unmarshal(reqs[1].Body, &add); err != nil || !add.EnablePartialFailure || len(add.Operations) != 2 ||
		add.Operations[0].Create.UserIdentifiers[0]["hashedEmail"] != aliceHash || add.Operations[0].Create.UserIdentifiers[1]["hashedPhoneNumber"] != phoneHash {
		t.Errorf("addOperations body %s", reqs[1].Body)
	}
	if h := reqs[0].Header; h.Get("Authorization") != "Bearer "+srv.AccessToken() || h.Get("developer-token") != srv.DeveloperToken() || h.Get("login-customer-id") != "" {
		t.Errorf("headers %v", h)
	}
	if res.Exchange == nil || res.Exchange.RequestHeaders["Authorization"] != "[redacted]" || res.Exchange.RequestHeaders["Developer-Token"] != "[redacted]" {
		t.Errorf("exchange headers %v", res.Exchange)
	}

	// Removals go in a job of their own: the service refuses both in one job.
	res, err = dest.Write(ctx, audience(
		connectors.Record{Key: "b", Op: connectors.OpRemove, Fields: map[string]any{"email": "bob@example.org"}},
		upsert("c", map[string]any{"phone": "+14155550123"}),
	))
	if err != nil || len(res.Rejected) > 0 {
		t.Fatalf("second Write = %+v, %v", res, err)
	}
	if got := srv.Members("1234567890", "111"); strings.Join(got, ",") != phoneHash+","+aliceHash {
		t.Errorf("after the removal the list holds %v", got)
	}
	if n := len(srv.Took()); n != 6 {
		t.Errorf("a batch of upserts and removals took %d requests, want 6 (two jobs)", n)
	}
}

func TestExportAudienceRecordWithoutIdentifierIsRejected(t *testing.T) {
	srv, dest := setup(t)
	res, err := dest.Write(context.Background(), audience(
		upsert("ok", map[string]any{"email": "alice@example.com"}),
		upsert("none", map[string]any{"email": ""}),
		upsert("badphone", map[string]any{"phone": "4155550123"}),
	))
	if err != nil {
		t.Fatal(err)
	}
	keys := rejectedKeys(res)
	if keys != "none,badphone" {
		t.Errorf("rejected %q, want none,badphone", keys)
	}
	if got := srv.Members("1234567890", "111"); len(got) != 1 || got[0] != aliceHash {
		t.Errorf("the list holds %v", got)
	}
}

func TestBatchLimits(t *testing.T) {
	srv, dest := setup(t)
	ctx := context.Background()
	var recs []connectors.Record
	for i := range googleads.AudienceBatchSize + 1 {
		recs = append(recs, upsert(fmt.Sprint(i), map[string]any{"email": fmt.Sprintf("u%d@example.com", i)}))
	}
	if _, err := dest.Write(ctx, audience(recs...)); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, r := range srv.Took() {
		if strings.HasSuffix(r.Path, ":addOperations") {
			sizes = append(sizes, r.Records)
		}
	}
	if fmt.Sprint(sizes) != "[10000 1]" {
		t.Errorf("addOperations carried %v operations, want [10000 1]", sizes)
	}
	if n := len(srv.Members("1234567890", "111")); n != googleads.AudienceBatchSize+1 {
		t.Errorf("the list holds %d members", n)
	}
	recs = nil
	for i := range googleads.AdjustmentBatchSize + 1 {
		recs = append(recs, upsert(fmt.Sprint(i), map[string]any{"order_id": "order-1", "adjustment_date_time": "2026-11-03T10:00:00Z", "restatement_value": 10.0}))
	}
	if _, err := dest.Write(ctx, adjustments("RESTATEMENT", recs...)); err != nil {
		t.Fatal(err)
	}
	sizes = nil
	for _, r := range srv.Took() {
		sizes = append(sizes, r.Records)
	}
	if fmt.Sprint(sizes) != "[2000 1]" {
		t.Errorf("uploads carried %v adjustments, want [2000 1]", sizes)
	}
}

// The seed's case: Google Ads rejecting a conversion adjustment whose order id is
// unknown, while the others of the batch go through.
func TestAdjustConversionsUnknownOrderIsRejected(t *testing.T) {
	srv, dest := setup(t)
	res, err := dest.Write(context.Background(), adjustments("RESTATEMENT",
		upsert("k1", map[string]any{"order_id": "order-1", "adjustment_date_time": "2026-11-03T10:00:00-08:00", "restatement_value": 70.5, "currency_code": "usd"}),
		upsert("k2", map[string]any{"order_id": "no-such-order", "adjustment_date_time": "2026-11-03T10:00:00Z", "restatement_value": 1.0}),
		upsert("k3", map[string]any{"order_id": "order-2", "adjustment_date_time": "2026-11-03T10:00:00Z", "restatement_value": 2.0}),
	))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rejected) != 1 || res.Rejected[0].Key != "k2" || !strings.Contains(res.Rejected[0].Message, "CONVERSION_NOT_FOUND") || !strings.Contains(res.Rejected[0].Message, "order ID") {
		t.Fatalf("rejected %+v, want k2 with CONVERSION_NOT_FOUND", res.Rejected)
	}
	got := srv.Adjustments("1234567890")
	if len(got) != 2 || got[0].OrderID != "order-1" || got[1].OrderID != "order-2" {
		t.Fatalf("stored %+v", got)
	}
	a := got[0]
	if a.AdjustmentType != "RESTATEMENT" || a.AdjustmentDateTime != "2026-11-03 10:00:00-08:00" || a.AdjustedValue == nil || *a.AdjustedValue != 70.5 ||
		a.CurrencyCode != "USD" || a.ConversionAction != "customers/1234567890/conversionActions/222" {
		t.Errorf("stored %+v", a)
	}
	// A retraction carries no value (the service refuses one).
	if res, err := dest.Write(context.Background(), adjustments("RETRACTION",
		upsert("k4", map[string]any{"order_id": "order-3", "adjustment_date_time": "2026-11-04T10:00:00Z", "restatement_value": 5.0}))); err != nil || len(res.Rejected) > 0 {
		t.Fatalf("retraction: %+v, %v", res, err)
	}
	if got := srv.Adjustments("1234567890"); len(got) != 3 || got[2].AdjustmentType != "RETRACTION" || got[2].AdjustedValue != nil {
		t.Errorf("retraction stored as %+v", got[len(got)-1])
	}
}

func TestErrors(t *testing.T) {
	one := audience(upsert("a", map[string]any{"email": "alice@example.com"}))
	cases := []struct {
		name      string
		prepare   func(*fake.Server)
		config    []string
		batch     connectors.Batch
		category  connectors.Category
		retryable bool
		field     string
		says      string
	}{
		{"revoked token", func(s *fake.Server) { s.Revoke() }, nil, one, connectors.CategoryCredentials, false, "", "Re-authorize the platform"},
		{"adwords scope not granted", func(s *fake.Server) { s.GrantScopes("openid") }, nil, one, connectors.CategoryCredentials, false, "", googleads.Scope},
		{"developer token for test accounts", func(s *fake.Server) { s.TestAccountsOnly() }, nil, one, connectors.CategoryCredentials, false, "developer_token", "DEVELOPER_TOKEN_NOT_APPROVED"},
		{"wrong developer token", nil, []string{"developer_token", "nope"}, one, connectors.CategoryCredentials, false, "developer_token", "developer token"},
		{"throttled", func(s *fake.Server) { s.FailNext(429) }, nil, one, connectors.CategoryRateLimit, true, "", "30s"},
		{"down", func(s *fake.Server) { s.Down(true) }, nil, one, connectors.CategoryConnection, true, "", "failed on its side"},
		{"internal error", func(s *fake.Server) { s.FailNext(500) }, nil, one, connectors.CategoryConnection, true, "", "failed on its side"},
		{"unknown account", nil, []string{"customer_id", "999-999-9999"}, one, connectors.CategoryNotFound, false, "customer_id", "999-999-9999"},
		{"deleted list", func(s *fake.Server) { s.DeleteUserList("1234567890", "111") }, nil, one, connectors.CategoryNotFound, false, "user_list", "does not exist"},
		{"unknown conversion action", nil, nil, connectors.Batch{Action: googleads.ActionAdjustConversions,
			Settings: map[string]string{"conversion_action": "999", "adjustment_type": "RETRACTION"},
			Records:  []connectors.Record{upsert("k", map[string]any{"order_id": "order-1", "adjustment_date_time": "2026-11-03T10:00:00Z"})}},
			connectors.CategoryNotFound, false, "conversion_action", "999"},
		{"manager account not named", func(s *fake.Server) { s.AddCustomer("5555555555", "Client", "7777777777") }, []string{"customer_id", "5555555555"}, one,
			connectors.CategoryCredentials, false, "login_customer_id", "login customer ID"},
		{"wrong manager account", func(s *fake.Server) { s.AddCustomer("5555555555", "Client", "7777777777") }, []string{"customer_id", "5555555555", "login_customer_id", "888-888-8888"}, one,
			connectors.CategoryCredentials, false, "login_customer_id", "888-888-8888"},
		{"list setting missing", nil, nil, connectors.Batch{Action: googleads.ActionExportAudience, Records: one.Records}, connectors.CategoryConfiguration, false, "user_list", "customer list"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := fake.New(fake.Options{})
			defer srv.Close()
			if c.prepare != nil {
				c.prepare(srv)
			}
			dest := open(t, srv, c.config...)
			_, err := dest.Write(context.Background(), c.batch)
			ce, ok := connectors.AsError(err)
			if !ok {
				t.Fatalf("Write = %v, want a connector error", err)
			}
			if ce.Category != c.category || ce.Retryable != c.retryable || ce.Field != c.field {
				t.Errorf("got %s retryable=%v field=%q, want %s %v %q: %v", ce.Category, ce.Retryable, ce.Field, c.category, c.retryable, c.field, ce)
			}
			if !strings.Contains(ce.Message, c.says) {
				t.Errorf("message %q does not say %q", ce.Message, c.says)
			}
			if c.category == connectors.CategoryRateLimit && ce.RetryAfter != 30*time.Second {
				t.Errorf("RetryAfter = %v, want the 30s of QuotaErrorDetails.retryDelay", ce.RetryAfter)
			}
			if c.name == "list setting missing" && len(srv.Requests()) > 0 {
				t.Errorf("a Write without its setting sent %d requests", len(srv.Requests()))
			}
			for _, secret := range []string{srv.AccessToken(), srv.DeveloperToken()} {
				if leaked(ce, secret) {
					t.Errorf("a secret shows in the error or its exchange: %+v %+v", ce, ce.Exchange)
				}
			}
		})
	}
}

func TestCheckAndOptions(t *testing.T) {
	srv, dest := setup(t)
	ctx := context.Background()
	if err := dest.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	srv.AddUserList("1234567890", fake.UserList{ID: "333", Name: "Lapsed buyers"})
	srv.AddUserList("1234567890", fake.UserList{ID: "444", Name: "Site visitors", Type: "RULE_BASED"})
	ol := dest.(connectors.OptionLister)
	opts, ok, err := ol.Options(ctx, googleads.ActionExportAudience, "user_list")
	if err != nil || !ok || fmt.Sprint(opts) != "[{111 VIP customers} {333 Lapsed buyers}]" {
		t.Errorf("user lists %v %v %v", opts, ok, err)
	}
	opts, ok, err = ol.Options(ctx, googleads.ActionAdjustConversions, "conversion_action")
	if err != nil || !ok || fmt.Sprint(opts) != "[{222 Purchases}]" {
		t.Errorf("conversion actions %v %v %v", opts, ok, err)
	}
	if _, ok, _ := ol.Options(ctx, googleads.ActionAdjustConversions, "adjustment_type"); ok {
		t.Error("adjustment_type has a fixed list; Options should not claim it")
	}
	srv.Revoke()
	if ce, ok := connectors.AsError(dest.Check(ctx)); !ok || ce.Category != connectors.CategoryCredentials {
		t.Errorf("Check with a revoked token = %v", ce)
	}
}

func TestRateLimitByAccessLevel(t *testing.T) {
	srv := fake.New(fake.Options{})
	defer srv.Close()
	for level, budget := range map[string]float64{"basic": 15000, "explorer": 2880} {
		perSecond, burst := connectors.RateLimitOf(googleads.New(googleads.Options{}).Spec(), open(t, srv, "access_level", level))
		day := googleads.RequestsPerWrite * (float64(burst) + perSecond*86400)
		if day > 0.95*budget+0.5 || day < 0.94*budget {
			t.Errorf("%s: %v requests a day at most, want just under 95%% of %v", level, day, budget)
		}
	}
}

func leaked(ce *connectors.Error, secret string) bool {
	texts := []string{ce.Error(), ce.Message, ce.Detail}
	if ex := ce.Exchange; ex != nil {
		texts = append(texts, ex.URL, ex.RequestBody, ex.ResponseBody)
		for k, v := range ex.RequestHeaders {
			texts = append(texts, k, v)
		}
	}
	for _, s := range texts {
		if strings.Contains(s, secret) {
			return true
		}
	}
	return false
}

func rejectedKeys(res *connectors.WriteResult) string {
	var keys []string
	for _, r := range res.Rejected {
		keys = append(keys, r.Key)
	}
	return strings.Join(keys, ",")
}

func paths(reqs []fake.Request) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.Path)
	}
	return out
}
