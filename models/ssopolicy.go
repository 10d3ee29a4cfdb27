package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// What both kinds of identity provider share, in one place: the organization's
// providers, "require SSO" (the organization's, whichever provider people use), the
// group → role mapping per workspace, and the one way an owner's provider settings are
// read, stored and removed.

// The kinds of identity provider.
const (
	SSOKindOIDC = "oidc"
	SSOKindSAML = "saml"
)

// SSOProvider is one identity provider of an organization, as the sign-in page offers
// it and as "require SSO" counts it.
type SSOProvider struct {
	OrganizationID string
	Kind           string
	ProviderName   string
	// Issuer names the provider in the accounts signed in with it: the OpenID Connect
	// issuer, the SAML identity provider's entity ID.
	Issuer string
}

// SSOPolicy is an organization's providers and whether it requires them.
type SSOPolicy struct {
	OrganizationID string
	// RequireSSO turns password sign-in off for everyone of the organization but the
	// BreakGlassUserID, the owner who turned it on.
	RequireSSO       bool
	BreakGlassUserID string
	Providers        []SSOProvider
}

// Names is the providers' names for a sentence: "Okta", "Okta or Campus IdP".
func (p *SSOPolicy) Names() string { return providerNames(p.Providers) }

func providerNames(ps []SSOProvider) string {
	names := make([]string, len(ps))
	for i, x := range ps {
		names[i] = x.ProviderName
	}
	return strings.Join(names, " or ")
}

type ssoPolicyAudit struct {
	RequireSSO       bool     `json:"require_sso"`
	BreakGlassUserID string   `json:"break_glass_user_id,omitempty"`
	Providers        []string `json:"providers"`
	Reason           string   `json:"reason,omitempty"`
}

func (p *SSOPolicy) audit() ssoPolicyAudit {
	a := ssoPolicyAudit{RequireSSO: p.RequireSSO, BreakGlassUserID: p.BreakGlassUserID, Providers: []string{}}
	for _, x := range p.Providers {
		a.Providers = append(a.Providers, x.ProviderName)
	}
	return a
}

// providersOf lists the providers of an organization, or of every organization when
// orgID is empty, by organization, OpenID Connect first.
func providersOf(db *gorm.DB, orgID string) ([]SSOProvider, error) {
	var oidc, saml []SSOProvider
	q := db.Model(&SSOConfig{}).Select("organization_id, provider_name, issuer")
	q2 := db.Model(&SAMLConfig{}).Select("organization_id, provider_name, idp_entity_id AS issuer")
	if orgID != "" {
		q, q2 = q.Where("organization_id = ?", orgID), q2.Where("organization_id = ?", orgID)
	}
	if err := q.Scan(&oidc).Error; err != nil {
		return nil, translate(err)
	}
	if err := q2.Scan(&saml).Error; err != nil {
		return nil, translate(err)
	}
	for i := range oidc {
		oidc[i].Kind = SSOKindOIDC
	}
	for i := range saml {
		saml[i].Kind = SSOKindSAML
	}
	out := append(oidc, saml...)
	slices.SortStableFunc(out, func(a, b SSOProvider) int { return strings.Compare(a.OrganizationID, b.OrganizationID) })
	return out, nil
}

func ssoPolicy(db *gorm.DB, orgID string) (*SSOPolicy, error) {
	var o Organization
	if err := db.Where("id = ?", orgID).Take(&o).Error; err != nil {
		return nil, translate(err)
	}
	ps, err := providersOf(db, orgID)
	if err != nil {
		return nil, err
	}
	return &SSOPolicy{OrganizationID: o.ID, RequireSSO: o.RequireSSO, BreakGlassUserID: o.BreakGlassUserID, Providers: ps}, nil
}

// SSOPolicyOf is the organization's providers and whether it requires them.
func (s *Store) SSOPolicyOf(ctx context.Context, orgID string) (*SSOPolicy, error) {
	return ssoPolicy(s.db.WithContext(ctx), orgID)
}

// signedInWithAny reports whether the user has signed in with one of the providers.
func signedInWithAny(db *gorm.DB, userID string, ps []SSOProvider) (bool, error) {
	if userID == "" || len(ps) == 0 {
		return false, nil
	}
	issuers := make([]string, len(ps))
	for i, p := range ps {
		issuers[i] = p.Issuer
	}
	var n int64
	err := db.Model(&ssoIdentity{}).Where("user_id = ? AND issuer IN ?", userID, issuers).Count(&n).Error
	return n > 0, translate(err)
}

// SignedInWithAny reports whether the user has signed in with one of the policy's
// providers, which "require SSO" asks of the owner who turns it on.
func (s *Store) SignedInWithAny(ctx context.Context, p *SSOPolicy, userID string) (bool, error) {
	return signedInWithAny(s.db.WithContext(ctx), userID, p.Providers)
}

// HasSSOIdentity reports whether the user has signed in with the issuer's provider.
func (s *Store) HasSSOIdentity(ctx context.Context, issuer, userID string) (bool, error) {
	return signedInWithAny(s.db.WithContext(ctx), userID, []SSOProvider{{Issuer: issuer}})
}

// ErrSSONotTried refuses "require SSO" to an owner who has not signed in with one of the
// organization's providers: they could lock everyone out with a broken setup.
var ErrSSONotTried = errors.New("sign in with the provider once before requiring it")

// ErrNoSSOProvider refuses "require SSO" to an organization without a provider.
var ErrNoSSOProvider = errors.New("set up an identity provider before requiring single sign-on")

// SetRequireSSO turns "require SSO" on or off for the organization the actor owns (an
// owner, or an owner's token). On needs a provider, OpenID Connect or SAML, that the
// owner (for a token, the owner who made it) has signed in with once; they become the
// break-glass owner, the one account that keeps password sign-in.
func (s *Store) SetRequireSSO(ctx context.Context, a Actor, on bool) (*SSOPolicy, error) {
	var out *SSOPolicy
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		org, owner, err := workspaceManager(tx, a)
		if err != nil {
			return err
		}
		p, err := ssoPolicy(tx, org)
		if err != nil {
			return err
		}
		before := p.audit()
		p.RequireSSO, p.BreakGlassUserID = on, ""
		if on {
			if len(p.Providers) == 0 {
				return ErrNoSSOProvider
			}
			tried, err := signedInWithAny(tx, owner, p.Providers)
			if err != nil {
				return err
			}
			if !tried {
				return ErrSSONotTried
			}
			p.BreakGlassUserID = owner
		}
		out = p
		action := "sso.require_off"
		if on {
			action = "sso.require_on"
		}
		return s.writeSSOPolicy(tx, a, p, action, before, p.audit())
	})
	return out, err
}

func (s *Store) writeSSOPolicy(tx *gorm.DB, a Actor, p *SSOPolicy, action string, before, after ssoPolicyAudit) error {
	if err := tx.Model(&Organization{}).Where("id = ?", p.OrganizationID).
		Updates(map[string]any{"require_sso": p.RequireSSO, "break_glass_user_id": p.BreakGlassUserID}).Error; err != nil {
		return translate(err)
	}
	return s.recordOrg(tx, a, p.OrganizationID, change{action, "sso", p.OrganizationID, p.Names(), before, after})
}

// keepRequireSSOHonest turns "require SSO" off after a provider changed or went, when
// none is left that the break-glass owner has signed in with: nobody is known to get in
// through the providers left, so passwords come back (audited).
func (s *Store) keepRequireSSOHonest(tx *gorm.DB, a Actor, org string) error {
	p, err := ssoPolicy(tx, org)
	if err != nil || !p.RequireSSO {
		return err
	}
	ok, err := signedInWithAny(tx, p.BreakGlassUserID, p.Providers)
	if err != nil || ok {
		return err
	}
	before := p.audit()
	p.RequireSSO, p.BreakGlassUserID = false, ""
	after := p.audit()
	after.Reason = "no provider left that the break-glass owner has signed in with"
	return s.writeSSOPolicy(tx, a, p, "sso.require_off", before, after)
}

// keepBreakGlass refuses what would end the account or the ownership of userID while
// they are the break-glass owner of an organization that requires SSO: nobody would be
// left with password sign-in, so a broken provider would lock everyone out. The one rule
// for stepping down, removing an account and deleting its last workspace; who is "You
// are" or the person's e-mail and "is", then what to do once it is handed over.
func keepBreakGlass(tx *gorm.DB, field, userID, who, then string) error {
	var n int64
	if err := tx.Model(&Organization{}).Where("require_sso AND break_glass_user_id = ?", userID).Count(&n).Error; err != nil {
		return translate(err)
	}
	if n == 0 {
		return nil
	}
	return invalid(field, who+" the owner who keeps password sign-in while single sign-on is required. In Settings → Single sign-on, turn \"require SSO\" off, or have another owner turn it on again (they then keep password sign-in), then "+then+".")
}

// SSORequiredError refuses a right password of an organization that requires SSO: the
// person signs in with one of its providers.
type SSORequiredError struct {
	OrganizationID, Provider string
	// Several says Provider names more than one ("Okta or Campus IdP").
	Several bool
}

func (e *SSORequiredError) Error() string {
	if e.Several {
		return "Your organization signs in with " + e.Provider + ": use one of the \"Sign in with\" buttons."
	}
	return "Your organization signs in with " + e.Provider + ": use the \"Sign in with " + e.Provider + "\" button."
}

// passwordRefusal is the refusal of a right password of u when u's organization
// requires SSO and u is not its break-glass owner; nil otherwise.
func passwordRefusal(db *gorm.DB, u *User) error {
	p, err := ssoPolicy(db, u.OrganizationID)
	if err != nil {
		return err
	}
	if p.RequireSSO && len(p.Providers) > 0 && p.BreakGlassUserID != u.ID {
		return &SSORequiredError{OrganizationID: p.OrganizationID, Provider: p.Names(), Several: len(p.Providers) > 1}
	}
	return nil
}

// BreakGlassEmail is the e-mail of the account that keeps password sign-in in an
// organization that requires SSO.
func (s *Store) BreakGlassEmail(ctx context.Context, p *SSOPolicy) (string, error) {
	var email string
	err := s.db.WithContext(ctx).Model(&User{}).Where("id = ?", p.BreakGlassUserID).Pluck("email", &email).Error
	return email, translate(err)
}

// SignInChoices is what the sign-in page offers.
type SignInChoices struct {
	// Providers are the "Sign in with" buttons.
	Providers []SSOProvider
	// EmailFirst asks the e-mail before anything else: the installation has several
	// organizations and single sign-on somewhere, so the choices depend on the person.
	EmailFirst bool
	// PasswordOff hides the password form: the organization requires SSO.
	PasswordOff bool
}

// SignInChoices is what the sign-in page offers to the person with email (empty: not
// asked yet). With one organization, its providers at once, and the password form unless
// it requires SSO. With several and SSO anywhere, the e-mail first; then the providers
// of the organization of the account with that e-mail, and the password form unless the
// organization requires SSO and the account is not its break-glass owner. An e-mail
// without an account gets what a password-only organization's does: the password form.
func (s *Store) SignInChoices(ctx context.Context, email string) (SignInChoices, error) {
	db := s.db.WithContext(ctx)
	all, err := providersOf(db, "")
	if err != nil || len(all) == 0 {
		return SignInChoices{}, err
	}
	var orgs []Organization
	if err := db.Limit(2).Find(&orgs).Error; err != nil {
		return SignInChoices{}, translate(err)
	}
	if len(orgs) == 1 {
		return SignInChoices{Providers: all, PasswordOff: orgs[0].RequireSSO}, nil
	}
	out := SignInChoices{EmailFirst: true}
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return out, nil
	}
	var u User
	err = db.Where("email = ?", email).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return out, nil
	}
	if err != nil {
		return out, translate(err)
	}
	p, err := ssoPolicy(db, u.OrganizationID)
	if err != nil {
		return out, err
	}
	out.Providers = p.Providers
	out.PasswordOff = p.RequireSSO && len(p.Providers) > 0 && p.BreakGlassUserID != u.ID
	return out, nil
}

// GroupRole maps a group of the provider's groups to a role in a workspace of the
// organization; no workspace stands for its first one.
type GroupRole struct {
	Group       string `json:"group"`
	Role        Role   `json:"role"`
	WorkspaceID string `json:"workspace_id,omitempty"`
}

func parseMapping(raw string) []GroupRole {
	var out []GroupRole
	_ = json.Unmarshal([]byte(raw), &out)
	return out
}

// workspaceRoles is what a mapping gives someone with groups: per workspace, the role of
// the first row for it whose group is among groups (rows without a workspace are for
// first). The workspaces come in the mapping's order, first ahead.
func workspaceRoles(m []GroupRole, groups []string, first string) (order []string, roles map[string]Role) {
	roles = map[string]Role{}
	for _, r := range m {
		ws := r.WorkspaceID
		if ws == "" {
			ws = first
		}
		if _, done := roles[ws]; done || !slices.Contains(groups, r.Group) {
			continue
		}
		roles[ws] = r.Role
		order = append(order, ws)
	}
	if i := slices.Index(order, first); i > 0 {
		order = append([]string{first}, slices.Delete(order, i, i+1)...)
	}
	return order, roles
}

// providerForm names one provider form's fields, which differ between the two forms of
// the settings page.
type providerForm struct {
	name, mapping, groups, groupsWords string
}

// normalizeProvider checks what both providers' forms share: the name, the role of new
// accounts and the mapping, whose empty rows go.
func normalizeProvider(f providerForm, name *string, defaultRole, defaultField string, groupsSource string, rows *[]GroupRole) error {
	*name = strings.TrimSpace(*name)
	if *name == "" {
		return invalid(f.name, "Give the provider a name: the sign-in button says \"Sign in with\" it.")
	}
	if len(*name) > 60 {
		return invalid(f.name, "Keep the provider's name under 60 characters.")
	}
	if !Role(defaultRole).Valid() {
		return invalid(defaultField, "Choose the role of accounts made at their first sign-in.")
	}
	var kept []GroupRole
	for _, m := range *rows {
		m.Group, m.WorkspaceID = strings.TrimSpace(m.Group), strings.TrimSpace(m.WorkspaceID)
		if m.Group == "" {
			continue
		}
		if !m.Role.Valid() {
			return invalid(f.mapping, fmt.Sprintf("Choose a role for the group %q.", m.Group))
		}
		kept = append(kept, m)
	}
	if len(kept) > 0 && groupsSource == "" {
		return invalid(f.groups, f.groupsWords)
	}
	*rows = kept
	return nil
}

// checkMapping refuses a mapping row naming a workspace outside the organization.
func checkMapping(tx *gorm.DB, org, field string, rows []GroupRole) error {
	var ids []string
	if err := tx.Model(&Workspace{}).Where("organization_id = ?", org).Pluck("id", &ids).Error; err != nil {
		return translate(err)
	}
	for _, r := range rows {
		if r.WorkspaceID != "" && !slices.Contains(ids, r.WorkspaceID) {
			return invalid(field, fmt.Sprintf("The workspace chosen for the group %q is not one of your organization's (was it deleted?): choose another.", r.Group))
		}
	}
	return nil
}

// firstWorkspace is the workspace the organization started with.
func firstWorkspace(tx *gorm.DB, org string) (*Workspace, error) {
	var w Workspace
	if err := tx.Where("organization_id = ?", org).Order("created_at, id").Take(&w).Error; err != nil {
		return nil, translate(err)
	}
	return &w, nil
}

// providerConfig is a provider's settings row.
type providerConfig interface{ SSOConfig | SAMLConfig }

// providerRow is what the shared code asks of a settings row.
type providerRow[T providerConfig] interface {
	*T
	// Provider is the row as the sign-in page and "require SSO" see it.
	Provider() SSOProvider
	// auditView is what the audit log keeps of the row: never a secret.
	auditView() any
	stamp(org string, now time.Time, isNew bool)
}

// auditType is the audit log's resource type of a kind's settings.
func auditType(kind string) string {
	if kind == SSOKindOIDC {
		return "sso" // as it was before SAML came
	}
	return kind
}

func orgConfig[T providerConfig](db *gorm.DB, orgID string) (*T, error) {
	var c T
	if err := db.Where("organization_id = ?", orgID).Take(&c).Error; err != nil {
		return nil, translate(err)
	}
	return &c, nil
}

// ownerConfig is the settings of the organization the actor owns (nil when none yet),
// with the organization's id. Anyone but its owners and their tokens: ErrForbidden.
func ownerConfig[T providerConfig](db *gorm.DB, a Actor) (*T, string, error) {
	org, _, err := workspaceManager(db, a)
	if err != nil {
		return nil, "", err
	}
	c, err := orgConfig[T](db, org)
	if IsNotFound(err) {
		return nil, org, nil
	}
	return c, org, err
}

// saveProvider stores the settings of the organization the actor owns: fill sets the
// fields of the row (new or not), the audit entry (in the organization's trail) keeps
// before and after, and "require SSO" is checked against the providers then left.
func saveProvider[T providerConfig, P providerRow[T]](ctx context.Context, s *Store, a Actor, fill func(tx *gorm.DB, c P, isNew bool) error) (P, error) {
	if s.secrets == nil {
		return nil, errNoSecretKey
	}
	var out P
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		org, _, err := workspaceManager(tx, a)
		if err != nil {
			return err
		}
		cur, err := orgConfig[T](tx, org)
		isNew := IsNotFound(err)
		if err != nil && !isNew {
			return err
		}
		var before any
		if isNew {
			cur = new(T)
		} else {
			before = P(cur).auditView()
		}
		c := P(cur)
		c.stamp(org, s.now(), isNew)
		if err := fill(tx, c, isNew); err != nil {
			return err
		}
		if err := translate(tx.Save(c).Error); err != nil {
			return err
		}
		out = c
		p := c.Provider()
		if err := s.recordOrg(tx, a, org, change{auditType(p.Kind) + ".update", auditType(p.Kind), org, p.ProviderName, before, c.auditView()}); err != nil {
			return err
		}
		return s.keepRequireSSOHonest(tx, a, org)
	})
	return out, err
}

// removeProvider deletes the settings of the organization the actor owns (ErrNotFound
// when it has none), audited; "require SSO" goes off when no provider it relies on is
// left.
func removeProvider[T providerConfig, P providerRow[T]](ctx context.Context, s *Store, a Actor) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		org, _, err := workspaceManager(tx, a)
		if err != nil {
			return err
		}
		cur, err := orgConfig[T](tx, org)
		if err != nil {
			return err
		}
		c := P(cur)
		if err := tx.Where("organization_id = ?", org).Delete(c).Error; err != nil {
			return translate(err)
		}
		p := c.Provider()
		if err := s.recordOrg(tx, a, org, change{auditType(p.Kind) + ".delete", auditType(p.Kind), org, p.ProviderName, c.auditView(), nil}); err != nil {
			return err
		}
		return s.keepRequireSSOHonest(tx, a, org)
	})
}

// openSealed opens a provider's sealed secret, for its one use.
func (s *Store) openSealed(sealed, owner, what string) (string, error) {
	if s.secrets == nil {
		return "", errNoSecretKey
	}
	raw, err := s.secrets.Open(sealed, owner)
	if err != nil {
		return "", fmt.Errorf("models: open the %s: %w", what, err)
	}
	return string(raw), nil
}
