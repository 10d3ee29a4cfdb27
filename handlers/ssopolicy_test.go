package handlers_test

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/crewjam/saml"

	fakeoidc "sluice/internal/fakes/oidc"
	"sluice/internal/testutil"
	"sluice/models"
)

// ssoActions is the actions of the organization's SSO audit entries, newest first.
func ssoActions(t *testing.T, a *app, owner *models.User) []string {
	t.Helper()
	entries, _, err := a.store.ListAuditEntries(context.Background(), owner.WorkspaceID, models.AuditFilter{ResourceType: "sso"})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Action)
	}
	return out
}

// "Require SSO" belongs to the organization: with SAML alone it turns the password form
// off, the owner keeps the break-glass password, and removing the provider brings
// passwords back, audited.
func TestRequireSSOWithSAMLOnly(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		a := ssoApp(t, dbURL)
		owner, c, idp := samlSetup(t, a)
		ctx := context.Background()
		if _, err := a.store.CreateUser(ctx, testutil.ActorOf(owner), models.NewUser{Email: "ed@example.com", Password: testutil.Password, Role: models.RoleEditor}); err != nil {
			t.Fatal(err)
		}

		page := c.get("/settings/sso").want(t, http.StatusOK)
		if page.Count(t, "[data-testid=require-sso-card]") != 1 {
			t.Fatal("no require-SSO card with SAML set up")
		}
		token := c.csrf("/settings/sso")
		r := c.post("/settings/sso/require", url.Values{"_csrf": {token}, "require": {"1"}}).want(t, http.StatusUnprocessableEntity)
		if got := r.Text(t, "[data-testid=require-sso-error]"); !strings.Contains(got, "Sign in with your provider once before requiring it") {
			t.Fatalf("refusal %q", got)
		}

		idp.signInAs("owner-1", owner.Email)
		oc := a.client(t)
		samlSignIn(t, oc, owner.OrganizationID).want(t, http.StatusSeeOther)
		token = oc.csrf("/settings/sso")
		oc.post("/settings/sso/require", url.Values{"_csrf": {token}, "require": {"1"}}).want(t, http.StatusSeeOther)
		if got := oc.get("/settings/sso").Text(t, "[data-testid=break-glass]"); !strings.Contains(got, "everyone signs in with Campus IdP") || !strings.Contains(got, owner.Email) {
			t.Fatalf("break-glass words %q", got)
		}

		login := a.client(t).get("/login").want(t, http.StatusOK)
		if login.Count(t, "[data-testid=password-form]") != 0 || login.Count(t, "[data-testid=sso-sign-in]") != 1 {
			t.Fatal("with SAML required the sign-in page still offers passwords, or no SAML button")
		}

		// Ed's right password is refused in words; the owner's break-glass password works.
		ed := a.client(t)
		tok := ed.csrf("/login?password=1")
		r = ed.post("/login", url.Values{"_csrf": {tok}, "email": {"ed@example.com"}, "password": {testutil.Password}, "password_mode": {"1"}}).
			want(t, http.StatusUnprocessableEntity)
		if got := r.Text(t, "[data-testid=login-error]"); got != `Your organization signs in with Campus IdP: use the "Sign in with Campus IdP" button.` {
			t.Fatalf("refusal %q", got)
		}
		bg := a.client(t)
		tok = bg.csrf("/login?password=1")
		bg.post("/login", url.Values{"_csrf": {tok}, "email": {owner.Email}, "password": {testutil.Password}, "password_mode": {"1"}}).want(t, http.StatusSeeOther)
		if !bg.signedIn() {
			t.Fatal("the break-glass owner's password does not sign in")
		}

		// Removing the only provider turns "require SSO" off, audited; passwords work again.
		token = bg.csrf("/settings/sso")
		bg.post("/settings/sso/saml/remove", url.Values{"_csrf": {token}}).want(t, http.StatusSeeOther)
		if _, err := a.store.SAMLConfigOf(ctx, owner.OrganizationID); !models.IsNotFound(err) {
			t.Fatalf("the SAML settings are still there: %v", err)
		}
		if got := ssoActions(t, a, owner); len(got) < 2 || got[0] != "sso.require_off" || got[1] != "sso.require_on" {
			t.Fatalf("SSO audit %v", got)
		}
		entries, _, _ := a.store.ListAuditEntries(ctx, owner.WorkspaceID, models.AuditFilter{ResourceType: "saml"})
		if len(entries) == 0 || entries[0].Action != "saml.delete" {
			t.Fatalf("no audit entry for the removal: %+v", entries)
		}
		page = bg.get("/settings/sso").want(t, http.StatusOK)
		if page.Count(t, "[data-testid=require-sso-card]") != 0 {
			t.Fatal("the require-SSO card shows without any provider")
		}
		login = a.client(t).get("/login").want(t, http.StatusOK)
		if login.Count(t, "[data-testid=password-form]") != 1 || login.Count(t, "[data-testid=sso-sign-in]") != 0 {
			t.Fatal("after removing the provider the sign-in page is not the password form alone")
		}
		ed.signIn("ed@example.com", testutil.Password)
		if !ed.signedIn() {
			t.Fatal("passwords still off after the provider went")
		}

		// Without a provider it cannot be turned on.
		bg.post("/settings/sso/require", url.Values{"_csrf": {token}, "require": {"1"}}).want(t, http.StatusSeeOther)
		if p, _ := a.store.SSOPolicyOf(ctx, owner.OrganizationID); p.RequireSSO {
			t.Fatal("require SSO turned on without a provider")
		}
		// Removing is the owner's only, with CSRF.
		bg.post("/settings/sso/remove", url.Values{}).want(t, http.StatusForbidden)
		tok = ed.csrf("/activations")
		ed.post("/settings/sso/saml/remove", url.Values{"_csrf": {tok}}).want(t, http.StatusForbidden)
	})
}

// An organization with both providers offers both buttons; each signs in with its
// provider; "require SSO" stays on while a provider the owner used is left.
func TestBothProvidersTwoButtons(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		a := ssoApp(t, dbURL)
		owner, c, oidc := ssoSetup(t, a)
		saml := newSAMLIdP(t)
		token := c.csrf("/settings/sso")
		c.post("/settings/sso/saml", url.Values{"_csrf": {token}, "saml_provider_name": {"Campus IdP"}, "metadata_url": {saml.srv.URL + "/metadata"},
			"saml_default_role": {"operator"}}).want(t, http.StatusSeeOther)
		saml.spMeta = spMetadata(t, a, owner.OrganizationID)
		org := owner.OrganizationID

		login := a.client(t).get("/login").want(t, http.StatusOK)
		buttons := login.Doc(t).Find("[data-testid=sso-sign-in]")
		if buttons.Length() != 2 || strings.TrimSpace(buttons.Eq(0).Text()) != "Sign in with Example ID" || strings.TrimSpace(buttons.Eq(1).Text()) != "Sign in with Campus IdP" {
			t.Fatalf("buttons %q", buttons.Text())
		}
		hrefs := map[string]string{}
		buttons.Each(func(_ int, b *goquery.Selection) {
			kind, _ := b.Attr("data-kind")
			hrefs[kind], _ = b.Attr("href")
		})

		// The OpenID Connect button goes to the OpenID Connect provider.
		oidc.SetUser(fakeoidc.User{Subject: "u-1", Email: "olga@example.com", EmailVerified: true})
		olga := a.client(t)
		r := olga.get(hrefs["oidc"]).want(t, http.StatusSeeOther)
		if !strings.HasPrefix(r.Location(), oidc.Issuer()) {
			t.Fatalf("the OpenID Connect button went to %q", r.Location())
		}
		olga.get(providerBack(t, r.Location())).want(t, http.StatusSeeOther)
		if !olga.signedIn() {
			t.Fatal("not signed in through OpenID Connect")
		}
		// The SAML button goes to the SAML provider.
		r = a.client(t).get(hrefs["saml"]).want(t, http.StatusSeeOther)
		if !strings.HasPrefix(r.Location(), saml.srv.URL+"/sso") {
			t.Fatalf("the SAML button went to %q", r.Location())
		}
		saml.signInAs("s-1", "sam@example.com")
		sam := a.client(t)
		samlSignIn(t, sam, org).want(t, http.StatusSeeOther)
		if !sam.signedIn() {
			t.Fatal("not signed in through SAML")
		}
		users, _ := a.store.ListUsers(context.Background(), owner.WorkspaceID)
		roles := map[string]models.Role{}
		for _, u := range users {
			roles[u.Email] = u.Role
		}
		if roles["olga@example.com"] != models.RoleViewer || roles["sam@example.com"] != models.RoleOperator {
			t.Fatalf("roles %v: each provider's default role", roles)
		}

		// Required after the owner signed in with SAML; changing the OpenID Connect
		// issuer keeps it on (SAML, which the owner used, is left), removing SAML turns it off.
		saml.signInAs("owner-s", owner.Email)
		oc := a.client(t)
		samlSignIn(t, oc, org).want(t, http.StatusSeeOther)
		token = oc.csrf("/settings/sso")
		oc.post("/settings/sso/require", url.Values{"_csrf": {token}, "require": {"1"}}).want(t, http.StatusSeeOther)
		login = a.client(t).get("/login").want(t, http.StatusOK)
		if login.Count(t, "[data-testid=password-form]") != 0 || login.Count(t, "[data-testid=sso-sign-in]") != 2 {
			t.Fatal("required: want both buttons and no password form")
		}
		if _, err := a.store.CreateUser(context.Background(), testutil.ActorOf(owner), models.NewUser{Email: "ed@example.com", Password: testutil.Password, Role: models.RoleEditor}); err != nil {
			t.Fatal(err)
		}
		ed := a.client(t)
		tok := ed.csrf("/login?password=1")
		r = ed.post("/login", url.Values{"_csrf": {tok}, "email": {"ed@example.com"}, "password": {testutil.Password}, "password_mode": {"1"}}).
			want(t, http.StatusUnprocessableEntity)
		if got := r.Text(t, "[data-testid=login-error]"); got != `Your organization signs in with Example ID or Campus IdP: use one of the "Sign in with" buttons.` {
			t.Fatalf("refusal %q", got)
		}
		idp2 := fakeoidc.New("sluice-client", "other-secret", ssoCallback, fakeoidc.User{})
		defer idp2.Close()
		oc.post("/settings/sso", url.Values{"_csrf": {token}, "provider_name": {"Other ID"}, "issuer": {idp2.Issuer()},
			"client_id": {"sluice-client"}, "client_secret": {"other-secret"}, "default_role": {"viewer"}}).want(t, http.StatusSeeOther)
		if p, _ := a.store.SSOPolicyOf(context.Background(), org); !p.RequireSSO {
			t.Fatal("changing the OpenID Connect issuer turned require SSO off though SAML is left")
		}
		oc.post("/settings/sso/saml/remove", url.Values{"_csrf": {token}}).want(t, http.StatusSeeOther)
		if p, _ := a.store.SSOPolicyOf(context.Background(), org); p.RequireSSO {
			t.Fatal("require SSO still on with only a provider nobody signed in with")
		}
	})
}

// spMetadata is Sluice's SP metadata for the organization, as the identity provider
// reads it.
func spMetadata(t *testing.T, a *app, org string) *saml.EntityDescriptor {
	t.Helper()
	md := a.client(t).get("/saml/metadata/"+org).want(t, http.StatusOK)
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal([]byte(md.Body), &ed); err != nil {
		t.Fatal(err)
	}
	return &ed
}

// With several organizations and SSO in one, the sign-in page asks the e-mail first and
// then offers that person's organization's ways in; an unknown e-mail gets the same
// password step as a password-only organization's member.
func TestSignInEmailFirst(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		a := ssoApp(t, dbURL)
		owner, _, idp := ssoSetup(t, a)
		ctx := context.Background()
		if _, err := a.store.CreateUser(ctx, testutil.ActorOf(owner), models.NewUser{Email: "ed@example.com", Password: testutil.Password, Role: models.RoleEditor}); err != nil {
			t.Fatal(err)
		}
		other, err := a.store.CreateWorkspace(ctx, "Other Co")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.store.CreateUser(ctx, models.Actor{WorkspaceID: other.ID, Type: models.ActorSystem, Name: "test"},
			models.NewUser{Email: "pia@other.example", Password: testutil.Password, Role: models.RoleAdmin}); err != nil {
			t.Fatal(err)
		}
		idp.SetUser(fakeoidc.User{Subject: "owner-1", Email: owner.Email, EmailVerified: true})
		oc := a.client(t)
		ssoSignIn(t, oc, owner.OrganizationID).want(t, http.StatusSeeOther)
		token := oc.csrf("/settings/sso")
		oc.post("/settings/sso/require", url.Values{"_csrf": {token}, "require": {"1"}}).want(t, http.StatusSeeOther)

		// The first step: the e-mail alone, no buttons, no password.
		b := a.client(t)
		first := b.get("/login?next=/runs").want(t, http.StatusOK)
		if first.Count(t, "[data-testid=email-form]") != 1 || first.Count(t, "[data-testid=sso-sign-in]") != 0 || first.Count(t, "input[name=password]") != 0 {
			t.Fatal("the first step is not the e-mail alone")
		}
		step := func(t *testing.T, email string) *response {
			t.Helper()
			c := a.client(t)
			tok := c.csrf("/login")
			return c.post("/login/email", url.Values{"_csrf": {tok}, "email": {email}, "next": {"/runs"}}).want(t, http.StatusOK)
		}
		// A member of the organization that requires SSO: its button, no password form.
		r := step(t, "ED@example.com")
		if r.Count(t, "[data-testid=sso-sign-in]") != 1 || r.Count(t, "[data-testid=password-form]") != 0 {
			t.Fatal("Ed's step: want the SSO button alone")
		}
		if href, _ := r.Doc(t).Find("[data-testid=sso-sign-in]").Attr("href"); !strings.Contains(href, "org="+owner.OrganizationID) || !strings.Contains(href, "next=%2Fruns") {
			t.Fatalf("the button %q", href)
		}
		// Its break-glass owner: the button and the password form.
		r = step(t, owner.Email)
		if r.Count(t, "[data-testid=sso-sign-in]") != 1 || r.Count(t, "[data-testid=password-form]") != 1 {
			t.Fatal("the break-glass owner's step: want the button and the password form")
		}
		// An unknown e-mail and a password-only organization's member see the same step.
		unknown, pia := step(t, "nobody@example.com"), step(t, "pia@other.example")
		for name, r := range map[string]*response{"unknown": unknown, "password-only": pia} {
			if r.Count(t, "[data-testid=sso-sign-in]") != 0 || r.Count(t, "[data-testid=password-form]") != 1 || r.Count(t, "[data-testid=change-email]") != 1 {
				t.Fatalf("%s e-mail: want the password form alone", name)
			}
		}
		strip := func(r *response, email string) string {
			card := r.Doc(t).Find(".auth-card")
			card.Find("input[name=_csrf]").Remove() // each browser's own
			h, _ := card.Html()
			return strings.ReplaceAll(h, email, "")
		}
		if strip(unknown, "nobody@example.com") != strip(pia, "pia@other.example") {
			t.Fatal("an unknown e-mail's step differs from a password-only member's")
		}
		// The password step signs in, and a wrong password comes back to it.
		pc := a.client(t)
		tok := pc.csrf("/login")
		r = pc.post("/login", url.Values{"_csrf": {tok}, "email": {"pia@other.example"}, "password": {"wrong one"}, "next": {"/runs"}}).want(t, http.StatusUnprocessableEntity)
		if r.Count(t, "[data-testid=chosen-email]") != 1 || r.Text(t, "[data-testid=login-error]") != "Wrong e-mail or password." {
			t.Fatal("a wrong password does not come back to the password step")
		}
		r = pc.post("/login", url.Values{"_csrf": {tok}, "email": {"pia@other.example"}, "password": {testutil.Password}, "next": {"/runs"}}).want(t, http.StatusSeeOther)
		if r.Location() != "/runs" {
			t.Fatalf("after sign-in: %q", r.Location())
		}
		// Ed's password is still refused, with the buttons shown.
		ec := a.client(t)
		tok = ec.csrf("/login")
		r = ec.post("/login", url.Values{"_csrf": {tok}, "email": {"ed@example.com"}, "password": {testutil.Password}}).want(t, http.StatusUnprocessableEntity)
		if r.Count(t, "[data-testid=sso-sign-in]") != 1 || !strings.Contains(r.Text(t, "[data-testid=login-error]"), "signs in with Example ID") {
			t.Fatal("Ed's refused password: want the refusal and the button")
		}
		// An empty e-mail is asked again; CSRF is checked.
		c2 := a.client(t)
		tok = c2.csrf("/login")
		r = c2.post("/login/email", url.Values{"_csrf": {tok}, "email": {" "}}).want(t, http.StatusUnprocessableEntity)
		if !strings.Contains(r.Text(t, "[data-testid=error-email]"), "Enter the e-mail address") {
			t.Fatal("an empty e-mail is not asked again")
		}
		c2.post("/login/email", url.Values{"email": {"ed@example.com"}}).want(t, http.StatusForbidden)
	})
}

// A mapping row names a workspace: a group can give roles in several workspaces; the
// account made at the first sign-in is a member of each; later sign-ins add it where a
// new row maps it.
func TestSSOMappingIntoSecondWorkspace(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		a := ssoApp(t, dbURL)
		owner, c, idp := ssoSetup(t, a)
		ctx := context.Background()
		prod, err := a.store.AddWorkspace(ctx, testutil.ActorOf(owner), "Production")
		if err != nil {
			t.Fatal(err)
		}
		first := owner.WorkspaceID

		page := c.get("/settings/sso").want(t, http.StatusOK)
		if page.Count(t, "[data-testid=sso-mapping] select[name=workspace] option[value='"+prod.ID+"']") == 0 {
			t.Fatal("the mapping offers no workspace column with Production")
		}
		token := c.csrf("/settings/sso")
		save := func(groups, roles, workspaces []string) *response {
			return c.post("/settings/sso", url.Values{"_csrf": {token}, "provider_name": {"Example ID"}, "issuer": {idp.Issuer()},
				"client_id": {"sluice-client"}, "default_role": {"viewer"}, "groups_claim": {"groups"},
				"group": groups, "role": roles, "workspace": workspaces})
		}
		save([]string{"data-team", "data-team", "prod-ops"}, []string{"editor", "operator", "admin"}, []string{"", prod.ID, prod.ID}).want(t, http.StatusSeeOther)
		cfg, _ := a.store.SSOConfigOf(ctx, owner.OrganizationID)
		if m := cfg.Mapping(); len(m) != 3 || m[1].WorkspaceID != prod.ID {
			t.Fatalf("mapping %+v", m)
		}
		// A workspace outside the organization is refused, in words.
		other, _ := a.store.CreateWorkspace(ctx, "Other Co")
		r := save([]string{"data-team"}, []string{"editor"}, []string{other.ID}).want(t, http.StatusUnprocessableEntity)
		if got := r.Text(t, "[data-testid=error-group_roles]"); !strings.Contains(got, `The workspace chosen for the group "data-team" is not one of your organization's`) {
			t.Fatalf("foreign workspace: %q", got)
		}

		roleIn := func(t *testing.T, ws, email string) models.Role {
			t.Helper()
			users, err := a.store.ListUsers(ctx, ws)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range users {
				if u.Email == email {
					return u.Role
				}
			}
			return ""
		}
		// data-team: editor in the first workspace, operator in Production.
		idp.SetUser(fakeoidc.User{Subject: "u-1", Email: "dana@example.com", EmailVerified: true, Groups: []string{"data-team"}})
		ssoSignIn(t, a.client(t), owner.OrganizationID).want(t, http.StatusSeeOther)
		if f, p := roleIn(t, first, "dana@example.com"), roleIn(t, prod.ID, "dana@example.com"); f != models.RoleEditor || p != models.RoleOperator {
			t.Fatalf("Dana: %q in the first workspace, %q in Production", f, p)
		}
		// prod-ops alone: a member of Production only, where the sign-in opens.
		idp.SetUser(fakeoidc.User{Subject: "u-2", Email: "pat@example.com", EmailVerified: true, Groups: []string{"prod-ops"}})
		pat := a.client(t)
		ssoSignIn(t, pat, owner.OrganizationID).want(t, http.StatusSeeOther)
		if f, p := roleIn(t, first, "pat@example.com"), roleIn(t, prod.ID, "pat@example.com"); f != "" || p != models.RoleAdmin {
			t.Fatalf("Pat: %q in the first workspace, %q in Production", f, p)
		}
		// No group matches: the default role in the first workspace.
		idp.SetUser(fakeoidc.User{Subject: "u-3", Email: "vic@example.com", EmailVerified: true, Groups: []string{"staff"}})
		ssoSignIn(t, a.client(t), owner.OrganizationID).want(t, http.StatusSeeOther)
		if f, p := roleIn(t, first, "vic@example.com"), roleIn(t, prod.ID, "vic@example.com"); f != models.RoleViewer || p != "" {
			t.Fatalf("Vic: %q in the first workspace, %q in Production", f, p)
		}
		// Vic joins prod-ops: the next sign-in adds him to Production, first workspace kept.
		idp.SetUser(fakeoidc.User{Subject: "u-3", Email: "vic@example.com", EmailVerified: true, Groups: []string{"staff", "prod-ops"}})
		ssoSignIn(t, a.client(t), owner.OrganizationID).want(t, http.StatusSeeOther)
		if f, p := roleIn(t, first, "vic@example.com"), roleIn(t, prod.ID, "vic@example.com"); f != models.RoleViewer || p != models.RoleAdmin {
			t.Fatalf("Vic later: %q in the first workspace, %q in Production", f, p)
		}
		entries, _, _ := a.store.ListAuditEntries(ctx, prod.ID, models.AuditFilter{ResourceType: "user"})
		if len(entries) == 0 || entries[0].Action != "user.add" || entries[0].ResourceName != "vic@example.com" {
			t.Fatalf("Production's audit: %+v", entries)
		}

		// Production deleted: its rows give nothing (the default role in the first
		// workspace), and the settings page says so rather than quietly pointing them
		// elsewhere.
		if _, err := a.store.AddWorkspace(ctx, testutil.ActorOf(owner), "Staging"); err != nil {
			t.Fatal(err)
		}
		if err := a.store.DeleteWorkspace(ctx, testutil.ActorOf(owner), prod.ID, "Production"); err != nil {
			t.Fatal(err)
		}
		idp.SetUser(fakeoidc.User{Subject: "u-4", Email: "zoe@example.com", EmailVerified: true, Groups: []string{"prod-ops"}})
		ssoSignIn(t, a.client(t), owner.OrganizationID).want(t, http.StatusSeeOther)
		if f := roleIn(t, first, "zoe@example.com"); f != models.RoleViewer {
			t.Fatalf("Zoe, mapped to a deleted workspace only: %q in the first workspace", f)
		}
		page = c.get("/settings/sso").want(t, http.StatusOK)
		if n := page.Count(t, "[data-testid=sso-mapping] option[selected]:contains('A deleted workspace')"); n != 2 {
			t.Fatalf("%d rows say their workspace was deleted, want the 2 that named Production", n)
		}
		r = save([]string{"prod-ops"}, []string{"admin"}, []string{prod.ID}).want(t, http.StatusUnprocessableEntity)
		if got := r.Text(t, "[data-testid=error-group_roles]"); !strings.Contains(got, `The workspace chosen for the group "prod-ops" is not one of your organization's (was it deleted?)`) {
			t.Fatalf("deleted workspace saved: %q", got)
		}
	})
}
