package core

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"

	"sluice/models"
)

// SAML paths, under the base URL, per organization: Sluice's metadata (its entity ID
// too) and the assertion consumer service the identity provider posts to.
const (
	SAMLMetadataPath = "/saml/metadata/"
	SAMLACSPath      = "/saml/acs/"
)

// SAMLURLs are what an owner copies into the identity provider.
type SAMLURLs struct{ EntityID, Metadata, ACS string }

// SAMLURLsOf is the organization's SP URLs: the metadata URL is also its entity ID.
func SAMLURLsOf(baseURL, orgID string) SAMLURLs {
	b := strings.TrimRight(baseURL, "/")
	meta := b + SAMLMetadataPath + url.PathEscape(orgID)
	return SAMLURLs{EntityID: meta, Metadata: meta, ACS: b + SAMLACSPath + url.PathEscape(orgID)}
}

// samlMetadataLimit bounds an identity provider's metadata.
const samlMetadataLimit = 1 << 20

// SAMLSettings is the settings form: metadata from a URL (read now) or pasted XML.
type SAMLSettings struct {
	models.SAMLInput
	PastedXML string
}

// SaveSAMLConfig reads and checks the identity provider's metadata (from its URL, or
// pasted), makes the organization's SP key and certificate the first time, and stores
// the settings. Metadata that cannot be read, is not metadata or has no signing
// certificate is refused in words naming what failed.
func (s *Service) SaveSAMLConfig(ctx context.Context, a models.Actor, baseURL string, in SAMLSettings) (*models.SAMLConfig, error) {
	if err := in.Normalize(); err != nil {
		return nil, err
	}
	raw := []byte(strings.TrimSpace(in.PastedXML))
	field := "metadata_xml"
	if in.MetadataURL != "" {
		field = "metadata_url"
		var err error
		if raw, err = s.fetchSAMLMetadata(ctx, in.MetadataURL); err != nil {
			return nil, &models.FieldError{Field: field, Message: err.Error()}
		}
	} else if len(raw) == 0 {
		return nil, &models.FieldError{Field: "metadata_url", Message: "Enter the URL of the identity provider's metadata, or paste its metadata XML."}
	}
	ed, err := checkIdPMetadata(raw, in.MetadataURL)
	if err != nil {
		return nil, &models.FieldError{Field: field, Message: err.Error()}
	}
	in.MetadataXML, in.IdPEntityID = string(raw), ed.EntityID
	cur, org, err := s.store.OwnerSAMLConfig(ctx, a)
	if err != nil {
		return nil, err
	}
	if cur == nil {
		if in.NewKeyPEM, in.NewCertPEM, err = newSAMLKey(SAMLURLsOf(baseURL, org).EntityID, time.Now()); err != nil {
			return nil, err
		}
	}
	return s.store.SaveSAMLConfig(ctx, a, in.SAMLInput)
}

func (s *Service) fetchSAMLMetadata(ctx context.Context, u string) ([]byte, error) {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return nil, sentence("Enter the metadata's URL, e.g. https://idp.example.com/metadata, or paste the XML instead.")
	}
	ctx, cancel := context.WithTimeout(ctx, ssoTimeout)
	defer cancel()
	c := s.ssoHTTP
	if c == nil {
		c = &http.Client{Timeout: ssoTimeout}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		msg := err.Error()
		if i := strings.Index(msg, "httpdest: "); i >= 0 {
			return nil, sentence("Sluice may not read the metadata at %s: %s; it reaches loopback and private addresses only with SLUICE_ALLOW_PRIVATE_NETWORKS=true.", u, msg[i+len("httpdest: "):])
		}
		return nil, sentence("Sluice could not reach the metadata at %s: %s.", u, msg)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, sentence("The metadata at %s answered %s: is the URL right?", u, resp.Status)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, samlMetadataLimit+1))
	if err != nil {
		return nil, sentence("Sluice could not read the metadata at %s: %s.", u, err)
	}
	if len(raw) > samlMetadataLimit {
		return nil, sentence("The metadata at %s is larger than 1 MB: is it an identity provider's metadata?", u)
	}
	return raw, nil
}

// checkIdPMetadata parses metadata and checks it describes an identity provider with a
// signing certificate and a sign-in URL.
func checkIdPMetadata(raw []byte, from string) (*saml.EntityDescriptor, error) {
	where := "The pasted XML"
	if from != "" {
		where = "The document at " + from
	}
	if !bytes.Contains(raw, []byte("EntityDescriptor")) {
		return nil, sentence("%s is not SAML metadata (it has no EntityDescriptor).", where)
	}
	ed, err := samlsp.ParseMetadata(raw)
	if err != nil {
		return nil, sentence("%s is not SAML metadata Sluice can read: %s.", where, err)
	}
	if len(ed.IDPSSODescriptors) == 0 {
		return nil, sentence("%s describes no identity provider (no IDPSSODescriptor): is it the service provider's metadata?", where)
	}
	hasCert := false
	for _, d := range ed.IDPSSODescriptors {
		for _, k := range d.KeyDescriptors {
			if (k.Use == "" || k.Use == "signing") && len(k.KeyInfo.X509Data.X509Certificates) > 0 {
				hasCert = true
			}
		}
	}
	if !hasCert {
		return nil, sentence("%s has no signing certificate: Sluice cannot check the provider's signatures without one.", where)
	}
	sp := saml.ServiceProvider{IDPMetadata: ed}
	if sp.GetSSOBindingLocation(saml.HTTPRedirectBinding) == "" {
		return nil, sentence("%s has no sign-in URL for the HTTP-Redirect binding (SingleSignOnService).", where)
	}
	return ed, nil
}

// newSAMLKey makes an RSA key and a self-signed certificate for ten years, PEM.
func newSAMLKey(entityID string, now time.Time) (keyPEM, certPEM string, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return "", "", err
	}
	cn := entityID
	if len(cn) > 64 {
		cn = cn[:64]
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn, Organization: []string{"Sluice"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	kp := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	cp := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return string(kp), string(cp), nil
}

// serviceProvider is the organization's SP, with its key opened.
func (s *Service) serviceProvider(c *models.SAMLConfig, baseURL string) (*saml.ServiceProvider, error) {
	ed, err := samlsp.ParseMetadata([]byte(c.MetadataXML))
	if err != nil {
		return nil, fmt.Errorf("SAML metadata of %s: %w", c.OrganizationID, err)
	}
	keyPEM, err := s.store.SAMLKey(c)
	if err != nil {
		return nil, err
	}
	kb, _ := pem.Decode([]byte(keyPEM))
	cb, _ := pem.Decode([]byte(c.SPCertPEM))
	if kb == nil || cb == nil {
		return nil, fmt.Errorf("SAML key or certificate of %s is not PEM", c.OrganizationID)
	}
	key, err := x509.ParsePKCS1PrivateKey(kb.Bytes)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, err
	}
	u := SAMLURLsOf(baseURL, c.OrganizationID)
	meta, _ := url.Parse(u.Metadata)
	acs, _ := url.Parse(u.ACS)
	return &saml.ServiceProvider{EntityID: u.EntityID, Key: key, Certificate: cert, MetadataURL: *meta, AcsURL: *acs,
		IDPMetadata: ed, HTTPClient: s.ssoHTTP, AuthnNameIDFormat: samlNameIDFormat(ed)}, nil
}

// SAMLMetadata is the organization's SP metadata, XML.
func (s *Service) SAMLMetadata(ctx context.Context, orgID, baseURL string) ([]byte, error) {
	c, err := s.store.SAMLConfigOf(ctx, orgID)
	if err != nil {
		return nil, err
	}
	sp, err := s.serviceProvider(c, baseURL)
	if err != nil {
		return nil, err
	}
	return xmlMarshal(sp.Metadata())
}

func xmlMarshal(v any) ([]byte, error) {
	out, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), out...), nil
}

// sentenceError is a refusal already in words for the person, a full sentence.
type sentenceError string

func (e sentenceError) Error() string { return string(e) }

func sentence(format string, a ...any) error { return sentenceError(fmt.Sprintf(format, a...)) }
