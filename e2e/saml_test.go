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
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/crewjam/saml"

	"sluice/models"
)

// The owner sets up SAML sign-in from the identity provider's metadata URL; the page
// then shows the entity ID and ACS URL to give the provider, never Sluice's key.
func TestSAMLSettingsPage(t *testing.T) {
	dbURL := "sqlite://" + filepath.Join(t.TempDir(), "sluice.db")
	base := startSluice(t, "SLUICE_ALLOW_PRIVATE_NETWORKS=true", "SLUICE_DATABASE_URL="+dbURL) // the provider listens on loopback
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
	// A second workspace for the mapping's workspace column, and another organization of
	// the installation, which makes the sign-in page ask the e-mail first.
	store, err := models.Open(dbURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var ada models.User
	if err := store.DB().Where("email = ?", "ada@acme.example").Take(&ada).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := store.AddWorkspace(t.Context(), models.Actor{WorkspaceID: ada.WorkspaceID, Type: models.ActorUser, ID: ada.ID, Name: ada.Email, Role: models.RoleAdmin}, "Production"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateWorkspace(t.Context(), "Globex"); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "set up SAML",
		chromedp.Click(chromedp.CSS(`[data-testid=nav-sso]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=save-saml]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-saml_provider_name`), "Campus IdP"),
		chromedp.SendKeys(chromedp.CSS(`#f-metadata_url`), srv.URL+"/metadata"),
		chromedp.Click(chromedp.CSS(`[data-testid=save-saml]`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert-success`)),
		chromedp.ScrollIntoView(chromedp.CSS(`[data-testid=saml-card]`)),
		shots.take("saml-settings"),
		chromedp.ScrollIntoView(chromedp.CSS(`[data-testid=remove-saml-footer]`)),
		shots.take("saml-remove"),
	)
	// Remove sits in the card's footer, apart from Save SAML.
	if gap := read(t, ctx, "measure Save to Remove", chromedp.Evaluate[float64](`document.querySelector('[data-testid=remove-saml]').getBoundingClientRect().top - document.querySelector('[data-testid=save-saml]').getBoundingClientRect().bottom`)); gap < 24 {
		t.Errorf("Remove is %.0fpx under Save SAML, want it apart", gap)
	}
	if n := read(t, ctx, "count the mapping's workspace choices", chromedp.Evaluate[string](`String(document.querySelectorAll('[data-testid=saml-mapping] select[name=saml_workspace]')[0].options.length)`)); n != "2" {
		t.Errorf("the mapping offers %s workspaces, want 2", n)
	}
	status := read(t, ctx, "read the SAML status", chromedp.Text(chromedp.CSS(`[data-testid=saml-status]`)))
	acs := read(t, ctx, "read the ACS URL", chromedp.Text(chromedp.CSS(`[data-testid=saml-acs]`)))
	if status != "Set up" || !strings.HasPrefix(acs, base+"/saml/acs/") {
		t.Errorf("SAML status %q, ACS URL %q", status, acs)
	}
	// Single sign-on is the organization's: the save is in its audit trail.
	run(t, ctx, "see the save in the organization's audit trail",
		chromedp.Click(chromedp.CSS(`[data-testid=nav-workspaces]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=organization-audit-row][data-action="saml.update"]`)),
		chromedp.ScrollIntoView(chromedp.CSS(`#organization-audit`)),
		shots.take("organization-audit-sso"),
	)

	run(t, ctx, "the e-mail first",
		chromedp.Click(chromedp.CSS(`[data-testid=sign-out]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=continue]`)),
		shots.take("sign-in-email-first"),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), "ada@acme.example"),
		chromedp.Click(chromedp.CSS(`[data-testid=continue]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=sso-sign-in]`)),
		chromedp.WaitVisible(chromedp.CSS(`#f-password`)),
		shots.take("sign-in-choices"),
	)
	if got := read(t, ctx, "read the button", chromedp.Text(chromedp.CSS(`[data-testid=sso-sign-in]`))); got != "Sign in with Campus IdP" {
		t.Errorf("button %q", got)
	}
}
