package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"sluice/connectors"
	"sluice/internal/testutil"
	"sluice/models"
)

// lists is a destination kind for tests whose action has settings: the list to add
// records to (required, its choices listed by the platform) and what records are
// matched by (a select of the spec, e-mail by default). Its platform remembers every
// batch; the list "l-gone" was deleted (404) and "l-bad" is refused as invalid (400).
type lists struct{ rec *listsRecorder }

type listsRecorder struct {
	mu      sync.Mutex
	batches []connectors.Batch
	// listErr, when set, is the answer to listing the lists.
	listErr error
}

func (r *listsRecorder) written() []connectors.Batch {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]connectors.Batch(nil), r.batches...)
}

func (r *listsRecorder) failListing(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.listErr = err
}

func newLists() lists { return lists{rec: &listsRecorder{}} }

func (lists) Spec() connectors.DestinationSpec {
	return connectors.DestinationSpec{Kind: "test_lists", Label: "Test Lists", Auth: connectors.AuthNone,
		Actions: []connectors.Action{{Name: "add_to_list", Label: "Add to list", BatchSize: 100,
			Fields: []connectors.ActionField{{Name: "email", Label: "E-mail", Kind: connectors.KindEmail, Required: true, Identifier: true}},
			Settings: []connectors.FieldSpec{
				{Name: "list_id", Label: "List", Type: connectors.FieldString, Required: true, Help: "The list the records join."},
				{Name: "match_by", Label: "Match by", Type: connectors.FieldSelect, Options: []string{"email", "phone"}, Default: "email"},
			}}}}
}

func (l lists) Open(context.Context, connectors.Config, connectors.Tokens) (connectors.Destination, error) {
	return listsDest(l), nil
}

type listsDest struct{ rec *listsRecorder }

func (listsDest) Check(context.Context) error { return nil }
func (listsDest) Close() error                { return nil }

func (d listsDest) Options(_ context.Context, action, setting string) ([]connectors.Option, bool, error) {
	d.rec.mu.Lock()
	defer d.rec.mu.Unlock()
	if action != "add_to_list" || setting != "list_id" {
		return nil, false, nil
	}
	if d.rec.listErr != nil {
		return nil, false, d.rec.listErr
	}
	return []connectors.Option{{Value: "l-vip", Label: "VIP"}, {Value: "l-news", Label: "Newsletter"}}, true, nil
}

func (d listsDest) Write(_ context.Context, b connectors.Batch) (*connectors.WriteResult, error) {
	d.rec.mu.Lock()
	d.rec.batches = append(d.rec.batches, b)
	d.rec.mu.Unlock()
	switch id := b.Settings["list_id"]; id {
	case "l-gone":
		return nil, &connectors.Error{Category: connectors.CategoryNotFound, Field: "list_id",
			Message: "The Test Lists list " + id + " does not exist any more: choose another list in the activation's settings.",
			Detail:  `{"errors":[{"status":404,"detail":"list not found"}]}`}
	case "l-bad":
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: "list_id",
			Message: "Test Lists refused the list " + id + ": choose another list in the activation's settings.",
			Detail:  `{"errors":[{"status":400,"detail":"invalid list id"}]}`}
	}
	return &connectors.WriteResult{}, nil
}

// listsSetup is the demo warehouse's customers, a segment of everyone, a Test Lists
// platform and an admin signed in to the browser pages.
type listsSetup struct {
	*whSetup
	lists    lists
	platform platformBody
	everyone segmentBody
	browser  *client
	token    string
}

func newListsSetup(t *testing.T, dbURL string) *listsSetup {
	t.Helper()
	l := newLists()
	a := serve(t, testutil.Store(t, dbURL), l)
	path, rows := demoWarehouse(t)
	adminTk := whToken(t, a.store, models.DefaultWorkspaceID, models.RoleAdmin)
	ws := &whSetup{app: a, path: path, rows: rows, adminTk: adminTk, admin: a.whClient(t, adminTk),
		editor: whToken(t, a.store, models.DefaultWorkspaceID, models.RoleEditor),
		viewer: whToken(t, a.store, models.DefaultWorkspaceID, models.RoleViewer)}
	ws.source = into[sourceBody](t, ws.admin.post("/sources", map[string]any{"name": "Demo warehouse", "kind": "sqlite", "config": map[string]any{"path": path}}).want(t, http.StatusCreated))
	s := &listsSetup{whSetup: ws, lists: l}
	s.platform = into[platformBody](t, s.admin.post("/platforms", map[string]any{"name": "Lists", "kind": "test_lists", "config": map[string]any{}}).want(t, http.StatusCreated))
	m := ws.model(t, map[string]any{"name": "Customers", "table": "customers", "primary_key": "id"})
	s.everyone = into[segmentBody](t, s.admin.post("/segments", map[string]any{"model_id": m.ID, "name": "Everyone", "conditions": map[string]any{"all": []any{}}}).want(t, http.StatusCreated))
	_, s.browser = signedInAdmin(t, a)
	s.token = s.browser.csrf("/activations/new")
	return s
}

// body is an activation of everyone to the lists platform, with these action settings
// (left out when nil).
func (s *listsSetup) body(name string, settings map[string]any) map[string]any {
	b := map[string]any{"name": name, "segment_id": s.everyone.ID, "platform_id": s.platform.ID, "action": "add_to_list",
		"mappings": []map[string]any{{"from": "email", "to": "email"}}}
	if settings != nil {
		b["action_settings"] = settings
	}
	return b
}

// activationWithSettings is an activation as the API answers it, with its action settings.
type activationWithSettings struct {
	ID             string            `json:"id"`
	Name           string            `json:"name"`
	ActionSettings map[string]string `json:"action_settings"`
}

// The JSON API takes and answers action_settings; saving checks them against the
// action's settings, each refusal a 422 naming the setting at fault; PATCH keeps them
// unless given.
func TestAPIActionSettingsAreCheckedOnSave(t *testing.T) {
	t.Parallel()
	for _, d := range testutil.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			s := newListsSetup(t, d.URL(t))
			editor := s.admin.as(s.editor)
			wantErr(t, editor.post("/activations", s.body("No list", nil)), http.StatusUnprocessableEntity, "invalid", "action_settings.list_id")
			e := wantErr(t, editor.post("/activations", s.body("Empty list", map[string]any{"list_id": "  "})), http.StatusUnprocessableEntity, "invalid", "action_settings.list_id")
			if !strings.Contains(e.Error.Message, "List is required") {
				t.Errorf("missing list: %q should name the setting", e.Error.Message)
			}
			wantErr(t, editor.post("/activations", s.body("Colour", map[string]any{"list_id": "l-vip", "colour": "red"})), http.StatusUnprocessableEntity, "invalid", "action_settings.colour")
			e = wantErr(t, editor.post("/activations", s.body("Fax", map[string]any{"list_id": "l-vip", "match_by": "fax"})), http.StatusUnprocessableEntity, "invalid", "action_settings.match_by")
			if !strings.Contains(e.Error.Message, "Match by must be one of email, phone") {
				t.Errorf("bad option: %q", e.Error.Message)
			}

			created := into[activationWithSettings](t, editor.post("/activations", s.body("VIPs", map[string]any{"list_id": " l-vip "})).want(t, http.StatusCreated))
			if want := map[string]string{"list_id": "l-vip", "match_by": "email"}; !reflect.DeepEqual(created.ActionSettings, want) {
				t.Fatalf("created with action settings %v, want %v (trimmed, default filled in)", created.ActionSettings, want)
			}
			renamed := into[activationWithSettings](t, editor.patch("/activations/"+created.ID, map[string]any{"name": "VIP members"}).want(t, http.StatusOK))
			if renamed.ActionSettings["list_id"] != "l-vip" {
				t.Errorf("a PATCH without action_settings lost them: %v", renamed.ActionSettings)
			}
			moved := into[activationWithSettings](t, editor.patch("/activations/"+created.ID, map[string]any{"action_settings": map[string]any{"list_id": "l-news", "match_by": "phone"}}).want(t, http.StatusOK))
			if want := map[string]string{"list_id": "l-news", "match_by": "phone"}; !reflect.DeepEqual(moved.ActionSettings, want) {
				t.Errorf("patched action settings %v, want %v", moved.ActionSettings, want)
			}
			wantErr(t, editor.patch("/activations/"+created.ID, map[string]any{"action_settings": map[string]any{}}), http.StatusUnprocessableEntity, "invalid", "action_settings.list_id")
			shown := into[activationWithSettings](t, s.admin.get("/activations/"+created.ID).want(t, http.StatusOK))
			if shown.ActionSettings["list_id"] != "l-news" {
				t.Errorf("a refused PATCH changed the settings: %v", shown.ActionSettings)
			}
		})
	}
}

// Every batch of a run carries the activation's action settings to Write. A Write
// error naming one of them in its Field fails the run as the activation's (not the
// platform's, which stays connected), is not split record by record, and its fix opens
// the activation's settings: a deleted list the Settings tab, an invalid one the
// wizard's settings step, both showing the list the platform no longer offers.
func TestActionSettingsReachWriteAndTheirErrorsAreTheActivations(t *testing.T) {
	t.Parallel()
	s := newListsSetup(t, testutil.SQLiteURL(t))
	act := into[activationWithSettings](t, s.admin.as(s.editor).post("/activations", s.body("VIPs", map[string]any{"list_id": "l-vip"})).want(t, http.StatusCreated))
	run := func() runBody {
		t.Helper()
		r := into[runBody](t, s.admin.post("/activations/"+act.ID+"/runs", nil).want(t, http.StatusAccepted))
		if !s.app.runner.RunOne(t.Context()) {
			t.Fatal("no queued run was claimed")
		}
		return into[runBody](t, s.admin.get("/runs/"+r.ID).want(t, http.StatusOK))
	}
	if r := run(); r.Status != models.RunSucceeded || r.Counts.Sent != 50 {
		t.Fatalf("first run %s, counts %+v", r.Status, r.Counts)
	}
	batches := s.lists.rec.written()
	if len(batches) == 0 {
		t.Fatal("the platform received no batch")
	}
	for _, b := range batches {
		if want := map[string]string{"list_id": "l-vip", "match_by": "email"}; !reflect.DeepEqual(b.Settings, want) || b.Action != "add_to_list" {
			t.Fatalf("batch %s with settings %v, want %v", b.Action, b.Settings, want)
		}
	}

	for _, tc := range []struct{ list, category, label, fix string }{
		{"l-gone", "not_found", "Choose the activation's settings", "/activations/" + act.ID + "?tab=settings#action-settings"},
		{"l-bad", "configuration", "Edit the activation", "/activations/" + act.ID + "/edit?step=settings"},
	} {
		s.admin.as(s.editor).patch("/activations/"+act.ID, map[string]any{"action_settings": map[string]any{"list_id": tc.list}}).want(t, http.StatusOK)
		before := len(s.lists.rec.written())
		// A full resync, so every record is sent again to the changed list.
		r := into[runBody](t, s.admin.post("/activations/"+act.ID+"/runs", map[string]any{"full_resync": true}).want(t, http.StatusAccepted))
		if !s.app.runner.RunOne(t.Context()) {
			t.Fatal("no queued run was claimed")
		}
		got := into[runBody](t, s.admin.get("/runs/"+r.ID).want(t, http.StatusOK))
		if got.Status != models.RunFailed || got.Error == nil || got.Error.Category != tc.category || !strings.Contains(got.Error.Message, tc.list) {
			t.Fatalf("%s: run %s error %+v", tc.list, got.Status, got.Error)
		}
		if n := len(s.lists.rec.written()) - before; n != 1 {
			t.Errorf("%s: %d writes, want 1: an error about a setting is not the records' to split", tc.list, n)
		}
		stored, err := s.app.store.RunByID(t.Context(), models.DefaultWorkspaceID, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.ErrorSide != models.RunSideActivation {
			t.Errorf("%s: error side %q, want the activation", tc.list, stored.ErrorSide)
		}
		const base = "http://localhost:8080"
		if want := (fixBody{tc.label, base + tc.fix}); got.Error.Fix != want {
			t.Errorf("%s: API fix %+v, want %+v", tc.list, got.Error.Fix, want)
		}
		btn := s.browser.get("/activations/"+act.ID).want(t, http.StatusOK).Doc(t).Find("[data-testid=fix-button]").First()
		if href, _ := btn.Attr("href"); href != tc.fix || strings.TrimSpace(btn.Text()) != tc.label {
			t.Errorf("%s: fix button %q → %q", tc.list, strings.TrimSpace(btn.Text()), href)
		}
		// Where the fix leads, the list is chosen: still selected, marked as no longer
		// offered, beside the lists the platform offers.
		fix := s.browser.get(tc.fix).want(t, http.StatusOK)
		sel := fix.Doc(t).Find("[data-testid=setting-list_id] select option[selected]")
		if v, _ := sel.Attr("value"); v != tc.list || !strings.Contains(sel.Text(), "not offered") {
			t.Errorf("%s: the fix page selects %q %q, want it marked as not offered", tc.list, v, sel.Text())
		}
		if n := fix.Count(t, `[data-testid=setting-list_id] select option[value="l-vip"]`); n != 1 {
			t.Errorf("%s: the fix page offers l-vip %d times", tc.list, n)
		}
	}
	p := into[platformBody](t, s.admin.get("/platforms/"+s.platform.ID).want(t, http.StatusOK))
	if p.Status == models.PlatformBroken {
		t.Errorf("a refused list broke the platform: %s", p.StatusMessage)
	}

	// The Settings tab saves the list alone; an empty one is refused beside it.
	token := s.browser.csrf("/activations/" + act.ID + "?tab=settings")
	refused := s.browser.post("/activations/"+act.ID+"/settings", url.Values{"_csrf": {token}, "as.list_id": {""}, "as.match_by": {"email"}}).want(t, http.StatusUnprocessableEntity)
	if !strings.Contains(refused.Text(t, `[data-testid="error-action_settings.list_id"]`), "List is required") {
		t.Fatalf("an empty list should be refused beside it:\n%s", refused.Body)
	}
	s.browser.post("/activations/"+act.ID+"/settings", url.Values{"_csrf": {token}, "as.list_id": {"l-news"}, "as.match_by": {"phone"}}).want(t, http.StatusSeeOther)
	if got := into[activationWithSettings](t, s.admin.get("/activations/"+act.ID).want(t, http.StatusOK)); !reflect.DeepEqual(got.ActionSettings, map[string]string{"list_id": "l-news", "match_by": "phone"}) {
		t.Errorf("saved from the Settings tab: %v", got.ActionSettings)
	}
	// A viewer reads the list by its value and cannot change it.
	admin := testutil.ActorOf(mustUser(t, s.app.store, "admin@example.com"))
	if _, err := s.app.store.CreateUser(t.Context(), admin, models.NewUser{Email: "viewer@example.com", Password: testutil.Password, Role: models.RoleViewer}); err != nil {
		t.Fatal(err)
	}
	viewer := s.app.client(t)
	viewer.signIn("viewer@example.com", testutil.Password)
	tab := viewer.get("/activations/"+act.ID+"?tab=settings").want(t, http.StatusOK)
	if tab.Text(t, "[data-testid=setting-value-list_id]") != "Newsletter (l-news)" || tab.Count(t, "[data-testid=action-settings-form]") != 0 {
		t.Errorf("a viewer should read the list, without a form:\n%s", tab.Body)
	}
	viewer.post("/activations/"+act.ID+"/settings", url.Values{"_csrf": {viewer.csrf("/activations/" + act.ID)}, "as.list_id": {"l-vip"}}).want(t, http.StatusForbidden)
}

// The wizard's settings step shows the action's settings: a select of the lists the
// platform offers, and of the spec's options; a required one left empty answers 422
// beside it; the review shows the chosen list by its name; editing keeps them. A
// platform that cannot list its lists says so, and the list is typed instead.
func TestWizardShowsActionSettingsFromThePlatform(t *testing.T) {
	t.Parallel()
	s := newListsSetup(t, testutil.SQLiteURL(t))
	form := url.Values{"_csrf": {s.token}, "step": {"schedule"}, "reached": {"4"}, "segment_id": {s.everyone.ID}, "platform_id": {s.platform.ID},
		"action": {"add_to_list"}, "schedule_kind": {"manual"}, "timezone": {"UTC"}, "source_issue_threshold": {"10"},
		"m.0.from": {"email"}, "m.0.to": {"email"}, "m.0.type": {"email"}}
	step := s.browser.post("/activations", with(form, "go", "next"), "HX-Request", "true").want(t, http.StatusOK)
	if step.Count(t, "[data-step=settings]") != 1 {
		t.Fatalf("Next from the schedule should open the settings:\n%s", step.Body)
	}
	var values, labels []string
	step.Doc(t).Find("[data-testid=setting-list_id] select option").Each(func(_ int, o *goquery.Selection) {
		v, _ := o.Attr("value")
		values, labels = append(values, v), append(labels, strings.TrimSpace(o.Text()))
	})
	if want := []string{"", "l-vip", "l-news"}; !reflect.DeepEqual(values, want) || labels[1] != "VIP" {
		t.Fatalf("list choices %v %v, want %v with their names", values, labels, want)
	}
	if v, _ := step.Doc(t).Find("[data-testid=setting-match_by] select option[selected]").Attr("value"); v != "email" {
		t.Errorf("match_by should offer the spec's options, its default chosen; got %q", v)
	}

	// Next without a list: 422 on the settings step, the error beside the list.
	settings := with(form, "step", "settings", "reached", "5", "as.match_by", "email")
	refused := s.browser.post("/activations", with(settings, "go", "next"), "HX-Request", "true").want(t, http.StatusUnprocessableEntity)
	if refused.Count(t, "[data-step=settings]") != 1 || !strings.Contains(refused.Text(t, `[data-testid="error-action_settings.list_id"]`), "List is required") {
		t.Fatalf("a missing list should be refused beside it:\n%s", refused.Body)
	}
	review := s.browser.post("/activations", with(settings, "as.list_id", "l-vip", "go", "next"), "HX-Request", "true").want(t, http.StatusOK)
	if review.Count(t, "[data-step=review]") != 1 || review.Text(t, "[data-testid=review-setting-list_id]") != "VIP (l-vip)" {
		t.Fatalf("the review should show the list by name:\n%s", review.Body)
	}
	if v, _ := review.Doc(t).Find(`input[type=hidden][name="as.list_id"]`).Attr("value"); v != "l-vip" {
		t.Errorf("the review carries the list as %q", v)
	}
	created := s.browser.post("/activations", with(settings, "as.list_id", "l-vip", "step", "review", "name", "VIPs", "go", "create")).want(t, http.StatusSeeOther)
	id := strings.TrimPrefix(created.Location(), "/activations/")
	if got := into[activationWithSettings](t, s.admin.get("/activations/"+id).want(t, http.StatusOK)); !reflect.DeepEqual(got.ActionSettings, map[string]string{"list_id": "l-vip", "match_by": "email"}) {
		t.Fatalf("saved action settings %v", got.ActionSettings)
	}
	// Editing keeps them: the wizard opens with the list chosen, and walks to the
	// review with it.
	edit := s.browser.get("/activations/"+id+"/edit?step=settings").want(t, http.StatusOK)
	if v, _ := edit.Doc(t).Find("[data-testid=setting-list_id] option[selected]").Attr("value"); v != "l-vip" {
		t.Errorf("edit shows the list as %q", v)
	}
	if v, _ := s.browser.get("/activations/"+id+"/edit?step=mappings").want(t, http.StatusOK).Doc(t).Find(`input[type=hidden][name="as.list_id"]`).Attr("value"); v != "l-vip" {
		t.Errorf("edit carries the list along other steps as %q", v)
	}

	// A platform that cannot list: the plain message, and a text input.
	s.lists.rec.failListing(&connectors.Error{Category: connectors.CategoryCredentials, Message: "The API key may not read lists.", Detail: "403 secret-free detail"})
	failed := s.browser.post("/activations", with(form, "go", "next"), "HX-Request", "true").want(t, http.StatusOK)
	if msg := failed.Text(t, "[data-testid=setting-list_id] [data-testid=setting-list-error]"); !strings.Contains(msg, "The API key may not read lists.") || strings.Contains(msg, "403") {
		t.Errorf("listing failure says %q", msg)
	}
	if failed.Count(t, `[data-testid=setting-list_id] input[data-testid=setting-input][name="as.list_id"]`) != 1 {
		t.Errorf("a list that cannot be listed should be typed:\n%s", failed.Body)
	}
}

// An activation saved without a setting its action requires (saved before the platform
// gained it) fails before sending anything, as the activation's configuration error;
// its fix opens the edit page, which checks the saved activation and shows the error
// beside the setting, whatever step was asked for.
func TestActivationWithoutARequiredSettingFailsBeforeSending(t *testing.T) {
	t.Parallel()
	s := newListsSetup(t, testutil.SQLiteURL(t))
	ctx := t.Context()
	admin := testutil.ActorOf(mustUser(t, s.app.store, "admin@example.com"))
	// Straight through the store: core would refuse it.
	act, err := s.app.store.CreateActivation(ctx, admin, models.ActivationInput{Name: "Old", SegmentID: s.everyone.ID, PlatformID: s.platform.ID,
		Action: "add_to_list", Mappings: []models.Mapping{{From: "email", To: "email", Type: "email"}}, Schedule: models.Schedule{Kind: "manual"}})
	if err != nil {
		t.Fatal(err)
	}
	r := into[runBody](t, s.admin.post("/activations/"+act.ID+"/runs", nil).want(t, http.StatusAccepted))
	if !s.app.runner.RunOne(ctx) {
		t.Fatal("no queued run was claimed")
	}
	got := into[runBody](t, s.admin.get("/runs/"+r.ID).want(t, http.StatusOK))
	if got.Status != models.RunFailed || got.Error == nil || got.Error.Category != "configuration" || !strings.Contains(got.Error.Message, "List is required") {
		t.Fatalf("run %s error %+v", got.Status, got.Error)
	}
	if n := len(s.lists.rec.written()); n != 0 {
		t.Errorf("%d batches sent without the list", n)
	}
	if got.Error.Fix.URL != "http://localhost:8080/activations/"+act.ID+"/edit?step=settings" {
		t.Errorf("fix %+v", got.Error.Fix)
	}
	edit := s.browser.get("/activations/"+act.ID+"/edit?step=mappings").want(t, http.StatusOK)
	if edit.Count(t, "[data-step=settings]") != 1 || !strings.Contains(edit.Text(t, `[data-testid="error-action_settings.list_id"]`), "List is required") {
		t.Fatalf("the edit page should open on the missing setting:\n%s", edit.Body)
	}
}
