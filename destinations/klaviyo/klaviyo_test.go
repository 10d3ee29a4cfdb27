package klaviyo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/destinations/klaviyo"
	fake "sluice/internal/fakes/klaviyo"
)

func open(t *testing.T, f *fake.Server, key string) connectors.Destination {
	t.Helper()
	d, err := connector(f).Open(context.Background(), connectors.Config{"api_key": key}, nil)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func upsert(key string, fields map[string]any) connectors.Record {
	return connectors.Record{Key: key, Op: connectors.OpUpsert, Fields: fields}
}

func wantError(t *testing.T, err error, cat connectors.Category, field string) *connectors.Error {
	t.Helper()
	ce, ok := connectors.AsError(err)
	if !ok {
		t.Fatalf("got %v, want a %s error", err, cat)
	}
	if ce.Category != cat || ce.Field != field {
		t.Fatalf("got %s error on %q (%s), want %s on %q", ce.Category, ce.Field, ce.Message, cat, field)
	}
	return ce
}

// TestExportListStoresProfiles checks the profiles as Klaviyo stores them: attributes,
// custom properties, list membership; and that a removal takes the profile out of the
// list without deleting it.
func TestExportListStoresProfiles(t *testing.T) {
	f := newFake(t)
	vip := f.AddList("VIP")
	d := open(t, f, testKey)
	ctx := context.Background()
	res, err := d.Write(ctx, connectors.Batch{Action: klaviyo.ActionExportList, Settings: map[string]string{"list_id": vip}, Records: []connectors.Record{
		upsert("1", map[string]any{"email": "ada@example.com", "first_name": "Ada", "plan": "pro", "ltv": 120.5}),
		upsert("2", map[string]any{"phone_number": "+15005550006", "last_name": "Lovelace"}),
		upsert("3", map[string]any{"external_id": "cust-3", "email": "grace@example.com"}),
	}})
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	if len(res.Rejected) != 0 {
		t.Fatalf("rejected %v", res.Rejected)
	}
	if got, want := f.Members(vip), []string{"+15005550006", "ada@example.com", "grace@example.com"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("list members %v, want %v", got, want)
	}
	profiles := f.Profiles()
	if len(profiles) != 3 {
		t.Fatalf("%d profiles stored, want 3", len(profiles))
	}
	ada := profiles[0]
	if ada.Email != "ada@example.com" || ada.FirstName != "Ada" || ada.Properties["plan"] != "pro" || ada.Properties["ltv"] != 120.5 {
		t.Fatalf("stored profile %+v", ada)
	}
	if profiles[2].ExternalID != "cust-3" {
		t.Fatalf("external id not stored: %+v", profiles[2])
	}
	// The request as sent: the documented headers, and the list relationship.
	var post *fake.Received
	for _, r := range f.TakeReceived() {
		if r.Method == http.MethodPost {
			post = &r
		}
	}
	if post == nil {
		t.Fatal("no import job was posted")
	}
	if got := post.Header.Get("Authorization"); got != "Klaviyo-API-Key "+testKey {
		t.Errorf("Authorization %q", got)
	}
	if post.Header.Get("revision") != klaviyo.Revision || post.Header.Get("Content-Type") != "application/vnd.api+json" || post.Header.Get("Accept") != "application/vnd.api+json" {
		t.Errorf("headers %v", post.Header)
	}
	var body struct {
		Data struct {
			Type          string `json:"type"`
			Relationships struct {
				Lists struct {
					Data []struct{ Type, ID string } `json:"data"`
				} `json:"lists"`
			} `json:"relationships"`
		} `json:"data"`
	}
	if err := json.Unmarshal(post.Body, &body); err != nil || body.Data.Type != "profile-bulk-import-job" || len(body.Data.Relationships.Lists.Data) != 1 || body.Data.Relationships.Lists.Data[0].ID != vip {
		t.Fatalf("job body %s (%v)", post.Body, err)
	}

	// Ada leaves the segment: out of the list, still a profile.
	if _, err := d.Write(ctx, connectors.Batch{Action: klaviyo.ActionExportList, Settings: map[string]string{"list_id": vip}, Records: []connectors.Record{
		{Key: "1", Op: connectors.OpRemove, Fields: map[string]any{"email": "ada@example.com"}},
		{Key: "9", Op: connectors.OpRemove, Fields: map[string]any{"email": "never-imported@example.com"}},
	}}); err != nil {
		t.Fatalf("removal: %v", err)
	}
	if got, want := f.Members(vip), []string{"+15005550006", "grace@example.com"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after removal, list members %v, want %v", got, want)
	}
	if n := len(f.Profiles()); n != 3 {
		t.Fatalf("removal from the list deleted profiles: %d left", n)
	}
}

// TestSyncProfilesPollsJob checks a job that stays queued for a few polls, and that
// sync_profiles refuses removals before sending anything.
func TestSyncProfilesPollsJob(t *testing.T) {
	f := newFake(t)
	f.SetPolls(3)
	d := open(t, f, testKey)
	if _, err := d.Write(context.Background(), connectors.Batch{Action: klaviyo.ActionSyncProfiles, Records: []connectors.Record{
		upsert("1", map[string]any{"email": "ada@example.com"}),
	}}); err != nil {
		t.Fatalf("write: %v", err)
	}
	polls := 0
	for _, r := range f.TakeReceived() {
		if r.Method == http.MethodGet && strings.HasPrefix(r.Path, "/api/profile-bulk-import-jobs/") {
			polls++
		}
	}
	if polls != 4 || len(f.Profiles()) != 1 {
		t.Fatalf("%d polls and %d profiles, want 4 polls (3 queued, 1 complete) and 1 profile", polls, len(f.Profiles()))
	}
	_, err := d.Write(context.Background(), connectors.Batch{Action: klaviyo.ActionSyncProfiles, Records: []connectors.Record{
		{Key: "1", Op: connectors.OpRemove, Fields: map[string]any{"email": "ada@example.com"}},
	}})
	wantError(t, err, connectors.CategoryConfiguration, "")
	if got := f.TakeReceived(); len(got) != 0 {
		t.Fatalf("a refused removal sent %d requests", len(got))
	}
}

// TestJobTimeout: a job Klaviyo never finishes is a retryable timeout, not a success.
func TestJobTimeout(t *testing.T) {
	f := newFake(t)
	f.SetPolls(1 << 30)
	f.SetRateLimits(false)
	c := klaviyo.New(klaviyo.Options{BaseURL: f.URL, AllowPrivate: true, PollInterval: time.Millisecond, JobTimeout: 50 * time.Millisecond})
	d, err := c.Open(context.Background(), connectors.Config{"api_key": testKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	_, err = d.Write(context.Background(), connectors.Batch{Action: klaviyo.ActionSyncProfiles, Records: []connectors.Record{upsert("1", map[string]any{"email": "a@example.com"})}})
	if ce := wantError(t, err, connectors.CategoryTimeout, ""); !ce.Retryable {
		t.Fatal("a job not finished in time is worth sending again")
	}
}

// TestBatchLimit: 10,001 profiles go as two jobs within the documented 10,000; a batch
// over 5 MB is split by bytes.
func TestBatchLimit(t *testing.T) {
	f := newFake(t)
	d := open(t, f, testKey)
	records := make([]connectors.Record, klaviyo.MaxJobProfiles+1)
	for i := range records {
		records[i] = upsert(fmt.Sprint(i), map[string]any{"email": fmt.Sprintf("p%d@example.com", i)})
	}
	if _, err := d.Write(context.Background(), connectors.Batch{Action: klaviyo.ActionSyncProfiles, Records: records}); err != nil {
		t.Fatalf("write: %v", err)
	}
	var jobs []int
	for _, r := range f.TakeReceived() {
		if r.Method == http.MethodPost {
			jobs = append(jobs, r.Profiles)
		}
	}
	if fmt.Sprint(jobs) != "[10000 1]" {
		t.Fatalf("jobs of %v profiles, want [10000 1]", jobs)
	}
	// 2,000 profiles of ~3 KB each: 6 MB, over the 5 MB a job takes.
	big := strings.Repeat("x", 3000)
	records = records[:2000]
	for i := range records {
		records[i] = upsert(fmt.Sprint(i), map[string]any{"email": fmt.Sprintf("b%d@example.com", i), "note": big})
	}
	if _, err := d.Write(context.Background(), connectors.Batch{Action: klaviyo.ActionSyncProfiles, Records: records}); err != nil {
		t.Fatalf("write of 6 MB: %v", err)
	}
	total := 0
	for _, r := range f.TakeReceived() {
		if r.Method == http.MethodPost {
			if r.Bytes > klaviyo.MaxJobBytes {
				t.Errorf("a job of %d bytes, over 5 MB", r.Bytes)
			}
			total += r.Profiles
		}
	}
	if total != 2000 {
		t.Fatalf("%d profiles sent, want 2000", total)
	}
}

// TestImportErrorsAreRejections: the job's import errors come back as rejections of the
// records they are about, in Klaviyo's words; the other profiles are imported.
func TestImportErrorsAreRejections(t *testing.T) {
	f := newFake(t)
	d := open(t, f, testKey)
	records := []connectors.Record{
		upsert("good", map[string]any{"email": "ok@example.com"}),
		upsert("bad-email", map[string]any{"email": "not-an-email"}),
		upsert("bad-phone", map[string]any{"phone_number": "0415 555 0100"}),
		upsert("no-id", map[string]any{"first_name": "Nobody"}),
	}
	// 150 more bad ones, so the errors span two pages of 100.
	for i := range 150 {
		records = append(records, upsert(fmt.Sprintf("bad-%d", i), map[string]any{"email": fmt.Sprintf("broken%d@", i)}))
	}
	res, err := d.Write(context.Background(), connectors.Batch{Action: klaviyo.ActionSyncProfiles, Records: records})
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	got := map[string]string{}
	for _, r := range res.Rejected {
		got[r.Key] = r.Message
	}
	if len(got) != 153 || got["good"] != "" {
		t.Fatalf("%d rejections (good rejected: %q), want 153", len(got), got["good"])
	}
	if m := got["bad-email"]; !strings.Contains(m, "Invalid email address") {
		t.Errorf("bad e-mail: %q", m)
	}
	if m := got["bad-phone"]; !strings.Contains(m, "Invalid phone number") {
		t.Errorf("bad phone: %q", m)
	}
	if m := got["no-id"]; !strings.Contains(m, "no e-mail, phone number or external ID") {
		t.Errorf("no identifier: %q", m)
	}
	if n := len(f.Profiles()); n != 1 {
		t.Fatalf("%d profiles stored, want the 1 good one", n)
	}
}

func TestCredentials(t *testing.T) {
	f := newFake(t)
	list := f.AddList("VIP")
	d := open(t, f, testKey)
	batch := connectors.Batch{Action: klaviyo.ActionExportList, Settings: map[string]string{"list_id": list}, Records: []connectors.Record{upsert("1", map[string]any{"email": "a@example.com"})}}

	f.SetScopes("accounts:read", "profiles:read", "profiles:write", "lists:read")
	_, err := d.Write(context.Background(), batch)
	ce := wantError(t, err, connectors.CategoryCredentials, "api_key")
	if ce.Retryable || !strings.Contains(ce.Message, "lists:write") {
		t.Fatalf("403 message %q (retryable %v): it names the missing scope and is not retried", ce.Message, ce.Retryable)
	}
	if !strings.Contains(ce.Detail, "missing required scopes: lists:write") {
		t.Errorf("Klaviyo's answer is not in the detail: %q", ce.Detail)
	}

	f.SetScopes(fake.AllScopes...)
	f.Revoke()
	_, err = d.Write(context.Background(), batch)
	if ce := wantError(t, err, connectors.CategoryCredentials, "api_key"); ce.Retryable {
		t.Fatal("a revoked key is not retryable")
	}
	ce = wantError(t, d.Check(context.Background()), connectors.CategoryCredentials, "api_key")
	for _, leak := range []string{ce.Error(), ce.Message, ce.Detail, ce.Exchange.URL, ce.Exchange.RequestBody, ce.Exchange.ResponseBody, fmt.Sprint(ce.Exchange.RequestHeaders)} {
		if strings.Contains(leak, testKey) || strings.Contains(leak, "pk_test") {
			t.Fatalf("the key shows in %q", leak)
		}
	}
	if ce.Exchange.RequestHeaders["Authorization"] != "[redacted]" {
		t.Fatalf("Authorization in the Exchange: %q", ce.Exchange.RequestHeaders["Authorization"])
	}
}

// TestRateLimited: a 429 is retryable with Klaviyo's Retry-After, from the fake's own
// window (the documented 1/s of Get Accounts) and from a forced one.
func TestRateLimited(t *testing.T) {
	f := newFake(t)
	d := open(t, f, testKey)
	f.FailNext(http.StatusTooManyRequests)
	_, err := d.Write(context.Background(), connectors.Batch{Action: klaviyo.ActionSyncProfiles, Records: []connectors.Record{upsert("1", map[string]any{"email": "a@example.com"})}})
	ce := wantError(t, err, connectors.CategoryRateLimit, "")
	if !ce.Retryable || ce.RetryAfter != 7*time.Second {
		t.Fatalf("retryable %v after %s, want retryable after 7s", ce.Retryable, ce.RetryAfter)
	}
	var checks []error
	for range 3 {
		checks = append(checks, d.Check(context.Background()))
	}
	var throttled *connectors.Error
	for _, err := range checks {
		if ce, ok := connectors.AsError(err); ok && ce.Category == connectors.CategoryRateLimit {
			throttled = ce
		}
	}
	if throttled == nil || throttled.RetryAfter < time.Second || throttled.RetryAfter > 60*time.Second {
		t.Fatalf("three checks within a second of Get Accounts' 1/s burst: %v", checks)
	}
	if _, n := f.Counts(); n < 2 {
		t.Fatalf("the fake counted %d 429s, want at least 2", n)
	}
}

func TestServerDown(t *testing.T) {
	f := newFake(t)
	d := open(t, f, testKey)
	f.Down(true)
	_, err := d.Write(context.Background(), connectors.Batch{Action: klaviyo.ActionSyncProfiles, Records: []connectors.Record{upsert("1", map[string]any{"email": "a@example.com"})}})
	if ce := wantError(t, err, connectors.CategoryConnection, ""); !ce.Retryable {
		t.Fatal("a 503 is retryable")
	}
	f.Down(false)
	f.FailNext(http.StatusInternalServerError)
	if ce := wantError(t, d.Check(context.Background()), connectors.CategoryConnection, ""); !ce.Retryable {
		t.Fatal("a 500 is retryable")
	}
}

// TestListNotFound: a deleted list is the activation's setting to fix, named in the
// message; a list id never known, likewise, for removals too.
func TestListNotFound(t *testing.T) {
	f := newFake(t)
	list := f.AddList("VIP")
	d := open(t, f, testKey)
	f.DeleteList(list)
	_, err := d.Write(context.Background(), connectors.Batch{Action: klaviyo.ActionExportList, Settings: map[string]string{"list_id": list}, Records: []connectors.Record{upsert("1", map[string]any{"email": "a@example.com"})}})
	ce := wantError(t, err, connectors.CategoryNotFound, "list_id")
	if !strings.Contains(ce.Message, list) || ce.Retryable {
		t.Fatalf("message %q (retryable %v)", ce.Message, ce.Retryable)
	}
	f.AddProfile(fake.Profile{Email: "a@example.com"})
	_, err = d.Write(context.Background(), connectors.Batch{Action: klaviyo.ActionExportList, Settings: map[string]string{"list_id": "NoSuch"}, Records: []connectors.Record{{Key: "1", Op: connectors.OpRemove, Fields: map[string]any{"email": "a@example.com"}}}})
	wantError(t, err, connectors.CategoryNotFound, "list_id")

	_, err = d.Write(context.Background(), connectors.Batch{Action: klaviyo.ActionExportList, Records: []connectors.Record{upsert("1", map[string]any{"email": "a@example.com"})}})
	wantError(t, err, connectors.CategoryConfiguration, "list_id")
}

// TestListOptions: the list setting's choices are the account's lists, every page of them.
func TestListOptions(t *testing.T) {
	f := newFake(t)
	var want []string
	for i := range 23 {
		name := fmt.Sprintf("List %02d", i)
		want = append(want, f.AddList(name)+"="+name)
	}
	d := open(t, f, testKey)
	ol := d.(connectors.OptionLister)
	opts, ok, err := ol.Options(context.Background(), klaviyo.ActionExportList, "list_id")
	if err != nil || !ok {
		t.Fatalf("options: %v %v", ok, err)
	}
	var got []string
	for _, o := range opts {
		got = append(got, o.Value+"="+o.Label)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("options %v, want %v", got, want)
	}
	if _, ok, _ := ol.Options(context.Background(), klaviyo.ActionSyncProfiles, "list_id"); ok {
		t.Fatal("sync_profiles has no list setting")
	}
}

// TestIdentifiersAsDocumented: Klaviyo takes identifiers in clear, the phone number in
// E.164. The Bulk Import Profiles reference's example profile gives
// "email": "sarah.mason@klaviyo-demo.com" and "phone_number": "+15005550006"
// ("Individual's phone number in E.164 format"): the engine's normalized values reach
// Klaviyo exactly so, not hashed, not reformatted.
func TestIdentifiersAsDocumented(t *testing.T) {
	f := newFake(t)
	d := open(t, f, testKey)
	_, err := d.Write(context.Background(), connectors.Batch{Action: klaviyo.ActionSyncProfiles, Records: []connectors.Record{
		upsert("sarah", map[string]any{"email": "sarah.mason@klaviyo-demo.com", "phone_number": "+15005550006", "first_name": "Sarah", "last_name": "Mason"}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	var sent struct {
		Data struct {
			Attributes struct {
				Profiles struct {
					Data []struct {
						Type       string            `json:"type"`
						Attributes map[string]string `json:"attributes"`
					} `json:"data"`
				} `json:"profiles"`
			} `json:"attributes"`
		} `json:"data"`
	}
	for _, r := range f.TakeReceived() {
		if r.Method == http.MethodPost {
			if err := json.Unmarshal(r.Body, &sent); err != nil {
				t.Fatal(err)
			}
		}
	}
	ps := sent.Data.Attributes.Profiles.Data
	if len(ps) != 1 || ps[0].Type != "profile" {
		t.Fatalf("sent %+v", ps)
	}
	want := map[string]string{"email": "sarah.mason@klaviyo-demo.com", "phone_number": "+15005550006", "first_name": "Sarah", "last_name": "Mason"}
	if fmt.Sprint(ps[0].Attributes) != fmt.Sprint(want) {
		t.Fatalf("attributes %v, want %v", ps[0].Attributes, want)
	}
	if p := f.Profiles()[0]; p.Email != want["email"] || p.Phone != want["phone_number"] {
		t.Fatalf("stored %+v", p)
	}
}
