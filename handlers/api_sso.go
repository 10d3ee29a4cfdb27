package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"sluice/core"
	"sluice/models"
)

// This file is the JSON API of the organization's single sign-on: the settings of
// Settings → Single sign-on. Choices where API.md is silent:
//
//   - Single sign-on is the organization's: an owner's token only (as for managing
//     workspaces, models.workspaceManager), GET included; any other token gets 403.
//   - One object, GET /sso, holds "require SSO" and both providers; PUT /sso/oidc and
//     PUT /sso/saml set one provider and answer that object (a save may turn "require
//     SSO" off), DELETE removes one (204). PATCH /sso turns "require SSO" on or off.
//   - As PUT /alerts, a PUT changes what it is given: a field left out keeps its stored
//     value (for a provider not set up yet, it is empty and refused where required).
//   - The client secret is write-only: never answered, and left out or empty it keeps
//     the stored one. Sluice's SAML key is made at the first save and never shown.
//   - The checks and their words are the settings page's (core.SaveSSOConfig,
//     core.SaveSAMLConfig, models.SetRequireSSO); the page's SAML field names lose their
//     "saml_" prefix here, as the body's fields have none.

// SSOAPI serves /api/v1/sso.
type SSOAPI struct{ *Server }

// apiSSOJSON is the organization's single sign-on as GET and PUT answer it.
type apiSSOJSON struct {
	RequireSSO bool              `json:"require_sso"`
	BreakGlass *apiSSOBreakGlass `json:"break_glass"`
	OIDC       *apiSSOOIDCJSON   `json:"oidc"`
	SAML       *apiSSOSAMLJSON   `json:"saml"`
}

// apiSSOBreakGlass is the owner who keeps password sign-in while SSO is required.
type apiSSOBreakGlass struct {
	UserID string `json:"user_id"`
	Email  string `json:"email"`
}

type apiSSOOIDCJSON struct {
	ProviderName string             `json:"provider_name"`
	Issuer       string             `json:"issuer"`
	ClientID     string             `json:"client_id"`
	DefaultRole  models.Role        `json:"default_role"`
	GroupsClaim  string             `json:"groups_claim"`
	GroupRoles   []models.GroupRole `json:"group_roles"`
	RedirectURI  string             `json:"redirect_uri"`
	CreatedAt    apiTimestamp       `json:"created_at"`
	UpdatedAt    apiTimestamp       `json:"updated_at"`
}

type apiSSOSAMLJSON struct {
	ProviderName    string             `json:"provider_name"`
	MetadataURL     string             `json:"metadata_url"`
	MetadataXML     string             `json:"metadata_xml"`
	IdPEntityID     string             `json:"idp_entity_id"`
	DefaultRole     models.Role        `json:"default_role"`
	GroupsAttribute string             `json:"groups_attribute"`
	GroupRoles      []models.GroupRole `json:"group_roles"`
	SPEntityID      string             `json:"sp_entity_id"`
	SPMetadataURL   string             `json:"sp_metadata_url"`
	SPACSURL        string             `json:"sp_acs_url"`
	MetadataReadAt  *apiTimestamp      `json:"metadata_read_at"`
	CreatedAt       apiTimestamp       `json:"created_at"`
	UpdatedAt       apiTimestamp       `json:"updated_at"`
}

// apiGroupRole is a mapping row of a body.
type apiGroupRole struct {
	Group       string `json:"group"`
	Role        string `json:"role"`
	WorkspaceID string `json:"workspace_id"`
}

func groupRoles(rows *[]apiGroupRole) []models.GroupRole {
	out := []models.GroupRole{}
	for _, r := range *rows {
		out = append(out, models.GroupRole{Group: r.Group, Role: models.Role(r.Role), WorkspaceID: r.WorkspaceID})
	}
	return out
}

// apiSSOOIDCInput is the body of PUT /sso/oidc; nil fields keep their stored value.
type apiSSOOIDCInput struct {
	ProviderName *string         `json:"provider_name"`
	Issuer       *string         `json:"issuer"`
	ClientID     *string         `json:"client_id"`
	ClientSecret *string         `json:"client_secret"`
	DefaultRole  *string         `json:"default_role"`
	GroupsClaim  *string         `json:"groups_claim"`
	GroupRoles   *[]apiGroupRole `json:"group_roles"`
}

// apiSSOSAMLInput is the body of PUT /sso/saml; nil fields keep their stored value.
type apiSSOSAMLInput struct {
	ProviderName    *string         `json:"provider_name"`
	MetadataURL     *string         `json:"metadata_url"`
	MetadataXML     *string         `json:"metadata_xml"`
	DefaultRole     *string         `json:"default_role"`
	GroupsAttribute *string         `json:"groups_attribute"`
	GroupRoles      *[]apiGroupRole `json:"group_roles"`
}

// apiSSORequireInput is the body of PATCH /sso.
type apiSSORequireInput struct {
	RequireSSO *bool `json:"require_sso"`
}

var errNotOwnerTokenSSO = echo.NewHTTPError(http.StatusForbidden,
	"Only an owner's token manages the organization's single sign-on: an admin token made in Settings → API tokens by an owner of the organization.")

// ssoOwnerOnly turns the store's refusal of a token that is not an owner's into a 403
// that says which token would do, and the page's SAML field names into the body's.
func ssoOwnerOnly(err error) error {
	var fe *models.FieldError
	switch {
	case errors.Is(err, models.ErrForbidden):
		return errNotOwnerTokenSSO
	case errors.As(err, &fe) && strings.HasPrefix(fe.Field, "saml_"):
		return &models.FieldError{Field: strings.TrimPrefix(fe.Field, "saml_"), Message: fe.Message}
	}
	return err
}

// Show answers the organization's single sign-on.
func (h *SSOAPI) Show(c echo.Context) error {
	return h.answer(c, http.StatusOK)
}

func (h *SSOAPI) answer(c echo.Context, status int) error {
	ctx := c.Request().Context()
	oidc, org, err := h.store.OwnerSSOConfig(ctx, actor(c))
	if err != nil {
		return fmt.Errorf("SSO settings: %w", ssoOwnerOnly(err))
	}
	saml, _, err := h.store.OwnerSAMLConfig(ctx, actor(c))
	if err != nil {
		return fmt.Errorf("SAML settings: %w", ssoOwnerOnly(err))
	}
	p, err := h.store.SSOPolicyOf(ctx, org)
	if err != nil {
		return fmt.Errorf("SSO settings: %w", err)
	}
	out := apiSSOJSON{RequireSSO: p.RequireSSO}
	if p.RequireSSO {
		email, err := h.store.BreakGlassEmail(ctx, p)
		if err != nil {
			return fmt.Errorf("SSO settings: %w", err)
		}
		out.BreakGlass = &apiSSOBreakGlass{UserID: p.BreakGlassUserID, Email: email}
	}
	if oidc != nil {
		out.OIDC = &apiSSOOIDCJSON{ProviderName: oidc.ProviderName, Issuer: oidc.Issuer, ClientID: oidc.ClientID, DefaultRole: oidc.DefaultRole,
			GroupsClaim: oidc.GroupsClaim, GroupRoles: nonNilRoles(oidc.Mapping()), RedirectURI: strings.TrimRight(h.cfg.BaseURL, "/") + core.SSOCallbackPath,
			CreatedAt: apiTime(oidc.CreatedAt), UpdatedAt: apiTime(oidc.UpdatedAt)}
	}
	if saml != nil {
		urls := core.SAMLURLsOf(h.cfg.BaseURL, org)
		out.SAML = &apiSSOSAMLJSON{ProviderName: saml.ProviderName, MetadataURL: saml.MetadataURL, IdPEntityID: saml.IdPEntityID,
			DefaultRole: saml.DefaultRole, GroupsAttribute: saml.GroupsAttribute, GroupRoles: nonNilRoles(saml.Mapping()),
			SPEntityID: urls.EntityID, SPMetadataURL: urls.Metadata, SPACSURL: urls.ACS, MetadataReadAt: apiTimeOrNull(saml.MetadataReadAt),
			CreatedAt: apiTime(saml.CreatedAt), UpdatedAt: apiTime(saml.UpdatedAt)}
		if saml.MetadataURL == "" { // pasted: sent back as given, as the page shows it
			out.SAML.MetadataXML = saml.MetadataXML
		}
	}
	return c.JSON(status, out)
}

func nonNilRoles(rows []models.GroupRole) []models.GroupRole {
	if rows == nil {
		return []models.GroupRole{}
	}
	return rows
}

// SaveOIDC sets the OpenID Connect provider: the issuer's discovery document is read
// first, as the page does.
func (h *SSOAPI) SaveOIDC(c echo.Context) error {
	var body apiSSOOIDCInput
	if err := apiDecode(c, &body); err != nil {
		return err
	}
	ctx := c.Request().Context()
	cur, _, err := h.store.OwnerSSOConfig(ctx, actor(c))
	if err != nil {
		return fmt.Errorf("save SSO settings: %w", ssoOwnerOnly(err))
	}
	var in models.SSOInput
	if cur != nil {
		in = models.SSOInput{ProviderName: cur.ProviderName, Issuer: cur.Issuer, ClientID: cur.ClientID, DefaultRole: cur.DefaultRole,
			GroupsClaim: cur.GroupsClaim, GroupRoles: cur.Mapping()}
	}
	setString(&in.ProviderName, body.ProviderName)
	setString(&in.Issuer, body.Issuer)
	setString(&in.ClientID, body.ClientID)
	setString(&in.ClientSecret, body.ClientSecret)
	setString(&in.GroupsClaim, body.GroupsClaim)
	if body.DefaultRole != nil {
		in.DefaultRole = models.Role(*body.DefaultRole)
	}
	if body.GroupRoles != nil {
		in.GroupRoles = groupRoles(body.GroupRoles)
	}
	if _, err := h.core.SaveSSOConfig(ctx, actor(c), in); err != nil {
		return fmt.Errorf("save SSO settings: %w", ssoOwnerOnly(err))
	}
	return h.answer(c, http.StatusOK)
}

// SaveSAML sets the SAML provider: its metadata is read (from its URL) and checked
// first, and Sluice's key made at the first save, as the page does.
func (h *SSOAPI) SaveSAML(c echo.Context) error {
	var body apiSSOSAMLInput
	if err := apiDecode(c, &body); err != nil {
		return err
	}
	ctx := c.Request().Context()
	cur, _, err := h.store.OwnerSAMLConfig(ctx, actor(c))
	if err != nil {
		return fmt.Errorf("save SAML settings: %w", ssoOwnerOnly(err))
	}
	var in core.SAMLSettings
	if cur != nil {
		in.SAMLInput = models.SAMLInput{ProviderName: cur.ProviderName, MetadataURL: cur.MetadataURL, DefaultRole: cur.DefaultRole,
			GroupsAttribute: cur.GroupsAttribute, GroupRoles: cur.Mapping()}
		if cur.MetadataURL == "" {
			in.PastedXML = cur.MetadataXML
		}
	}
	// New metadata replaces the stored one whichever way it comes: XML alone drops the
	// URL (read from it no more), a URL is read now.
	if body.MetadataXML != nil && body.MetadataURL == nil {
		in.MetadataURL = ""
	}
	setString(&in.ProviderName, body.ProviderName)
	setString(&in.MetadataURL, body.MetadataURL)
	setString(&in.PastedXML, body.MetadataXML)
	setString(&in.GroupsAttribute, body.GroupsAttribute)
	if body.DefaultRole != nil {
		in.DefaultRole = models.Role(*body.DefaultRole)
	}
	if body.GroupRoles != nil {
		in.GroupRoles = groupRoles(body.GroupRoles)
	}
	if _, err := h.core.SaveSAMLConfig(ctx, actor(c), h.cfg.BaseURL, in); err != nil {
		return fmt.Errorf("save SAML settings: %w", ssoOwnerOnly(err))
	}
	return h.answer(c, http.StatusOK)
}

// setString lays a JSON body's field over a stored value: given (even empty) replaces,
// left out (nil) keeps.
func setString(dst *string, v *string) {
	if v != nil {
		*dst = *v
	}
}

// RemoveOIDC removes the OpenID Connect provider.
func (h *SSOAPI) RemoveOIDC(c echo.Context) error {
	return h.remove(c, h.core.RemoveSSOConfig, "OpenID Connect")
}

// RemoveSAML removes the SAML provider and Sluice's key for it.
func (h *SSOAPI) RemoveSAML(c echo.Context) error {
	return h.remove(c, h.core.RemoveSAMLConfig, "SAML")
}

func (h *SSOAPI) remove(c echo.Context, remove func(context.Context, models.Actor) error, what string) error {
	err := remove(c.Request().Context(), actor(c))
	if models.IsNotFound(err) {
		return echo.NewHTTPError(http.StatusNotFound, "Your organization has no "+what+" provider to remove.")
	}
	if err != nil {
		return fmt.Errorf("remove %s provider: %w", what, ssoOwnerOnly(err))
	}
	return c.NoContent(http.StatusNoContent)
}

// Update turns "require SSO" on or off. On needs a provider the owner who made the
// token has signed in with once: they keep password sign-in (the break-glass owner).
func (h *SSOAPI) Update(c echo.Context) error {
	var body apiSSORequireInput
	if err := apiDecode(c, &body); err != nil {
		return err
	}
	if body.RequireSSO == nil {
		return &models.FieldError{Field: "require_sso", Message: "Send require_sso: true to require single sign-on, false to let passwords work again."}
	}
	_, err := h.core.SetRequireSSO(c.Request().Context(), actor(c), *body.RequireSSO)
	switch {
	case errors.Is(err, models.ErrSSONotTried):
		return &models.FieldError{Field: "require_sso", Message: "The owner who made this token has not signed in with the organization's provider yet: they sign in once with a \"Sign in with\" button of the sign-in page, then require it. This keeps a broken setup from locking everyone out."}
	case errors.Is(err, models.ErrNoSSOProvider):
		return &models.FieldError{Field: "require_sso", Message: "Set up an OpenID Connect or SAML provider before requiring single sign-on."}
	case err != nil:
		return fmt.Errorf("require SSO: %w", ssoOwnerOnly(err))
	}
	return h.answer(c, http.StatusOK)
}
