package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// SSOConfig is an organization's single sign-on with an OpenID Connect provider. Roles
// from the groups claim (and the default role) apply to the organization's first
// workspace, the one it started with: accounts made at first sign-in become members of
// it; other workspaces are given from their Users page.
type SSOConfig struct {
	OrganizationID string `gorm:"primaryKey"`
	ProviderName   string
	Issuer         string
	ClientID       string
	SecretSealed   string
	DefaultRole    Role
	GroupsClaim    string
	// GroupRoles is the mapping, as JSON: [{"group":…,"role":…}], first match wins.
	GroupRoles string
	// RequireSSO turns password sign-in off for everyone of the organization but the
	// BreakGlassUserID, the owner who turned it on.
	RequireSSO       bool
	BreakGlassUserID string
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// TableName is the configs' table.
func (SSOConfig) TableName() string { return "sso_configs" }

// GroupRole maps a group of the groups claim to a role.
type GroupRole struct {
	Group string `json:"group"`
	Role  Role   `json:"role"`
}

// Mapping is the group → role table.
func (c *SSOConfig) Mapping() []GroupRole {
	var out []GroupRole
	_ = json.Unmarshal([]byte(c.GroupRoles), &out)
	return out
}

// RoleFor is the role a new account with these groups gets: the first mapping whose
// group is among them, else the default role.
func (c *SSOConfig) RoleFor(groups []string) Role {
	if r, ok := c.MappedRole(groups); ok {
		return r
	}
	return c.DefaultRole
}

// MappedRole is the role of the first mapping whose group is among groups; ok is false
// when none is.
func (c *SSOConfig) MappedRole(groups []string) (role Role, ok bool) {
	for _, m := range c.Mapping() {
		for _, g := range groups {
			if g == m.Group {
				return m.Role, true
			}
		}
	}
	return "", false
}

func (c *SSOConfig) secretOwner() string { return "sso-secret:" + c.OrganizationID }

// ssoAudit is what the audit log keeps of the settings: never the secret, only that it
// changed.
type ssoAudit struct {
	ProviderName  string      `json:"provider_name"`
	Issuer        string      `json:"issuer"`
	ClientID      string      `json:"client_id"`
	DefaultRole   Role        `json:"default_role"`
	GroupsClaim   string      `json:"groups_claim"`
	GroupRoles    []GroupRole `json:"group_roles"`
	RequireSSO    bool        `json:"require_sso"`
	SecretChanged bool        `json:"secret_changed,omitempty"`
}

func (c *SSOConfig) audit() ssoAudit {
	return ssoAudit{c.ProviderName, c.Issuer, c.ClientID, c.DefaultRole, c.GroupsClaim, c.Mapping(), c.RequireSSO, false}
}

// SSOInput is the settings form. An empty ClientSecret keeps the saved one.
type SSOInput struct {
	ProviderName, Issuer, ClientID, ClientSecret string
	DefaultRole                                  Role
	GroupsClaim                                  string
	GroupRoles                                   []GroupRole
}

// Normalize checks the form's fields; the issuer's discovery is checked by the caller.
func (in *SSOInput) Normalize() error {
	in.ProviderName = strings.TrimSpace(in.ProviderName)
	in.Issuer = strings.TrimRight(strings.TrimSpace(in.Issuer), "/")
	in.ClientID = strings.TrimSpace(in.ClientID)
	in.GroupsClaim = strings.TrimSpace(in.GroupsClaim)
	if in.ProviderName == "" {
		return invalid("provider_name", "Give the provider a name: the sign-in button says \"Sign in with\" it.")
	}
	if len(in.ProviderName) > 60 {
		return invalid("provider_name", "Keep the provider's name under 60 characters.")
	}
	u, err := url.Parse(in.Issuer)
	if in.Issuer == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return invalid("issuer", "Enter the provider's issuer URL, e.g. https://login.example.com.")
	}
	if in.ClientID == "" {
		return invalid("client_id", "Enter the client id the provider gave Sluice.")
	}
	if !in.DefaultRole.Valid() {
		return invalid("default_role", "Choose the role of accounts made at their first sign-in.")
	}
	var kept []GroupRole
	for _, m := range in.GroupRoles {
		m.Group = strings.TrimSpace(m.Group)
		if m.Group == "" {
			continue
		}
		if !m.Role.Valid() {
			return invalid("group_roles", fmt.Sprintf("Choose a role for the group %q.", m.Group))
		}
		kept = append(kept, m)
	}
	if len(kept) > 0 && in.GroupsClaim == "" {
		return invalid("groups_claim", "Name the claim that holds the groups (often \"groups\"), or leave the mapping empty.")
	}
	in.GroupRoles = kept
	return nil
}

// SSOConfigOf is the organization's SSO settings; ErrNotFound when it has none.
func (s *Store) SSOConfigOf(ctx context.Context, orgID string) (*SSOConfig, error) {
	var c SSOConfig
	if err := s.db.WithContext(ctx).Where("organization_id = ?", orgID).Take(&c).Error; err != nil {
		return nil, translate(err)
	}
	return &c, nil
}

// OwnerSSOConfig is the SSO settings of the organization the actor owns (nil when none
// yet), with the organization's id. Anyone but its owners: ErrForbidden.
func (s *Store) OwnerSSOConfig(ctx context.Context, a Actor) (*SSOConfig, string, error) {
	db := s.db.WithContext(ctx)
	org, err := ownerOrganization(db, a)
	if err != nil {
		return nil, "", err
	}
	c, err := s.SSOConfigOf(ctx, org)
	if IsNotFound(err) {
		return nil, org, nil
	}
	return c, org, err
}

// SSOClientSecret opens the client secret, for the token request only.
func (s *Store) SSOClientSecret(c *SSOConfig) (string, error) {
	if s.secrets == nil {
		return "", errNoSecretKey
	}
	raw, err := s.secrets.Open(c.SecretSealed, c.secretOwner())
	if err != nil {
		return "", fmt.Errorf("models: open the SSO client secret: %w", err)
	}
	return string(raw), nil
}

// SaveSSOConfig stores the SSO settings of the organization the actor owns; in was
// normalized. Changing the issuer turns "require SSO" off: nobody has signed in with
// the new provider yet.
func (s *Store) SaveSSOConfig(ctx context.Context, a Actor, in SSOInput) (*SSOConfig, error) {
	if s.secrets == nil {
		return nil, errNoSecretKey
	}
	var out *SSOConfig
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		org, err := ownerOrganization(tx, a)
		if err != nil {
			return err
		}
		now := s.now()
		var c SSOConfig
		err = tx.Where("organization_id = ?", org).Take(&c).Error
		isNew := errors.Is(err, gorm.ErrRecordNotFound)
		if err != nil && !isNew {
			return translate(err)
		}
		var before any
		if !isNew {
			before = c.audit()
		} else {
			c = SSOConfig{OrganizationID: org, CreatedAt: now}
			if in.ClientSecret == "" {
				return invalid("client_secret", "Enter the client secret the provider gave Sluice.")
			}
		}
		if c.Issuer != in.Issuer {
			c.RequireSSO, c.BreakGlassUserID = false, ""
		}
		mapping, err := json.Marshal(in.GroupRoles)
		if err != nil {
			return err
		}
		c.ProviderName, c.Issuer, c.ClientID, c.DefaultRole, c.GroupsClaim, c.GroupRoles, c.UpdatedAt =
			in.ProviderName, in.Issuer, in.ClientID, in.DefaultRole, in.GroupsClaim, string(mapping), now
		if in.ClientSecret != "" {
			if c.SecretSealed, err = s.secrets.Seal([]byte(in.ClientSecret), c.secretOwner()); err != nil {
				return err
			}
		}
		if err := translate(tx.Save(&c).Error); err != nil {
			return err
		}
		after := c.audit()
		after.SecretChanged = in.ClientSecret != ""
		out = &c
		return s.record(tx, a, change{"sso.update", "sso", org, c.ProviderName, before, after})
	})
	return out, err
}

// ErrSSONotTried refuses "require SSO" to an owner who has not signed in with the
// provider: they could lock everyone out with a broken setup.
var ErrSSONotTried = errors.New("sign in with the provider once before requiring it")

// SetRequireSSO turns "require SSO" on or off for the organization the actor owns. On
// needs the actor to have signed in with the provider once; they become the break-glass
// owner, the one account that keeps password sign-in.
func (s *Store) SetRequireSSO(ctx context.Context, a Actor, on bool) (*SSOConfig, error) {
	var out *SSOConfig
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		org, err := ownerOrganization(tx, a)
		if err != nil {
			return err
		}
		var c SSOConfig
		if err := tx.Where("organization_id = ?", org).Take(&c).Error; err != nil {
			return translate(err)
		}
		before := c.audit()
		if on {
			var n int64
			if err := tx.Model(&ssoIdentity{}).Where("issuer = ? AND user_id = ?", c.Issuer, a.ID).Count(&n).Error; err != nil {
				return translate(err)
			}
			if n == 0 {
				return ErrSSONotTried
			}
			c.BreakGlassUserID = a.ID
		} else {
			c.BreakGlassUserID = ""
		}
		c.RequireSSO = on
		if err := tx.Model(&c).Updates(map[string]any{"require_sso": c.RequireSSO, "break_glass_user_id": c.BreakGlassUserID, "updated_at": s.now()}).Error; err != nil {
			return translate(err)
		}
		out = &c
		action := "sso.require_off"
		if on {
			action = "sso.require_on"
		}
		return s.record(tx, a, change{action, "sso", org, c.ProviderName, before, c.audit()})
	})
	return out, err
}

// HasSSOIdentity reports whether the user has signed in with the issuer's provider.
func (s *Store) HasSSOIdentity(ctx context.Context, issuer, userID string) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&ssoIdentity{}).Where("issuer = ? AND user_id = ?", issuer, userID).Count(&n).Error
	return n > 0, translate(err)
}

// SSOChoice is an organization with SSO, as the sign-in page offers it.
type SSOChoice struct {
	OrganizationID string
	ProviderName   string
	RequireSSO     bool
}

// SSOChoices lists the organizations with SSO set up, and how many organizations the
// installation has.
func (s *Store) SSOChoices(ctx context.Context) ([]SSOChoice, int64, error) {
	db := s.db.WithContext(ctx)
	var out []SSOChoice
	if err := db.Model(&SSOConfig{}).Select("organization_id, provider_name, require_sso").Order("provider_name").Scan(&out).Error; err != nil {
		return nil, 0, translate(err)
	}
	var saml []SSOChoice
	if err := db.Model(&SAMLConfig{}).Select("organization_id, provider_name").Order("provider_name").Scan(&saml).Error; err != nil {
		return nil, 0, translate(err)
	}
	for _, c := range saml {
		if !slices.ContainsFunc(out, func(o SSOChoice) bool { return o.OrganizationID == c.OrganizationID }) {
			out = append(out, c)
		}
	}
	var orgs int64
	err := db.Model(&Organization{}).Count(&orgs).Error
	return out, orgs, translate(err)
}

// BreakGlassEmail is the e-mail of the account that keeps password sign-in in an
// organization that requires SSO.
func (s *Store) BreakGlassEmail(ctx context.Context, c *SSOConfig) (string, error) {
	var email string
	err := s.db.WithContext(ctx).Model(&User{}).Where("id = ?", c.BreakGlassUserID).Pluck("email", &email).Error
	return email, translate(err)
}

// SSORequiredError refuses a right password of an organization that requires SSO: the
// person signs in with the provider.
type SSORequiredError struct{ OrganizationID, Provider string }

func (e *SSORequiredError) Error() string {
	return "Your organization signs in with " + e.Provider + ": use the \"Sign in with " + e.Provider + "\" button."
}

type ssoIdentity struct {
	Issuer    string `gorm:"primaryKey"`
	Subject   string `gorm:"primaryKey"`
	UserID    string
	CreatedAt time.Time
}

func (ssoIdentity) TableName() string { return "sso_identities" }

// SSOStart is a sign-in under way at the provider.
type SSOStart struct {
	OrganizationID string
	Nonce          string
	Verifier       string
	Next           string
}

type ssoState struct {
	StateHash      string `gorm:"primaryKey"`
	OrganizationID string
	Sealed         string
	ExpiresAt      time.Time
}

func (ssoState) TableName() string { return "sso_states" }

// SaveSSOStart keeps st under state (stored hashed, the rest sealed) for TakeSSOStart;
// expired ones go. It lasts OAuthStateTTL.
func (s *Store) SaveSSOStart(ctx context.Context, state string, st SSOStart) error {
	if s.secrets == nil {
		return errNoSecretKey
	}
	hash := HashToken(state)
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	sealed, err := s.secrets.Seal(raw, "sso-state:"+hash)
	if err != nil {
		return err
	}
	now := s.now()
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("expires_at < ?", now).Delete(&ssoState{}).Error; err != nil {
			return translate(err)
		}
		return translate(tx.Create(&ssoState{StateHash: hash, OrganizationID: st.OrganizationID, Sealed: sealed, ExpiresAt: now.Add(OAuthStateTTL)}).Error)
	})
}

// TakeSSOStart returns and forgets the sign-in under state: each is used once. Unknown
// or expired: ErrNotFound.
func (s *Store) TakeSSOStart(ctx context.Context, state string) (*SSOStart, error) {
	hash := HashToken(state)
	var row ssoState
	if err := s.takeState(ctx, hash, &row); err != nil {
		return nil, err
	}
	if s.now().After(row.ExpiresAt) {
		return nil, ErrNotFound
	}
	raw, err := s.secrets.Open(row.Sealed, "sso-state:"+hash)
	if err != nil {
		return nil, fmt.Errorf("models: open an SSO state: %w", err)
	}
	var st SSOStart
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// SSOClaims is what a verified ID token says about the person.
type SSOClaims struct {
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	Groups        []string
}

// SSORefusal is a sign-in with the provider that Sluice refuses, in words for the
// person.
type SSORefusal struct{ Reason string }

func (e *SSORefusal) Error() string { return e.Reason }

// SSOSignIn finds the person of a verified ID token in the organization of c: by their
// provider account (issuer, subject), else by their verified e-mail (and remembers the
// provider account), else makes an account for them (no password), a member of the
// organization's first workspace with the role the groups map to. created says an
// account was made. The user comes back like Authenticate's, with their role in the
// workspace the sign-in opens.
func (s *Store) SSOSignIn(ctx context.Context, c *SSOConfig, cl SSOClaims) (u *User, created bool, err error) {
	email := strings.ToLower(strings.TrimSpace(cl.Email))
	if cl.Subject == "" {
		return nil, false, &SSORefusal{"The provider's answer names nobody (its ID token has no subject)."}
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		u = &User{}
		var id ssoIdentity
		err := tx.Where("issuer = ? AND subject = ?", c.Issuer, cl.Subject).Take(&id).Error
		switch {
		case err == nil:
			if err := tx.Where("id = ?", id.UserID).Take(u).Error; err != nil {
				return translate(err)
			}
			if u.OrganizationID != c.OrganizationID {
				return &SSORefusal{"Your account at " + c.ProviderName + " belongs to another organization's Sluice account."}
			}
		case !errors.Is(err, gorm.ErrRecordNotFound):
			return translate(err)
		default:
			if email == "" || !cl.EmailVerified {
				return &SSORefusal{c.ProviderName + " did not give a verified e-mail address, so Sluice cannot tell who you are. Ask your administrator to verify your e-mail there."}
			}
			err := tx.Where("email = ?", email).Take(u).Error
			switch {
			case err == nil:
				if u.OrganizationID != c.OrganizationID {
					return &SSORefusal{"The e-mail " + email + " has a Sluice account in another organization; it cannot sign in with " + c.ProviderName + "."}
				}
			case errors.Is(err, gorm.ErrRecordNotFound):
				if err := s.createSSOUser(tx, c, cl, email, u); err != nil {
					return err
				}
				created = true
			default:
				return translate(err)
			}
			if err := tx.Create(&ssoIdentity{Issuer: c.Issuer, Subject: cl.Subject, UserID: u.ID, CreatedAt: s.now()}).Error; err != nil {
				return translate(err)
			}
		}
		if !created {
			if err := s.syncSSORole(tx, c, u, cl.Groups); err != nil {
				return err
			}
		}
		var m Membership
		err = tx.Where("user_id = ?", u.ID).Order(clause.Expr{SQL: "workspace_id = ? DESC, created_at", Vars: []any{u.WorkspaceID}}).Take(&m).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return &SSORefusal{"Your account " + u.Email + " is not a member of any workspace any more. Ask an admin of your organization to add you."}
		}
		if err != nil {
			return translate(err)
		}
		u.WorkspaceID, u.Role = m.WorkspaceID, m.Role
		now := s.now()
		if err := tx.Model(u).Updates(map[string]any{"last_sign_in_at": now, "workspace_id": u.WorkspaceID}).Error; err != nil {
			return translate(err)
		}
		a := Actor{WorkspaceID: u.WorkspaceID, Type: ActorUser, ID: u.ID, Name: u.Email, Role: u.Role}
		return s.record(tx, a, change{action: "user.sign_in", resourceType: "session", resourceID: u.ID, resourceName: u.Email,
			after: map[string]string{"method": "sso", "provider": c.ProviderName}})
	})
	if err != nil {
		return nil, false, err
	}
	return u, created, nil
}

func (s *Store) createSSOUser(tx *gorm.DB, c *SSOConfig, cl SSOClaims, email string, u *User) error {
	var first Workspace
	if err := tx.Where("organization_id = ?", c.OrganizationID).Order("created_at, id").Take(&first).Error; err != nil {
		return translate(err)
	}
	role := c.RoleFor(cl.Groups)
	now := s.now()
	*u = User{ID: newID(), OrganizationID: c.OrganizationID, WorkspaceID: first.ID, Email: email, Name: strings.TrimSpace(cl.Name),
		CreatedAt: now, UpdatedAt: now}
	if err := tx.Create(u).Error; err != nil {
		return translate(err)
	}
	if err := s.addMembership(tx, u.ID, first.ID, role); err != nil {
		return err
	}
	u.Role = role
	a := Actor{WorkspaceID: first.ID, Type: ActorSystem, Name: c.ProviderName}
	return s.record(tx, a, change{"user.create", "user", u.ID, u.Email, nil, map[string]any{"email": u.Email, "name": u.Name, "role": role, "via": "sso", "groups": cl.Groups}})
}

// syncSSORole gives an existing account, at each sign-in, the role its groups map to in
// the organization's first workspace, when a mapping matches and it is a member there; no
// match keeps the role given on Settings -> Users. The workspace's last admin stays admin.
func (s *Store) syncSSORole(tx *gorm.DB, c *SSOConfig, u *User, groups []string) error {
	role, ok := c.MappedRole(groups)
	if !ok {
		return nil
	}
	var first Workspace
	if err := tx.Where("organization_id = ?", c.OrganizationID).Order("created_at, id").Take(&first).Error; err != nil {
		return translate(err)
	}
	var m Membership
	err := tx.Where("user_id = ? AND workspace_id = ?", u.ID, first.ID).Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil
	}
	if err != nil {
		return translate(err)
	}
	if m.Role == role {
		return nil
	}
	if m.Role == RoleAdmin {
		if err := s.keepOneAdmin(tx, first.ID, "role"); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				return nil // the last admin keeps the workspace administered
			}
			return err
		}
	}
	if err := tx.Model(&Membership{}).Where("user_id = ? AND workspace_id = ?", u.ID, first.ID).
		Updates(map[string]any{"role": role, "updated_at": s.now()}).Error; err != nil {
		return translate(err)
	}
	a := Actor{WorkspaceID: first.ID, Type: ActorSystem, Name: c.ProviderName}
	before := userAudit{Email: u.Email, Name: u.Name, Role: m.Role}
	after := userAudit{Email: u.Email, Name: u.Name, Role: role}
	return s.record(tx, a, change{"user.update", "user", u.ID, u.Email, before, after})
}
