package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/xml"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/crewjam/saml"
)

// samlBrowserIdP is a crewjam/saml identity provider that signs in one person and reads
// Sluice's SP metadata from Sluice, at its entity ID.
type samlBrowserIdP struct{ person saml.Session }

func (p samlBrowserIdP) GetServiceProvider(_ *http.Request, id string) (*saml.EntityDescriptor, error) {
	res, err := http.Get(id)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	var ed saml.EntityDescriptor
	return &ed, xml.Unmarshal(raw, &ed)
}

func (p samlBrowserIdP) GetSession(_ http.ResponseWriter, _ *http.Request, _ *saml.IdpAuthnRequest) *saml.Session {
	s := p.person
	s.ID, s.CreateTime, s.ExpireTime = "sess-1", time.Now(), time.Now().Add(time.Hour)
	return &s
}

// A person signs in through a SAML provider in a real browser. The provider is on
// another site (localhost, Sluice on 127.0.0.1), so its form's post to the ACS carries
// none of Sluice's cookies; the ACS's redirect to Sluice's own page does, and the
// sign-in finishes there in the browser that started it, making the account.
func TestSAMLSignInInBrowser(t *testing.T) {
	base := startSluice(t, "SLUICE_ALLOW_PRIVATE_NETWORKS=true") // the provider listens on loopback
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	person := saml.Session{NameID: "dana-1", NameIDFormat: string(saml.PersistentNameIDFormat), UserCommonName: "Dana",
		CustomAttributes: []saml.Attribute{{Name: "mail", Values: []saml.AttributeValue{{Type: "xs:string", Value: "dana@acme.example"}}}}}
	idp := &saml.IdentityProvider{Key: key, Signer: key, Certificate: cert, ServiceProviderProvider: samlBrowserIdP{person}, SessionProvider: samlBrowserIdP{person}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/metadata":
			idp.ServeMetadata(w, r)
		case "/sso":
			idp.ServeSSO(w, r)
		case "/start": // the provider's own portal: a sign-in it starts itself
			idp.ServeIDPInitiated(w, r, r.URL.Query().Get("sp"), "")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	u, _ := url.Parse(strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)) // another site than Sluice's
	idp.MetadataURL, idp.SSOURL = *u.JoinPath("metadata"), *u.JoinPath("sso")

	ctx := newBrowser(t)
	shots := newScreenshots(t)
	run(t, ctx, "create the first admin", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))
	run(t, ctx, "set up SAML",
		chromedp.Click(chromedp.CSS(`[data-testid=nav-sso]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=save-saml]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-saml_provider_name`), "Campus IdP"),
		chromedp.SendKeys(chromedp.CSS(`#f-metadata_url`), u.String()+"/metadata"),
		chromedp.Click(chromedp.CSS(`[data-testid=save-saml]`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert-success`)),
		chromedp.ScrollIntoView(chromedp.CSS(`[data-testid=saml-metadata-read]`)),
		shots.take("saml-metadata-read"),
	)
	entityID := read(t, ctx, "read the entity ID", chromedp.Text(chromedp.CSS(`[data-testid=saml-entity-id]`)))
	if got := read(t, ctx, "read when the metadata was read", chromedp.Text(chromedp.CSS(`[data-testid=saml-metadata-read]`))); !strings.HasPrefix(got, "Metadata read at ") {
		t.Errorf("the SAML card says %q", got)
	}
	run(t, ctx, "sign in with the provider",
		chromedp.Click(chromedp.CSS(`[data-testid=sign-out]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=sso-sign-in]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=sso-sign-in]`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert-success`)),
		shots.take("saml-signed-in"),
	)
	welcome := read(t, ctx, "read the welcome", chromedp.Text(chromedp.CSS(`.alert-success`)))
	where := read(t, ctx, "read the address", chromedp.Location())
	if !strings.Contains(welcome, "Welcome to Sluice") || where != base+"/activations" {
		t.Errorf("after the sign-in: %q at %s", welcome, where)
	}

	// A sign-in the provider starts itself is refused with the way in, on the sign-in
	// page, and the refusal leaves the browser's session alone.
	run(t, ctx, "a sign-in the provider starts",
		chromedp.Navigate(u.String()+"/start?"+url.Values{"sp": {entityID}}.Encode()),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-error]`)),
		shots.take("saml-idp-initiated"),
	)
	if got := read(t, ctx, "read the refusal", chromedp.Text(chromedp.CSS(`[data-testid=login-error]`))); !strings.Contains(got, "start the sign-in from Sluice's sign-in page") {
		t.Errorf("refusal %q", got)
	}
	run(t, ctx, "still signed in", chromedp.Navigate(base+"/activations"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=sign-out]`)))
}
