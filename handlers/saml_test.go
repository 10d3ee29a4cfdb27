package handlers_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/xml"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/crewjam/saml"

	"sluice/internal/testutil"
	"sluice/models"
)

// samlIdP is a SAML identity provider built with crewjam/saml's IdentityProvider, in
// process: it signs in whoever the test says and reads Sluice's SP metadata from Sluice.
type samlIdP struct {
	*saml.IdentityProvider
	srv *httptest.Server

	mu        sync.Mutex
	user      *saml.Session
	spMeta    *saml.EntityDescriptor
	audience  string // another entity ID for the assertion's audience, when set
	metaDown  bool   // the metadata URL answers 503
	metaAsked int    // how many times the metadata URL was asked
}

func newKeyCert(t *testing.T) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test idp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func newSAMLIdP(t *testing.T) *samlIdP {
	t.Helper()
	key, cert := newKeyCert(t)
	p := &samlIdP{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.ServeHTTP(w, r) }))
	t.Cleanup(p.srv.Close)
	base, _ := url.Parse(p.srv.URL)
	p.IdentityProvider = &saml.IdentityProvider{Key: key, Signer: key, Certificate: cert,
		MetadataURL: *base.JoinPath("metadata"), SSOURL: *base.JoinPath("sso"),
		ServiceProviderProvider: p, SessionProvider: p}
	return p
}

func (p *samlIdP) MetadataXML(t *testing.T) string {
	t.Helper()
	b, err := xml.Marshal(p.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// GetServiceProvider is Sluice's SP metadata, its entity ID changed when the test wants
// an assertion for another audience.
func (p *samlIdP) GetServiceProvider(_ *http.Request, id string) (*saml.EntityDescriptor, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.spMeta == nil || p.spMeta.EntityID != id {
		return nil, os.ErrNotExist
	}
	md := *p.spMeta
	if p.audience != "" {
		md.EntityID = p.audience
	}
	return &md, nil
}

func (p *samlIdP) GetSession(w http.ResponseWriter, _ *http.Request, _ *saml.IdpAuthnRequest) *saml.Session {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.user == nil {
		http.Error(w, "nobody signed in", http.StatusForbidden)
		return nil
	}
	s := *p.user
	s.ID, s.CreateTime, s.ExpireTime = "sess-"+s.NameID, time.Now(), time.Now().Add(time.Hour)
	return &s
}

func (p *samlIdP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/metadata":
		p.mu.Lock()
		down := p.metaDown
		p.metaAsked++
		p.mu.Unlock()
		if down {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		p.ServeMetadata(w, r)
	case "/sso":
		p.ServeSSO(w, r)
	default:
		http.NotFound(w, r)
	}
}

// signInAs makes the provider sign in a person with a persistent NameID, a mail
// attribute and groups.
func (p *samlIdP) signInAs(nameID, email string, groups ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user = &saml.Session{NameID: nameID, NameIDFormat: string(saml.PersistentNameIDFormat), Groups: groups, UserCommonName: "Someone",
		CustomAttributes: []saml.Attribute{{Name: "mail", NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
			Values: []saml.AttributeValue{{Type: "xs:string", Value: email}}}}}
}

// signInWith makes the provider sign in a person with this NameID and format, and the
// mail attribute when email is given.
func (p *samlIdP) signInWith(nameID string, format saml.NameIDFormat, email string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user = &saml.Session{NameID: nameID, NameIDFormat: string(format), UserCommonName: "Someone"}
	if email != "" {
		p.user.CustomAttributes = []saml.Attribute{{Name: "mail", NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
			Values: []saml.AttributeValue{{Type: "xs:string", Value: email}}}}
	}
}

const samlGroups = "urn:oid:1.3.6.1.4.1.5923.1.1.1.1" // eduPersonAffiliation, where crewjam's IdP puts the groups

// samlSetup makes the owner, the provider and the SAML settings (metadata read from the
// provider's URL): new accounts are viewers, "data-team" makes editors. The provider
// reads Sluice's SP metadata from Sluice.
func samlSetup(t *testing.T, a *app) (*models.User, *client, *samlIdP) {
	t.Helper()
	owner, c := signedInAdmin(t, a)
	idp := newSAMLIdP(t)
	token := c.csrf("/settings/sso")
	c.post("/settings/sso/saml", url.Values{"_csrf": {token}, "saml_provider_name": {"Campus IdP"}, "metadata_url": {idp.srv.URL + "/metadata"},
		"saml_default_role": {"viewer"}, "groups_attribute": {samlGroups},
		"saml_group": {"data-team", ""}, "saml_role": {"editor", "viewer"}}).want(t, http.StatusSeeOther)
	md := a.client(t).get("/saml/metadata/"+owner.OrganizationID).want(t, http.StatusOK)
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal([]byte(md.Body), &ed); err != nil {
		t.Fatalf("Sluice's SP metadata: %v\n%s", err, md.Body)
	}
	idp.spMeta = &ed
	return owner, c, idp
}

// samlAnswer starts at Sluice's sign-in button in browser c, follows the redirect to the
// provider and reads the provider's auto-submitting form: the ACS path and the fields.
func samlAnswer(t *testing.T, c *client, orgID string) (string, url.Values) {
	t.Helper()
	start := c.get("/sso/start?provider=saml&org="+orgID).want(t, http.StatusSeeOther)
	res, err := http.Get(start.Location())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	return samlForm(t, res)
}

// samlForm reads the provider's auto-submitting form to Sluice's ACS.
func samlForm(t *testing.T, res *http.Response) (string, url.Values) {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	form := doc.Find("form").First()
	action, _ := form.Attr("action")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(action, "http://localhost:8080/saml/acs/") {
		h, _ := doc.Html()
		t.Fatalf("the provider answered %d, form to %q:\n%s", res.StatusCode, action, h)
	}
	vals := url.Values{}
	form.Find("input[name]").Each(func(_ int, s *goquery.Selection) {
		n, _ := s.Attr("name")
		v, _ := s.Attr("value")
		vals.Set(n, v)
	})
	return strings.TrimPrefix(action, "http://localhost:8080"), vals
}

// postACS posts the provider's form to the ACS as a browser does from the provider's
// page: a cross-site post, which carries none of Sluice's cookies (SameSite=Lax).
func postACS(t *testing.T, from *client, path string, vals url.Values) *response {
	t.Helper()
	noCookies := &client{t: t, base: from.base, hc: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	return noCookies.post(path, vals)
}

// samlSignIn signs in browser c with the provider, as a browser does: the start, the
// provider's form posted to the ACS (without cookies), and the ACS's redirect followed
// in c (with its cookies). It returns Sluice's last answer.
func samlSignIn(t *testing.T, c *client, orgID string) *response {
	t.Helper()
	path, vals := samlAnswer(t, c, orgID)
	return samlFinish(t, c, postACS(t, c, path, vals))
}

// samlFinish follows the ACS's redirect in browser c.
func samlFinish(t *testing.T, c *client, acs *response) *response {
	t.Helper()
	acs.want(t, http.StatusSeeOther)
	if !strings.HasPrefix(acs.Location(), "/saml/finish?code=") {
		t.Fatalf("the ACS sent the browser to %q", acs.Location())
	}
	return c.get(acs.Location())
}

func TestSAMLSignIn(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		a := ssoApp(t, dbURL)
		owner, _, idp := samlSetup(t, a)
		ctx := context.Background()
		org := owner.OrganizationID

		login := a.client(t).get("/login").want(t, http.StatusOK)
		if got := login.Text(t, "[data-testid=sso-sign-in]"); got != "Sign in with Campus IdP" {
			t.Fatalf("sign-in button %q", got)
		}

		// First sign-in: an account with the role the groups map to.
		idp.signInAs("u-42", "Dana@Example.com", "staff", "data-team")
		dana := a.client(t)
		r := samlSignIn(t, dana, org).want(t, http.StatusSeeOther)
		if r.Location() != "/activations" || !dana.signedIn() {
			t.Fatalf("after sign-in: %q, signed in %v", r.Location(), dana.signedIn())
		}
		dana.get("/activations/new").want(t, http.StatusOK) // editors only
		users, err := a.store.ListUsers(ctx, owner.WorkspaceID)
		if err != nil {
			t.Fatal(err)
		}
		if len(users) != 2 {
			t.Fatalf("%d users after the first sign-in", len(users))
		}

		// Second sign-in, same NameID and another e-mail: found, not made again.
		idp.signInAs("u-42", "dana.new@example.com", "staff")
		again := a.client(t)
		samlSignIn(t, again, org).want(t, http.StatusSeeOther)
		again.get("/activations/new").want(t, http.StatusOK)
		users, _ = a.store.ListUsers(ctx, owner.WorkspaceID)
		roles := map[string]models.Role{}
		for _, u := range users {
			roles[u.Email] = u.Role
		}
		if len(users) != 2 || roles["dana@example.com"] != models.RoleEditor {
			t.Fatalf("users after the second sign-in: %v", roles)
		}

		// No mapped group: the default role.
		idp.signInAs("u-43", "vic@example.com", "staff")
		vic := a.client(t)
		samlSignIn(t, vic, org).want(t, http.StatusSeeOther)
		vic.get("/activations/new").want(t, http.StatusForbidden)

		refused := func(t *testing.T, words string) {
			t.Helper()
			c := a.client(t)
			r := samlSignIn(t, c, org).want(t, http.StatusUnprocessableEntity)
			if got := r.Text(t, "[data-testid=login-error]"); !strings.Contains(got, words) {
				t.Fatalf("refusal %q, want %q", got, words)
			}
			if c.signedIn() {
				t.Fatal("signed in despite the refusal")
			}
		}
		t.Run("signed by another key", func(t *testing.T) {
			key, cert := newKeyCert(t)
			oldKey, oldCert := idp.Key, idp.Certificate
			idp.Key, idp.Signer, idp.Certificate = key, key, cert
			defer func() { idp.Key, idp.Signer, idp.Certificate = oldKey, oldKey.(*rsa.PrivateKey), oldCert }()
			refused(t, "not signed with the provider's certificate")
		})
		t.Run("expired", func(t *testing.T) {
			idp.AssertionMaker = expiredAssertions{}
			defer func() { idp.AssertionMaker = nil }()
			refused(t, "it has expired")
		})
		t.Run("wrong audience", func(t *testing.T) {
			idp.mu.Lock()
			idp.audience = "https://other.example/sp"
			idp.mu.Unlock()
			defer func() { idp.mu.Lock(); idp.audience = ""; idp.mu.Unlock() }()
			refused(t, "issued for another service provider")
		})
	})
}

// expiredAssertions makes the provider's assertions as if issued ten minutes ago: they
// expired before they arrive.
type expiredAssertions struct{}

func (expiredAssertions) MakeAssertion(req *saml.IdpAuthnRequest, session *saml.Session) error {
	if err := (saml.DefaultAssertionMaker{}).MakeAssertion(req, session); err != nil {
		return err
	}
	as, ago := req.Assertion, -10*time.Minute
	as.IssueInstant = as.IssueInstant.Add(ago)
	if as.Conditions != nil {
		as.Conditions.NotBefore, as.Conditions.NotOnOrAfter = as.Conditions.NotBefore.Add(ago), as.Conditions.NotOnOrAfter.Add(ago)
	}
	if as.Subject != nil {
		for i := range as.Subject.SubjectConfirmations {
			if d := as.Subject.SubjectConfirmations[i].SubjectConfirmationData; d != nil {
				d.NotOnOrAfter = d.NotOnOrAfter.Add(ago)
			}
		}
	}
	return nil
}

func TestSAMLSettings(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		a := ssoApp(t, dbURL)
		owner, c, idp := samlSetup(t, a)
		ctx := context.Background()
		org := owner.OrganizationID

		cfg, err := a.store.SAMLConfigOf(ctx, org)
		if err != nil {
			t.Fatal(err)
		}
		key, err := a.store.SAMLKey(cfg)
		if err != nil || !strings.Contains(key, "PRIVATE KEY") {
			t.Fatalf("the SP key cannot be opened: %v", err)
		}
		if strings.Contains(cfg.SPKeySealed, "PRIVATE KEY") {
			t.Fatal("the SP key is stored in clear")
		}
		keyBody := strings.Split(key, "\n")[1] // a line of the key's base64
		page := c.get("/settings/sso").want(t, http.StatusOK)
		md := a.client(t).get("/saml/metadata/"+org).want(t, http.StatusOK)
		for name, body := range map[string]string{"settings page": page.Body, "SP metadata": md.Body} {
			if strings.Contains(body, keyBody) || strings.Contains(body, "PRIVATE KEY") {
				t.Fatalf("the %s shows the SP's private key", name)
			}
		}
		if got := page.Text(t, "[data-testid=saml-entity-id]"); got != "http://localhost:8080/saml/metadata/"+org {
			t.Fatalf("entity ID shown %q", got)
		}
		if got := page.Text(t, "[data-testid=saml-acs]"); got != "http://localhost:8080/saml/acs/"+org {
			t.Fatalf("ACS URL shown %q", got)
		}
		if got, _ := page.Doc(t).Find("input[name=metadata_url]").Attr("value"); got != idp.srv.URL+"/metadata" {
			t.Fatalf("metadata URL field %q", got)
		}
		entries, _, err := a.store.ListAuditEntries(ctx, owner.WorkspaceID, models.AuditFilter{ResourceType: "saml"})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Action != "saml.update" || strings.Contains(*entries[0].AfterJSON, "PRIVATE") ||
			!strings.Contains(*entries[0].AfterJSON, `"key_made":true`) {
			t.Fatalf("audit entries %+v", entries)
		}

		// Saving again keeps the key: the provider keeps trusting Sluice's certificate.
		token := c.csrf("/settings/sso")
		form := func(extra url.Values) url.Values {
			v := url.Values{"_csrf": {token}, "saml_provider_name": {"Campus IdP"}, "saml_default_role": {"operator"}}
			for k, x := range extra {
				v[k] = x
			}
			return v
		}
		c.post("/settings/sso/saml", form(url.Values{"metadata_xml": {idp.MetadataXML(t)}})).want(t, http.StatusSeeOther)
		again, _ := a.store.SAMLConfigOf(ctx, org)
		if again.SPCertPEM != cfg.SPCertPEM || again.DefaultRole != models.RoleOperator || again.MetadataURL != "" {
			t.Fatalf("after a save with pasted XML: same cert %v, role %s, URL %q", again.SPCertPEM == cfg.SPCertPEM, again.DefaultRole, again.MetadataURL)
		}

		// Metadata that fails is refused, in words.
		dead := httptest.NewServer(http.NotFoundHandler())
		deadURL := dead.URL + "/metadata"
		dead.Close()
		noCert := strings.NewReplacer("<KeyDescriptor", "<Ignored", "</KeyDescriptor>", "</Ignored>").Replace(idp.MetadataXML(t))
		cases := []struct {
			name  string
			form  url.Values
			field string
			words string
		}{
			{"unreachable", url.Values{"metadata_url": {deadURL}}, "metadata_url", "Sluice could not reach the metadata at " + deadURL},
			{"not found", url.Values{"metadata_url": {idp.srv.URL + "/nothing"}}, "metadata_url", "answered 404 Not Found"},
			{"not metadata", url.Values{"metadata_xml": {"<html><body>Sign in</body></html>"}}, "metadata_xml", "The pasted XML is not SAML metadata"},
			{"no signing certificate", url.Values{"metadata_xml": {noCert}}, "metadata_xml", "has no signing certificate"},
			{"nothing", url.Values{}, "metadata_url", "Enter the URL of the identity provider's metadata, or paste its metadata XML"},
		}
		for _, tc := range cases {
			r := c.post("/settings/sso/saml", form(tc.form)).want(t, http.StatusUnprocessableEntity)
			if got := r.Text(t, "[data-testid=error-"+tc.field+"]"); !strings.Contains(got, tc.words) {
				t.Fatalf("%s: %q, want %q", tc.name, got, tc.words)
			}
		}

		// CSRF, and owners only.
		c.post("/settings/sso/saml", url.Values{"saml_provider_name": {"Evil"}}).want(t, http.StatusForbidden)
		if _, err := a.store.CreateUser(ctx, testutil.ActorOf(owner), models.NewUser{Email: "ed@example.com", Password: testutil.Password, Role: models.RoleAdmin}); err != nil {
			t.Fatal(err)
		}
		other := a.client(t)
		other.signIn("ed@example.com", testutil.Password)
		tok := other.csrf("/activations")
		other.post("/settings/sso/saml", url.Values{"_csrf": {tok}, "saml_provider_name": {"Evil"}, "metadata_xml": {idp.MetadataXML(t)},
			"saml_default_role": {"admin"}}).want(t, http.StatusForbidden)
		if after, _ := a.store.SAMLConfigOf(ctx, org); after.ProviderName != "Campus IdP" {
			t.Fatalf("an admin who is not the owner changed the settings: %q", after.ProviderName)
		}
	})
}
