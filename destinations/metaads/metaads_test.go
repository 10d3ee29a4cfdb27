package metaads_test

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/destinations/metaads"
	fake "sluice/internal/fakes/metaads"
)

func open(t *testing.T, f *fake.Server, account string, tokens connectors.Tokens) connectors.Destination {
	t.Helper()
	c := metaads.New(metaads.Options{BaseURL: f.URL, AllowPrivate: true})
	dest, err := c.Open(context.Background(), connectors.Config{"ad_account_id": account}, tokens)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { dest.Close() })
	return dest
}

func batch(records ...connectors.Record) connectors.Batch {
	return connectors.Batch{Action: metaads.ActionExportAudience, Settings: map[string]string{metaads.SettingAudience: audienceID}, Records: records}
}

func upsert(key string, fields map[string]any) connectors.Record {
	return connectors.Record{Key: key, Op: connectors.OpUpsert, Fields: fields}
}

// Expected hashes, computed apart from the code under test (printf %s VALUE | sha256sum).
const (
	hashAnnEmail = "71d4f55f72fa128dfb468a1a3901507c804b74316488744d769d7f4b16696476" // ann@example.com
	hashUSPhone  = "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176" // 16505551212
	hashBobEmail = "5ff860bf1190596c7188ab851db691f0f3169c453936e9e1eba2f9a47f7a0018" // bob@example.com
	hashUKPhone  = "033134b911b137918338415ee3d20a064b24773d36a3b02e8b99fdd3fcd6b4cd" // 447700900123
	hashJohn     = "96d9632f363564cc3032521409cf22a852f2032eec099ed5967c0d000cec607a" // john
	hashSmith    = "6627835f988e2c5e50533d491163072d3f4f41f5c8b04630150debb3722ca2dd" // smith
)

// The audience holds what was sent as Meta stores it: one row per person, each value the
// SHA-256 of the normalized identifier; a removal takes the row out again.
func TestWriteStoresHashedRows(t *testing.T) {
	f := newFake(t)
	dest := open(t, f, "act_"+accountID, connectors.StaticToken(userToken))
	res, err := dest.Write(context.Background(), batch(
		upsert("ann", map[string]any{"email": "Ann@Example.com ", "phone": "+1 (650) 555-1212", "first_name": "John", "last_name": "Smith"}),
		upsert("bob", map[string]any{"email": "bob@example.com"}),
		upsert("uk", map[string]any{"phone": "+447700900123"}),
	))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rejected) != 0 || res.Exchange == nil {
		t.Fatalf("rejected %v, exchange %v", res.Rejected, res.Exchange)
	}
	want := []map[string]string{
		{"EMAIL": hashAnnEmail, "PHONE": hashUSPhone, "FN": hashJohn, "LN": hashSmith},
		{"EMAIL": hashBobEmail},
		{"PHONE": hashUKPhone},
	}
	if got := f.Users(audienceID); !sameRows(got, want) {
		t.Errorf("the audience holds %v, want %v", got, want)
	}
	reqs := f.Received()
	if len(reqs) != 1 || reqs[0].Method != http.MethodPost || !reflect.DeepEqual(reqs[0].Schema, []string{"EMAIL", "PHONE", "FN", "LN"}) || reqs[0].Rows != 3 {
		t.Errorf("the fake received %+v", reqs)
	}
	_, err = dest.Write(context.Background(), batch(connectors.Record{Key: "bob", Op: connectors.OpRemove, Fields: map[string]any{"email": "bob@example.com"}}))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Users(audienceID); !sameRows(got, []map[string]string{want[0], want[2]}) {
		t.Errorf("after removing bob the audience holds %v", got)
	}
	if reqs := f.Received(); len(reqs) != 1 || reqs[0].Method != http.MethodDelete {
		t.Errorf("a removal reached the fake as %+v, want one DELETE", reqs)
	}
}

func sameRows(got, want []map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	left := append([]map[string]string(nil), want...)
	for _, g := range got {
		found := false
		for i, w := range left {
			if reflect.DeepEqual(g, w) {
				left = append(left[:i], left[i+1:]...)
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Meta's "Customer List Custom Audiences" normalization table:
//
//	EMAIL: "Trim leading and trailing white space and convert all characters to lowercase."
//	PHONE: "Remove symbols, letters, and any leading zeroes. You should prefix the country
//	        code if COUNTRY field is not specified."
//	FN/LN: "a-z only. Lowercase only, no punctuation. Special characters in UTF-8 format."
//
// and every value is sent as SHA-256 in lower-case hex, as in the reference's example
// payload ("9b431636bd164765d63c573c346708846af4f68fe3701a77a3bdd7e7e5166254"). The docs
// publish no plaintext with its hash, so the hashes below were computed with sha256sum.
func TestNormalizeAndHash(t *testing.T) {
	cases := []struct{ key, in, norm, hash string }{
		{"EMAIL", "  Ann@Example.COM\t", "ann@example.com", hashAnnEmail},
		{"PHONE", "+1 (650) 555-1212", "16505551212", hashUSPhone},
		{"PHONE", "0044 7700 900123", "447700900123", hashUKPhone},
		{"PHONE", "+44 7700-900123 ext", "447700900123", hashUKPhone},
		{"FN", " John ", "john", hashJohn},
		{"LN", "Smith-", "smith", hashSmith},
		{"FN", "Zoë", "zoë", ""},
	}
	for _, c := range cases {
		if got := metaads.Normalize(c.key, c.in); got != c.norm {
			t.Errorf("Normalize(%s, %q) = %q, want %q", c.key, c.in, got, c.norm)
		}
		if c.hash != "" {
			if got := metaads.Hash(c.norm); got != c.hash {
				t.Errorf("Hash(%q) = %s, want %s", c.norm, got, c.hash)
			}
		}
	}
	if got := metaads.Hash("x"); len(got) != 64 || strings.ToLower(got) != got {
		t.Errorf("Hash gives %q, want 64 lower-case hex characters", got)
	}
}

// A batch over 10,000 users goes in calls of at most 10,000.
func TestWriteSplitsAtTheDocumentedLimit(t *testing.T) {
	f := newFake(t)
	dest := open(t, f, accountID, connectors.StaticToken(userToken))
	var recs []connectors.Record
	for i := range 10001 {
		recs = append(recs, upsert(fmt.Sprint(i), map[string]any{"email": fmt.Sprintf("p%d@example.com", i)}))
	}
	if _, err := dest.Write(context.Background(), batch(recs...)); err != nil {
		t.Fatal(err)
	}
	reqs := f.Received()
	if len(reqs) != 2 || reqs[0].Rows != 10000 || reqs[1].Rows != 1 {
		t.Errorf("requests %+v, want 10,000 rows then 1", reqs)
	}
	if n := len(f.Users(audienceID)); n != 10001 {
		t.Errorf("the audience holds %d users, want 10,001", n)
	}
}

// Records without an identifier are rejected before sending; entries Meta samples as
// invalid are rejected by the record that carried them; the rest are stored.
func TestPerRecordRejections(t *testing.T) {
	f := newFake(t)
	f.MarkInvalid(hashBobEmail, "Invalid email format")
	dest := open(t, f, accountID, connectors.StaticToken(userToken))
	res, err := dest.Write(context.Background(), batch(
		upsert("ann", map[string]any{"email": "ann@example.com"}),
		upsert("bob", map[string]any{"email": "bob@example.com"}),
		upsert("nameless", map[string]any{"first_name": "John"}),
		upsert("empty", map[string]any{"email": "  "}),
	))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range res.Rejected {
		got[r.Key] = r.Message
	}
	if len(got) != 3 || got["nameless"] == "" || got["empty"] == "" || !strings.Contains(got["bob"], "Invalid email format") {
		t.Errorf("rejected %v, want nameless, empty and bob (with Meta's reason)", res.Rejected)
	}
	if rows := f.Users(audienceID); len(rows) != 1 || rows[0]["EMAIL"] != hashAnnEmail {
		t.Errorf("the audience holds %v, want ann only", rows)
	}
	if reqs := f.Received(); len(reqs) != 1 || reqs[0].Rows != 2 {
		t.Errorf("requests %+v, want one of 2 rows (the records without identifiers never sent)", reqs)
	}
}

func wantError(t *testing.T, err error, cat connectors.Category, retryable bool, field string) *connectors.Error {
	t.Helper()
	ce, ok := connectors.AsError(err)
	if !ok {
		t.Fatalf("error %v is not a connector error", err)
	}
	if ce.Category != cat || ce.Retryable != retryable || ce.Field != field || ce.Message == "" {
		t.Errorf("error %s retryable=%v field=%q (%q), want %s retryable=%v field=%q", ce.Category, ce.Retryable, ce.Field, ce.Message, cat, retryable, field)
	}
	return ce
}

func TestRevokedToken(t *testing.T) {
	f := newFake(t)
	dest := open(t, f, accountID, connectors.StaticToken(userToken))
	f.RevokeToken(userToken)
	_, err := dest.Write(context.Background(), batch(upsert("ann", map[string]any{"email": "ann@example.com"})))
	ce := wantError(t, err, connectors.CategoryCredentials, false, "")
	if !strings.Contains(ce.Message, "Re-authorize") || !strings.Contains(ce.Detail, "190") {
		t.Errorf("message %q detail %q", ce.Message, ce.Detail)
	}
	wantError(t, dest.Check(context.Background()), connectors.CategoryCredentials, false, "")
}

func TestUnauthorized401(t *testing.T) {
	f := newFake(t)
	dest := open(t, f, accountID, connectors.StaticToken(userToken))
	f.FailNext(http.StatusUnauthorized)
	_, err := dest.Write(context.Background(), batch(upsert("ann", map[string]any{"email": "ann@example.com"})))
	wantError(t, err, connectors.CategoryCredentials, false, "")
}

// A token without ads_management: the error names the permission to grant.
func TestMissingPermission(t *testing.T) {
	f := newFake(t)
	f.AddToken("readonly-token", "ads_read")
	dest := open(t, f, accountID, connectors.StaticToken("readonly-token"))
	_, err := dest.Write(context.Background(), batch(upsert("ann", map[string]any{"email": "ann@example.com"})))
	ce := wantError(t, err, connectors.CategoryCredentials, false, "")
	if !strings.Contains(ce.Message, "ads_management") {
		t.Errorf("message %q does not name ads_management", ce.Message)
	}
	ce = wantError(t, dest.Check(context.Background()), connectors.CategoryCredentials, false, "")
	if !strings.Contains(ce.Message, "ads_management") {
		t.Errorf("Check's message %q does not name ads_management", ce.Message)
	}
	f.FailNext(http.StatusForbidden)
	wantError(t, dest.Check(context.Background()), connectors.CategoryCredentials, false, "")
}

func TestRateLimited(t *testing.T) {
	f := newFake(t)
	dest := open(t, f, accountID, connectors.StaticToken(userToken))
	rec := upsert("ann", map[string]any{"email": "ann@example.com"})
	f.FailNext(http.StatusTooManyRequests) // Retry-After: 7
	_, err := dest.Write(context.Background(), batch(rec))
	if ce := wantError(t, err, connectors.CategoryRateLimit, true, ""); ce.RetryAfter != 7*time.Second {
		t.Errorf("RetryAfter %v, want 7s from Retry-After", ce.RetryAfter)
	}
	// The ad account's score spent: error 17 and the business use case header's
	// estimated_time_to_regain_access, in minutes.
	f.SetLimit(fake.Limit{MaxScore: 4, Decay: time.Hour, Block: 2 * time.Minute, ReadScore: 1, WriteScore: 3})
	if _, err := dest.Write(context.Background(), batch(rec)); err != nil {
		t.Fatalf("the first write within the score: %v", err)
	}
	_, err = dest.Write(context.Background(), batch(rec))
	if ce := wantError(t, err, connectors.CategoryRateLimit, true, ""); ce.RetryAfter != 2*time.Minute {
		t.Errorf("RetryAfter %v, want 2m from estimated_time_to_regain_access", ce.RetryAfter)
	}
	if _, throttled := f.Counts(); throttled != 2 {
		t.Errorf("the fake throttled %d requests, want 2", throttled)
	}
}

func TestServiceDown(t *testing.T) {
	f := newFake(t)
	dest := open(t, f, accountID, connectors.StaticToken(userToken))
	f.SetDown(true)
	_, err := dest.Write(context.Background(), batch(upsert("ann", map[string]any{"email": "ann@example.com"})))
	wantError(t, err, connectors.CategoryConnection, true, "")
	f.SetDown(false)
	f.FailNext(http.StatusBadGateway)
	wantError(t, dest.Check(context.Background()), connectors.CategoryConnection, true, "")
}

func TestNotFound(t *testing.T) {
	f := newFake(t)
	dest := open(t, f, accountID, connectors.StaticToken(userToken))
	f.DeleteAudience(audienceID)
	_, err := dest.Write(context.Background(), batch(upsert("ann", map[string]any{"email": "ann@example.com"})))
	if ce := wantError(t, err, connectors.CategoryNotFound, false, metaads.SettingAudience); !strings.Contains(ce.Message, audienceID) {
		t.Errorf("message %q does not name the audience", ce.Message)
	}
	// An audience deleted after the run checked it: the users call's own 100/33.
	f.AddAudience(accountID, audienceID, "VIP customers")
	if _, err := dest.Write(context.Background(), batch(upsert("ann", map[string]any{"email": "ann@example.com"}))); err != nil {
		t.Fatal(err)
	}
	f.DeleteAudience(audienceID)
	_, err = dest.Write(context.Background(), batch(upsert("ann", map[string]any{"email": "ann@example.com"})))
	if ce := wantError(t, err, connectors.CategoryNotFound, false, metaads.SettingAudience); !strings.Contains(ce.Message, "“VIP customers” (id "+audienceID+")") {
		t.Errorf("message %q does not name the audience by its name", ce.Message)
	}

	gone := open(t, f, "act_424242", connectors.StaticToken(userToken))
	if ce := wantError(t, gone.Check(context.Background()), connectors.CategoryNotFound, false, "ad_account_id"); !strings.Contains(ce.Message, "act_424242") {
		t.Errorf("message %q does not name the ad account", ce.Message)
	}
	_, _, err = gone.(connectors.OptionLister).Options(context.Background(), metaads.ActionExportAudience, metaads.SettingAudience)
	wantError(t, err, connectors.CategoryNotFound, false, "ad_account_id")
}

// An audience of another ad account, or one that takes no users, is a setting to fix.
func TestAudienceOfAnotherKindOrAccount(t *testing.T) {
	f := newFake(t)
	f.AddAccount("555", "Other")
	f.AddAudience("555", "777", "Theirs")
	f.AddAudienceOf(accountID, "888", "Site visitors", "WEBSITE")
	dest := open(t, f, accountID, connectors.StaticToken(userToken))
	b := batch(upsert("ann", map[string]any{"email": "ann@example.com"}))
	b.Settings[metaads.SettingAudience] = "777"
	_, err := dest.Write(context.Background(), b)
	wantError(t, err, connectors.CategoryNotFound, false, metaads.SettingAudience)
	b.Settings[metaads.SettingAudience] = "888"
	_, err = dest.Write(context.Background(), b)
	wantError(t, err, connectors.CategoryConfiguration, false, metaads.SettingAudience)
	b.Settings[metaads.SettingAudience] = "VIP"
	_, err = dest.Write(context.Background(), b)
	wantError(t, err, connectors.CategoryConfiguration, false, metaads.SettingAudience)
	if reqs := f.Received(); len(reqs) != 0 {
		t.Errorf("users calls were sent: %+v", reqs)
	}
}

// The audience choices are the account's customer lists, over every page.
func TestOptionsListCustomerLists(t *testing.T) {
	f := newFake(t)
	for i := range 600 {
		f.AddAudience(accountID, fmt.Sprintf("3%05d", i), fmt.Sprintf("List %d", i))
	}
	f.AddAudienceOf(accountID, "999999", "Lookalike", "LOOKALIKE")
	dest := open(t, f, accountID, connectors.StaticToken(userToken))
	opts, ok, err := dest.(connectors.OptionLister).Options(context.Background(), metaads.ActionExportAudience, metaads.SettingAudience)
	if err != nil || !ok {
		t.Fatalf("Options: %v %v", ok, err)
	}
	if len(opts) != 601 {
		t.Errorf("%d options, want 601 customer lists", len(opts))
	}
	for _, o := range opts {
		if o.Value == "999999" {
			t.Error("a lookalike audience is offered")
		}
		if o.Value == audienceID && o.Label != "VIP customers ("+audienceID+")" {
			t.Errorf("label %q", o.Label)
		}
	}
	if _, ok, _ := dest.(connectors.OptionLister).Options(context.Background(), metaads.ActionExportAudience, "other"); ok {
		t.Error("a setting without choices says it has some")
	}
}

func TestSettingRequired(t *testing.T) {
	f := newFake(t)
	dest := open(t, f, accountID, connectors.StaticToken(userToken))
	b := batch(upsert("ann", map[string]any{"email": "ann@example.com"}))
	delete(b.Settings, metaads.SettingAudience)
	_, err := dest.Write(context.Background(), b)
	wantError(t, err, connectors.CategoryConfiguration, false, metaads.SettingAudience)
	if requests, _ := f.Counts(); requests != 0 {
		t.Errorf("%d requests were sent", requests)
	}
}

// The access token never shows in an error, its detail or an Exchange: it travels in
// the Authorization header, which Exchanges redact.
func TestTokenNeverShows(t *testing.T) {
	f := newFake(t)
	dest := open(t, f, accountID, connectors.StaticToken(userToken))
	res, err := dest.Write(context.Background(), batch(upsert("ann", map[string]any{"email": "ann@example.com"})))
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, ex *connectors.Exchange) {
		if ex == nil {
			t.Errorf("%s: no exchange", what)
			return
		}
		if ex.RequestHeaders["Authorization"] != "[redacted]" {
			t.Errorf("%s: Authorization header shown as %q", what, ex.RequestHeaders["Authorization"])
		}
		for _, s := range []string{ex.URL, ex.RequestBody, ex.ResponseBody, fmt.Sprint(ex.RequestHeaders)} {
			if strings.Contains(s, userToken) {
				t.Errorf("%s: the token shows in %q", what, s)
			}
		}
	}
	check("a write", res.Exchange)
	for _, fail := range []func(){func() { f.FailNext(http.StatusUnauthorized) }, func() { f.FailNext(http.StatusTooManyRequests) }, func() { f.RevokeToken(userToken) }} {
		fail()
		_, err := dest.Write(context.Background(), batch(upsert("ann", map[string]any{"email": "ann@example.com"})))
		ce, ok := connectors.AsError(err)
		if !ok {
			t.Fatalf("error %v", err)
		}
		if strings.Contains(ce.Error(), userToken) || strings.Contains(ce.Message, userToken) || strings.Contains(ce.Detail, userToken) {
			t.Errorf("the token shows in %v", ce)
		}
		check("a failure", ce.Exchange)
	}
}

// Meta's OAuth: Facebook Login's dialog and token endpoints of the API version, asking
// for ads_management.
func TestSpec(t *testing.T) {
	spec := metaads.New(metaads.Options{}).Spec()
	o := spec.OAuth
	if spec.Auth != connectors.AuthOAuth || o == nil || o.Provider != "meta" ||
		o.AuthURL != "https://www.facebook.com/v25.0/dialog/oauth" || o.TokenURL != "https://graph.facebook.com/v25.0/oauth/access_token" ||
		!reflect.DeepEqual(o.Scopes, []string{"ads_management"}) {
		t.Errorf("OAuth %+v", o)
	}
	// Burst + rate·300 s stays within 95% of the 3,000 writes the score allows per window.
	if calls := float64(spec.Burst) + spec.RequestsPerSecond*300; calls > 0.95*3000 || calls < 0.9*3000 {
		t.Errorf("%v calls per 300 s window, want 90-95%% of 3,000", calls)
	}
}
