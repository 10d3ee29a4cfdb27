package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"sluice/core"
	"sluice/models"
	"sluice/views/auth"
	"sluice/views/settings"
)

// SSOHandler serves Settings → Single sign-on (owners only) and the sign-in with an
// organization's OpenID Connect provider.
type SSOHandler struct{ *Server }

// sessSSOState ties a sign-in started at the provider to this browser: the callback's
// state must be the one this browser started with, so nobody can sign a victim in as
// themselves by sending them a callback link.
const sessSSOState = "sso_state"

var errNotSSOOwner = echo.NewHTTPError(http.StatusForbidden, "Only the owner of your organization sets up single sign-on.")

func (h *SSOHandler) redirectURI() string {
	return strings.TrimRight(h.cfg.BaseURL, "/") + core.SSOCallbackPath
}

// Index shows the settings.
func (h *SSOHandler) Index(c echo.Context) error {
	return h.page(c, http.StatusOK, settings.SSOProps{}, true)
}

func (h *SSOHandler) page(c echo.Context, status int, p settings.SSOProps, fillForm bool) error {
	ctx := c.Request().Context()
	cfg, _, err := h.store.OwnerSSOConfig(ctx, actor(c))
	if errors.Is(err, models.ErrForbidden) {
		return errNotSSOOwner
	}
	if err != nil {
		return fmt.Errorf("SSO settings: %w", err)
	}
	p.Config, p.RedirectURI = cfg, h.redirectURI()
	saml, org, err := h.store.OwnerSAMLConfig(ctx, actor(c))
	if err != nil {
		return fmt.Errorf("SAML settings: %w", err)
	}
	urls := core.SAMLURLsOf(h.cfg.BaseURL, org)
	p.SAML, p.SAMLEntityID, p.SAMLACS = saml, urls.EntityID, urls.ACS
	if saml != nil && p.SAMLErrors == nil {
		p.SAMLForm = models.SAMLInput{ProviderName: saml.ProviderName, MetadataURL: saml.MetadataURL, DefaultRole: saml.DefaultRole,
			GroupsAttribute: saml.GroupsAttribute, GroupRoles: saml.Mapping()}
		if saml.MetadataURL == "" {
			p.SAMLXML = saml.MetadataXML
		}
	}
	if cfg != nil {
		if fillForm {
			p.Form = models.SSOInput{ProviderName: cfg.ProviderName, Issuer: cfg.Issuer, ClientID: cfg.ClientID,
				DefaultRole: cfg.DefaultRole, GroupsClaim: cfg.GroupsClaim, GroupRoles: cfg.Mapping()}
		}
		if p.OwnerLinked, err = h.store.HasSSOIdentity(ctx, cfg.Issuer, actor(c).ID); err != nil {
			return err
		}
		if cfg.RequireSSO {
			if p.BreakGlass, err = h.store.BreakGlassEmail(ctx, cfg); err != nil {
				return err
			}
		}
	}
	return h.render(c, status, settings.SSOPage(p), nil)
}

// Save checks and stores the provider's settings; the issuer's discovery document is
// read first.
func (h *SSOHandler) Save(c echo.Context) error {
	params, err := c.FormParams()
	if err != nil {
		return echo.ErrBadRequest
	}
	in := models.SSOInput{ProviderName: params.Get("provider_name"), Issuer: params.Get("issuer"), ClientID: params.Get("client_id"),
		ClientSecret: params.Get("client_secret"), DefaultRole: models.Role(params.Get("default_role")), GroupsClaim: params.Get("groups_claim")}
	groups, roles := params["group"], params["role"]
	for i, g := range groups {
		r := models.Role("")
		if i < len(roles) {
			r = models.Role(roles[i])
		}
		in.GroupRoles = append(in.GroupRoles, models.GroupRole{Group: g, Role: r})
	}
	_, err = h.core.SaveSSOConfig(c.Request().Context(), actor(c), in)
	if errors.Is(err, models.ErrForbidden) {
		return errNotSSOOwner
	}
	if errs, ok := formErrors(err); ok {
		in.ClientSecret = ""
		return h.page(c, http.StatusUnprocessableEntity, settings.SSOProps{Form: in, Errors: errs}, false)
	}
	if err != nil {
		return fmt.Errorf("save SSO settings: %w", err)
	}
	if err := flash(c, "success", "Single sign-on is saved: the sign-in page offers \"Sign in with "+strings.TrimSpace(in.ProviderName)+"\"."); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("sso.index"))
}

// Require turns "require SSO" on or off.
func (h *SSOHandler) Require(c echo.Context) error {
	on := c.FormValue("require") == "1"
	cfg, err := h.core.SetRequireSSO(c.Request().Context(), actor(c), on)
	switch {
	case errors.Is(err, models.ErrForbidden):
		return errNotSSOOwner
	case errors.Is(err, models.ErrSSONotTried):
		return h.page(c, http.StatusUnprocessableEntity, settings.SSOProps{RequireError: "Sign in with your provider once before requiring it: sign out, use the \"Sign in with\" button of the sign-in page, then come back here. This keeps a broken setup from locking everyone out."}, true)
	case models.IsNotFound(err):
		if err := flash(c, "error", "Set up single sign-on before requiring it."); err != nil {
			return err
		}
		return redirect(c, c.Echo().Reverse("sso.index"))
	case err != nil:
		return fmt.Errorf("require SSO: %w", err)
	}
	msg := "Single sign-on is no longer required: passwords work again."
	if on {
		msg = "Single sign-on is required: only you keep password sign-in (at /login?password=1); everyone else signs in with " + cfg.ProviderName + "."
	}
	if err := flash(c, "success", msg); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("sso.index"))
}

// Start sends the browser to the organization's provider.
func (h *SSOHandler) Start(c echo.Context) error {
	next := safeNext(c.QueryParam("next"))
	to, state, err := h.core.StartSSO(c.Request().Context(), c.QueryParam("org"), next, h.redirectURI())
	var refused *models.SSORefusal
	switch {
	case models.IsNotFound(err):
		return h.startSAML(c, c.QueryParam("org"), next)
	case errors.As(err, &refused):
		return h.loginRefused(c, refused.Reason)
	case err != nil:
		return fmt.Errorf("start SSO: %w", err)
	}
	session(c).Values[sessSSOState] = models.HashToken(state)
	if err := saveSession(c); err != nil {
		return err
	}
	return redirect(c, to)
}

// Callback is where the provider sends the person back: the ID token is verified and
// they are signed in, their account made at the first sign-in.
func (h *SSOHandler) Callback(c echo.Context) error {
	q := c.QueryParams()
	sess := session(c)
	want, _ := sess.Values[sessSSOState].(string)
	delete(sess.Values, sessSSOState)
	if want == "" || want != models.HashToken(q.Get("state")) {
		if err := saveSession(c); err != nil {
			return err
		}
		return h.loginRefused(c, "This sign-in was not started in this browser, or was already used. Start again with the \"Sign in with\" button.")
	}
	res, err := h.core.FinishSSO(c.Request().Context(), q.Get("state"), q.Get("code"), q.Get("error"), q.Get("error_description"), h.redirectURI())
	if err != nil && !errors.As(err, new(*models.SSORefusal)) {
		return fmt.Errorf("finish SSO: %w", err)
	}
	return h.finishSignIn(c, res, err)
}

// finishSignIn ends a sign-in through the identity provider, OpenID Connect or SAML:
// the sign-in page with the refusal's words, or the person signed in (welcomed when
// their account was just made) and sent where they were going.
func (h *SSOHandler) finishSignIn(c echo.Context, res *core.SSOResult, err error) error {
	var refused *models.SSORefusal
	if errors.As(err, &refused) {
		if err := saveSession(c); err != nil {
			return err
		}
		return h.loginRefused(c, refused.Reason)
	}
	if err := h.signIn(c, res.User); err != nil {
		return err
	}
	if res.Created {
		if err := flash(c, "success", fmt.Sprintf("Welcome to Sluice. Your account was made with the role %s.", res.User.Role.Label())); err != nil {
			return err
		}
	}
	return redirect(c, h.afterSignIn(c, res.Next))
}

// loginRefused shows the sign-in page with why the sign-in failed.
func (h *SSOHandler) loginRefused(c echo.Context, reason string) error {
	props, err := h.loginProps(c, false)
	if err != nil {
		return err
	}
	props.Error = reason
	return h.render(c, http.StatusUnprocessableEntity, auth.LoginPage(props), nil)
}

// loginProps is the sign-in page's SSO part. The page offers a "Sign in with" button for
// each organization with SSO (installations usually hold one organization); the password
// form goes when every organization requires SSO, except with ?password=1, the break-glass
// owner's way in (the store refuses anyone else's password).
func (s *Server) loginProps(c echo.Context, passwordMode bool) (auth.LoginProps, error) {
	choices, orgs, err := s.store.SSOChoices(c.Request().Context())
	if err != nil {
		return auth.LoginProps{}, fmt.Errorf("sign-in page: %w", err)
	}
	required := 0
	for _, o := range choices {
		if o.RequireSSO {
			required++
		}
	}
	off := orgs > 0 && int64(required) == orgs
	return auth.LoginProps{SSO: choices, PasswordOff: off, BreakGlass: off && passwordMode}, nil
}
