package handlers_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	fakeoidc "sluice/internal/fakes/oidc"
	"sluice/internal/testutil"
	"sluice/models"
)

// ssoBody is GET /sso's answer.
type ssoBody struct {
	RequireSSO bool `json:"require_sso"`
	BreakGlass *struct {
		UserID string `json:"user_id"`
		Email  string `json:"email"`
	} `json:"break_glass"`
	OIDC *struct {
		ProviderName string             `json:"provider_name"`
		Issuer       string             `json:"issuer"`
		ClientID     string             `json:"client_id"`
		DefaultRole  string             `json:"default_role"`
		GroupsClaim  string             `json:"groups_claim"`
		GroupRoles   []models.GroupRole `json:"group_roles"`
		RedirectURI  string             `json:"redirect_uri"`
	} `json:"oidc"`
	SAML *struct {
		ProviderName   string             `json:"provider_name"`
		MetadataURL    string             `json:"metadata_url"`
		MetadataXML    string             `json:"metadata_xml"`
		IdPEntityID    string             `json:"idp_entity_id"`
		DefaultRole    string             `json:"default_role"`
		GroupRoles     []models.GroupRole `json:"group_roles"`
		SPEntityID     string             `json:"sp_entity_id"`
		SPACSURL       string             `json:"sp_acs_url"`
		MetadataReadAt *string            `json:"metadata_read_at"`
	} `json:"saml"`
}

func (c whClient) put(path string, body any) *response {
	c.t.Helper()
	return c.call(http.MethodPut, path, body)
}

// orgTrail is the actions of the organization's audit trail, newest first, and who made
// each ("type:name").
func orgTrail(t *testing.T, a *app, owner models.Actor) (actions, actors []string) {
	t.Helper()
	entries, _, err := a.store.ListOrganizationAudit(t.Context(), owner, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		actions = append(actions, e.Action)
		actors = append(actors, e.ActorType+":"+e.ActorName)
	}
	return actions, actors
}

// TestSSOAPI: an owner's token reads and writes the organization's OpenID Connect and
// SAML providers and "require SSO", by the page's checks and words; the client secret
// and the SAML key are never answered; every change is in the organization's audit
// trail; other tokens get 403, and another organization's owner sees its own settings.
func TestSSOAPI(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		a := ssoApp(t, dbURL)
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

		// Only an owner's token: others are told which token would do.
		for name, tk := range map[string]string{
			"an admin token of an admin who owns nothing": token(testutil.ActorOf(bob), models.RoleAdmin),
			"an admin token the command line made":        whToken(t, a.store, models.DefaultWorkspaceID, models.RoleAdmin),
		} {
			for _, r := range []*response{owner.as(tk).get("/sso"), owner.as(tk).patch("/sso", map[string]any{"require_sso": false}),
				owner.as(tk).put("/sso/oidc", map[string]any{"provider_name": "Evil"}), owner.as(tk).del("/sso/saml")} {
				r.want(t, http.StatusForbidden)
				if e := into[apiErr](t, r); !strings.Contains(e.Error.Message, "owner's token manages the organization's single sign-on") {
					t.Errorf("%s: %q, want it told which token may", name, e.Error.Message)
				}
			}
		}
		owner.as(token(adaA, models.RoleViewer)).get("/sso").want(t, http.StatusForbidden)

		got := into[ssoBody](t, owner.get("/sso").want(t, http.StatusOK))
		if got.RequireSSO || got.BreakGlass != nil || got.OIDC != nil || got.SAML != nil {
			t.Fatalf("before any provider: %+v", got)
		}

		// OpenID Connect: the page's checks, the secret write-only.
		idp := fakeoidc.New("sluice-client", "s3cret-value", ssoCallback, fakeoidc.User{Subject: "owner-1", Email: ada.Email, EmailVerified: true})
		t.Cleanup(idp.Close)
		oidcIn := map[string]any{"provider_name": "Example ID", "issuer": idp.Issuer(), "client_id": "sluice-client",
			"default_role": "viewer", "groups_claim": "groups", "group_roles": []map[string]any{{"group": "data-team", "role": "editor"}, {"group": "", "role": "viewer"}}}
		wantErr(t, owner.put("/sso/oidc", oidcIn), http.StatusUnprocessableEntity, "invalid", "client_secret")
		oidcIn["client_secret"] = "s3cret-value"
		got = into[ssoBody](t, owner.put("/sso/oidc", oidcIn).want(t, http.StatusOK))
		if o := got.OIDC; o == nil || o.ProviderName != "Example ID" || o.Issuer != idp.Issuer() || o.DefaultRole != "viewer" || o.RedirectURI != ssoCallback ||
			!slices.Equal(o.GroupRoles, []models.GroupRole{{Group: "data-team", Role: models.RoleEditor}}) {
			t.Fatalf("saved OpenID Connect provider: %+v", got.OIDC)
		}
		// A field left out keeps its value, the secret too.
		got = into[ssoBody](t, owner.put("/sso/oidc", map[string]any{"default_role": "operator"}).want(t, http.StatusOK))
		cfg, err := a.store.SSOConfigOf(ctx, ada.OrganizationID)
		if err != nil {
			t.Fatal(err)
		}
		if secret, _ := a.store.SSOClientSecret(cfg); secret != "s3cret-value" || got.OIDC.DefaultRole != "operator" || got.OIDC.ClientID != "sluice-client" || len(got.OIDC.GroupRoles) != 1 {
			t.Fatalf("after a partial save: secret %q, %+v", secret, got.OIDC)
		}
		dead := fakeoidc.New("x", "y", ssoCallback, fakeoidc.User{})
		deadURL := dead.Issuer()
		dead.Close()
		if e := wantErr(t, owner.put("/sso/oidc", map[string]any{"issuer": deadURL}), http.StatusUnprocessableEntity, "invalid", "issuer"); !strings.Contains(e.Error.Message, "could not read the discovery document at "+deadURL+"/.well-known/openid-configuration") {
			t.Errorf("unreachable issuer: %q", e.Error.Message)
		}
		if e := wantErr(t, owner.put("/sso/oidc", map[string]any{"groups_claim": ""}), http.StatusUnprocessableEntity, "invalid", "groups_claim"); !strings.Contains(e.Error.Message, "Name the claim that holds the groups") {
			t.Errorf("mapping without claim: %q", e.Error.Message)
		}
		wantErr(t, owner.put("/sso/oidc", map[string]any{"group_roles": []map[string]any{{"group": "x", "role": "x", "workspace_id": "nope"}}}), http.StatusUnprocessableEntity, "invalid", "group_roles")
		wantErr(t, owner.put("/sso/oidc", map[string]any{"group_roles": []map[string]any{{"group": "x", "role": "viewer", "workspace_id": "nope"}}}), http.StatusUnprocessableEntity, "invalid", "group_roles")
		wantErr(t, owner.put("/sso/oidc", map[string]any{"client_id": 7}), http.StatusUnprocessableEntity, "invalid", "client_id")

		// SAML: pasted metadata, sent back as given; the page's field names lose "saml_".
		samlIdP := newSAMLIdP(t)
		xml := samlIdP.MetadataXML(t)
		if e := wantErr(t, owner.put("/sso/saml", map[string]any{"metadata_xml": xml, "default_role": "viewer"}), http.StatusUnprocessableEntity, "invalid", "provider_name"); !strings.Contains(e.Error.Message, "Give the provider a name") {
			t.Errorf("SAML without a name: %q", e.Error.Message)
		}
		wantErr(t, owner.put("/sso/saml", map[string]any{"provider_name": "Campus IdP", "default_role": "viewer"}), http.StatusUnprocessableEntity, "invalid", "metadata_url")
		wantErr(t, owner.put("/sso/saml", map[string]any{"provider_name": "Campus IdP", "metadata_xml": "<nope/>", "default_role": "viewer"}), http.StatusUnprocessableEntity, "invalid", "metadata_xml")
		got = into[ssoBody](t, owner.put("/sso/saml", map[string]any{"provider_name": "Campus IdP", "metadata_xml": xml, "default_role": "viewer",
			"groups_attribute": samlGroups, "group_roles": []map[string]any{{"group": "data-team", "role": "editor"}}}).want(t, http.StatusOK))
		if s := got.SAML; s == nil || s.ProviderName != "Campus IdP" || s.MetadataXML != xml || s.MetadataURL != "" || s.IdPEntityID != samlIdP.srv.URL+"/metadata" ||
			s.SPEntityID != "http://localhost:8080/saml/metadata/"+ada.OrganizationID || s.SPACSURL != "http://localhost:8080/saml/acs/"+ada.OrganizationID || s.MetadataReadAt == nil {
			t.Fatalf("saved SAML provider: %+v", got.SAML)
		}
		if got.OIDC == nil {
			t.Fatal("saving SAML lost the OpenID Connect provider")
		}
		// From its URL now: read at once, and no XML answered (it is read again there).
		got = into[ssoBody](t, owner.put("/sso/saml", map[string]any{"metadata_url": samlIdP.srv.URL + "/metadata"}).want(t, http.StatusOK))
		if s := got.SAML; s.MetadataURL != samlIdP.srv.URL+"/metadata" || s.MetadataXML != "" || s.ProviderName != "Campus IdP" || len(s.GroupRoles) != 1 {
			t.Fatalf("SAML from its URL: %+v", got.SAML)
		}

		samlCfg, err := a.store.SAMLConfigOf(ctx, ada.OrganizationID)
		if err != nil || samlCfg.SPKeySealed == "" {
			t.Fatalf("SAML settings stored: %+v, %v", samlCfg, err)
		}

		// Require SSO: refused until the owner who made the token has signed in.
		wantErr(t, owner.patch("/sso", map[string]any{}), http.StatusUnprocessableEntity, "invalid", "require_sso")
		if e := wantErr(t, owner.patch("/sso", map[string]any{"require_sso": true}), http.StatusUnprocessableEntity, "invalid", "require_sso"); !strings.Contains(e.Error.Message, "has not signed in with the organization's provider yet") {
			t.Errorf("require before signing in: %q", e.Error.Message)
		}
		ssoSignIn(t, a.client(t), ada.OrganizationID).want(t, http.StatusSeeOther)
		got = into[ssoBody](t, owner.patch("/sso", map[string]any{"require_sso": true}).want(t, http.StatusOK))
		if !got.RequireSSO || got.BreakGlass == nil || got.BreakGlass.UserID != ada.ID || got.BreakGlass.Email != ada.Email {
			t.Fatalf("required: %+v, break-glass %+v; want ada", got, got.BreakGlass)
		}
		if a.client(t).get("/login").Count(t, "[data-testid=password-form]") != 0 {
			t.Error("the password form is still on the sign-in page")
		}

		// Another organization's owner's token sees its own organization only.
		globex, err := a.store.CreateWorkspace(ctx, "Globex")
		if err != nil {
			t.Fatal(err)
		}
		boss, err := a.store.CreateUser(ctx, models.Actor{WorkspaceID: globex.ID, Type: models.ActorSystem, Name: "test"},
			models.NewUser{Email: "boss@globex.example", Password: testutil.Password, Role: models.RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		globexOwner := owner.as(token(testutil.ActorOf(boss), models.RoleAdmin))
		if g := into[ssoBody](t, globexOwner.get("/sso").want(t, http.StatusOK)); g.OIDC != nil || g.SAML != nil || g.RequireSSO {
			t.Errorf("Globex's owner sees %+v", g)
		}
		globexOwner.del("/sso/oidc").want(t, http.StatusNotFound)

		// Removing the provider the break-glass owner used turns "require SSO" off.
		owner.del("/sso/oidc").want(t, http.StatusNoContent)
		if e := into[apiErr](t, owner.del("/sso/oidc").want(t, http.StatusNotFound)); !strings.Contains(e.Error.Message, "no OpenID Connect provider to remove") {
			t.Errorf("removing it again: %q", e.Error.Message)
		}
		got = into[ssoBody](t, owner.get("/sso"))
		if got.RequireSSO || got.OIDC != nil || got.SAML == nil {
			t.Fatalf("after removing OpenID Connect: %+v", got)
		}
		owner.del("/sso/saml").want(t, http.StatusNoContent)

		for _, body := range *owner.bodies {
			if strings.Contains(body, "s3cret-value") || strings.Contains(body, "PRIVATE KEY") || strings.Contains(body, cfg.SecretSealed) ||
				strings.Contains(body, samlCfg.SPKeySealed) {
				t.Fatalf("an answer shows a secret: %s", body)
			}
		}

		// Every change is in the organization's trail, as the token's.
		actions, actors := orgTrail(t, a, adaA)
		want := []string{"saml.delete", "sso.require_off", "sso.delete", "sso.require_on", "saml.update", "saml.update", "sso.update", "sso.update"}
		if !slices.Equal(actions, want) {
			t.Fatalf("the organization's trail: %v, want %v", actions, want)
		}
		for _, who := range actors {
			if !strings.HasPrefix(who, "token:") {
				t.Errorf("an entry made through the API is %q's, want the token's", who)
			}
		}

		// Once ada steps down, her token manages nothing.
		if _, err := a.store.MakeOwner(ctx, adaA, bob.ID); err != nil {
			t.Fatal(err)
		}
		if err := a.store.StepDown(ctx, adaA); err != nil {
			t.Fatal(err)
		}
		owner.get("/sso").want(t, http.StatusForbidden)
	})
}
