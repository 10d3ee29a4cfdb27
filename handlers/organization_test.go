package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"sluice/internal/testutil"
	"sluice/models"
)

// TestOrganizationPage: on Settings → Organization the owner renames the organization,
// makes a member an owner and steps down, each in its audit trail; the last owner cannot
// step down; members who own nothing get 403, and a change without its CSRF token too.
func TestOrganizationPage(t *testing.T) {
	t.Parallel()
	eachApp(t, func(t *testing.T, a *app) {
		ctx := t.Context()
		_, ada := signedInAdmin(t, a)
		csrf := ada.csrf("/settings/workspaces")
		ada.post("/settings/users", url.Values{"_csrf": {csrf}, "email": {"bob@acme.example"}, "password": {testutil.Password}, "role": {"admin"}}).want(t, http.StatusSeeOther)
		bob := a.client(t)
		bob.signIn("bob@acme.example", testutil.Password)
		bobCSRF := bob.csrf("/activations")

		// Bob is an admin, not an owner: none of it is his, and the tokens page tells
		// only owners that their admin tokens manage the workspaces.
		const ownerHint = "also manages your organization's workspaces"
		if !strings.Contains(ada.get("/settings/tokens").want(t, http.StatusOK).Body, ownerHint) || strings.Contains(bob.get("/settings/tokens").want(t, http.StatusOK).Body, ownerHint) {
			t.Error("the tokens page's note on owners' tokens: want it for ada only")
		}
		bob.get("/settings/workspaces").want(t, http.StatusForbidden)
		bob.post("/settings/organization", url.Values{"_csrf": {bobCSRF}, "org-name": {"Bob Inc"}}).want(t, http.StatusForbidden)
		bob.post("/settings/organization/step-down", url.Values{"_csrf": {bobCSRF}}).want(t, http.StatusForbidden)
		ada.post("/settings/organization", url.Values{"org-name": {"No token"}}).want(t, http.StatusForbidden)

		r := ada.post("/settings/organization", url.Values{"_csrf": {csrf}, "org-name": {" "}}).want(t, http.StatusUnprocessableEntity)
		if got := r.Text(t, "[data-testid=error-org-name]"); !strings.Contains(got, "Give the organization a name") {
			t.Errorf("empty name: %q", got)
		}
		ada.post("/settings/organization", url.Values{"_csrf": {csrf}, "org-name": {"Acme Group"}}).want(t, http.StatusSeeOther)

		page := ada.get("/settings/workspaces").want(t, http.StatusOK)
		if got, _ := page.Doc(t).Find("#f-org-name").Attr("value"); got != "Acme Group" {
			t.Errorf("organization name field = %q, want Acme Group", got)
		}
		if page.Count(t, "[data-testid=member-row]") != 2 || page.Count(t, "[data-testid=make-owner]") != 1 || page.Count(t, "[data-testid=step-down]") != 0 {
			t.Fatalf("owners card: %d members, %d make-owner, %d step-down; want 2, 1 (bob), 0 (ada is the only owner)",
				page.Count(t, "[data-testid=member-row]"), page.Count(t, "[data-testid=make-owner]"), page.Count(t, "[data-testid=step-down]"))
		}
		action, _ := page.Doc(t).Find("[data-testid=make-owner]").Closest("form").Attr("action")
		ada.post(action, url.Values{"_csrf": {csrf}}).want(t, http.StatusSeeOther)
		ada.post(action, url.Values{"_csrf": {csrf}}).want(t, http.StatusUnprocessableEntity)
		ada.post("/settings/organization/owners/no-such-user", url.Values{"_csrf": {csrf}}).want(t, http.StatusNotFound)

		page = ada.get("/settings/workspaces").want(t, http.StatusOK)
		trail := page.Text(t, "[data-testid=organization-audit-table]")
		for _, want := range []string{"organization.rename", "Acme Group", "organization.owner_add", "bob@acme.example"} {
			if !strings.Contains(trail, want) {
				t.Errorf("the audit trail lacks %q: %s", want, trail)
			}
		}

		// Ada steps down and lands on the activations; the page is not hers any more.
		r = ada.post("/settings/organization/step-down", url.Values{"_csrf": {csrf}}).want(t, http.StatusSeeOther)
		if r.Location() != "/activations" {
			t.Errorf("after stepping down: redirected to %q", r.Location())
		}
		ada.get("/settings/workspaces").want(t, http.StatusForbidden)
		if ada.get("/activations").want(t, http.StatusOK).Count(t, "[data-testid=nav-workspaces]") != 0 {
			t.Error("the menu still offers the organization's page to ada")
		}
		// Bob is the only owner now: he may not step down.
		r = bob.post("/settings/organization/step-down", url.Values{"_csrf": {bobCSRF}}).want(t, http.StatusUnprocessableEntity)
		if got := r.Text(t, "[data-testid=owner-error]"); !strings.Contains(got, "only owner") {
			t.Errorf("the last owner steps down: %q", got)
		}
		members, err := a.store.ListUsers(ctx, models.DefaultWorkspaceID)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range members {
			if u.Owner != (u.Email == "bob@acme.example") {
				t.Errorf("%s owner = %v", u.Email, u.Owner)
			}
		}
	})
}
