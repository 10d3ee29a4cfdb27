package core

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"

	"sluice/models"
)

// SAMLFinishPath is the page of Sluice's own the ACS sends the browser to, with the
// outcome's one-time code: that request carries the browser's session cookie.
const SAMLFinishPath = "/saml/finish"

// samlMetadataMaxAge is how long metadata read from a URL is trusted before it is read
// again at the next sign-in (unless its validUntil or cacheDuration says sooner):
// providers rotate their signing certificates and publish the new one there.
const samlMetadataMaxAge = 24 * time.Hour

// samlRefreshTimeout bounds reading the metadata again at a sign-in's start: the person
// waits for it, and the old metadata serves when it fails.
const samlRefreshTimeout = 3 * time.Second

// samlRetryAfter is how long a metadata URL that was asked is left alone, when its
// answer failed too: a provider that is down would otherwise make every sign-in start
// wait samlRefreshTimeout for it. The stored metadata serves meanwhile.
const samlRetryAfter = 5 * time.Minute

// Words of SAML refusals shared by more than one place.
const (
	samlNotThisBrowser = "This sign-in was not started in this browser, or was already used. Start again with the \"Sign in with\" button of the sign-in page."
	samlUnknownStart   = "This sign-in is unknown, used or older than ten minutes. Start again from Sluice's sign-in page."
)

// StartSAML begins an SP-initiated sign-in: the metadata is read again first when it is
// due (samlMetadataDue), the request ID is kept server-side under a fresh relay state
// (ten minutes, once), and the identity provider's sign-in URL is returned with the
// relay state, which the caller ties to the browser (FinishSAML checks it).
func (s *Service) StartSAML(ctx context.Context, orgID, next, baseURL string) (to, relay string, err error) {
	c, err := s.store.SAMLConfigOf(ctx, orgID)
	if err != nil {
		return "", "", err
	}
	c = s.refreshSAMLMetadata(ctx, c)
	sp, err := s.serviceProvider(c, baseURL)
	if err != nil {
		return "", "", err
	}
	req, err := sp.MakeAuthenticationRequest(sp.GetSSOBindingLocation(saml.HTTPRedirectBinding), saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		return "", "", err
	}
	relay = models.RandomToken()
	if err := s.store.SaveSSOStart(ctx, relay, models.SSOStart{OrganizationID: orgID, Nonce: req.ID, Verifier: "saml", Next: next}); err != nil {
		return "", "", err
	}
	u, err := req.Redirect(relay, sp)
	if err != nil {
		return "", "", err
	}
	return u.String(), relay, nil
}

// CheckSAMLResponse checks a response posted to the organization's ACS and keeps its
// outcome under a one-time code, which FinishSAML takes in the browser that started the
// sign-in. The response must answer a request StartSAML made for this organization and
// that was not answered yet (its relay state, taken once, and InResponseTo); crewjam/saml
// checks the signature against the provider's certificate, the audience (Sluice's
// entity ID) and the time window. A response the provider sent unasked (no InResponseTo),
// or with an unknown relay state, is refused before anyone is identified: its refusal is
// kept under the code too, bound to no sign-in, so that FinishSAML shows it on the
// sign-in page of whichever browser follows (a refusal signs nobody in). Refusals of a
// response to a known sign-in go with the code, shown to its browser only. Only a post
// to an organization that does not exist is refused at once: *models.SSORefusal.
func (s *Service) CheckSAMLResponse(ctx context.Context, orgID string, r *http.Request, baseURL string) (code string, err error) {
	code, err = s.checkSAMLResponse(ctx, orgID, r, baseURL)
	var refused *models.SSORefusal
	if !errors.As(err, &refused) {
		return code, err
	}
	if _, err := s.store.SSOPolicyOf(ctx, orgID); models.IsNotFound(err) {
		return "", refused // no such organization: nothing to keep the refusal under
	} else if err != nil {
		return "", err
	}
	code = models.RandomToken()
	if err := s.store.SaveSAMLOutcome(ctx, code, models.SAMLOutcome{OrganizationID: orgID, Refusal: refused.Reason}); err != nil {
		return "", err
	}
	return code, nil
}

func (s *Service) checkSAMLResponse(ctx context.Context, orgID string, r *http.Request, baseURL string) (code string, err error) {
	if err := r.ParseForm(); err != nil {
		return "", &models.SSORefusal{Reason: "The identity provider's answer could not be read. Start again from Sluice's sign-in page."}
	}
	c, err := s.store.SAMLConfigOf(ctx, orgID)
	if models.IsNotFound(err) {
		return "", &models.SSORefusal{Reason: "This organization has no SAML sign-in set up (any more)."}
	}
	if err != nil {
		return "", err
	}
	if r.PostForm.Get("SAMLart") == "" && samlInResponseTo(r.PostForm.Get("SAMLResponse")) == "" {
		return "", &models.SSORefusal{Reason: c.ProviderName + " started this sign-in itself, and Sluice accepts only sign-ins it started: start the sign-in from Sluice's sign-in page, with the \"Sign in with " + c.ProviderName + "\" button."}
	}
	relay := r.PostForm.Get("RelayState")
	if relay == "" {
		return "", &models.SSORefusal{Reason: samlUnknownStart}
	}
	st, err := s.store.TakeSSOStart(ctx, relay)
	if models.IsNotFound(err) || (err == nil && (st.OrganizationID != orgID || st.Verifier != "saml")) {
		return "", &models.SSORefusal{Reason: samlUnknownStart}
	}
	if err != nil {
		return "", err
	}
	out := models.SAMLOutcome{OrganizationID: orgID, Started: models.HashToken(relay), Next: st.Next}
	sp, err := s.serviceProvider(c, baseURL)
	if err != nil {
		return "", err
	}
	if as, err := sp.ParseResponse(r, []string{st.Nonce}); err != nil {
		s.logger().InfoContext(ctx, "SAML response refused", slog.String("organization_id", orgID), slog.Any("error", samlPrivateErr(err)))
		out.Refusal = "The answer from " + c.ProviderName + " was refused: " + samlWords(err, sp) + "."
	} else if cl, err := samlClaims(as, c); err != nil {
		out.Refusal = err.Error()
	} else {
		out.Claims = cl
	}
	code = models.RandomToken()
	if err := s.store.SaveSAMLOutcome(ctx, code, out); err != nil {
		return "", err
	}
	return code, nil
}

// FinishSAML ends a SAML sign-in in the browser: the outcome under code must be of the
// sign-in this browser started (started is the relay state's hash its session holds),
// else it is refused, so that nobody can sign a victim in as themselves by making their
// browser post a response. The person is then found or made by the same rule as with
// OpenID Connect (models.Store.SSOSignIn). Refusals are *models.SSORefusal.
func (s *Service) FinishSAML(ctx context.Context, code, started string) (*SSOResult, error) {
	o, err := s.store.TakeSAMLOutcome(ctx, code)
	if models.IsNotFound(err) {
		return nil, &models.SSORefusal{Reason: samlNotThisBrowser}
	}
	if err != nil {
		return nil, err
	}
	if o.Started == "" && o.Refusal != "" { // refused before anyone was identified
		return nil, &models.SSORefusal{Reason: o.Refusal}
	}
	if started == "" || started != o.Started {
		return nil, &models.SSORefusal{Reason: samlNotThisBrowser}
	}
	if o.Refusal != "" {
		return nil, &models.SSORefusal{Reason: o.Refusal}
	}
	c, err := s.store.SAMLConfigOf(ctx, o.OrganizationID)
	if models.IsNotFound(err) {
		return nil, &models.SSORefusal{Reason: "This organization has no SAML sign-in set up (any more)."}
	}
	if err != nil {
		return nil, err
	}
	u, created, err := s.store.SSOSignIn(ctx, c.AsSSO(), o.Claims)
	if err != nil {
		return nil, err
	}
	return &SSOResult{User: u, Created: created, Next: o.Next}, nil
}

// samlInResponseTo is the InResponseTo of a posted response ("" when it has none or
// cannot be read), looked at before the response is checked, to tell an unasked response
// from one answering a sign-in.
func samlInResponseTo(posted string) string {
	raw, err := base64.StdEncoding.DecodeString(posted)
	if err != nil {
		return ""
	}
	var resp struct {
		InResponseTo string `xml:"InResponseTo,attr"`
	}
	if err := xml.Unmarshal(raw, &resp); err != nil {
		return ""
	}
	return resp.InResponseTo
}

// samlEmailAttributes are the names identity providers give the e-mail attribute.
var samlEmailAttributes = []string{"email", "mail", "emailAddress", "urn:oid:0.9.2342.19200300.100.1.3",
	"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"}

// samlNameAttributes are the names identity providers give the person's name.
var samlNameAttributes = []string{"cn", "displayName", "urn:oid:2.5.4.3", "urn:oid:2.16.840.1.113730.3.1.241"}

// samlClaims is what a checked assertion says about the person. The subject, which finds
// the person again at every sign-in, must not change between sign-ins: a persistent
// NameID (or another stable format: e-mail, X.509 subject, Kerberos…). A transient or
// unspecified NameID may change at each sign-in, so the e-mail attribute stands for the
// subject then, and without it the sign-in is refused in words naming the fix.
//
// The e-mail counts as verified: it comes in an assertion the organization's own
// provider signed, the provider's word, which is what an OpenID Connect provider's
// email_verified says too. Either way it links only to an account of this organization
// (models.Store.SSOSignIn).
func samlClaims(as *saml.Assertion, c *models.SAMLConfig) (models.SSOClaims, error) {
	var cl models.SSOClaims
	var nameID, format string
	if as.Subject != nil && as.Subject.NameID != nil {
		nameID, format = strings.TrimSpace(as.Subject.NameID.Value), as.Subject.NameID.Format
	}
	if format == string(saml.EmailAddressNameIDFormat) {
		cl.Email = nameID
	}
	for _, st := range as.AttributeStatements {
		for _, at := range st.Attributes {
			var vals []string
			for _, v := range at.Values {
				if v := strings.TrimSpace(v.Value); v != "" {
					vals = append(vals, v)
				}
			}
			if len(vals) == 0 {
				continue
			}
			for _, n := range []string{at.Name, at.FriendlyName} {
				switch {
				case n == "":
				case c.GroupsAttribute != "" && n == c.GroupsAttribute:
					cl.Groups = append(cl.Groups, vals...)
				case slices.Contains(samlEmailAttributes, n):
					cl.Email = vals[0]
				case slices.Contains(samlNameAttributes, n):
					cl.Name = vals[0]
				}
			}
		}
	}
	switch format {
	case "", string(saml.TransientNameIDFormat), string(saml.UnspecifiedNameIDFormat):
		if cl.Email == "" {
			return cl, sentence("%s sent no lasting identifier for you (its NameID is %s and it sent no e-mail attribute), so Sluice cannot tell it is you from one sign-in to the next. Ask your identity provider's admin to send a persistent NameID or the e-mail attribute.",
				c.ProviderName, samlFormatWords(format))
		}
		cl.Subject = "email:" + strings.ToLower(cl.Email)
	default:
		cl.Subject = nameID
	}
	cl.EmailVerified = cl.Email != ""
	return cl, nil
}

func samlFormatWords(format string) string {
	switch format {
	case string(saml.TransientNameIDFormat):
		return "transient, new at every sign-in"
	case "":
		return "missing"
	}
	return "of an unspecified format"
}

// samlNameIDFormat is the NameID format Sluice asks the provider for: persistent when
// its metadata offers it, else whatever it sends (unspecified), which samlClaims then
// judges. crewjam/saml would ask for transient, new at every sign-in.
func samlNameIDFormat(ed *saml.EntityDescriptor) saml.NameIDFormat {
	for _, d := range ed.IDPSSODescriptors {
		if slices.Contains(d.NameIDFormats, saml.PersistentNameIDFormat) {
			return saml.PersistentNameIDFormat
		}
	}
	return saml.UnspecifiedNameIDFormat
}

// samlMetadataDue is when metadata read at readAt should be read again: after a day,
// or sooner when the metadata says so (its cacheDuration, its validUntil).
func samlMetadataDue(ed *saml.EntityDescriptor, readAt time.Time) time.Time {
	due := readAt.Add(samlMetadataMaxAge)
	if ed.CacheDuration > 0 && readAt.Add(ed.CacheDuration).Before(due) {
		due = readAt.Add(ed.CacheDuration)
	}
	if !ed.ValidUntil.IsZero() && ed.ValidUntil.Before(due) {
		due = ed.ValidUntil
	}
	return due
}

// samlMetadataSummary is what sign-ins rely on in the metadata, for the audit log when
// a read brings a change.
type samlMetadataSummary struct {
	SignInURL           string   `json:"sign_in_url"`
	SigningCertificates []string `json:"signing_certificates"` // SHA-256 fingerprints
}

func summarizeSAMLMetadata(ed *saml.EntityDescriptor) samlMetadataSummary {
	sp := saml.ServiceProvider{IDPMetadata: ed}
	out := samlMetadataSummary{SignInURL: sp.GetSSOBindingLocation(saml.HTTPRedirectBinding), SigningCertificates: []string{}}
	for _, d := range ed.IDPSSODescriptors {
		for _, k := range d.KeyDescriptors {
			if k.Use != "" && k.Use != "signing" {
				continue
			}
			for _, x := range k.KeyInfo.X509Data.X509Certificates {
				der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(x.Data), ""))
				if err != nil {
					continue
				}
				sum := sha256.Sum256(der)
				if fp := hex.EncodeToString(sum[:]); !slices.Contains(out.SigningCertificates, fp) {
					out.SigningCertificates = append(out.SigningCertificates, fp)
				}
			}
		}
	}
	slices.Sort(out.SigningCertificates)
	return out
}

// refreshSAMLMetadata reads the metadata again from its URL when it is due, and returns
// the config with the new metadata stored. When the read fails, or brings metadata that
// is not the same provider's (another entity ID) or that Sluice cannot use, the old
// metadata serves and the failure is logged: the sign-in goes on, and the URL is not
// asked again for samlRetryAfter (each try is noted before it is made).
func (s *Service) refreshSAMLMetadata(ctx context.Context, c *models.SAMLConfig) *models.SAMLConfig {
	if c.MetadataURL == "" {
		return c
	}
	old, err := samlsp.ParseMetadata([]byte(c.MetadataXML))
	if err != nil {
		return c // serviceProvider says so
	}
	now := s.now()
	if c.MetadataReadAt != nil && now.Before(samlMetadataDue(old, *c.MetadataReadAt)) {
		return c
	}
	if c.MetadataTriedAt != nil && now.Before(c.MetadataTriedAt.Add(samlRetryAfter)) {
		return c // asked a moment ago, and it failed (or is still being asked)
	}
	log := s.logger().With(slog.String("organization_id", c.OrganizationID), slog.String("metadata_url", c.MetadataURL))
	if err := s.store.NoteSAMLMetadataTry(ctx, c.OrganizationID, now); err != nil {
		log.WarnContext(ctx, "SAML metadata: the try could not be noted", slog.Any("error", err))
	}
	fetchCtx, cancel := context.WithTimeout(ctx, samlRefreshTimeout)
	defer cancel()
	raw, err := s.fetchSAMLMetadata(fetchCtx, c.MetadataURL)
	if err == nil {
		var ed *saml.EntityDescriptor
		if ed, err = checkIdPMetadata(raw, c.MetadataURL); err == nil && ed.EntityID != c.IdPEntityID {
			err = sentence("the metadata now names the entity %s, not %s: an owner saves the SAML settings again to change provider", ed.EntityID, c.IdPEntityID)
		}
		if err == nil {
			in := models.SAMLMetadataRead{XML: string(raw), ReadAt: now, Before: summarizeSAMLMetadata(old), After: summarizeSAMLMetadata(ed)}
			if err = s.store.SetSAMLMetadata(ctx, c.OrganizationID, in); err == nil {
				fresh := *c
				fresh.MetadataXML, fresh.MetadataReadAt = in.XML, &now
				return &fresh
			}
		}
	}
	log.WarnContext(ctx, "SAML metadata not read again; the old metadata serves", slog.Any("error", err))
	return c
}

// samlPrivateErr is crewjam/saml's reason behind an invalid response, for the log.
func samlPrivateErr(err error) error {
	var ire *saml.InvalidResponseError
	if errors.As(err, &ire) && ire.PrivateErr != nil {
		return ire.PrivateErr
	}
	return err
}

// samlWords is why crewjam/saml refused a response, in words.
func samlWords(err error, sp *saml.ServiceProvider) string {
	err = samlPrivateErr(err)
	msg := err.Error()
	low := strings.ToLower(msg)
	switch {
	case errors.Is(err, saml.ErrAudienceMismatch) || strings.Contains(low, "audience"):
		return "it was issued for another service provider, not for " + sp.EntityID
	case errors.Is(err, saml.ErrExpired) || strings.Contains(low, "expired") || strings.Contains(low, "notonorafter") || strings.Contains(low, "issueinstant") || strings.Contains(low, "too old"):
		return "it has expired (is the clock of Sluice's server or the provider's wrong?)"
	case errors.Is(err, saml.ErrInvalidSignature) || strings.Contains(low, "signature") || strings.Contains(low, "certificate") || strings.Contains(low, "signed"):
		return "it is not signed with the provider's certificate from its metadata (if the provider's certificate changed, an owner saves the SAML settings again)"
	case errors.Is(err, saml.ErrRequestIDMismatch) || strings.Contains(low, "inresponseto"):
		return "it answers another sign-in. Start again from the sign-in page"
	}
	return msg
}
