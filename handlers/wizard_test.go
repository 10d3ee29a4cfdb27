package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"sluice/connectors"
	"sluice/internal/testutil"
	"sluice/models"
)

// crm is a destination kind for tests whose action knows its fields (unlike the webhook,
// which takes any): e-mail is a required identifier, phone an identifier, first_name
// is required.
type crm struct{}

func (crm) Spec() connectors.DestinationSpec {
	return connectors.DestinationSpec{Kind: "test_crm", Label: "Test CRM", Auth: connectors.AuthNone,
		Actions: []connectors.Action{{Name: "upsert_contacts", Label: "Upsert contacts", BatchSize: 100, Fields: []connectors.ActionField{
			{Name: "email", Label: "E-mail", Kind: connectors.KindEmail, Required: true, Identifier: true},
			{Name: "phone", Label: "Phone", Kind: connectors.KindPhone, Identifier: true},
			{Name: "first_name", Label: "First name", Kind: connectors.KindString, Required: true},
			{Name: "age", Label: "Age", Kind: connectors.KindNumber},
		}}}}
}

func (crm) Open(context.Context, connectors.Config, connectors.Tokens) (connectors.Destination, error) {
	return crmDest{}, nil
}

type crmDest struct{}

func (crmDest) Check(context.Context) error { return nil }
func (crmDest) Close() error                { return nil }
func (crmDest) Write(context.Context, connectors.Batch) (*connectors.WriteResult, error) {
	return &connectors.WriteResult{}, nil
}

// wizSetup is the demo warehouse with two models (customers, and a copy whose e-mail is
// broken on every seventh row), a segment of everyone on each, a webhook and a CRM, and
// an admin signed in to the browser pages.
type wizSetup struct {
	*whSetup
	hook                  *hook
	webhook, crm          platformBody
	customers, flawed     modelBody
	everyone, everyFlawed segmentBody
	browser               *client
	token                 string
}

func newWizardSetup(t *testing.T) *wizSetup {
	t.Helper()
	return newWizardSetupOn(t, testutil.SQLiteURL(t))
}

// newWizardSetupOn is newWizardSetup on the database at dbURL.
func newWizardSetupOn(t *testing.T, dbURL string) *wizSetup {
	t.Helper()
	a := serve(t, testutil.Store(t, dbURL), crm{})
	path, rows := demoWarehouse(t)
	adminTk := whToken(t, a.store, models.DefaultWorkspaceID, models.RoleAdmin)
	ws := &whSetup{app: a, path: path, rows: rows, adminTk: adminTk, admin: a.whClient(t, adminTk),
		editor: whToken(t, a.store, models.DefaultWorkspaceID, models.RoleEditor),
		viewer: whToken(t, a.store, models.DefaultWorkspaceID, models.RoleViewer)}
	ws.source = into[sourceBody](t, ws.admin.post("/sources", map[string]any{"name": "Demo warehouse", "kind": "sqlite", "config": map[string]any{"path": path}}).want(t, http.StatusCreated))
	s := &wizSetup{whSetup: ws, hook: newHook(t, http.StatusOK)}
	s.webhook = into[platformBody](t, s.admin.post("/platforms", map[string]any{"name": "Hook", "kind": "webhook", "config": map[string]any{"url": s.hook.url()}}).want(t, http.StatusCreated))
	s.crm = into[platformBody](t, s.admin.post("/platforms", map[string]any{"name": "CRM", "kind": "test_crm", "config": map[string]any{}}).want(t, http.StatusCreated))
	s.customers = ws.model(t, map[string]any{"name": "Customers", "table": "customers", "primary_key": "id"})
	s.flawed = ws.model(t, map[string]any{"name": "Flawed customers", "primary_key": "id",
		"sql": "SELECT id, CASE WHEN id % 7 = 0 THEN 'broken' ELSE email END AS email, country, age, signed_up_at FROM customers"})
	segment := func(name, modelID string) segmentBody {
		return into[segmentBody](t, s.admin.post("/segments", map[string]any{"model_id": modelID, "name": name, "conditions": map[string]any{"all": []any{}}}).want(t, http.StatusCreated))
	}
	s.everyone, s.everyFlawed = segment("Everyone", s.customers.ID), segment("Everyone, flawed", s.flawed.ID)
	_, s.browser = signedInAdmin(t, a)
	s.token = s.browser.csrf("/activations/new")
	return s
}

// draft is the wizard's form at a step, with a mapping row per "from:to:type".
func (s *wizSetup) draft(step, segmentID, platformID, action string, rows ...string) url.Values {
	v := url.Values{"_csrf": {s.token}, "step": {step}, "reached": {"6"}, "segment_id": {segmentID}, "platform_id": {platformID},
		"action": {action}, "schedule_kind": {"manual"}, "every_n": {"30"}, "every_unit": {"m"}, "at": {"06:00"}, "weekday": {"monday"},
		"timezone": {"UTC"}, "source_issue_threshold": {"10"}, "name": {"Test activation"}}
	for i, r := range rows {
		parts := strings.SplitN(r, ":", 3)
		v.Set(fmt.Sprintf("m.%d.from", i), parts[0])
		v.Set(fmt.Sprintf("m.%d.to", i), parts[1])
		if len(parts) == 3 {
			v.Set(fmt.Sprintf("m.%d.type", i), parts[2])
		}
	}
	return v
}

func with(v url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, vals := range v {
		out[k] = append([]string(nil), vals...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

// mappingRows reads the mapping step's rows as "from:to:type".
func mappingRows(t *testing.T, r *response) []string {
	t.Helper()
	var out []string
	r.Doc(t).Find("[data-testid=mapping-row]").Each(func(i int, row *goquery.Selection) {
		from, _ := row.Find(`[data-testid=map-from] option[selected]`).Attr("value")
		to, ok := row.Find(`input[data-testid=map-to]`).Attr("value")
		if !ok {
			to, _ = row.Find(`[data-testid=map-to] option[selected]`).Attr("value")
		}
		typ, ok := row.Find(`[data-testid=map-type] option[selected]`).Attr("value")
		if !ok {
			typ = strings.TrimSpace(row.Find(`[data-testid=map-type-fixed]`).Text())
		}
		out = append(out, from+":"+to+":"+typ)
	})
	return out
}

// Entering the mappings step proposes mappings by name: every column under its own
// name (typed from the column) for the webhook, which takes any field; the known fields,
// matched by name or by what the column holds, for the CRM.
func TestWizardSuggestsMappingsByName(t *testing.T) {
	t.Parallel()
	s := newWizardSetup(t)
	page := s.browser.get("/activations/new").want(t, http.StatusOK)
	if page.Count(t, "[data-testid=wizard]") != 1 || page.Count(t, "[data-testid=choose-segment]") != 2 {
		t.Fatalf("the wizard's first step should list both segments:\n%s", page.Body)
	}
	step := func(form url.Values) *response {
		return s.browser.post("/activations", form, "HX-Request", "true").want(t, http.StatusOK)
	}
	// Segment → platform → action → mappings, one Next at a time.
	form := s.draft("segment", s.everyone.ID, s.webhook.ID, "")
	form.Set("reached", "0")
	r := step(with(form, "go", "next"))
	if r.Count(t, "[data-step=platform]") != 1 || r.Count(t, "[data-testid=choose-platform]") != 2 {
		t.Fatalf("Next from the segment should open the platform step:\n%s", r.Body)
	}
	r = step(with(form, "step", "platform", "reached", "1", "go", "next"))
	if r.Count(t, "[data-step=action]") != 1 || r.Count(t, `[data-testid=choose-action][checked]`) != 1 {
		t.Fatalf("the webhook's one action should be preselected:\n%s", r.Body)
	}
	r = step(with(form, "step", "action", "reached", "2", "action", "sync_records", "go", "next"))
	want := []string{"email:email:email", "country:country:string", "age:age:number", "signed_up_at:signed_up_at:datetime"}
	if got := mappingRows(t, r); !reflect.DeepEqual(got, want) {
		t.Fatalf("webhook suggestions %v, want %v", got, want)
	}
	mappedFor, _ := r.Doc(t).Find(`input[name=mapped_for]`).Attr("value")

	// Rows are added and removed in place; the suggestions are not made again.
	kept := with(s.draft("mappings", s.everyone.ID, s.webhook.ID, "sync_records", "email:email:email"), "mapped_for", mappedFor)
	if got := mappingRows(t, step(with(kept, "go", "add-row"))); !reflect.DeepEqual(got, []string{"email:email:email", "country:country:string"}) {
		t.Errorf("add-row gave %v", got)
	}
	if got := mappingRows(t, step(with(kept, "go", "remove-row:0"))); len(got) != 0 {
		t.Errorf("remove-row left %v", got)
	}
	if got := mappingRows(t, step(with(kept, "go", "suggest"))); !reflect.DeepEqual(got, want) {
		t.Errorf("suggest gave %v", got)
	}

	// The CRM's fields are matched by name (first_name, age) and by what the column
	// holds (work_email is an e-mail); other columns are not proposed.
	m := s.model(t, map[string]any{"name": "Contacts", "primary_key": "id",
		"sql": "SELECT id, email AS work_email, country AS first_name, age FROM customers"})
	seg := into[segmentBody](t, s.admin.post("/segments", map[string]any{"model_id": m.ID, "name": "Contacts", "conditions": map[string]any{"all": []any{}}}).want(t, http.StatusCreated))
	r = step(with(s.draft("action", seg.ID, s.crm.ID, "upsert_contacts"), "go", "next"))
	want = []string{"work_email:email:email", "first_name:first_name:string", "age:age:number"}
	if got := mappingRows(t, r); !reflect.DeepEqual(got, want) {
		t.Fatalf("CRM suggestions %v, want %v", got, want)
	}
	if r.Count(t, "[data-testid=action-fields] .chip") != 4 {
		t.Errorf("the CRM's fields should be listed with the mappings")
	}
}

// Each step's errors answer 422 with the message beside the field at fault, on the step
// where it is fixed: an unknown column, an unmapped required field, a bad schedule, a
// threshold that is not a number — whether found on Next or on Create.
func TestWizardRefusesWith422BesideTheField(t *testing.T) {
	t.Parallel()
	s := newWizardSetup(t)
	refused := func(form url.Values, step, field, wantMsg string) {
		t.Helper()
		for _, htmx := range []bool{false, true} {
			var r *response
			if htmx {
				r = s.browser.post("/activations", form, "HX-Request", "true")
			} else {
				r = s.browser.post("/activations", form)
			}
			r.want(t, http.StatusUnprocessableEntity)
			if r.Count(t, "[data-step="+step+"]") != 1 {
				t.Fatalf("%s: the answer should be the %s step:\n%s", field, step, r.Body)
			}
			if msg := r.Text(t, `[data-testid="error-`+field+`"]`); !strings.Contains(msg, wantMsg) {
				t.Fatalf("%s: error %q beside the field, want it to say %q", field, msg, wantMsg)
			}
		}
	}
	hook := s.draft("mappings", s.everyone.ID, s.webhook.ID, "sync_records", "email:email:email", "nope:nope:string")
	refused(with(hook, "go", "next"), "mappings", "mappings[1].from", `has no column "nope"`)
	refused(with(hook, "step", "review", "go", "create"), "mappings", "mappings[1].from", `has no column "nope"`)
	refused(with(s.draft("mappings", s.everyone.ID, s.webhook.ID, "sync_records", "email:email:email", "age:age_at:datetime"), "go", "next"),
		"mappings", "mappings[1].from", "Column age is integer; age_at expects datetime")

	m := s.model(t, map[string]any{"name": "Contacts", "primary_key": "id", "sql": "SELECT id, email, country AS first_name, age FROM customers"})
	seg := into[segmentBody](t, s.admin.post("/segments", map[string]any{"model_id": m.ID, "name": "Contacts", "conditions": map[string]any{"all": []any{}}}).want(t, http.StatusCreated))
	refused(with(s.draft("mappings", seg.ID, s.crm.ID, "upsert_contacts", "email:email", "age:age"), "go", "next"),
		"mappings", "mappings", "Map a column to First name")
	refused(with(s.draft("review", seg.ID, s.crm.ID, "upsert_contacts", "email:email", "age:age"), "go", "create"),
		"mappings", "mappings", "Map a column to First name")

	ok := s.draft("schedule", s.everyone.ID, s.webhook.ID, "sync_records", "email:email:email")
	refused(with(ok, "schedule_kind", "cron", "expr", "every tuesday", "go", "next"), "schedule", "schedule.expr", "not a cron expression")
	refused(with(ok, "schedule_kind", "interval", "every_n", "0", "go", "next"), "schedule", "schedule.every", "at least a minute")
	refused(with(ok, "schedule_kind", "daily", "at", "25:99", "go", "next"), "schedule", "schedule.at", "HH:MM")
	refused(with(ok, "schedule_kind", "daily", "timezone", "Mars/Olympus", "go", "next"), "schedule", "schedule.timezone", "not a time zone")
	refused(with(ok, "step", "review", "schedule_kind", "weekly", "weekday", "someday", "go", "create"), "schedule", "schedule.weekday", "day of the week")
	refused(with(ok, "step", "settings", "source_issue_threshold", "lots", "go", "next"), "settings", "source_issue_threshold", "percentage")
	refused(with(ok, "step", "settings", "default_phone_region", "ZZ", "go", "next"), "settings", "default_phone_region", "two-letter")
	refused(with(ok, "step", "review", "name", " ", "go", "create"), "review", "name", "")

	// A valid schedule shows its next three runs, in its time zone and in UTC.
	r := s.browser.post("/activations", with(ok, "schedule_kind", "weekly", "weekday", "friday", "at", "06:00", "timezone", "Europe/Paris", "go", "refresh"),
		"HX-Request", "true").want(t, http.StatusOK)
	var runs []string
	r.Doc(t).Find("[data-testid=next-run]").Each(func(_ int, s *goquery.Selection) { runs = append(runs, s.Text()) })
	if len(runs) != 3 || !strings.HasPrefix(runs[0], "Fri ") || !strings.Contains(runs[0], "06:00") || !strings.Contains(runs[0], "UTC") {
		t.Errorf("next runs %q", runs)
	}
	for _, req := range s.hook.requests() {
		if req.header.Get("X-Sluice-Check") == "" {
			t.Errorf("walking the wizard sent records to the webhook: %s", req.body)
		}
	}
	acts := into[list[activationBody]](t, s.admin.get("/activations").want(t, http.StatusOK))
	if len(acts.Items) != 0 {
		t.Errorf("a refused wizard saved %d activations", len(acts.Items))
	}
}

// The review shows the segment's count, the first ten records exactly as the first run
// sends them, and the rows it withholds; creating with "full resync first" queues that
// run, and what the webhook receives starts with exactly the ten reviewed payloads.
func TestWizardReviewIsWhatTheRunSends(t *testing.T) {
	t.Parallel()
	s := newWizardSetup(t)
	form := s.draft("settings", s.everyFlawed.ID, s.webhook.ID, "sync_records",
		"email:email:email", "country:country:string", "age:age:number", "signed_up_at:signed_up_at:datetime")
	form.Set("full_resync", "true")
	form.Set("name", "")
	review := s.browser.post("/activations", with(form, "go", "next"), "HX-Request", "true").want(t, http.StatusOK)
	if review.Count(t, "[data-step=review]") != 1 {
		t.Fatalf("Next from the settings should open the review:\n%s", review.Body)
	}
	if got := review.Text(t, "[data-testid=record-count]"); got != "50" {
		t.Errorf("record count %q, want 50", got)
	}
	if name, _ := review.Doc(t).Find(`[data-testid=activation-name]`).Attr("value"); name != "Everyone, flawed → Hook" {
		t.Errorf("proposed name %q", name)
	}
	var payloads []any
	review.Doc(t).Find("[data-testid=payload]").Each(func(_ int, sel *goquery.Selection) {
		var v any
		if err := json.Unmarshal([]byte(sel.Text()), &v); err != nil {
			t.Fatalf("payload is not JSON: %v\n%s", err, sel.Text())
		}
		payloads = append(payloads, v)
	})
	if len(payloads) != 10 {
		t.Fatalf("%d payloads on the review, want 10", len(payloads))
	}
	first := payloads[0].(map[string]any)
	if first["op"] != "upsert" || first["key"] != "1" || first["fields"].(map[string]any)["email"] != "user01@example.com" {
		t.Errorf("first payload %v", first)
	}
	// Every seventh row has a broken e-mail: ids 7, 14 … 49 are withheld, and shown.
	if got := review.Count(t, "[data-testid=withheld-row]"); got != 7 {
		t.Errorf("%d withheld rows shown, want 7", got)
	}
	if !strings.Contains(review.Text(t, "[data-testid=withheld]"), `"broken"`) {
		t.Errorf("withheld rows should say what is wrong: %s", review.Text(t, "[data-testid=withheld]"))
	}

	created := s.browser.post("/activations", with(form, "step", "review", "name", "Flawed to the hook", "go", "create")).want(t, http.StatusSeeOther)
	if !strings.HasPrefix(created.Location(), "/activations/") {
		t.Fatalf("create redirected to %q", created.Location())
	}
	id := strings.TrimPrefix(created.Location(), "/activations/")
	act := into[activationBody](t, s.admin.get("/activations/"+id).want(t, http.StatusOK))
	wantMappings := []models.Mapping{{From: "email", To: "email", Type: "email"}, {From: "country", To: "country", Type: "string"},
		{From: "age", To: "age", Type: "number"}, {From: "signed_up_at", To: "signed_up_at", Type: "datetime"}}
	if act.Name != "Flawed to the hook" || !reflect.DeepEqual(act.Mappings, wantMappings) || act.Settings.SourceIssueThreshold != 10 {
		t.Errorf("saved %+v", act)
	}
	runs := into[list[runBody]](t, s.admin.get("/activations/"+id+"/runs").want(t, http.StatusOK))
	if len(runs.Items) != 1 || runs.Items[0].Status != models.RunQueued || !runs.Items[0].FullResync {
		t.Fatalf("runs after create %+v, want one queued full resync", runs.Items)
	}

	if !s.app.runner.RunOne(t.Context()) {
		t.Fatal("no queued run was claimed")
	}
	var sent []any
	for _, req := range s.hook.requests() {
		var body struct {
			Records []any `json:"records"`
		}
		if err := json.Unmarshal(req.body, &body); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, body.Records...)
	}
	if len(sent) != 43 {
		t.Fatalf("the webhook received %d records, want 50 - 7 withheld", len(sent))
	}
	if !reflect.DeepEqual(sent[:10], payloads) {
		got, _ := json.MarshalIndent(sent[:10], "", " ")
		want, _ := json.MarshalIndent(payloads, "", " ")
		t.Fatalf("the run sent\n%s\nthe review showed\n%s", got, want)
	}
	run := into[runBody](t, s.admin.get("/runs/"+runs.Items[0].ID).want(t, http.StatusOK))
	if run.Counts.Sent != 43 || run.Counts.SourceIssues != 7 {
		t.Errorf("run counts %+v", run.Counts)
	}
}

// The stepper goes back to any step walked, Back keeps every choice, and viewers cannot
// open the wizard while editors can.
func TestWizardNavigationAndRoles(t *testing.T) {
	t.Parallel()
	s := newWizardSetup(t)
	form := s.draft("schedule", s.everyone.ID, s.webhook.ID, "sync_records", "email:email:email")
	form.Set("reached", "4")
	back := s.browser.post("/activations", with(form, "go", "back"), "HX-Request", "true").want(t, http.StatusOK)
	if got := mappingRows(t, back); !reflect.DeepEqual(got, []string{"email:email:email"}) {
		t.Errorf("Back to the mappings shows %v", got)
	}
	jump := s.browser.post("/activations", with(form, "go", "step:segment"), "HX-Request", "true").want(t, http.StatusOK)
	if jump.Count(t, "[data-step=segment]") != 1 || jump.Count(t, "[data-testid=goto-schedule]") != 1 {
		t.Errorf("the stepper should open the segment step and still link the schedule")
	}
	if v, _ := jump.Doc(t).Find(`input[name="m.0.from"]`).Attr("value"); v != "email" {
		t.Errorf("mappings are not carried along: %q", v)
	}
	if s.browser.post("/activations", with(form, "go", "step:review"), "HX-Request", "true").want(t, http.StatusOK).Count(t, "[data-step=schedule]") != 1 {
		t.Errorf("a step not reached yet cannot be jumped to")
	}

	ctx := t.Context()
	admin := testutil.ActorOf(mustUser(t, s.app.store, "admin@example.com"))
	for role, status := range map[models.Role]int{models.RoleViewer: http.StatusForbidden, models.RoleOperator: http.StatusForbidden, models.RoleEditor: http.StatusOK} {
		email := string(role) + "@example.com"
		if _, err := s.app.store.CreateUser(ctx, admin, models.NewUser{Email: email, Password: testutil.Password, Role: role}); err != nil {
			t.Fatal(err)
		}
		c := s.app.client(t)
		c.signIn(email, testutil.Password)
		c.get("/activations/new").want(t, status)
		token := c.csrf("/activations")
		if status == http.StatusOK {
			c.post("/activations", with(form, "_csrf", token, "go", "next"), "HX-Request", "true").want(t, http.StatusOK)
		} else {
			c.post("/activations", with(form, "_csrf", token, "go", "next")).want(t, http.StatusForbidden)
		}
	}
}

func mustUser(t *testing.T, s *models.Store, email string) *models.User {
	t.Helper()
	users, err := s.ListUsers(t.Context(), models.DefaultWorkspaceID)
	if err != nil {
		t.Fatal(err)
	}
	for i := range users {
		if users[i].Email == email {
			return &users[i]
		}
	}
	t.Fatalf("no user %s", email)
	return nil
}
