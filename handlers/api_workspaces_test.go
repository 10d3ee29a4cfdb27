package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"sluice/internal/testutil"
	"sluice/models"
)

type workspaceBody struct {
	ID      string
	Name    string
	Members int
	Current bool
}

type invitationBody struct {
	ID, Email, Role, Link string
	Expired               bool
}

// TestWorkspacesAPI: every token lists what it may see; only an owner's token (an admin
// token an owner made, while they own the organization) adds, renames and deletes
// workspaces; other organizations' workspaces are not found.
func TestWorkspacesAPI(t *testing.T) {
	t.Parallel()
	eachApp(t, func(t *testing.T, a *app) {
		ctx := t.Context()
		ada, adaA := testutil.Admin(t, a.store)
		token := func(actor models.Actor, role models.Role) string {
			t.Helper()
			_, plain, err := a.store.CreateAPIToken(ctx, actor, "t "+string(role), role)
			if err != nil {
				t.Fatal(err)
			}
			return plain
		}
		owner := a.whClient(t, token(adaA, models.RoleAdmin))
		bob, err := a.store.CreateUser(ctx, adaA, models.NewUser{Email: "bob@acme.example", Password: testutil.Password, Role: models.RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		others := map[string]string{
			"an admin token of an admin who owns nothing": token(testutil.ActorOf(bob), models.RoleAdmin),
			"an admin token the command line made":        whToken(t, a.store, models.DefaultWorkspaceID, models.RoleAdmin),
			"an owner's viewer token":                     token(adaA, models.RoleViewer),
		}

		for name, tk := range others {
			got := into[list[workspaceBody]](t, owner.as(tk).get("/workspaces").want(t, http.StatusOK))
			if len(got.Items) != 1 || !got.Items[0].Current || got.Items[0].Members != 2 {
				t.Errorf("%s lists %+v, want its own workspace only", name, got.Items)
			}
			r := owner.as(tk).post("/workspaces", map[string]any{"name": "Staging"}).want(t, http.StatusForbidden)
			if e := into[apiErr](t, r); name != "an owner's viewer token" && !strings.Contains(e.Error.Message, "owner's token") {
				t.Errorf("%s adding a workspace: %q, want it told which token may", name, e.Error.Message)
			}
		}

		staging := into[workspaceBody](t, owner.post("/workspaces", map[string]any{"name": "Staging"}).want(t, http.StatusCreated))
		if staging.Name != "Staging" || staging.Current || staging.Members != 1 {
			t.Errorf("created %+v", staging)
		}
		if u, err := a.store.UserByID(ctx, staging.ID, ada.ID); err != nil || u.Role != models.RoleAdmin {
			t.Errorf("the owner in the new workspace: %+v, %v; want its admin", u, err)
		}
		wantErr(t, owner.post("/workspaces", map[string]any{"name": "staging"}), http.StatusUnprocessableEntity, "invalid", "name")
		wantErr(t, owner.post("/workspaces", map[string]any{}), http.StatusUnprocessableEntity, "invalid", "name")
		if got := into[list[workspaceBody]](t, owner.get("/workspaces")); len(got.Items) != 2 || !got.Items[0].Current || got.Items[1].ID != staging.ID {
			t.Errorf("the owner's token lists %+v, want Acme (current) and Staging", got.Items)
		}
		renamed := into[workspaceBody](t, owner.patch("/workspaces/"+staging.ID, map[string]any{"name": "Staging EU"}).want(t, http.StatusOK))
		if renamed.Name != "Staging EU" {
			t.Errorf("renamed: %+v", renamed)
		}
		for tk := range others {
			owner.as(others[tk]).patch("/workspaces/"+staging.ID, map[string]any{"name": "Mine"}).want(t, http.StatusForbidden)
			owner.as(others[tk]).del("/workspaces/"+staging.ID+"?confirm=Staging%20EU").want(t, http.StatusForbidden)
		}

		// Another organization's owner token finds none of it.
		globex, err := a.store.CreateWorkspace(ctx, "Globex")
		if err != nil {
			t.Fatal(err)
		}
		boss, err := a.store.CreateUser(ctx, models.Actor{WorkspaceID: globex.ID, Type: models.ActorSystem, Name: "test"},
			models.NewUser{Email: "boss@globex.example", Password: testutil.Password, Role: models.RoleAdmin})
		if err != nil || !boss.Owner {
			t.Fatalf("Globex's owner: %+v, %v", boss, err)
		}
		globexOwner := owner.as(token(testutil.ActorOf(boss), models.RoleAdmin))
		globexOwner.patch("/workspaces/"+staging.ID, map[string]any{"name": "Mine"}).want(t, http.StatusNotFound)
		globexOwner.del("/workspaces/"+staging.ID+"?confirm=Staging%20EU").want(t, http.StatusNotFound)

		wantErr(t, owner.del("/workspaces/"+staging.ID+"?confirm=Staging"), http.StatusUnprocessableEntity, "invalid", "confirm")
		if e := wantErr(t, owner.del("/workspaces/"+models.DefaultWorkspaceID+"?confirm=Acme"), http.StatusUnprocessableEntity, "invalid", "confirm"); !strings.Contains(e.Error.Message, "This token belongs to Acme") {
			t.Errorf("deleting the token's own workspace: %q", e.Error.Message)
		}
		owner.del("/workspaces/"+staging.ID+"?confirm=Staging%20EU").want(t, http.StatusNoContent)
		owner.del("/workspaces/"+staging.ID+"?confirm=Staging%20EU").want(t, http.StatusNotFound)

		// Once ada no longer owns the organization, her token manages nothing.
		if _, err := a.store.MakeOwner(ctx, adaA, bob.ID); err != nil {
			t.Fatal(err)
		}
		if err := a.store.StepDown(ctx, adaA); err != nil {
			t.Fatal(err)
		}
		owner.post("/workspaces", map[string]any{"name": "Later"}).want(t, http.StatusForbidden)
		if got := into[list[workspaceBody]](t, owner.get("/workspaces")); len(got.Items) != 1 {
			t.Errorf("a former owner's token lists %d workspaces, want its own", len(got.Items))
		}
	})
}

// TestInvitationsAPI: admin tokens invite, list, resend and revoke; the answer carries
// the link only because this app has no mail server; lower roles get 403.
func TestInvitationsAPI(t *testing.T) {
	t.Parallel()
	eachApp(t, func(t *testing.T, a *app) {
		testutil.Admin(t, a.store)
		admin := a.whClient(t, whToken(t, a.store, models.DefaultWorkspaceID, models.RoleAdmin))
		editor := admin.as(whToken(t, a.store, models.DefaultWorkspaceID, models.RoleEditor))

		editor.get("/invitations").want(t, http.StatusForbidden)
		editor.post("/invitations", map[string]any{"email": "grace@acme.example", "role": "editor"}).want(t, http.StatusForbidden)
		wantErr(t, admin.post("/invitations", map[string]any{"email": "grace@acme.example", "role": "boss"}), http.StatusUnprocessableEntity, "invalid", "role")
		wantErr(t, admin.post("/invitations", map[string]any{"email": "admin@example.com", "role": "viewer"}), http.StatusUnprocessableEntity, "invalid", "email")

		inv := into[invitationBody](t, admin.post("/invitations", map[string]any{"email": "Grace@acme.example", "role": "editor"}).want(t, http.StatusCreated))
		if inv.Email != "grace@acme.example" || inv.Role != "editor" || inv.Expired || !strings.Contains(inv.Link, "/invitation?token=") {
			t.Fatalf("invitation %+v, want grace as editor with the link (no mail server)", inv)
		}
		wantErr(t, admin.post("/invitations", map[string]any{"email": "grace@acme.example", "role": "viewer"}), http.StatusUnprocessableEntity, "invalid", "email")
		listed := into[list[invitationBody]](t, admin.get("/invitations").want(t, http.StatusOK))
		if len(listed.Items) != 1 || listed.Items[0].ID != inv.ID || listed.Items[0].Link != "" {
			t.Errorf("listed %+v, want grace's invitation without its link", listed.Items)
		}
		again := into[invitationBody](t, admin.post("/invitations/"+inv.ID+"/resend", nil).want(t, http.StatusOK))
		if again.Link == "" || again.Link == inv.Link {
			t.Errorf("resent link %q, want a new one (was %q)", again.Link, inv.Link)
		}
		admin.del("/invitations/"+inv.ID).want(t, http.StatusNoContent)
		admin.del("/invitations/"+inv.ID).want(t, http.StatusNotFound)
		admin.post("/invitations/"+inv.ID+"/resend", nil).want(t, http.StatusNotFound)
		if got := into[list[invitationBody]](t, admin.get("/invitations")); len(got.Items) != 0 {
			t.Errorf("after revoking: %+v", got.Items)
		}
	})
}
