package models_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"sluice/internal/testutil"
	"sluice/models"
)

func auditActions(t *testing.T, s *models.Store, workspaceID string) []string {
	t.Helper()
	entries, _, err := s.ListAuditEntries(t.Context(), workspaceID, models.AuditFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Action+" "+e.ResourceName)
	}
	return out
}

// TestOwnerManagesWorkspaces: the organization's owner adds, renames and deletes
// workspaces of their organization and nobody else's; members keep a role per workspace.
func TestOwnerManagesWorkspaces(t *testing.T) {
	t.Parallel()
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		ada, adaA := testutil.Admin(t, s) // owns the organization
		if !ada.Owner {
			t.Fatal("the first admin does not own the organization")
		}
		bob := addUser(t, s, adaA, "bob@example.com", models.RoleAdmin)
		bobA := testutil.ActorOf(bob)
		_, boss := otherWorkspace(t, s)

		// Only the owner manages workspaces; an admin of the workspace does not.
		if _, err := s.AddWorkspace(ctx, bobA, "Marketing"); !errors.Is(err, models.ErrForbidden) {
			t.Fatalf("admin who owns nothing adds a workspace: %v, want ErrForbidden", err)
		}
		tok := models.Actor{WorkspaceID: ada.WorkspaceID, Type: models.ActorToken, ID: "t", Role: models.RoleAdmin}
		if _, err := s.AddWorkspace(ctx, tok, "Marketing"); !errors.Is(err, models.ErrForbidden) {
			t.Fatalf("API token adds a workspace: %v, want ErrForbidden", err)
		}
		_, err := s.AddWorkspace(ctx, adaA, " acme ")
		wantField(t, err, "name") // same name as her first workspace, whatever the case
		mkt, err := s.AddWorkspace(ctx, adaA, "Marketing")
		if err != nil {
			t.Fatal(err)
		}
		if mkt.OrganizationID != ada.OrganizationID {
			t.Errorf("new workspace in organization %s, want %s", mkt.OrganizationID, ada.OrganizationID)
		}
		if got := getUser(t, s, mkt.ID, ada.ID); got.Role != models.RoleAdmin {
			t.Errorf("owner's role in the new workspace: %s, want admin", got.Role)
		}
		if _, err := s.UserByID(ctx, mkt.ID, bob.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("bob in the new workspace before being added: %v, want ErrNotFound", err)
		}

		// Adding bob's e-mail to Marketing gives him a membership with its own role, no
		// second account and no password.
		inMkt := adaA
		inMkt.WorkspaceID = mkt.ID
		added, err := s.CreateUser(ctx, inMkt, models.NewUser{Email: "BOB@example.com", Role: models.RoleViewer})
		if err != nil {
			t.Fatal(err)
		}
		if added.ID != bob.ID || added.Role != models.RoleViewer {
			t.Errorf("adding bob to Marketing: %+v, want his account as viewer", added)
		}
		_, err = s.CreateUser(ctx, inMkt, models.NewUser{Email: "bob@example.com", Role: models.RoleEditor})
		wantField(t, err, "email") // a member already
		_, err = s.CreateUser(ctx, inMkt, models.NewUser{Email: "boss@globex.example", Role: models.RoleViewer})
		wantField(t, err, "email") // an account of another organization
		if got := getUser(t, s, ada.WorkspaceID, bob.ID); got.Role != models.RoleAdmin {
			t.Errorf("bob's role in Acme: %s, want admin still", got.Role)
		}
		ws, err := s.WorkspacesOf(ctx, bob.ID)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, w := range ws {
			names = append(names, w.Name+":"+string(w.Role))
		}
		if !slices.Equal(names, []string{"Acme:admin", "Marketing:viewer"}) {
			t.Errorf("bob's workspaces: %v", names)
		}
		// A role change in one workspace leaves the other alone.
		if _, err := s.UpdateUserRole(ctx, inMkt, bob.ID, models.RoleOperator); err != nil {
			t.Fatal(err)
		}
		if got := getUser(t, s, ada.WorkspaceID, bob.ID); got.Role != models.RoleAdmin {
			t.Errorf("bob's role in Acme after a change in Marketing: %s", got.Role)
		}

		// The owner of another organization sees and touches none of it.
		if _, err := s.RenameWorkspace(ctx, boss, mkt.ID, "Mine"); !errors.Is(err, models.ErrForbidden) && !errors.Is(err, models.ErrNotFound) {
			t.Errorf("another organization's owner renames: %v", err)
		}
		if _, err := s.RenameWorkspace(ctx, boss, mkt.ID, "Mine"); err == nil {
			t.Error("another organization renamed Marketing")
		}
		if list, err := s.OrganizationWorkspaces(ctx, boss); err != nil || len(list) != 1 || list[0].Name != "Globex" {
			t.Errorf("Globex's owner lists %+v (%v), want only Globex", list, err)
		}

		renamed, err := s.RenameWorkspace(ctx, adaA, mkt.ID, "Growth")
		if err != nil || renamed.Name != "Growth" {
			t.Fatalf("rename: %+v %v", renamed, err)
		}
		list, err := s.OrganizationWorkspaces(ctx, adaA)
		if err != nil || len(list) != 2 || list[1].Name != "Growth" || list[1].Members != 2 {
			t.Errorf("Acme's workspaces: %+v (%v), want Acme and Growth with 2 members", list, err)
		}

		// Carol works only in Growth: she goes with it. Bob keeps Acme, and a sign-in that
		// would have opened Growth opens Acme.
		carol := addUser(t, s, inMkt, "carol@example.com", models.RoleEditor)
		if _, err := s.SwitchWorkspace(ctx, "", bob.ID, mkt.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SwitchWorkspace(ctx, "", carol.ID, ada.WorkspaceID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("switching to a workspace one is not a member of: %v, want ErrNotFound", err)
		}
		wantField(t, s.DeleteWorkspace(ctx, adaA, mkt.ID, "growth"), "confirm")  // typed wrong
		wantField(t, s.DeleteWorkspace(ctx, inMkt, mkt.ID, "Growth"), "confirm") // working in it
		wantField(t, s.DeleteWorkspace(ctx, adaA, ada.WorkspaceID, "Acme"), "confirm")
		if err := s.DeleteWorkspace(ctx, adaA, mkt.ID, "Growth"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.WorkspaceByID(ctx, mkt.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("deleted workspace: %v", err)
		}
		if _, err := s.UserByID(ctx, mkt.ID, carol.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("carol after her only workspace went: %v", err)
		}
		if u, err := s.Authenticate(ctx, "bob@example.com", testutil.Password, "192.0.2.1"); err != nil || u.WorkspaceID != ada.WorkspaceID || u.Role != models.RoleAdmin {
			t.Errorf("bob signs in: %+v %v, want Acme as admin", u, err)
		}
		got := auditActions(t, s, ada.WorkspaceID)
		for _, want := range []string{"workspace.create Marketing", "workspace.rename Growth", "workspace.delete Growth"} {
			if !slices.Contains(got, want) {
				t.Errorf("Acme's audit log lacks %q: %v", want, got)
			}
		}
	})
}

// TestOrganizationOwnership: an owner renames the organization, makes another member an
// owner and steps down only while another owner remains; admins who own nothing and
// other organizations' owners do none of it; every change is in the organization's trail.
func TestOrganizationOwnership(t *testing.T) {
	t.Parallel()
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		ada, adaA := testutil.Admin(t, s)
		bob := addUser(t, s, adaA, "bob@example.com", models.RoleViewer)
		bobA := testutil.ActorOf(bob)
		boss, bossA := otherWorkspace(t, s)

		_, err := s.RenameOrganization(ctx, adaA, "  ")
		wantField(t, err, "org-name")
		if _, err := s.RenameOrganization(ctx, bobA, "Bob Inc"); !errors.Is(err, models.ErrForbidden) {
			t.Errorf("a member who owns nothing renames the organization: %v, want ErrForbidden", err)
		}
		tok := models.Actor{WorkspaceID: ada.WorkspaceID, Type: models.ActorToken, ID: "t", Role: models.RoleAdmin}
		if _, err := s.MakeOwner(ctx, tok, bob.ID); !errors.Is(err, models.ErrForbidden) {
			t.Errorf("an API token makes an owner: %v, want ErrForbidden", err)
		}
		if o, err := s.RenameOrganization(ctx, adaA, " Acme Group "); err != nil || o.Name != "Acme Group" {
			t.Fatalf("rename: %+v, %v", o, err)
		}
		if o, err := s.OrganizationOf(ctx, bossA); err != nil || o.Name != "Globex" {
			t.Errorf("Globex's organization after Acme's rename: %+v, %v", o, err)
		}

		// The only owner cannot step down; another organization's account cannot be
		// made an owner here.
		wantField(t, s.StepDown(ctx, adaA), "owner")
		if _, err := s.MakeOwner(ctx, adaA, boss.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("making another organization's owner an owner of Acme: %v, want ErrNotFound", err)
		}
		if _, err := s.MakeOwner(ctx, bossA, bob.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("Globex's owner makes bob an owner: %v, want ErrNotFound", err)
		}
		if u, err := s.MakeOwner(ctx, adaA, bob.ID); err != nil || !u.Owner {
			t.Fatalf("make bob an owner: %+v, %v", u, err)
		}
		_, err = s.MakeOwner(ctx, adaA, bob.ID)
		wantField(t, err, "owner")
		members, err := s.OrganizationMembers(ctx, bobA)
		if err != nil || len(members) != 2 || !members[0].Owner || !members[1].Owner {
			t.Fatalf("members as bob sees them: %+v, %v; want two owners", members, err)
		}

		// While single sign-on is required with ada keeping password sign-in, she may
		// not step down.
		if err := s.DB().Model(&models.Organization{}).Where("id = ?", ada.OrganizationID).
			Updates(map[string]any{"require_sso": true, "break_glass_user_id": ada.ID}).Error; err != nil {
			t.Fatal(err)
		}
		wantField(t, s.StepDown(ctx, adaA), "owner")
		if err := s.DB().Model(&models.Organization{}).Where("id = ?", ada.OrganizationID).
			Updates(map[string]any{"require_sso": false, "break_glass_user_id": ""}).Error; err != nil {
			t.Fatal(err)
		}

		// Ada steps down: she keeps her role in Acme, manages nothing; bob is then the
		// only owner and may not step down.
		if err := s.StepDown(ctx, adaA); err != nil {
			t.Fatal(err)
		}
		if got := getUser(t, s, ada.WorkspaceID, ada.ID); got.Owner || got.Role != models.RoleAdmin {
			t.Errorf("ada after stepping down: owner %v role %s, want admin and no owner", got.Owner, got.Role)
		}
		if _, err := s.OrganizationWorkspaces(ctx, adaA); !errors.Is(err, models.ErrForbidden) {
			t.Errorf("ada lists the workspaces after stepping down: %v, want ErrForbidden", err)
		}
		wantField(t, s.StepDown(ctx, bobA), "owner")

		trail, _, err := s.ListOrganizationAudit(ctx, bobA, "", 50)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range trail {
			got = append(got, e.Action+" "+e.ResourceName+" by "+e.ActorName+" in "+e.WorkspaceName)
		}
		want := []string{
			"organization.owner_remove admin@example.com by admin@example.com in Acme",
			"organization.owner_add bob@example.com by admin@example.com in Acme",
			"organization.rename Acme Group by admin@example.com in Acme",
		}
		if !slices.Equal(got, want) {
			t.Errorf("Acme's trail:\n%q\nwant\n%q", got, want)
		}
		if trail, _, err := s.ListOrganizationAudit(ctx, bossA, "", 50); err != nil || len(trail) != 0 {
			t.Errorf("Globex's trail: %+v, %v; want nothing of Acme's", trail, err)
		}
	})
}

// TestOwnersStepDownTogether: two owners stepping down at once leave one of them owner.
func TestOwnersStepDownTogether(t *testing.T) {
	t.Parallel()
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ada, adaA := testutil.Admin(t, s)
		bob := addUser(t, s, adaA, "bob@example.com", models.RoleAdmin)
		if _, err := s.MakeOwner(t.Context(), adaA, bob.ID); err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 2)
		for _, a := range []models.Actor{adaA, testutil.ActorOf(bob)} {
			go func() { errs <- s.StepDown(t.Context(), a) }()
		}
		var refused int
		for range 2 {
			if err := <-errs; err != nil {
				if fieldOf(err) != "owner" {
					t.Fatalf("step down: %v", err)
				}
				refused++
			}
		}
		owners := 0
		for _, id := range []string{ada.ID, bob.ID} {
			if getUser(t, s, ada.WorkspaceID, id).Owner {
				owners++
			}
		}
		if refused != 1 || owners != 1 {
			t.Errorf("after both stepped down at once: %d refused, %d owners; want 1 and 1", refused, owners)
		}
	})
}

// TestDeletedWorkspaceKeepsItsAuditTrail: deleting a workspace keeps its audit entries
// and the deletion itself in the organization's trail, with the workspace's name.
func TestDeletedWorkspaceKeepsItsAuditTrail(t *testing.T) {
	t.Parallel()
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		_, adaA := testutil.Admin(t, s)
		staging, err := s.AddWorkspace(ctx, adaA, "Staging")
		if err != nil {
			t.Fatal(err)
		}
		inStaging := adaA
		inStaging.WorkspaceID = staging.ID
		addUser(t, s, inStaging, "carol@example.com", models.RoleEditor)
		if err := s.DeleteWorkspace(ctx, adaA, staging.ID, "Staging"); err != nil {
			t.Fatal(err)
		}
		trail, _, err := s.ListOrganizationAudit(ctx, adaA, "", 50)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range trail {
			got = append(got, fmt.Sprintf("%s %s in %s gone=%v", e.Action, e.ResourceName, e.WorkspaceName, e.WorkspaceGone))
		}
		for _, want := range []string{
			"workspace.delete Staging in Acme gone=false",
			"user.create carol@example.com in Staging gone=true",
			"workspace.create Staging in Staging gone=true",
			"workspace.create Staging in Acme gone=false",
		} {
			if !slices.Contains(got, want) {
				t.Errorf("the organization's trail lacks %q:\n%q", want, got)
			}
		}
		// Paged: one entry at a time reaches the same entries.
		var paged []string
		cursor := ""
		for {
			page, next, err := s.ListOrganizationAudit(ctx, adaA, cursor, 1)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page {
				paged = append(paged, e.ID)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if len(paged) != len(trail) {
			t.Errorf("paging one at a time gave %d entries, want %d", len(paged), len(trail))
		}
	})
}

// TestBreakGlassOwnerKept: while single sign-on is required, nothing ends the account or
// the ownership of the owner who keeps password sign-in (stepping down, removing them
// from their last workspace, deleting that workspace), in words naming the way out;
// once "require SSO" is off, the same changes go through.
func TestBreakGlassOwnerKept(t *testing.T) {
	t.Parallel()
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		ada, adaA := testutil.Admin(t, s)
		mkt, err := s.AddWorkspace(ctx, adaA, "Marketing")
		if err != nil {
			t.Fatal(err)
		}
		adaInMkt := adaA
		adaInMkt.WorkspaceID = mkt.ID
		carol := addUser(t, s, adaInMkt, "carol@example.com", models.RoleEditor) // Marketing only
		if _, err := s.MakeOwner(ctx, adaA, carol.ID); err != nil {
			t.Fatal(err)
		}
		carolA := testutil.ActorOf(carol)
		require := func(on bool, who string) {
			t.Helper()
			if err := s.DB().Model(&models.Organization{}).Where("id = ?", ada.OrganizationID).
				Updates(map[string]any{"require_sso": on, "break_glass_user_id": who}).Error; err != nil {
				t.Fatal(err)
			}
		}
		wantWords := func(err error, field, words string) {
			t.Helper()
			wantField(t, err, field)
			var fe *models.FieldError
			errors.As(err, &fe)
			if !strings.Contains(fe.Message, words) || !strings.Contains(fe.Message, `turn "require SSO" off, or have another owner turn it on again`) {
				t.Fatalf("refusal %q, want it to name %q and the way out", fe.Message, words)
			}
		}
		require(true, carol.ID)
		wantWords(s.StepDown(ctx, carolA), "owner", "You are the owner who keeps password sign-in")
		wantWords(s.DeleteUser(ctx, adaInMkt, carol.ID), "user", "carol@example.com is the owner who keeps password sign-in")
		wantWords(s.DeleteWorkspace(ctx, adaA, mkt.ID, "Marketing"), "confirm", "carol@example.com (whose only workspace Marketing is) is the owner who keeps password sign-in")
		if got := getUser(t, s, mkt.ID, carol.ID); !got.Owner {
			t.Fatal("the break-glass owner lost their ownership")
		}

		// Another owner is the break-glass one now: carol may step down, and then go with
		// her workspace.
		require(true, ada.ID)
		if err := s.StepDown(ctx, carolA); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteWorkspace(ctx, adaA, mkt.ID, "Marketing"); err != nil {
			t.Fatal(err)
		}
		if err := s.DB().Where("id = ?", carol.ID).Take(&models.User{}).Error; err == nil {
			t.Fatal("carol's account stayed after her only workspace went")
		}
	})
}
