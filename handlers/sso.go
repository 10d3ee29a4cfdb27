package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
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
	cfg, org, err := h.store.OwnerSSOConfig(ctx, actor(c))
	if errors.Is(err, models.ErrForbidden) {
		return errNotSSOOwner
	}
	if err != nil {
		return fmt.Errorf("SSO settings: %w", err)
	}
	p.Config, p.RedirectURI = cfg, h.redirectURI()
	saml, _, err := h.store.OwnerSAMLConfig(ctx, actor(c))
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
	if cfg != nil && fillForm {
		p.Form = models.SSOInput{ProviderName: cfg.ProviderName, Issuer: cfg.Issuer, ClientID: cfg.ClientID,
			DefaultRole: cfg.DefaultRole, GroupsClaim: cfg.GroupsClaim, GroupRoles: cfg.Mapping()}
	}
	if p.Workspaces, err = h.store.OrganizationWorkspaces(ctx, actor(c)); err != nil {
		return fmt.Errorf("SSO settings: %w", err)
	}
	if p.Policy, err = h.store.SSOPolicyOf(ctx, org); err != nil {
		return fmt.Errorf("SSO settings: %w", err)
	}
	if p.OwnerLinked, err = h.store.SignedInWithAny(ctx, p.Policy, actor(c).ID); err != nil {
		return err
	}
	if p.Policy.RequireSSO {
		if p.BreakGlass, err = h.store.BreakGlassEmail(ctx, p.Policy); err != nil {
			return err
		}
	}
	return h.render(c, status, settings.SSOPage(p), nil)
}

// mappingForm reads a settings form's groups → roles rows: the fields prefix+"group",
// prefix+"role" and prefix+"workspace", one value per row.
func mappingForm(params url.Values, prefix string) []models.GroupRole {
	var out []models.GroupRole
	roles, workspaces := params[prefix+"role"], params[prefix+"workspace"]
	for i, g := range params[prefix+"group"] {
		m := models.GroupRole{Group: g}
		if i < len(roles) {
			m.Role = models.Role(roles[i])
		}
		if i < len(workspaces) {
			m.WorkspaceID = workspaces[i]
		}
		out = append(out, m)
	}
	return out
}

// Save checks and stores the provider's settings; the issuer's discovery document is
// read first.
func (h *SSOHandler) Save(c echo.Context) error {
	params, err := c.FormParams()
	if err != nil {
		return echo.ErrBadRequest
	}
	in := models.SSOInput{ProviderName: params.Get("provider_name"), Issuer: params.Get("issuer"), ClientID: params.Get("client_id"),
		ClientSecret: params.Get("client_secret"), DefaultRole: models.Role(params.Get("default_role")), GroupsClaim: params.Get("groups_claim"),
		GroupRoles: mappingForm(params, "")}
	before, err := h.ownerPolicy(c)
	if err != nil {
		return err
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
	return h.saved(c, before, "Single sign-on is saved: the sign-in page offers \"Sign in with "+strings.TrimSpace(in.ProviderName)+"\".")
}

// saved ends a provider's save: the flash says so, and says too when "require SSO" went
// off with it (the store turns it off when the break-glass owner has not signed in with
// any provider as it is now), since a changed issuer or entity ID is a new provider.
func (h *SSOHandler) saved(c echo.Context, before *models.SSOPolicy, msg string) error {
	off, err := h.requireWentOff(c, before, "the break-glass owner has not signed in with the provider as saved now (a new issuer or entity ID is a new provider), so passwords work again. Sign in with it once, then require it again.")
	if err != nil {
		return err
	}
	if err := flash(c, "success", msg+off); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("sso.index"))
}

// requireWentOff is what a flash adds when "require SSO", on before a change of the
// organization's providers, is off after it: " Single sign-on is no longer required: "
// and why; "" when it did not go off.
func (h *SSOHandler) requireWentOff(c echo.Context, before *models.SSOPolicy, why string) (string, error) {
	if !before.RequireSSO {
		return "", nil
	}
	after, err := h.store.SSOPolicyOf(c.Request().Context(), before.OrganizationID)
	if err != nil || after.RequireSSO {
		return "", err
	}
	return " Single sign-on is no longer required: " + why, nil
}

// Remove removes the OpenID Connect provider.
func (h *SSOHandler) Remove(c echo.Context) error {
	return h.remove(c, h.core.RemoveSSOConfig, "OpenID Connect")
}

// RemoveSAML removes the SAML provider.
func (h *SSOHandler) RemoveSAML(c echo.Context) error {
	return h.remove(c, h.core.RemoveSAMLConfig, "SAML")
}

func (h *SSOHandler) remove(c echo.Context, remove func(context.Context, models.Actor) error, what string) error {
	ctx := c.Request().Context()
	before, err := h.ownerPolicy(c)
	if err != nil {
		return err
	}
	err = remove(ctx, actor(c))
	switch {
	case errors.Is(err, models.ErrForbidden):
		return errNotSSOOwner
	case models.IsNotFound(err):
		if err := flash(c, "error", "Your organization has no "+what+" provider to remove."); err != nil {
			return err
		}
		return redirect(c, c.Echo().Reverse("sso.index"))
	case err != nil:
		return fmt.Errorf("remove %s provider: %w", what, err)
	}
	off, err := h.requireWentOff(c, before, "no provider the break-glass owner has signed in with is left, so passwords work again.")
	if err != nil {
		return err
	}
	if err := flash(c, "success", "The "+what+" provider is removed: its sign-in button is gone."+off); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("sso.index"))
}

func (h *SSOHandler) ownerPolicy(c echo.Context) (*models.SSOPolicy, error) {
	ctx := c.Request().Context()
	_, org, err := h.store.OwnerSSOConfig(ctx, actor(c))
	if errors.Is(err, models.ErrForbidden) {
		return nil, errNotSSOOwner
	}
	if err != nil {
		return nil, err
	}
	return h.store.SSOPolicyOf(ctx, org)
}

// Require turns "require SSO" on or off.
func (h *SSOHandler) Require(c echo.Context) error {
	on := c.FormValue("require") == "1"
	p, err := h.core.SetRequireSSO(c.Request().Context(), actor(c), on)
	switch {
	case errors.Is(err, models.ErrForbidden):
		return errNotSSOOwner
	case errors.Is(err, models.ErrSSONotTried):
		return h.page(c, http.StatusUnprocessableEntity, settings.SSOProps{RequireError: "Sign in with your provider once before requiring it: sign out, use a \"Sign in with\" button of the sign-in page, then come back here. This keeps a broken setup from locking everyone out."}, true)
	case errors.Is(err, models.ErrNoSSOProvider):
		if err := flash(c, "error", "Set up an OpenID Connect or SAML provider before requiring single sign-on."); err != nil {
			return err
		}
		return redirect(c, c.Echo().Reverse("sso.index"))
	case err != nil:
		return fmt.Errorf("require SSO: %w", err)
	}
	msg := "Single sign-on is no longer required: passwords work again."
	if on {
		msg = "Single sign-on is required: only you keep password sign-in (at /login?password=1); everyone else signs in with " + p.Names() + "."
	}
	if err := flash(c, "success", msg); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("sso.index"))
}

// Start sends the browser to one provider of the organization: provider=oidc or saml
// (without it, the OpenID Connect provider if there is one, else the SAML one).
func (h *SSOHandler) Start(c echo.Context) error {
	next := safeNext(c.QueryParam("next"))
	org, kind := c.QueryParam("org"), c.QueryParam("provider")
	if kind == models.SSOKindSAML {
		return h.startSAML(c, org, next)
	}
	to, state, err := h.core.StartSSO(c.Request().Context(), org, next, h.redirectURI())
	var refused *models.SSORefusal
	switch {
	case models.IsNotFound(err) && kind == "":
		return h.startSAML(c, org, next)
	case models.IsNotFound(err):
		return h.loginRefused(c, "This organization has no OpenID Connect sign-in (any more). Use another way on this page.")
	case errors.As(err, &refused):
		return h.loginRefused(c, refused.Reason)
	case err != nil:
		return fmt.Errorf("start SSO: %w", err)
	}
	return h.toProvider(c, state, to)
}

// toProvider marks this browser as the one that started the sign-in (state, or SAML's
// relay state), then sends it to the provider.
func (h *SSOHandler) toProvider(c echo.Context, state, to string) error {
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
	props, err := h.loginProps(c, "", false)
	if err != nil {
		return err
	}
	props.Error = reason
	return h.render(c, http.StatusUnprocessableEntity, auth.LoginPage(props), nil)
}

// loginProps is the sign-in page's SSO part for the person with email (empty: not asked
// yet), as models.Store.SignInChoices decides it: with one organization its "Sign in
// with" buttons at once, with several the e-mail first. The password form goes when the
// organization requires SSO, except with ?password=1, the break-glass owner's way in (the
// store refuses anyone else's password).
func (s *Server) loginProps(c echo.Context, email string, passwordMode bool) (auth.LoginProps, error) {
	ch, err := s.store.SignInChoices(c.Request().Context(), email)
	if err != nil {
		return auth.LoginProps{}, fmt.Errorf("sign-in page: %w", err)
	}
	email = strings.TrimSpace(email)
	return auth.LoginProps{Email: email, SSO: ch.Providers, PasswordOff: ch.PasswordOff, BreakGlass: ch.PasswordOff && passwordMode,
		AskEmail: ch.EmailFirst && email == "", EmailChosen: ch.EmailFirst && email != ""}, nil
}
