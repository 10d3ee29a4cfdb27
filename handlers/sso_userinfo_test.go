package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	fakeoidc "sluice/internal/fakes/oidc"
	"sluice/models"
)

// A provider that keeps the e-mail and groups out of the ID token (OpenID Connect Core
// 5.4) gives them at its userinfo endpoint: the first sign-in still makes the account
// with the mapped role, and a userinfo answer about another person is refused.
func TestSSOClaimsFromUserInfo(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		a := ssoApp(t, dbURL)
		owner, _, idp := ssoSetup(t, a)
		idp.ClaimsAtUserInfo = true
		idp.SetUser(fakeoidc.User{Subject: "u-77", Email: "lin@example.com", EmailVerified: true, Name: "Lin", Groups: []string{"data-team"}})

		lin := a.client(t)
		ssoSignIn(t, lin, owner.OrganizationID).want(t, http.StatusSeeOther)
		if !lin.signedIn() {
			t.Fatal("not signed in with the claims from userinfo")
		}
		users, err := a.store.ListUsers(context.Background(), owner.WorkspaceID)
		if err != nil {
			t.Fatal(err)
		}
		var role models.Role
		for _, u := range users {
			if u.Email == "lin@example.com" {
				role = u.Role
			}
		}
		if role != models.RoleEditor {
			t.Fatalf("lin@example.com's role %q, want editor from the group at userinfo", role)
		}

		idp.SetTamper(fakeoidc.Tamper{UserInfoSubject: "someone-else"})
		c := a.client(t)
		r := ssoSignIn(t, c, owner.OrganizationID).want(t, http.StatusUnprocessableEntity)
		if got := r.Text(t, "[data-testid=login-error]"); !strings.Contains(got, "userinfo endpoint answered for another person") {
			t.Fatalf("userinfo about another subject: %q", got)
		}
		if c.signedIn() {
			t.Fatal("signed in with another person's userinfo")
		}
	})
}
