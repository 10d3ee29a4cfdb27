package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	fakeoidc "sluice/internal/fakes/oidc"
	"sluice/internal/testutil"
	"sluice/models"
)

// The sign-in page's e-mail step tells what an e-mail signs in with, so it is throttled
// per client address: 100 look-ups (an office behind one address), then a wait said in
// words and in Retry-After. Another address goes on, and so do the address's passwords.
func TestEmailStepThrottled(t *testing.T) {
	t.Parallel()
	eachAppWith(t, behindProxies("127.0.0.1"), func(t *testing.T, a *app) {
		testutil.Admin(t, a.store)
		const prober, other = "203.0.113.66", "198.51.100.7"
		c := a.client(t)
		tok := c.csrf("/login")
		lookUp := func(from, email string) *response {
			return c.post("/login/email", url.Values{"_csrf": {tok}, "email": {email}}, "X-Forwarded-For", from)
		}
		for i := range 100 { // a whole office behind one address signs in
			lookUp(prober, fmt.Sprintf("someone%d@example.com", i)).want(t, http.StatusOK)
		}
		r := lookUp(prober, "admin@example.com")
		wantThrottled(t, r, 60)
		if got := r.Text(t, "[data-testid=login-error]"); !strings.Contains(got, "Too many e-mail addresses were looked up from your address. Wait 1 minute") {
			t.Fatalf("throttled e-mail step says %q", got)
		}
		lookUp(other, "admin@example.com").want(t, http.StatusOK)
		a.client(t).signInVia(prober, "admin@example.com", testutil.Password).want(t, http.StatusSeeOther)
	})
}

// Saving a provider so that "require SSO" goes off (the break-glass owner has not signed
// in with it as saved now) says so in the save's message, not only in the audit log; a
// save that keeps it on says nothing of it.
func TestSaveSaysRequireSSOWentOff(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		a := ssoApp(t, dbURL)
		owner, _, idp := ssoSetup(t, a)
		oc := a.client(t)
		ssoSignIn(t, oc, owner.OrganizationID).want(t, http.StatusSeeOther)
		token := oc.csrf("/settings/sso")
		oc.post("/settings/sso/require", url.Values{"_csrf": {token}, "require": {"1"}}).want(t, http.StatusSeeOther)
		oc.get("/settings/sso").want(t, http.StatusOK) // the flash of the change is read

		save := func(issuer string) string {
			t.Helper()
			oc.post("/settings/sso", url.Values{"_csrf": {token}, "provider_name": {"Example ID"}, "issuer": {issuer},
				"client_id": {"sluice-client"}, "client_secret": {"s3cret-value"}, "default_role": {"viewer"}}).want(t, http.StatusSeeOther)
			return oc.get("/settings/sso").want(t, http.StatusOK).Text(t, ".alert-success")
		}
		if got := save(idp.Issuer()); strings.Contains(got, "no longer required") {
			t.Fatalf("a save that kept require SSO on says %q", got)
		}
		other := fakeoidc.New("sluice-client", "s3cret-value", ssoCallback, fakeoidc.User{Subject: "x", Email: owner.Email, EmailVerified: true})
		t.Cleanup(other.Close)
		got := save(other.Issuer())
		if !strings.Contains(got, "Single sign-on is saved") || !strings.Contains(got, "Single sign-on is no longer required: the break-glass owner has not signed in with the provider as saved now") {
			t.Fatalf("the save that turned require SSO off says %q", got)
		}
		if p, _ := a.store.SSOPolicyOf(context.Background(), owner.OrganizationID); p.RequireSSO {
			t.Fatal("require SSO still on")
		}
	})
}

// A first sign-in with the provider of an e-mail invited to workspaces joins each with
// the invited role, or the mapped one where higher, and uses the invitations, audited.
func TestSSOFirstSignInUsesInvitations(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		a := ssoApp(t, dbURL)
		owner, _, idp := ssoSetup(t, a) // viewer by default, "data-team" editors in the first workspace
		ctx := context.Background()
		ownerA := testutil.ActorOf(owner)
		mkt, err := a.store.AddWorkspace(ctx, ownerA, "Marketing")
		if err != nil {
			t.Fatal(err)
		}
		inMkt := ownerA
		inMkt.WorkspaceID = mkt.ID
		toMkt, _, err := a.store.InviteUser(ctx, inMkt, "ivy@example.com", models.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		toFirst, _, err := a.store.InviteUser(ctx, ownerA, "ivy@example.com", models.RoleOperator) // below the mapped editor
		if err != nil {
			t.Fatal(err)
		}

		idp.SetUser(fakeoidc.User{Subject: "ivy-1", Email: "Ivy@example.com", EmailVerified: true, Groups: []string{"data-team"}})
		c := a.client(t)
		ssoSignIn(t, c, owner.OrganizationID).want(t, http.StatusSeeOther)
		if !c.signedIn() {
			t.Fatal("ivy is not signed in")
		}
		roles := map[string]models.Role{}
		for _, ws := range []string{owner.WorkspaceID, mkt.ID} {
			users, err := a.store.ListUsers(ctx, ws)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range users {
				if u.Email == "ivy@example.com" {
					roles[ws] = u.Role
				}
			}
		}
		if roles[owner.WorkspaceID] != models.RoleEditor || roles[mkt.ID] != models.RoleAdmin {
			t.Fatalf("ivy's roles %v: want editor (mapped, above the invited operator) in the first workspace, admin (invited) in Marketing", roles)
		}
		for _, ws := range []string{owner.WorkspaceID, mkt.ID} {
			open, err := a.store.ListInvitations(ctx, ws)
			if err != nil {
				t.Fatal(err)
			}
			if len(open) != 0 {
				t.Fatalf("invitations still open after the sign-in: %+v", open)
			}
		}
		for _, inv := range []*models.Invitation{toMkt, toFirst} {
			entries, _, err := a.store.ListAuditEntries(ctx, inv.WorkspaceID, models.AuditFilter{ResourceType: "invitation"})
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) == 0 || entries[0].Action != "invitation.accept" || entries[0].ResourceID != inv.ID ||
				entries[0].AfterJSON == nil || !strings.Contains(*entries[0].AfterJSON, `"via":"sso"`) {
				t.Fatalf("audit of the invitation to %s: %+v", inv.WorkspaceID, entries)
			}
		}
	})
}
