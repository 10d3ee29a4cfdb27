package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
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

// The owner sets up SAML sign-in from the identity provider's metadata URL; the page
// then shows the entity ID and ACS URL to give the provider, never Sluice's key.
func TestSAMLSettingsPage(t *testing.T) {
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
	idp := &saml.IdentityProvider{Key: key, Signer: key, Certificate: cert}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { idp.ServeMetadata(w, r) }))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	idp.MetadataURL, idp.SSOURL = *u.JoinPath("metadata"), *u.JoinPath("sso")

	ctx := newBrowser(t)
	shots := newScreenshots(t)
	run(t, ctx, "create the first admin", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))
	run(t, ctx, "set up SAML",
		chromedp.Click(chromedp.CSS(`[data-testid=nav-sso]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=save-saml]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-saml_provider_name`), "Campus IdP"),
		chromedp.SendKeys(chromedp.CSS(`#f-metadata_url`), srv.URL+"/metadata"),
		chromedp.Click(chromedp.CSS(`[data-testid=save-saml]`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert-success`)),
		chromedp.ScrollIntoView(chromedp.CSS(`[data-testid=saml-card]`)),
		shots.take("saml-settings"),
	)
	status := read(t, ctx, "read the SAML status", chromedp.Text(chromedp.CSS(`[data-testid=saml-status]`)))
	acs := read(t, ctx, "read the ACS URL", chromedp.Text(chromedp.CSS(`[data-testid=saml-acs]`)))
	if status != "Set up" || !strings.HasPrefix(acs, base+"/saml/acs/") {
		t.Errorf("SAML status %q, ACS URL %q", status, acs)
	}
}
