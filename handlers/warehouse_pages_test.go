package handlers_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"sluice/internal/testutil"
	"sluice/models"
)

// pgForm is the source form for the local PostgreSQL test database at dbURL.
func pgForm(t *testing.T, dbURL, name, password string) url.Values {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return url.Values{"name": {name}, "kind": {"postgres"},
		"config.host": {u.Hostname()}, "config.port": {u.Port()}, "config.database": {strings.TrimPrefix(u.Path, "/")},
		"config.user": {u.User.Username()}, "config.password": {password}, "config.sslmode": {"disable"}, "config.schema": {"public"}}
}

// The source pages: an admin connects PostgreSQL through the form, the five checks pass,
// and the password never comes back in any page; others cannot connect sources.
func TestSourcePages(t *testing.T) {
	t.Parallel()
	a := sqliteApp(t)
	_, admin := signedInAdmin(t, a)
	const password = "s3cret-Pa55word-never-shown"
	warehouseURL := testutil.PostgresURL(t)

	token := admin.csrf("/sources/new")
	form := pgForm(t, warehouseURL, "Production warehouse", password)
	form.Set("_csrf", token)
	tested := admin.post("/sources/test", form).want(t, http.StatusOK)
	if n := tested.Count(t, "[data-testid=checks] [data-ok=true]"); n != 5 {
		t.Fatalf("Test connection: %d of 5 stages passed:\n%s", n, tested.Body)
	}
	created := admin.post("/sources", form).want(t, http.StatusSeeOther)
	page := admin.get(created.Location()).want(t, http.StatusOK)
	if got := page.Text(t, "[data-testid=source-status]"); got != "Connected" {
		t.Errorf("status on the source page = %q", got)
	}
	for _, path := range []string{created.Location(), "/sources", "/settings/audit"} {
		if body := admin.get(path).want(t, http.StatusOK).Body; strings.Contains(body, password) {
			t.Errorf("%s shows the source password", path)
		}
	}
	if v, _ := page.Doc(t).Find(`input[name="config.password"]`).Attr("value"); v != "" {
		t.Errorf("the password field is filled with %q", v)
	}

	// Saving the settings with the password left empty keeps it: still connected.
	keep := pgForm(t, warehouseURL, "Prod", "")
	keep.Set("_csrf", token)
	admin.post(created.Location(), keep).want(t, http.StatusSeeOther)
	if got := admin.get(created.Location()).Text(t, "[data-testid=source-status]"); got != "Connected" {
		t.Errorf("after saving without a password the status is %q", got)
	}

	// A missing required field is a field error beside it, and nothing is saved.
	bad := url.Values{"_csrf": {token}, "name": {"Broken"}, "kind": {"postgres"}, "config.port": {"5432"}}
	r := admin.post("/sources", bad).want(t, http.StatusUnprocessableEntity)
	if r.Count(t, "[data-testid='error-config.host']") != 1 {
		t.Errorf("no error beside the host field:\n%s", r.Body)
	}

	viewer, err := a.store.CreateUser(t.Context(), testutil.ActorOf(mustAdmin(t, a)), models.NewUser{Email: "viewer@example.com", Password: testutil.Password, Role: models.RoleViewer})
	if err != nil {
		t.Fatal(err)
	}
	vc := a.client(t)
	vc.signIn(viewer.Email, testutil.Password)
	vc.get("/sources/new").want(t, http.StatusForbidden)
	vt := vc.csrf("/sources")
	form.Set("_csrf", vt)
	vc.post("/sources", form).want(t, http.StatusForbidden)
	if body := vc.get(created.Location()).want(t, http.StatusOK).Body; strings.Contains(body, `name="config.password"`) {
		t.Error("a viewer sees the settings form")
	}
}

func mustAdmin(t *testing.T, a *app) *models.User {
	t.Helper()
	users, err := a.store.ListUsers(t.Context(), models.DefaultWorkspaceID)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u.Role == models.RoleAdmin {
			return &u
		}
	}
	t.Fatal("no admin")
	return nil
}

// The model editor refuses a key shared by more than 5% of rows, showing the share and
// examples, and the builder answers a count for the conditions as they are built.
func TestModelAndSegmentPages(t *testing.T) {
	t.Parallel()
	s := newWHSetup(t, testutil.SQLiteURL(t))
	_, admin := signedInAdmin(t, s.app)
	token := admin.csrf("/models/new")

	refused := admin.post("/models", url.Values{"_csrf": {token}, "source_id": {s.source.ID}, "name": {"Bad"}, "mode": {"table"}, "table": {"bad"}, "primary_key": {"id"}}).
		want(t, http.StatusUnprocessableEntity)
	msg := refused.Text(t, "[data-testid=error-primary_key]")
	if !strings.Contains(msg, "20.0%") || !strings.Contains(msg, "rows)") {
		t.Errorf("refusal message %q should give the share and sample keys", msg)
	}
	saved := admin.post("/models", url.Values{"_csrf": {token}, "source_id": {s.source.ID}, "name": {"Customers"}, "mode": {"sql"},
		"sql": {"SELECT id, email, country, age FROM customers"}, "primary_key": {"id"}}).want(t, http.StatusSeeOther)
	model := admin.get(saved.Location()).want(t, http.StatusOK)
	if got := model.Count(t, "[data-testid=column-row]"); got != 4 {
		t.Errorf("model page lists %d columns, want 4", got)
	}
	modelID := strings.TrimPrefix(saved.Location(), "/models/")

	want := 0
	for _, c := range s.rows {
		if c.country == "FR" || (c.age != nil && *c.age > 40) {
			want++
		}
	}
	built := admin.post("/segments/builder", url.Values{"_csrf": {token}, "model_id": {modelID}, "name": {"x"},
		"n.r.kind":   {"any"},
		"n.r.0.kind": {"leaf"}, "n.r.0.column": {"country"}, "n.r.0.op": {"eq"}, "n.r.0.value": {"FR"},
		"n.r.1.kind": {"leaf"}, "n.r.1.column": {"age"}, "n.r.1.op": {"gt"}, "n.r.1.value": {"40"},
	}, "HX-Request", "true").want(t, http.StatusOK)
	if got := built.Text(t, "[data-testid=segment-count]"); got != strconv.Itoa(want) {
		t.Errorf("builder count = %q, want %d", got, want)
	}
	if sql := built.Text(t, "[data-testid=sql-preview]"); strings.Contains(sql, "'FR'") || strings.Contains(sql, "40") || strings.Count(sql, "?") != 2 {
		t.Errorf("values in the SQL preview: %s", sql)
	}
	added := admin.post("/segments/builder", url.Values{"_csrf": {token}, "model_id": {modelID}, "n.r.kind": {"all"}, "action": {"add-group:r"}},
		"HX-Request", "true").want(t, http.StatusOK)
	if added.Count(t, "[data-testid=cond-group]") != 2 {
		t.Errorf("add-group did not add a nested group:\n%s", added.Body)
	}
	wrong := admin.post("/segments/builder", url.Values{"_csrf": {token}, "model_id": {modelID},
		"n.r.kind": {"all"}, "n.r.0.kind": {"leaf"}, "n.r.0.column": {"age"}, "n.r.0.op": {"gt"}, "n.r.0.value": {"forty"}},
		"HX-Request", "true").want(t, http.StatusOK)
	if wrong.Count(t, "[data-testid=cond-error]") != 1 || wrong.Count(t, "[data-testid=segment-count]") != 0 {
		t.Errorf("a wrong value should be marked and not counted:\n%s", wrong.Body)
	}
}
