package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"sluice/config"
	fakeoidc "sluice/internal/fakes/oidc"
	"sluice/internal/testutil"
	"sluice/models"
)

const ssoCallback = "http://localhost:8080/sso/callback" // config.Default's base URL

// ssoApp is the app allowed to reach the identity provider on loopback, as
// SLUICE_ALLOW_PRIVATE_NETWORKS allows.
func ssoApp(t *testing.T, dbURL string) *app {
	t.Helper()
	cfg := config.Default()
	cfg.AllowPrivateNetworks = true
	return serveWith(t, testutil.Store(t, dbURL), cfg)
}

// ssoSetup makes the first admin (the organization's owner), an identity provider for
// Sluice's client and SSO settings pointing at it: new accounts are viewers, the group
// "data-team" makes editors.
func ssoSetup(t *testing.T, a *app) (*models.User, *client, *fakeoidc.Server) {
	t.Helper()
	owner, c := signedInAdmin(t, a)
	idp := fakeoidc.New("sluice-client", "s3cret-value", ssoCallback, fakeoidc.User{Subject: "owner-1", Email: owner.Email, EmailVerified: true, Name: "Ada"})
	t.Cleanup(idp.Close)
	token := c.csrf("/settings/sso")
	c.post("/settings/sso", url.Values{"_csrf": {token}, "provider_name": {"Example ID"}, "issuer": {idp.Issuer()},
		"client_id": {"sluice-client"}, "client_secret": {"s3cret-value"}, "default_role": {"viewer"}, "groups_claim": {"groups"},
		"group": {"data-team", ""}, "role": {"editor", "viewer"}}).want(t, http.StatusSeeOther)
	return owner, c, idp
}

// ssoSignIn goes through the sign-in with the provider in browser c and returns Sluice's
// answer at the callback.
func ssoSignIn(t *testing.T, c *client, orgID string) *response {
	t.Helper()
	r := c.get("/sso/start?org="+orgID).want(t, http.StatusSeeOther)
	return c.get(providerBack(t, r.Location()))
}

// providerBack asks the provider's authorization endpoint and returns the path and query
// of Sluice's callback it redirects to.
func providerBack(t *testing.T, authorize string) string {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Get(authorize)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	back := res.Header.Get("Location")
	if !strings.HasPrefix(back, ssoCallback+"?") {
		t.Fatalf("the provider answered %d, Location %q", res.StatusCode, back)
	}
	return strings.TrimPrefix(back, "http://localhost:8080")
}

func TestSSOSettings(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		a := ssoApp(t, dbURL)
		owner, c, idp := ssoSetup(t, a)
		ctx := context.Background()

		page := c.get("/settings/sso").want(t, http.StatusOK)
		if strings.Contains(page.Body, "s3cret-value") {
			t.Fatal("the settings page shows the client secret")
		}
		if v, _ := page.Doc(t).Find("input[name=client_secret]").Attr("value"); v != "" {
			t.Fatalf("client secret field filled with %q", v)
		}
		if got := page.Text(t, "[data-testid=sso-redirect-uri]"); got != ssoCallback {
			t.Fatalf("redirect URI shown %q", got)
		}
		cfg, err := a.store.SSOConfigOf(ctx, owner.OrganizationID)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(cfg.SecretSealed, "s3cret") {
			t.Fatal("the secret is stored in clear")
		}
		if got := cfg.Mapping(); len(got) != 1 || got[0] != (models.GroupRole{Group: "data-team", Role: models.RoleEditor}) {
			t.Fatalf("mapping %+v", got)
		}
		entries, _, err := a.store.ListAuditEntries(ctx, owner.WorkspaceID, models.AuditFilter{ResourceType: "sso"})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Action != "sso.update" || strings.Contains(*entries[0].AfterJSON, "s3cret") ||
			!strings.Contains(*entries[0].AfterJSON, `"secret_changed":true`) {
			t.Fatalf("audit entries %+v", entries)
		}

		// An empty secret keeps the saved one; the secret is never sent back.
		token := c.csrf("/settings/sso")
		c.post("/settings/sso", url.Values{"_csrf": {token}, "provider_name": {"Example ID"}, "issuer": {idp.Issuer()},
			"client_id": {"sluice-client"}, "default_role": {"operator"}}).want(t, http.StatusSeeOther)
		again, _ := a.store.SSOConfigOf(ctx, owner.OrganizationID)
		if secret, _ := a.store.SSOClientSecret(again); secret != "s3cret-value" || again.DefaultRole != models.RoleOperator {
			t.Fatalf("after a save without secret: secret %q, role %s", secret, again.DefaultRole)
		}

		// Discovery is checked on save, in words naming the document.
		dead := fakeoidc.New("x", "y", ssoCallback, fakeoidc.User{})
		deadURL := dead.Issuer()
		dead.Close()
		r := c.post("/settings/sso", url.Values{"_csrf": {token}, "provider_name": {"Example ID"}, "issuer": {deadURL},
			"client_id": {"sluice-client"}, "default_role": {"viewer"}}).want(t, http.StatusUnprocessableEntity)
		if got := r.Text(t, "[data-testid=error-issuer]"); !strings.Contains(got, "could not read the discovery document at "+deadURL+"/.well-known/openid-configuration") {
			t.Fatalf("discovery error %q", got)
		}
		r = c.post("/settings/sso", url.Values{"_csrf": {token}, "provider_name": {"Example ID"}, "issuer": {idp.Issuer() + "/other"},
			"client_id": {"sluice-client"}, "default_role": {"viewer"}}).want(t, http.StatusUnprocessableEntity)
		if got := r.Text(t, "[data-testid=error-issuer]"); !strings.Contains(got, "/other/.well-known/openid-configuration") {
			t.Fatalf("discovery error for a wrong path %q", got)
		}
		r = c.post("/settings/sso", url.Values{"_csrf": {token}, "provider_name": {"Example ID"}, "issuer": {idp.Issuer()},
			"client_id": {"sluice-client"}, "default_role": {"viewer"}, "group": {"admins"}, "role": {"admin"}}).want(t, http.StatusUnprocessableEntity)
		if got := r.Text(t, "[data-testid=error-groups_claim]"); !strings.Contains(got, "Name the claim that holds the groups") {
			t.Fatalf("mapping without claim: %q", got)
		}

		// CSRF, and owners only.
		c.post("/settings/sso", url.Values{"provider_name": {"Evil"}}).want(t, http.StatusForbidden)
		admin := testutil.ActorOf(owner)
		if _, err := a.store.CreateUser(ctx, admin, models.NewUser{Email: "ed@example.com", Password: testutil.Password, Role: models.RoleAdmin}); err != nil {
			t.Fatal(err)
		}
		other := a.client(t)
		other.signIn("ed@example.com", testutil.Password)
		other.get("/settings/sso").want(t, http.StatusForbidden)
		tok := other.csrf("/activations")
		other.post("/settings/sso", url.Values{"_csrf": {tok}, "provider_name": {"Evil"}, "issuer": {idp.Issuer()},
			"client_id": {"x"}, "client_secret": {"y"}, "default_role": {"admin"}}).want(t, http.StatusForbidden)
		other.post("/settings/sso/require", url.Values{"_csrf": {tok}, "require": {"1"}}).want(t, http.StatusForbidden)
	})
}

func TestSSOSignInMakesAccountsWithMappedRoles(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		a := ssoApp(t, dbURL)
		owner, _, idp := ssoSetup(t, a)
		ctx := context.Background()

		login := a.client(t).get("/login").want(t, http.StatusOK)
		if got := login.Text(t, "[data-testid=sso-sign-in]"); got != "Sign in with Example ID" {
			t.Fatalf("sign-in button %q", got)
		}

		idp.SetUser(fakeoidc.User{Subject: "u-42", Email: "Dana@Example.com", EmailVerified: true, Name: "Dana", Groups: []string{"staff", "data-team"}})
		dana := a.client(t)
		r := ssoSignIn(t, dana, owner.OrganizationID).want(t, http.StatusSeeOther)
		if r.Location() != "/activations" {
			t.Fatalf("after sign-in: %q", r.Location())
		}
		if !dana.signedIn() {
			t.Fatal("not signed in after the provider's sign-in")
		}
		users, err := a.store.ListUsers(ctx, owner.WorkspaceID)
		if err != nil {
			t.Fatal(err)
		}
		roles := map[string]models.Role{}
		for _, u := range users {
			roles[u.Email] = u.Role
		}
		if roles["dana@example.com"] != models.RoleEditor {
			t.Fatalf("roles after the first sign-in: %v", roles)
		}
		// Editors may create activations' pages; viewers may not: the session carries the role.
		dana.get("/activations/new").want(t, http.StatusOK)

		// No mapped group: the default role. Same subject again: the same account.
		idp.SetUser(fakeoidc.User{Subject: "u-43", Email: "vic@example.com", EmailVerified: true, Groups: []string{"staff"}})
		vic := a.client(t)
		ssoSignIn(t, vic, owner.OrganizationID).want(t, http.StatusSeeOther)
		vic.get("/activations/new").want(t, http.StatusForbidden)
		ssoSignIn(t, a.client(t), owner.OrganizationID).want(t, http.StatusSeeOther)
		users, _ = a.store.ListUsers(ctx, owner.WorkspaceID)
		if len(users) != 3 {
			t.Fatalf("%d users, want the owner, Dana and Vic", len(users))
		}
		// Later sign-ins follow the mapping when a group matches, and keep the role when
		// none does.
		idp.SetUser(fakeoidc.User{Subject: "u-43", Email: "vic@example.com", EmailVerified: true, Groups: []string{"data-team"}})
		vic = a.client(t)
		ssoSignIn(t, vic, owner.OrganizationID).want(t, http.StatusSeeOther)
		vic.get("/activations/new").want(t, http.StatusOK)
		idp.SetUser(fakeoidc.User{Subject: "u-43", Email: "vic@example.com", EmailVerified: true, Groups: []string{"staff"}})
		vic = a.client(t)
		ssoSignIn(t, vic, owner.OrganizationID).want(t, http.StatusSeeOther)
		vic.get("/activations/new").want(t, http.StatusOK)

		// An unverified e-mail neither makes nor finds an account.
		idp.SetUser(fakeoidc.User{Subject: "owner-claim", Email: owner.Email, EmailVerified: false})
		r = ssoSignIn(t, a.client(t), owner.OrganizationID).want(t, http.StatusUnprocessableEntity)
		if got := r.Text(t, "[data-testid=login-error]"); !strings.Contains(got, "did not give a verified e-mail address") {
			t.Fatalf("unverified e-mail: %q", got)
		}
		// The owner's verified e-mail finds the owner's account.
		idp.SetUser(fakeoidc.User{Subject: "owner-1", Email: owner.Email, EmailVerified: true})
		oc := a.client(t)
		ssoSignIn(t, oc, owner.OrganizationID).want(t, http.StatusSeeOther)
		oc.get("/settings/sso").want(t, http.StatusOK)
		if linked, _ := a.store.HasSSOIdentity(ctx, idp.Issuer(), owner.ID); !linked {
			t.Fatal("the owner's provider account is not remembered")
		}
		// The workspace's only admin is never demoted by a mapping.
		idp.SetUser(fakeoidc.User{Subject: "owner-1", Email: owner.Email, EmailVerified: true, Groups: []string{"data-team"}})
		ssoSignIn(t, a.client(t), owner.OrganizationID).want(t, http.StatusSeeOther)
		if o, _ := a.store.UserByID(ctx, owner.WorkspaceID, owner.ID); o.Role != models.RoleAdmin {
			t.Fatalf("the only admin became %s", o.Role)
		}
	})
}

func TestSSOCallbackRefusals(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		a := ssoApp(t, dbURL)
		owner, _, idp := ssoSetup(t, a)
		idp.SetUser(fakeoidc.User{Subject: "u-1", Email: "pat@example.com", EmailVerified: true})
		org := owner.OrganizationID
		refused := func(t *testing.T, c *client, r *response, words string) {
			t.Helper()
			r.want(t, http.StatusUnprocessableEntity)
			if got := r.Text(t, "[data-testid=login-error]"); !strings.Contains(got, words) {
				t.Fatalf("refusal %q, want %q", got, words)
			}
			if c.signedIn() {
				t.Fatal("signed in despite the refusal")
			}
		}

		c := a.client(t)
		refused(t, c, c.get("/sso/callback?state=made-up&code=x"), "not started in this browser")

		// A callback link started in another browser (login CSRF).
		attacker := a.client(t)
		start := attacker.get("/sso/start?org="+org).want(t, http.StatusSeeOther)
		victim := a.client(t)
		refused(t, victim, victim.get(providerBack(t, start.Location())), "not started in this browser")

		// The same callback twice: the state is used once.
		c = a.client(t)
		start = c.get("/sso/start?org="+org).want(t, http.StatusSeeOther)
		back := providerBack(t, start.Location())
		c.get(back).want(t, http.StatusSeeOther)
		c2 := a.client(t)
		refused(t, c2, c2.get(back), "not started in this browser")

		cases := []struct {
			name   string
			tamper fakeoidc.Tamper
			words  string
		}{
			{"wrong nonce", fakeoidc.Tamper{Nonce: "another"}, "its nonce does not match"},
			{"wrong audience", fakeoidc.Tamper{Audience: "another-app"}, "issued for another application, not for the client id sluice-client"},
			{"expired", fakeoidc.Tamper{Expired: true}, "it expired at"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				idp.SetTamper(tc.tamper)
				defer idp.SetTamper(fakeoidc.Tamper{})
				c := a.client(t)
				refused(t, c, ssoSignIn(t, c, org), tc.words)
			})
		}

		// The provider's own refusal is passed on.
		c = a.client(t)
		start = c.get("/sso/start?org="+org).want(t, http.StatusSeeOther)
		u, _ := url.Parse(start.Location())
		refused(t, c, c.get("/sso/callback?"+url.Values{"state": {u.Query().Get("state")}, "error": {"access_denied"}, "error_description": {"user cancelled"}}.Encode()),
			"Example ID did not sign you in (access_denied: user cancelled)")
	})
}

func TestRequireSSO(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		a := ssoApp(t, dbURL)
		owner, c, idp := ssoSetup(t, a)
		ctx := context.Background()
		if _, err := a.store.CreateUser(ctx, testutil.ActorOf(owner), models.NewUser{Email: "ed@example.com", Password: testutil.Password, Role: models.RoleEditor}); err != nil {
			t.Fatal(err)
		}

		// Refused until the owner has signed in with the provider once.
		token := c.csrf("/settings/sso")
		r := c.post("/settings/sso/require", url.Values{"_csrf": {token}, "require": {"1"}}).want(t, http.StatusUnprocessableEntity)
		if got := r.Text(t, "[data-testid=require-sso-error]"); !strings.Contains(got, "Sign in with your provider once before requiring it") {
			t.Fatalf("refusal %q", got)
		}
		if r.Text(t, "[data-testid=require-sso-status]") != "Off" {
			t.Fatal("require SSO is on after the refusal")
		}

		idp.SetUser(fakeoidc.User{Subject: "owner-1", Email: owner.Email, EmailVerified: true})
		oc := a.client(t)
		ssoSignIn(t, oc, owner.OrganizationID).want(t, http.StatusSeeOther)
		token = oc.csrf("/settings/sso")
		oc.post("/settings/sso/require", url.Values{"_csrf": {token}, "require": {"1"}}).want(t, http.StatusSeeOther)
		page := oc.get("/settings/sso").want(t, http.StatusOK)
		if got := page.Text(t, "[data-testid=break-glass]"); !strings.Contains(got, owner.Email) {
			t.Fatalf("break-glass owner not named: %q", got)
		}

		// The password form is gone; only the break-glass path shows it.
		login := a.client(t).get("/login").want(t, http.StatusOK)
		if login.Count(t, "[data-testid=password-form]") != 0 || login.Count(t, "input[name=password]") != 0 {
			t.Fatal("the password form is still on the sign-in page")
		}
		if login.Count(t, "[data-testid=sso-sign-in]") != 1 {
			t.Fatal("no SSO button")
		}
		glass := a.client(t).get("/login?password=1").want(t, http.StatusOK)
		if glass.Count(t, "[data-testid=password-form]") != 1 {
			t.Fatal("no password form at /login?password=1")
		}

		// Anyone else's right password is refused, in words; the owner's works.
		ed := a.client(t)
		tok := ed.csrf("/login?password=1")
		r = ed.post("/login", url.Values{"_csrf": {tok}, "email": {"ed@example.com"}, "password": {testutil.Password}, "password_mode": {"1"}}).
			want(t, http.StatusUnprocessableEntity)
		if got := r.Text(t, "[data-testid=login-error]"); got != `Your organization signs in with Example ID: use the "Sign in with Example ID" button.` {
			t.Fatalf("refusal %q", got)
		}
		if ed.signedIn() {
			t.Fatal("a password signed in while SSO is required")
		}
		bg := a.client(t)
		tok = bg.csrf("/login?password=1")
		bg.post("/login", url.Values{"_csrf": {tok}, "email": {owner.Email}, "password": {testutil.Password}, "password_mode": {"1"}}).want(t, http.StatusSeeOther)
		if !bg.signedIn() {
			t.Fatal("the break-glass owner's password does not sign in")
		}

		entries, _, err := a.store.ListAuditEntries(ctx, owner.WorkspaceID, models.AuditFilter{ResourceType: "sso"})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 || entries[0].Action != "sso.require_on" {
			t.Fatalf("audit entries %+v", entries)
		}

		// Another provider: nobody has signed in with it yet, so SSO is no longer required.
		idp2 := fakeoidc.New("sluice-client", "other-secret", ssoCallback, fakeoidc.User{})
		defer idp2.Close()
		token = bg.csrf("/settings/sso")
		bg.post("/settings/sso", url.Values{"_csrf": {token}, "provider_name": {"Other ID"}, "issuer": {idp2.Issuer()},
			"client_id": {"sluice-client"}, "client_secret": {"other-secret"}, "default_role": {"viewer"}}).want(t, http.StatusSeeOther)
		if got := bg.get("/settings/sso").Text(t, "[data-testid=require-sso-status]"); got != "Off" {
			t.Fatalf("require SSO after changing the issuer: %q", got)
		}
		if a.client(t).get("/login").Count(t, "[data-testid=password-form]") != 1 {
			t.Fatal("no password form after changing the issuer")
		}

		// Off: passwords work for everyone.
		bg.post("/settings/sso/require", url.Values{"_csrf": {token}, "require": {"0"}}).want(t, http.StatusSeeOther)
		ed.signIn("ed@example.com", testutil.Password)
		if !ed.signedIn() {
			t.Fatal("passwords still off after turning require SSO off")
		}
	})
}

// An issuer on a private network is refused unless SLUICE_ALLOW_PRIVATE_NETWORKS says
// otherwise, as webhooks are: the settings must not make Sluice probe its own network.
func TestSSOIssuerOnPrivateNetworkRefused(t *testing.T) {
	a := sqliteApp(t)
	_, c := signedInAdmin(t, a)
	idp := fakeoidc.New("sluice-client", "s3cret-value", ssoCallback, fakeoidc.User{})
	defer idp.Close()
	token := c.csrf("/settings/sso")
	r := c.post("/settings/sso", url.Values{"_csrf": {token}, "provider_name": {"Example ID"}, "issuer": {idp.Issuer()},
		"client_id": {"sluice-client"}, "client_secret": {"s3cret-value"}, "default_role": {"viewer"}}).want(t, http.StatusUnprocessableEntity)
	if got := r.Text(t, "[data-testid=error-issuer]"); !strings.Contains(got, "may not read the discovery document at "+idp.Issuer()) || !strings.Contains(got, "SLUICE_ALLOW_PRIVATE_NETWORKS") {
		t.Fatalf("private issuer: %q", got)
	}
	if idp.Issued() != 0 {
		t.Fatal("the provider was asked for tokens")
	}
}
