package hubspot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"sluice/connectors"
	"sluice/destinations/hubspot"
	fake "sluice/internal/fakes/hubspot"
)

const secretToken = "hubspot-secret-token-9f3a"

func open(t *testing.T, o fake.Options, cfg connectors.Config) (*fake.Server, connectors.Destination) {
	t.Helper()
	if o.Tokens == nil {
		o.Tokens = func(token string) ([]string, bool) {
			switch token {
			case secretToken:
				return fake.AllScopes, true
			case "contacts-read-only":
				return []string{"oauth", "crm.objects.contacts.read", "crm.schemas.contacts.read"}, true
			}
			return nil, false
		}
	}
	srv := fake.New(o)
	t.Cleanup(srv.Close)
	return srv, openAt(t, srv, cfg, secretToken)
}

func openAt(t *testing.T, srv *fake.Server, cfg connectors.Config, token string) connectors.Destination {
	t.Helper()
	d, err := hubspot.New(hubspot.Options{BaseURL: srv.URL, AllowPrivate: true}).Open(context.Background(), cfg, connectors.StaticToken(token))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func contacts(n int, fields func(i int) map[string]any) connectors.Batch {
	b := connectors.Batch{Action: hubspot.ActionSyncContacts, Settings: map[string]string{hubspot.SettingIDProperty: "email"}}
	for i := range n {
		b.Records = append(b.Records, connectors.Record{Key: fmt.Sprintf("k%03d", i), Op: connectors.OpUpsert, Fields: fields(i)})
	}
	return b
}

func person(i int) map[string]any {
	return map[string]any{"email": fmt.Sprintf("p%d@example.com", i), "firstname": fmt.Sprintf("P%d", i)}
}

func category(t *testing.T, err error) *connectors.Error {
	t.Helper()
	ce, ok := connectors.AsError(err)
	if !ok {
		t.Fatalf("error %v is not a connector error", err)
	}
	return ce
}

// The contacts reach HubSpot as it stores them: matched by e-mail, with their properties.
func TestWriteStoresContactsAndCompanies(t *testing.T) {
	srv, d := open(t, fake.Options{}, nil)
	ctx := context.Background()
	res, err := d.Write(ctx, contacts(1, func(int) map[string]any {
		return map[string]any{"email": "ada@example.com", "firstname": "Ada", "lastname": "Lovelace", "phone": "+442071234567", "age": nil}
	}))
	if err != nil || len(res.Rejected) != 0 {
		t.Fatalf("Write: %v, %+v", err, res)
	}
	rec := srv.Records("contacts")["ada@example.com"]
	if rec["firstname"] != "Ada" || rec["lastname"] != "Lovelace" || rec["phone"] != "+442071234567" || rec["hs_object_id"] == "" {
		t.Errorf("stored %v", rec)
	}
	if _, sent := rec["age"]; sent {
		t.Error("a null field was sent: it would clear HubSpot's value")
	}
	// Companies: matched by a unique property, from its mapped field or else the key.
	b := connectors.Batch{Action: hubspot.ActionSyncCompanies, Settings: map[string]string{hubspot.SettingIDProperty: "company_id"}, Records: []connectors.Record{
		{Key: "acme", Op: connectors.OpUpsert, Fields: map[string]any{"company_id": "C-1", "name": "Acme", "numberofemployees": float64(1200)}},
		{Key: "globex", Op: connectors.OpUpsert, Fields: map[string]any{"name": "Globex"}},
	}}
	if res, err := d.Write(ctx, b); err != nil || len(res.Rejected) != 0 {
		t.Fatalf("Write companies: %v, %+v", err, res)
	}
	got := srv.Records("companies")
	if got["C-1"]["name"] != "Acme" || got["C-1"]["numberofemployees"] != "1200" || got["globex"]["name"] != "Globex" {
		t.Errorf("stored companies %v", got)
	}
}

// HubSpot hashes nothing: its CRM stores plain values, and the contacts reference says
// "The Contacts API automatically de-duplicates email addresses in HubSpot": an
// address matches whatever its case. So the e-mail the engine trimmed goes as it is,
// lower-cased, never hashed, and the phone in E.164 as the engine normalized it.
func TestIdentifiersAsHubSpotMatchesThem(t *testing.T) {
	srv, d := open(t, fake.Options{}, nil)
	ctx := context.Background()
	if _, err := d.Write(ctx, contacts(1, func(int) map[string]any {
		return map[string]any{"email": "Grace.Hopper@Example.COM", "phone": "+14155550123", "firstname": "Grace"}
	})); err != nil {
		t.Fatal(err)
	}
	bodies := srv.Bodies()
	var sent struct {
		Inputs []struct {
			ID         string            `json:"id"`
			IDProperty string            `json:"idProperty"`
			Properties map[string]string `json:"properties"`
		} `json:"inputs"`
	}
	if err := json.Unmarshal([]byte(bodies[len(bodies)-1]), &sent); err != nil {
		t.Fatal(err)
	}
	in := sent.Inputs[0]
	if in.IDProperty != "email" || in.ID != "grace.hopper@example.com" || in.Properties["email"] != "grace.hopper@example.com" || in.Properties["phone"] != "+14155550123" {
		t.Errorf("sent %+v", in)
	}
	// The same person again in other case updates the one contact.
	if _, err := d.Write(ctx, contacts(1, func(int) map[string]any {
		return map[string]any{"email": "GRACE.HOPPER@example.com", "lastname": "Hopper"}
	})); err != nil {
		t.Fatal(err)
	}
	got := srv.Records("contacts")
	if len(got) != 1 || got["grace.hopper@example.com"]["lastname"] != "Hopper" || got["grace.hopper@example.com"]["firstname"] != "Grace" {
		t.Errorf("stored %v", got)
	}
}

// A batch over 100 records goes in requests of at most 100 inputs.
func TestBatchLimit(t *testing.T) {
	srv, d := open(t, fake.Options{}, nil)
	res, err := d.Write(context.Background(), contacts(250, person))
	if err != nil || len(res.Rejected) != 0 {
		t.Fatalf("Write: %v %+v", err, res)
	}
	var sizes []int
	for _, r := range srv.TakeReceived() {
		sizes = append(sizes, r.Inputs)
	}
	if fmt.Sprint(sizes) != "[100 100 50]" {
		t.Errorf("requests of %v inputs, want [100 100 50]", sizes)
	}
	if n := len(srv.Records("contacts")); n != 250 {
		t.Errorf("%d contacts stored, want 250", n)
	}
}

// Records HubSpot refuses come back as rejections with their keys and HubSpot's words;
// the others are stored.
func TestPerRecordErrors(t *testing.T) {
	srv, d := open(t, fake.Options{}, nil)
	res, err := d.Write(context.Background(), contacts(5, func(i int) map[string]any {
		f := person(i)
		switch i {
		case 1:
			f["email"] = "not-an-address"
		case 3:
			f["favourite_colour"] = "blue"
		case 4:
			f = map[string]any{"firstname": "No e-mail"}
		}
		return f
	}))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range res.Rejected {
		got[r.Key] = r.Message
	}
	if len(got) != 3 {
		t.Fatalf("rejected %v, want k001, k003 and k004", got)
	}
	if want := "HubSpot refused it: Email address not-an-address is invalid (property email)."; got["k001"] != want {
		t.Errorf("k001: %q, want %q", got["k001"], want)
	}
	if !strings.Contains(got["k003"], `Property "favourite_colour" does not exist (property favourite_colour)`) {
		t.Errorf("k003: %q", got["k003"])
	}
	if !strings.Contains(got["k004"], "no e-mail address") {
		t.Errorf("k004: %q", got["k004"])
	}
	if n := len(srv.Records("contacts")); n != 2 {
		t.Errorf("%d contacts stored, want the 2 good ones", n)
	}
	if res.Exchange == nil || res.Exchange.StatusCode != http.StatusMultiStatus {
		t.Errorf("exchange %+v, want the 207", res.Exchange)
	}
	// Two records with one e-mail: HubSpot would refuse the whole request.
	res, err = d.Write(context.Background(), contacts(2, func(int) map[string]any { return map[string]any{"email": "twin@example.com"} }))
	if err != nil || len(res.Rejected) != 1 || res.Rejected[0].Key != "k001" {
		t.Errorf("duplicates: %v %+v", err, res)
	}
}

func TestCredentials(t *testing.T) {
	srv, d := open(t, fake.Options{}, nil)
	ctx := context.Background()
	srv.Expire()
	ce := category(t, d.Check(ctx))
	if ce.Category != connectors.CategoryCredentials || ce.Retryable || !strings.Contains(ce.Message, "re-authorize") || !strings.Contains(ce.Detail, "EXPIRED_AUTHENTICATION") {
		t.Errorf("expired token: %+v", ce)
	}
	_, err := d.Write(ctx, contacts(1, person))
	if ce := category(t, err); ce.Category != connectors.CategoryCredentials || ce.Retryable {
		t.Errorf("Write with an expired token: %+v", ce)
	}
	// A token without the write scope: 403 MISSING_SCOPES, naming the scope.
	fresh := fake.New(fake.Options{Tokens: func(string) ([]string, bool) {
		return []string{"oauth", "crm.objects.contacts.read", "crm.schemas.contacts.read"}, true
	}})
	defer fresh.Close()
	ro := openAt(t, fresh, nil, "contacts-read-only")
	_, err = ro.Write(ctx, contacts(1, person))
	ce = category(t, err)
	if ce.Category != connectors.CategoryCredentials || ce.Retryable || !strings.Contains(ce.Message, "crm.objects.contacts.write") {
		t.Errorf("missing scope: %+v", ce)
	}
	if n := len(fresh.Records("contacts")); n != 0 {
		t.Errorf("%d contacts stored without the scope", n)
	}
}

func TestRateLimited(t *testing.T) {
	srv, d := open(t, fake.Options{Limit: 2, Window: 3 * time.Second}, nil)
	ctx := context.Background()
	_ = d.Check(ctx)                                             // 1
	if _, err := d.Write(ctx, contacts(1, person)); err != nil { // property check + upsert: 3
		ce := category(t, err)
		if ce.Category != connectors.CategoryRateLimit || !ce.Retryable || ce.RetryAfter != 3*time.Second || !strings.Contains(ce.Message, "TEN_SECONDLY_ROLLING") {
			t.Errorf("429: %+v", ce)
		}
	} else {
		t.Fatal("the third request in the window was not refused")
	}
	if srv.Throttled() != 1 {
		t.Errorf("the fake throttled %d", srv.Throttled())
	}
	// Without Retry-After, the window's length from X-HubSpot-RateLimit-Interval-Milliseconds.
	_, d2 := open(t, fake.Options{Limit: 1, Window: 4 * time.Second, NoRetryAfter: true}, nil)
	_ = d2.Check(ctx)
	ce := category(t, d2.Check(ctx))
	if ce.Category != connectors.CategoryRateLimit || ce.RetryAfter != 4*time.Second {
		t.Errorf("429 without Retry-After: %+v", ce)
	}
}

func TestNotFoundAndDown(t *testing.T) {
	srv, d := open(t, fake.Options{}, connectors.Config{"portal_id": "999"})
	ctx := context.Background()
	for what, err := range map[string]error{"Check": d.Check(ctx), "Write": func() error { _, err := d.Write(ctx, contacts(1, person)); return err }()} {
		ce := category(t, err)
		if ce.Category != connectors.CategoryNotFound || ce.Field != "portal_id" || !strings.Contains(ce.Message, "999") || !strings.Contains(ce.Message, fmt.Sprint(fake.PortalID)) {
			t.Errorf("%s with another account's Hub ID: %+v", what, ce)
		}
	}
	if n := len(srv.Records("contacts")); n != 0 {
		t.Errorf("%d contacts written to the wrong account", n)
	}
	// The unique property an activation matches by was deleted.
	srv2, d2 := open(t, fake.Options{}, nil)
	srv2.DeleteProperty("companies", "company_id")
	_, err := d2.Write(ctx, connectors.Batch{Action: hubspot.ActionSyncCompanies, Settings: map[string]string{hubspot.SettingIDProperty: "company_id"},
		Records: []connectors.Record{{Key: "a", Op: connectors.OpUpsert, Fields: map[string]any{"name": "A"}}}})
	ce := category(t, err)
	if ce.Category != connectors.CategoryNotFound || ce.Field != hubspot.SettingIDProperty || !strings.Contains(ce.Message, "“company_id”") {
		t.Errorf("deleted property: %+v", ce)
	}
	// A property without unique values cannot match.
	_, err = d2.Write(ctx, connectors.Batch{Action: hubspot.ActionSyncCompanies, Settings: map[string]string{hubspot.SettingIDProperty: "domain"},
		Records: []connectors.Record{{Key: "a", Op: connectors.OpUpsert, Fields: map[string]any{"domain": "a.io"}}}})
	if ce := category(t, err); ce.Category != connectors.CategoryConfiguration || ce.Field != hubspot.SettingIDProperty {
		t.Errorf("domain as idProperty: %+v", ce)
	}
	// No setting: refused before anything is sent.
	b := contacts(1, person)
	b.Settings = nil
	before := srv2.Requests()
	_, err = d2.Write(ctx, b)
	if ce := category(t, err); ce.Category != connectors.CategoryConfiguration || ce.Field != hubspot.SettingIDProperty || srv2.Requests() != before {
		t.Errorf("no setting: %+v, %d requests sent", ce, srv2.Requests()-before)
	}
	srv2.Down()
	_, err = d2.Write(ctx, contacts(1, person))
	if ce := category(t, err); ce.Category != connectors.CategoryConnection || !ce.Retryable {
		t.Errorf("down: %+v", ce)
	}
	srv2.Up()
	srv2.FailNext(http.StatusBadGateway)
	if ce := category(t, d2.Check(ctx)); ce.Category != connectors.CategoryConnection || !ce.Retryable {
		t.Errorf("502: %+v", ce)
	}
}

func TestOptionsListUniqueProperties(t *testing.T) {
	srv, d := open(t, fake.Options{}, nil)
	ol := d.(connectors.OptionLister)
	ctx := context.Background()
	opts, ok, err := ol.Options(ctx, hubspot.ActionSyncContacts, hubspot.SettingIDProperty)
	if err != nil || !ok || fmt.Sprint(opts) != "[{email Email (email)} {external_id External ID (external_id)}]" {
		t.Errorf("contacts: %v %v %v", opts, ok, err)
	}
	srv.AddProperty("companies", fake.Property{Name: "erp_number", Label: "ERP number", Type: "string", HasUniqueValue: true})
	opts, _, _ = ol.Options(ctx, hubspot.ActionSyncCompanies, hubspot.SettingIDProperty)
	if fmt.Sprint(opts) != "[{company_id Company ID (company_id)} {erp_number ERP number (erp_number)}]" {
		t.Errorf("companies: %v", opts)
	}
	if _, ok, _ := ol.Options(ctx, hubspot.ActionSyncContacts, "nope"); ok {
		t.Error("a setting without choices answered ok")
	}
}

// The access token never shows in errors, details, rejections or exchanges, whatever
// HubSpot answers.
func TestTokenNeverShows(t *testing.T) {
	ctx := context.Background()
	check := func(what string, err error, res *connectors.WriteResult) {
		t.Helper()
		var texts []string
		if err != nil {
			texts = append(texts, err.Error())
			if ce, ok := connectors.AsError(err); ok {
				texts = append(texts, ce.Message, ce.Detail)
				if ce.Exchange != nil {
					b, _ := json.Marshal(ce.Exchange)
					texts = append(texts, string(b))
				}
			}
		}
		if res != nil && res.Exchange != nil {
			b, _ := json.Marshal(res.Exchange)
			texts = append(texts, string(b))
			if res.Exchange.RequestHeaders["Authorization"] != "[redacted]" {
				t.Errorf("%s: Authorization header shown as %q", what, res.Exchange.RequestHeaders["Authorization"])
			}
		}
		for _, s := range texts {
			if strings.Contains(s, secretToken) {
				t.Errorf("%s: the token shows in %s", what, s)
			}
		}
	}
	srv, d := open(t, fake.Options{}, nil)
	res, err := d.Write(ctx, contacts(2, func(i int) map[string]any { return map[string]any{"email": []string{"x@y.io", "bad"}[i]} }))
	if err != nil || res.Exchange == nil {
		t.Fatalf("Write: %v", err)
	}
	check("a 207", err, res)
	srv.FailNext(http.StatusInternalServerError)
	_, err = d.Write(ctx, contacts(1, person))
	check("a 500", err, nil)
	srv.Revoke()
	_, err = d.Write(ctx, contacts(1, person))
	check("a 401", err, nil)
	check("Check after revocation", d.Check(ctx), nil)
}
