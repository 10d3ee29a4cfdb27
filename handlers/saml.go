package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"sluice/core"
	"sluice/models"
	"sluice/views/pages"
	"sluice/views/settings"
)

// SAMLMetadata serves the organization's SP metadata: its URL is also Sluice's entity
// ID at the identity provider.
func (h *SSOHandler) SAMLMetadata(c echo.Context) error {
	xml, err := h.core.SAMLMetadata(c.Request().Context(), c.Param("org"), h.cfg.BaseURL)
	if models.IsNotFound(err) {
		return echo.NewHTTPError(http.StatusNotFound, "This organization has no SAML sign-in set up.")
	}
	if err != nil {
		return fmt.Errorf("SAML metadata: %w", err)
	}
	return c.Blob(http.StatusOK, "application/samlmetadata+xml", xml)
}

// SAMLACS is where the identity provider posts its answer, from its own page: a
// cross-site post that carries none of the browser's cookies (SameSite=Lax), so nothing
// here reads or writes the session. The response is checked and its outcome kept under
// a one-time code, and the browser sent on to SAMLFinish with it, a request of its own
// that carries its session, whose sign-in page shows any refusal (also of an answer that
// belongs to no sign-in Sluice started). Only a post for an organization that does not
// exist is refused here, on the error page.
func (h *SSOHandler) SAMLACS(c echo.Context) error {
	code, err := h.core.CheckSAMLResponse(c.Request().Context(), c.Param("org"), c.Request(), h.cfg.BaseURL)
	var refused *models.SSORefusal
	if errors.As(err, &refused) {
		return h.render(c, http.StatusUnprocessableEntity, pages.ErrorPage(pages.ErrorProps{Status: http.StatusUnprocessableEntity,
			Title: "Sign-in refused", Message: refused.Reason}), nil)
	}
	if err != nil {
		return fmt.Errorf("check SAML response: %w", err)
	}
	return c.Redirect(http.StatusSeeOther, c.Echo().Reverse("saml.finish")+"?"+url.Values{"code": {code}}.Encode())
}

// SAMLFinish signs the person in with the outcome the ACS kept, if this browser started
// that sign-in: its session holds the relay state's hash since startSAML, so nobody can
// sign a victim in as themselves by making the victim's browser post a response.
func (h *SSOHandler) SAMLFinish(c echo.Context) error {
	sess := session(c)
	started, _ := sess.Values[sessSSOState].(string)
	delete(sess.Values, sessSSOState)
	res, err := h.core.FinishSAML(c.Request().Context(), c.QueryParam("code"), started)
	if err != nil && !errors.As(err, new(*models.SSORefusal)) {
		return fmt.Errorf("finish SAML sign-in: %w", err)
	}
	return h.finishSignIn(c, res, err)
}

// startSAML sends the browser to the organization's SAML identity provider, the relay
// state's hash kept in its session for SAMLFinish.
func (h *SSOHandler) startSAML(c echo.Context, org, next string) error {
	to, relay, err := h.core.StartSAML(c.Request().Context(), org, next, h.cfg.BaseURL)
	if models.IsNotFound(err) {
		return h.loginRefused(c, "This organization has no single sign-on. Sign in with your e-mail and password.")
	}
	if err != nil {
		return fmt.Errorf("start SAML sign-in: %w", err)
	}
	return h.toProvider(c, relay, to)
}

// SaveSAML checks and stores the SAML settings: the identity provider's metadata is
// read (from its URL) and checked first; Sluice's key is made at the first save.
func (h *SSOHandler) SaveSAML(c echo.Context) error {
	params, err := c.FormParams()
	if err != nil {
		return echo.ErrBadRequest
	}
	in := core.SAMLSettings{SAMLInput: models.SAMLInput{ProviderName: params.Get("saml_provider_name"), MetadataURL: params.Get("metadata_url"),
		DefaultRole: models.Role(params.Get("saml_default_role")), GroupsAttribute: params.Get("groups_attribute")},
		PastedXML: params.Get("metadata_xml")}
	in.GroupRoles = mappingForm(params, "saml_")
	before, err := h.ownerPolicy(c)
	if err != nil {
		return err
	}
	_, err = h.core.SaveSAMLConfig(c.Request().Context(), actor(c), h.cfg.BaseURL, in)
	if errors.Is(err, models.ErrForbidden) {
		return errNotSSOOwner
	}
	if errs, ok := formErrors(err); ok {
		return h.page(c, http.StatusUnprocessableEntity, settings.SSOProps{SAMLForm: in.SAMLInput, SAMLXML: in.PastedXML, SAMLErrors: errs}, true)
	}
	if err != nil {
		return fmt.Errorf("save SAML settings: %w", err)
	}
	return h.saved(c, before, "SAML sign-in is saved: the sign-in page offers \"Sign in with "+strings.TrimSpace(in.ProviderName)+"\".")
}
