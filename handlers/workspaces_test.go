package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"sluice/internal/testutil"
	"sluice/models"
)

// Acceptance: two workspaces made through the product. Bob is admin in Acme and viewer
// in Globex and may do in each exactly what that role allows; the frame switches between
// them; API tokens and every route of the isolation matrix answer 404 across them; a link
// to a run of the other workspace opens there for a member, and is not found for others.
func TestTwoWorkspacesOfOneOrganization(t *testing.T) {
	t.Parallel()
	eachRunFixture(t, func(t *testing.T, f *runFixture) {
		ctx := t.Context()
		run := f.startRun(t)
		ada := f.browser // the first admin: owns the organization
		adaCSRF := ada.csrf("/settings/workspaces")
		page := ada.get("/activations").want(t, http.StatusOK)
		if page.Count(t, "[data-testid=nav-workspaces]") != 1 || page.Count(t, "[data-testid=workspace-switcher]") != 0 {
			t.Fatal("the owner of one workspace should see Settings → Organization and no switcher")
		}

		// Ada adds Globex and Bob (admin of Acme), then works in Globex and adds Bob there
		// as a viewer: his account gets a second membership, no password asked.
		ada.post("/settings/workspaces", url.Values{"_csrf": {adaCSRF}, "name": {"Globex"}}).want(t, http.StatusSeeOther)
		ada.post("/settings/workspaces", url.Values{"_csrf": {adaCSRF}, "name": {"globex"}}).want(t, http.StatusUnprocessableEntity)
		ws := ada.get("/settings/workspaces").want(t, http.StatusOK)
		if n := ws.Count(t, "[data-testid=workspace-row]"); n != 2 {
			t.Fatalf("workspaces page lists %d, want Acme and Globex", n)
		}
		users, err := f.app.store.ListUsers(ctx, models.DefaultWorkspaceID)
		if err != nil || len(users) != 1 {
			t.Fatalf("users of Acme: %v %v", users, err)
		}
		mine, err := f.app.store.WorkspacesOf(ctx, users[0].ID)
		if err != nil || len(mine) != 2 {
			t.Fatalf("ada's workspaces: %+v %v", mine, err)
		}
		globex := mine[1].Workspace
		if globex.Name != "Globex" || mine[1].Role != models.RoleAdmin {
			t.Fatalf("ada's second workspace %s as %s, want Globex as admin", globex.Name, mine[1].Role)
		}
		ada.post("/settings/users", url.Values{"_csrf": {adaCSRF}, "email": {"bob@acme.example"}, "password": {testutil.Password}, "role": {"admin"}}).want(t, http.StatusSeeOther)
		ada.post("/workspaces/switch", url.Values{"_csrf": {adaCSRF}, "workspace": {globex.ID}}).want(t, http.StatusSeeOther)
		page = ada.get("/activations").want(t, http.StatusOK)
		if got := page.Text(t, "[data-testid=workspace-switcher] option[selected]"); !strings.HasPrefix(got, "Globex") {
			t.Errorf("switcher shows %q selected, want Globex", got)
		}
		if strings.Contains(page.Body, f.act.Name) {
			t.Error("Globex's activations page shows Acme's activation")
		}
		ada.post("/settings/users", url.Values{"_csrf": {adaCSRF}, "email": {"bob@acme.example"}, "role": {"viewer"}}).want(t, http.StatusSeeOther)
		globexToken := whToken(t, f.app.store, globex.ID, models.RoleAdmin)

		// Bob's sign-in opens Acme, where he is admin.
		bob := f.app.client(t)
		bob.signIn("bob@acme.example", testutil.Password)
		bobCSRF := bob.csrf("/activations")
		page = bob.get("/activations").want(t, http.StatusOK)
		if n := page.Count(t, "[data-testid=workspace-switcher] option"); n != 2 {
			t.Fatalf("bob's switcher has %d workspaces, want 2", n)
		}
		if page.Count(t, "[data-testid=nav-workspaces]") != 0 {
			t.Error("bob owns nothing, yet sees Settings → Organization")
		}
		if !strings.Contains(page.Body, f.act.Name) {
			t.Error("Acme's activations page lacks its activation")
		}
		type check struct {
			method, path string
			form         url.Values
		}
		adminOnly := []check{
			{"GET", "/settings/users", nil}, {"GET", "/settings/tokens", nil}, {"GET", "/settings/audit", nil},
			{"GET", "/sources/new", nil}, {"GET", "/settings/platforms/new", nil},
		}
		editorUp := []check{{"GET", "/activations/new", nil}, {"GET", "/segments/new", nil}, {"GET", "/models/new", nil}}
		anyRole := []check{{"GET", "/activations", nil}, {"GET", "/segments", nil}, {"GET", "/sources", nil}, {"GET", "/settings/platforms", nil}}
		for _, c := range append(append(adminOnly, editorUp...), anyRole...) {
			bob.do(c.method, c.path, c.form).want(t, http.StatusOK)
		}
		bob.get("/settings/workspaces").want(t, http.StatusForbidden)
		bob.post("/settings/workspaces", url.Values{"_csrf": {bobCSRF}, "name": {"Bob's"}}).want(t, http.StatusForbidden)
		bob.get("/runs/"+run.ID).want(t, http.StatusOK)

		// In Globex he is a viewer: reads, nothing more.
		bob.post("/workspaces/switch", url.Values{"_csrf": {bobCSRF}, "workspace": {globex.ID}}).want(t, http.StatusSeeOther)
		page = bob.get("/activations").want(t, http.StatusOK)
		if got := page.Text(t, ".sidebar-footer .badge"); got != "Viewer" {
			t.Errorf("bob's role badge in Globex: %q, want Viewer", got)
		}
		for _, c := range append(adminOnly, editorUp...) {
			bob.do(c.method, c.path, c.form).want(t, http.StatusForbidden)
		}
		for _, c := range anyRole {
			bob.do(c.method, c.path, c.form).want(t, http.StatusOK)
		}
		bob.post("/settings/tokens", url.Values{"_csrf": {bobCSRF}, "name": {"mine"}, "role": {"admin"}}).want(t, http.StatusForbidden)

		// Changes aimed at Acme's objects from Globex are not found, whatever the role
		// there: Ada, admin of Globex, tries every one.
		dave, err := f.app.store.CreateUser(ctx, models.Actor{WorkspaceID: models.DefaultWorkspaceID, Type: models.ActorSystem, Name: "test"},
			models.NewUser{Email: "dave@acme.example", Password: testutil.Password, Role: models.RoleEditor})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []check{
			{"POST", "/activations/" + f.act.ID + "/pause", nil}, {"POST", "/activations/" + f.act.ID + "/runs", nil},
			{"POST", "/runs/" + run.ID + "/cancel", nil}, {"DELETE", "/activations/" + f.act.ID, nil},
			{"POST", "/settings/users/" + dave.ID, url.Values{"role": {"viewer"}}},
			{"DELETE", "/settings/users/" + dave.ID, nil},
			{"GET", "/settings/platforms/" + f.platform.ID, nil}, {"GET", "/sources/" + f.source.ID, nil},
			{"GET", "/models/" + f.model.ID, nil}, {"GET", "/segments/" + f.segment.ID, nil},
			{"GET", "/runs/" + run.ID + "/issues?stage=source", nil}, {"GET", "/runs/" + run.ID + "/progress", nil},
			{"GET", "/activations/" + f.act.ID + "/records?key=k1", nil},
		} {
			if r := ada.do(c.method, c.path, c.form, "X-CSRF-Token", adaCSRF); r.Status != http.StatusNotFound {
				t.Errorf("%s %s from Globex: %d, want 404", c.method, c.path, r.Status)
			}
		}
		if got, _ := f.app.store.RunByID(ctx, models.DefaultWorkspaceID, run.ID); got.CancelRequested {
			t.Error("Globex cancelled Acme's run")
		}
		if u, _ := f.app.store.UserByID(ctx, models.DefaultWorkspaceID, dave.ID); u == nil || u.Role != models.RoleEditor {
			t.Error("Globex changed an Acme user's role")
		}

		// Tokens: Globex's admin token finds none of Acme's objects, Acme's none of Globex's.
		for _, p := range []string{"/sources/" + f.source.ID, "/models/" + f.model.ID, "/segments/" + f.segment.ID,
			"/platforms/" + f.platform.ID, "/activations/" + f.act.ID, "/runs/" + run.ID, "/runs/" + run.ID + "/issues"} {
			wantErr(t, f.admin.as(globexToken).get(p), http.StatusNotFound, "not_found", "")
			f.admin.as(f.adminTk).get(p).want(t, http.StatusOK)
		}
		theirs := into[platformBody](t, f.admin.as(globexToken).post("/platforms", map[string]any{
			"name": "Globex hook", "kind": "webhook", "config": map[string]any{"url": f.hook.url()}}).want(t, http.StatusCreated))
		wantErr(t, f.admin.as(f.adminTk).get("/platforms/"+theirs.ID), http.StatusNotFound, "not_found", "")
		// Acme's ids in a body are unknown to Globex's token as they are in a path: nothing
		// is made on Acme's source, model or segment.
		g := f.admin.as(globexToken)
		wantErr(t, g.post("/models", map[string]any{"source_id": f.source.ID, "name": "Borrowed", "table": "customers", "primary_key": "id"}),
			http.StatusUnprocessableEntity, "invalid", "source_id")
		wantErr(t, g.post("/segments", map[string]any{"model_id": f.model.ID, "name": "Borrowed", "conditions": map[string]any{"all": []any{}}}),
			http.StatusUnprocessableEntity, "invalid", "model_id")
		act := map[string]any{"name": "Borrowed", "segment_id": f.segment.ID, "platform_id": theirs.ID,
			"mappings": []map[string]any{{"from": "email", "to": "email"}}, "schedule": map[string]any{"kind": "manual"}}
		wantErr(t, g.post("/activations", act), http.StatusUnprocessableEntity, "invalid", "segment_id")

		// A link to Acme's run (as in an alert e-mail) opens in Acme for Bob, who is a
		// member there; Carol, only in Globex, does not find it.
		r := bob.get("/runs/"+run.ID).want(t, http.StatusSeeOther)
		if r.Location() != "/runs/"+run.ID {
			t.Errorf("link goes to %q", r.Location())
		}
		page = bob.get("/runs/"+run.ID).want(t, http.StatusOK)
		if got := page.Text(t, ".sidebar-footer .badge"); got != "Admin" {
			t.Errorf("bob's role after following the link: %q, want Admin (in Acme)", got)
		}
		carol := userIn(t, f.app, globex.ID, models.RoleAdmin)
		carol.get("/runs/"+run.ID).want(t, http.StatusNotFound)
		carol.get("/activations/"+f.act.ID).want(t, http.StatusNotFound)
		carol.post("/workspaces/switch", url.Values{"_csrf": {carol.csrf("/activations")}, "workspace": {models.DefaultWorkspaceID}}).want(t, http.StatusNotFound)

		// Ada renames Globex, and deletes it once she works elsewhere and types its name.
		ada.post("/settings/workspaces/"+globex.ID, url.Values{"_csrf": {adaCSRF}, "name": {"Globex EU"}}).want(t, http.StatusSeeOther)
		r = ada.post("/settings/workspaces/"+globex.ID+"/delete", url.Values{"_csrf": {adaCSRF}, "confirm": {"Globex EU"}}).want(t, http.StatusUnprocessableEntity)
		if !strings.Contains(r.Text(t, "[data-testid=row-error]"), "Switch to another workspace") {
			t.Errorf("deleting the workspace one works in: %q", r.Text(t, "[data-testid=row-error]"))
		}
		ada.post("/workspaces/switch", url.Values{"_csrf": {adaCSRF}, "workspace": {models.DefaultWorkspaceID}}).want(t, http.StatusSeeOther)
		ada.post("/settings/workspaces/"+globex.ID+"/delete", url.Values{"_csrf": {adaCSRF}, "confirm": {"Globex"}}).want(t, http.StatusUnprocessableEntity)
		ada.post("/settings/workspaces/"+globex.ID+"/delete", url.Values{"_csrf": {adaCSRF}, "confirm": {"Globex EU"}}).want(t, http.StatusSeeOther)
		if _, err := f.app.store.WorkspaceByID(ctx, globex.ID); !models.IsNotFound(err) {
			t.Errorf("Globex after deletion: %v", err)
		}
		if carol.signedIn() {
			t.Error("carol, whose only workspace was deleted, is still signed in")
		}
		if !bob.signedIn() {
			t.Error("bob lost Acme with Globex")
		}
		page = bob.get("/activations").want(t, http.StatusOK)
		if page.Count(t, "[data-testid=workspace-switcher]") != 0 {
			t.Error("bob still has a switcher with one workspace left")
		}
		var actions []string
		entries, _, _ := f.app.store.ListAuditEntries(ctx, models.DefaultWorkspaceID, models.AuditFilter{ResourceType: "workspace", Limit: 10})
		for _, e := range entries {
			actions = append(actions, e.Action+" "+e.ResourceName)
		}
		if got := strings.Join(actions, ", "); got != "workspace.delete Globex EU, workspace.create Globex" {
			// The rename was made from Globex and is in its log, which went with it.
			t.Errorf("Acme's audit log of workspaces: %s", got)
		}
	})
}
