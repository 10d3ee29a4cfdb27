package braze_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/destinations/braze"
	fakebraze "sluice/internal/fakes/braze"
)

func TestSyncUsersStoresProfiles(t *testing.T) {
	f := fakebraze.New(t, testKey)
	d := open(t, f)
	res, err := d.Write(context.Background(), connectors.Batch{Action: braze.ActionSyncUsers, Records: []connectors.Record{
		upsert("c-1", map[string]any{"external_id": "u-1", "email": "ada@example.com", "phone": "+15043277269",
			"first_name": "Ada", "dob": "1988-02-14T00:00:00Z", "lifetime_value": 120.5, "vip": true}),
		upsert("c-2", map[string]any{"external_id": "u-2", "first_name": "Grace <&>"}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rejected) != 0 {
		t.Errorf("rejected %v", res.Rejected)
	}
	u, ok := f.User("external_id:u-1")
	if !ok {
		t.Fatal("Braze holds no profile for u-1")
	}
	want := map[string]any{"external_id": "u-1", "email": "ada@example.com", "phone": "+15043277269", "first_name": "Ada",
		"dob": "1988-02-14", "lifetime_value": json.Number("120.5"), "vip": true}
	if !reflect.DeepEqual(u, want) {
		t.Errorf("profile u-1 = %v\nwant %v", u, want)
	}
	if u, _ := f.User("external_id:u-2"); u["first_name"] != "Grace <&>" {
		t.Errorf("profile u-2 = %v", u)
	}
	reqs := tracked(f.Received())
	if len(reqs) != 1 {
		t.Fatalf("%d requests to /users/track, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer "+testKey || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s with headers %v", r.Method, r.Header)
	}
	if res.Exchange == nil || res.Exchange.RequestHeaders["Authorization"] != "[redacted]" || res.Exchange.StatusCode != http.StatusCreated {
		t.Errorf("exchange %+v", res.Exchange)
	}
	if !strings.Contains(res.Exchange.ResponseBody, `"attributes_processed":2`) {
		t.Errorf("exchange answer %s", res.Exchange.ResponseBody)
	}
}

func TestSyncUsersMatchByEmail(t *testing.T) {
	f := fakebraze.New(t, testKey)
	d := open(t, f)
	_, err := d.Write(context.Background(), connectors.Batch{Action: braze.ActionSyncUsers,
		Settings: map[string]string{braze.SettingMatchBy: braze.MatchEmail},
		Records:  []connectors.Record{upsert("c-1", map[string]any{"email": "ada@example.com", "external_id": "u-1", "plan": "pro"})}})
	if err != nil {
		t.Fatal(err)
	}
	u, ok := f.User("email:ada@example.com")
	if !ok || u["plan"] != "pro" {
		t.Fatalf("profile by e-mail = %v, %v", u, ok)
	}
	if _, has := u["external_id"]; has {
		t.Error("matched by e-mail, the external_id was sent too: Braze would have matched by it")
	}
	if _, ok := f.User("external_id:u-1"); ok {
		t.Error("a profile was made by external_id")
	}
}

// The identifiers go as "Track users" documents them for /users/track: in clear, the
// e-mail as given and the phone in E.164. Its examples: "email": "test@braze.com"
// ("Update a user profile by email address") and "phone": "+15043277269" ("Update a
// user profile by phone number"). Braze documents no hashing for this endpoint.
func TestIdentifiersSentAsDocumented(t *testing.T) {
	f := fakebraze.New(t, testKey)
	d := open(t, f)
	_, err := d.Write(context.Background(), connectors.Batch{Action: braze.ActionSyncUsers,
		Settings: map[string]string{braze.SettingMatchBy: braze.MatchEmail},
		Records:  []connectors.Record{upsert("c-1", map[string]any{"email": "test@braze.com", "phone": "+15043277269"})}})
	if err != nil {
		t.Fatal(err)
	}
	reqs := tracked(f.Received())
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	if want := `{"attributes":[{"email":"test@braze.com","phone":"+15043277269"}]}`; string(reqs[0].Body) != want {
		t.Errorf("body %s\nwant %s", reqs[0].Body, want)
	}
	if _, ok := f.User("email:test@braze.com"); !ok {
		t.Error("Braze found no profile by the documented e-mail")
	}
}

func TestExportListAddsAndRemoves(t *testing.T) {
	f := fakebraze.New(t, testKey)
	d := open(t, f)
	ctx := context.Background()
	settings := map[string]string{braze.SettingAttribute: "audiences", braze.SettingValue: "VIP"}
	if _, err := d.Write(ctx, connectors.Batch{Action: braze.ActionExportList, Settings: settings, Records: []connectors.Record{
		upsert("c-1", map[string]any{"external_id": "u-1"}),
		upsert("c-2", map[string]any{"external_id": "u-2"}),
	}}); err != nil {
		t.Fatal(err)
	}
	// Another activation keeps another audience in the same attribute.
	if _, err := d.Write(ctx, connectors.Batch{Action: braze.ActionExportList,
		Settings: map[string]string{braze.SettingAttribute: "audiences", braze.SettingValue: "Churn risk"},
		Records:  []connectors.Record{upsert("c-1", map[string]any{"external_id": "u-1"})}}); err != nil {
		t.Fatal(err)
	}
	f.Received()
	if _, err := d.Write(ctx, connectors.Batch{Action: braze.ActionExportList, Settings: settings, Records: []connectors.Record{
		remove("c-1", map[string]any{"external_id": "u-1"}),
		remove("c-9", map[string]any{"external_id": "never-seen"}),
	}}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string][]any{"u-1": {"Churn risk"}, "u-2": {"VIP"}} {
		u, _ := f.User("external_id:" + id)
		if !reflect.DeepEqual(u["audiences"], want) {
			t.Errorf("%s audiences = %v, want %v", id, u["audiences"], want)
		}
	}
	if _, ok := f.User("external_id:never-seen"); ok {
		t.Error("removing someone Braze did not know created a profile")
	}
	reqs := tracked(f.Received())
	want := `{"attributes":[{"_update_existing_only":true,"audiences":{"remove":["VIP"]},"external_id":"u-1"},` +
		`{"_update_existing_only":true,"audiences":{"remove":["VIP"]},"external_id":"never-seen"}]}`
	if len(reqs) != 1 || string(reqs[0].Body) != want {
		t.Errorf("removal requests %d, body %s\nwant %s", len(reqs), reqs[0].Body, want)
	}
}

func TestBatchIsSplitIn75s(t *testing.T) {
	f := fakebraze.New(t, testKey)
	d := open(t, f)
	var recs []connectors.Record
	for i := range 160 {
		recs = append(recs, upsert(fmt.Sprintf("c-%d", i), map[string]any{"external_id": fmt.Sprintf("u-%d", i), "n": i}))
	}
	res, err := d.Write(context.Background(), connectors.Batch{Action: braze.ActionSyncUsers, Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, r := range tracked(f.Received()) {
		sizes = append(sizes, r.Objects)
	}
	if !reflect.DeepEqual(sizes, []int{75, 75, 10}) {
		t.Errorf("requests of %v objects, want [75 75 10]", sizes)
	}
	if f.Users() != 160 || len(res.Rejected) != 0 {
		t.Errorf("%d profiles, %d rejected; want 160, 0", f.Users(), len(res.Rejected))
	}
}

func TestRejectedByIndex(t *testing.T) {
	f := fakebraze.New(t, testKey)
	f.BlockExternalID("u-1")
	f.BlockExternalID("u-77")
	d := open(t, f)
	var recs []connectors.Record
	for i := range 80 {
		recs = append(recs, upsert(fmt.Sprintf("c-%d", i), map[string]any{"external_id": fmt.Sprintf("u-%d", i)}))
	}
	recs[5].Fields = map[string]any{"email": "no-id@example.com"} // no external ID: refused before sending
	res, err := d.Write(context.Background(), connectors.Batch{Action: braze.ActionSyncUsers, Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range res.Rejected {
		got[r.Key] = r.Message
	}
	if len(got) != 3 || got["c-1"] == "" || got["c-77"] == "" || got["c-5"] == "" {
		t.Fatalf("rejected %v, want c-1, c-5 and c-77", res.Rejected)
	}
	if !strings.Contains(got["c-77"], "provided external_id is blacklisted and disallowed") || !strings.Contains(got["c-77"], "dummy user") {
		t.Errorf("message %q", got["c-77"])
	}
	if !strings.Contains(got["c-5"], "external ID") {
		t.Errorf("message %q", got["c-5"])
	}
	if f.Users() != 77 {
		t.Errorf("%d profiles, want 77", f.Users())
	}
}

func TestUnauthorized(t *testing.T) {
	f := fakebraze.New(t, testKey)
	d := open(t, f)
	f.Revoke()
	ctx := context.Background()
	for name, err := range map[string]error{
		"Check": d.Check(ctx),
		"Write": func() error {
			_, err := d.Write(ctx, connectors.Batch{Action: braze.ActionSyncUsers, Records: []connectors.Record{upsert("c-1", map[string]any{"external_id": "u-1"})}})
			return err
		}(),
	} {
		ce := mustError(t, err)
		if ce.Category != connectors.CategoryCredentials || ce.Retryable || ce.Field != "api_key" {
			t.Errorf("%s: %s retryable %v field %q", name, ce.Category, ce.Retryable, ce.Field)
		}
		if !strings.Contains(ce.Message, "refused the REST API key") || !strings.Contains(ce.Message, f.URL) {
			t.Errorf("%s: message %q", name, ce.Message)
		}
		if !strings.Contains(ce.Detail, fakebraze.MsgUnauthorized) {
			t.Errorf("%s: detail %q lacks Braze's answer", name, ce.Detail)
		}
	}
}

func TestForbiddenNamesThePermission(t *testing.T) {
	f := fakebraze.New(t, testKey)
	d := open(t, f)
	ctx := context.Background()
	f.SetPermissions(fakebraze.PermCustomAttributesGet)
	_, err := d.Write(ctx, connectors.Batch{Action: braze.ActionSyncUsers, Records: []connectors.Record{upsert("c-1", map[string]any{"external_id": "u-1"})}})
	ce := mustError(t, err)
	if ce.Category != connectors.CategoryCredentials || ce.Retryable || ce.Field != "api_key" || !strings.Contains(ce.Message, "users.track permission") {
		t.Errorf("Write without users.track: %s %v %q %q", ce.Category, ce.Retryable, ce.Field, ce.Message)
	}
	f.SetPermissions(fakebraze.PermUsersTrack)
	ce = mustError(t, d.Check(ctx))
	if ce.Category != connectors.CategoryCredentials || !strings.Contains(ce.Message, "custom_attributes.get permission") {
		t.Errorf("Check without custom_attributes.get: %s %q", ce.Category, ce.Message)
	}
	// Without it, export_list cannot look at its attribute but still writes.
	if _, err := d.Write(ctx, connectors.Batch{Action: braze.ActionExportList,
		Settings: map[string]string{braze.SettingAttribute: "audiences", braze.SettingValue: "VIP"},
		Records:  []connectors.Record{upsert("c-1", map[string]any{"external_id": "u-1"})}}); err != nil {
		t.Errorf("export_list without custom_attributes.get: %v", err)
	}
}

func TestRateLimited(t *testing.T) {
	f := fakebraze.New(t, testKey)
	d := open(t, f)
	f.SetRateLimit(2, 3*time.Second)
	ctx := context.Background()
	b := connectors.Batch{Action: braze.ActionSyncUsers, Records: []connectors.Record{upsert("c-1", map[string]any{"external_id": "u-1"})}}
	var err error
	for range 6 { // two windows at most, should the requests straddle a window's end

		if _, err = d.Write(ctx, b); err != nil {
			break
		}
	}
	ce := mustError(t, err)
	if ce.Category != connectors.CategoryRateLimit || !ce.Retryable {
		t.Fatalf("%s retryable %v, want rate_limit retryable", ce.Category, ce.Retryable)
	}
	// X-RateLimit-Reset is the end of the three-second window, in whole seconds.
	if ce.RetryAfter < time.Second || ce.RetryAfter > 4*time.Second {
		t.Errorf("RetryAfter %v, want the rest of the window (1 to 4 s)", ce.RetryAfter)
	}
	if _, throttled := f.Counts(); throttled != 1 {
		t.Errorf("the fake answered %d requests 429, want 1", throttled)
	}
	// A Retry-After, when Braze sends one, is taken as it is.
	f.FailNext(http.StatusTooManyRequests, `{"message":"Over rate limit"}`)
	_, err = d.Write(ctx, b)
	if ce := mustError(t, err); ce.Category != connectors.CategoryRateLimit || ce.RetryAfter != time.Second {
		t.Errorf("429 without headers: %s RetryAfter %v, want a second", ce.Category, ce.RetryAfter)
	}
}

func TestServerErrorsAreRetryable(t *testing.T) {
	f := fakebraze.New(t, testKey)
	d := open(t, f)
	f.SetDown(true)
	_, err := d.Write(context.Background(), connectors.Batch{Action: braze.ActionSyncUsers, Records: []connectors.Record{upsert("c-1", map[string]any{"external_id": "u-1"})}})
	if ce := mustError(t, err); ce.Category != connectors.CategoryConnection || !ce.Retryable {
		t.Errorf("down: %s retryable %v", ce.Category, ce.Retryable)
	}
	if ce := mustError(t, d.Check(context.Background())); ce.Category != connectors.CategoryConnection || !ce.Retryable {
		t.Errorf("Check while down: %s retryable %v", ce.Category, ce.Retryable)
	}
}

func TestNotFound(t *testing.T) {
	f := fakebraze.New(t, testKey)
	d := open(t, f)
	ctx := context.Background()
	one := []connectors.Record{upsert("c-1", map[string]any{"external_id": "u-1"})}

	// Braze's fatal errors table: 404 is an unknown REST API key, as at another instance.
	f.FailNext(http.StatusNotFound, `{"message":"Unknown REST API Key"}`)
	_, err := d.Write(ctx, connectors.Batch{Action: braze.ActionSyncUsers, Records: one})
	ce := mustError(t, err)
	if ce.Category != connectors.CategoryNotFound || ce.Field != "rest_endpoint" || !strings.Contains(ce.Message, f.URL) {
		t.Errorf("404: %s field %q message %q", ce.Category, ce.Field, ce.Message)
	}

	// The audience's attribute, blocklisted: Braze would drop every value.
	f.Blocklist("audiences")
	f.Received()
	_, err = d.Write(ctx, connectors.Batch{Action: braze.ActionExportList,
		Settings: map[string]string{braze.SettingAttribute: "audiences", braze.SettingValue: "VIP"}, Records: one})
	ce = mustError(t, err)
	if ce.Category != connectors.CategoryNotFound || ce.Field != braze.SettingAttribute || !strings.Contains(ce.Message, "“audiences”") {
		t.Errorf("blocklisted attribute: %s field %q message %q", ce.Category, ce.Field, ce.Message)
	}
	if n := len(tracked(f.Received())); n != 0 {
		t.Errorf("%d requests reached /users/track for a blocklisted attribute", n)
	}

	// An attribute of another type cannot hold an audience.
	f.DefineAttribute("plan", "String")
	_, err = d.Write(ctx, connectors.Batch{Action: braze.ActionExportList,
		Settings: map[string]string{braze.SettingAttribute: "plan", braze.SettingValue: "VIP"}, Records: one})
	ce = mustError(t, err)
	if ce.Category != connectors.CategoryConfiguration || ce.Field != braze.SettingAttribute || !strings.Contains(ce.Message, "String") {
		t.Errorf("string attribute: %s field %q message %q", ce.Category, ce.Field, ce.Message)
	}
}

func TestSettingsCheckedBeforeSending(t *testing.T) {
	f := fakebraze.New(t, testKey)
	d := open(t, f)
	one := []connectors.Record{upsert("c-1", map[string]any{"external_id": "u-1"})}
	cases := []struct {
		action   string
		settings map[string]string
		field    string
	}{
		{braze.ActionExportList, map[string]string{braze.SettingValue: "VIP"}, braze.SettingAttribute},
		{braze.ActionExportList, map[string]string{braze.SettingAttribute: "audiences"}, braze.SettingValue},
		{braze.ActionExportList, map[string]string{braze.SettingAttribute: "$audiences", braze.SettingValue: "VIP"}, braze.SettingAttribute},
		{braze.ActionSyncUsers, map[string]string{braze.SettingMatchBy: "phone"}, braze.SettingMatchBy},
	}
	for _, tc := range cases {
		_, err := d.Write(context.Background(), connectors.Batch{Action: tc.action, Settings: tc.settings, Records: one})
		if ce := mustError(t, err); ce.Category != connectors.CategoryConfiguration || ce.Field != tc.field {
			t.Errorf("%s %v: %s field %q, want configuration on %s", tc.action, tc.settings, ce.Category, ce.Field, tc.field)
		}
	}
	_, err := d.Write(context.Background(), connectors.Batch{Action: braze.ActionSyncUsers, Records: []connectors.Record{remove("c-1", map[string]any{"external_id": "u-1"})}})
	if ce := mustError(t, err); ce.Category != connectors.CategoryConfiguration {
		t.Errorf("a removal in sync_users: %s", ce.Category)
	}
	if reqs := f.Received(); len(reqs) != 0 {
		t.Errorf("%d requests sent for refused settings", len(reqs))
	}
}

func TestSecretsNeverShow(t *testing.T) {
	f := fakebraze.New(t, testKey)
	d := open(t, f)
	ctx := context.Background()
	b := connectors.Batch{Action: braze.ActionSyncUsers, Records: []connectors.Record{upsert("c-1", map[string]any{"external_id": "u-1"})}}
	// An answer that echoes the key it was sent.
	f.FailNext(http.StatusUnauthorized, `{"message":"Invalid API key: `+testKey+`"}`)
	_, err := d.Write(ctx, b)
	ce := mustError(t, err)
	f.FailNext(http.StatusInternalServerError, `{"message":"key `+testKey+` failed"}`)
	checkErr := d.Check(ctx)
	res, werr := d.Write(ctx, b)
	if werr != nil {
		t.Fatal(werr)
	}
	texts := []string{ce.Error(), ce.Message, ce.Detail, ce.Exchange.URL, ce.Exchange.RequestBody, ce.Exchange.ResponseBody, checkErr.Error(),
		res.Exchange.URL, res.Exchange.RequestBody, res.Exchange.ResponseBody}
	for _, ex := range []*connectors.Exchange{ce.Exchange, mustError(t, checkErr).Exchange, res.Exchange} {
		for name, v := range ex.RequestHeaders {
			texts = append(texts, name+": "+v)
		}
	}
	for _, s := range texts {
		if strings.Contains(s, testKey) {
			t.Errorf("the REST API key shows in %q", s)
		}
	}
	if !strings.Contains(ce.Detail, "Invalid API key: [redacted]") {
		t.Errorf("detail %q: Braze's answer should stay, its key redacted", ce.Detail)
	}
}

func TestOptionsListArrayAttributes(t *testing.T) {
	f := fakebraze.New(t, testKey)
	for i := range 60 {
		f.DefineAttribute(fmt.Sprintf("list_%02d", i), "Array")
	}
	f.DefineAttribute("plan", "String")
	f.Blocklist("list_07")
	d := open(t, f)
	ol, ok := d.(connectors.OptionLister)
	if !ok {
		t.Fatal("the destination lists no options")
	}
	opts, ok, err := ol.Options(context.Background(), braze.ActionExportList, braze.SettingAttribute)
	if err != nil || !ok {
		t.Fatalf("Options: %v, %v", ok, err)
	}
	if len(opts) != 59 || opts[0].Value != "list_00" || opts[58].Value != "list_59" {
		t.Fatalf("%d options, %v … %v", len(opts), opts[0], opts[len(opts)-1])
	}
	for _, o := range opts {
		if o.Value == "list_07" || o.Value == "plan" {
			t.Errorf("option %q: blocklisted or not an array", o.Value)
		}
	}
	if _, ok, _ := ol.Options(context.Background(), braze.ActionSyncUsers, braze.SettingMatchBy); ok {
		t.Error("match_by has no list at Braze")
	}
}

func TestOpenRefusesPrivateEndpoints(t *testing.T) {
	f := fakebraze.New(t, testKey)
	_, err := braze.New(braze.Options{}).Open(context.Background(), connectors.Config{"rest_endpoint": f.URL, "api_key": testKey}, nil)
	ce := mustError(t, err)
	if ce.Category != connectors.CategoryConfiguration || ce.Field != "rest_endpoint" || !strings.Contains(ce.Message, "loopback") {
		t.Errorf("loopback endpoint: %s field %q message %q", ce.Category, ce.Field, ce.Message)
	}
	if reqs := f.Received(); len(reqs) != 0 {
		t.Errorf("%d requests reached a refused endpoint", len(reqs))
	}
}

func TestSpecRate(t *testing.T) {
	spec := braze.New(braze.Options{}).Spec()
	// The most any three-second window lets through stays within 95% of 3,000.
	if most := float64(spec.Burst) + spec.RequestsPerSecond*3; most > 0.95*3000 || most < 0.9*3000 {
		t.Errorf("Burst + 3·rate = %v, want between 90%% and 95%% of 3,000", most)
	}
	for _, a := range spec.Actions {
		if a.BatchSize != fakebraze.MaxObjects {
			t.Errorf("%s batch size %d, want Braze's %d", a.Name, a.BatchSize, fakebraze.MaxObjects)
		}
	}
}
