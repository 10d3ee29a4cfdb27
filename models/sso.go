package models

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// SSOConfig is an organization's single sign-on with an OpenID Connect provider. Its
// mapping gives roles in the organization's workspaces (see GroupRole); "require SSO" is
// the organization's (SSOPolicy). SAML settings take this shape for a sign-in
// (SAMLConfig.AsSSO), so both find, match and make accounts by one rule.
type SSOConfig struct {
	OrganizationID string `gorm:"primaryKey"`
	ProviderName   string
	Issuer         string
	ClientID       string
	SecretSealed   string
	DefaultRole    Role
	GroupsClaim    string
	// GroupRoles is the mapping, as JSON: [{"group":…,"role":…,"workspace_id":…}].
	GroupRoles string
	CreatedAt  time.Time
	UpdatedAt  time.Time

	secretChanged bool // for the audit entry of a save
}

// TableName is the configs' table.
func (SSOConfig) TableName() string { return "sso_configs" }

// Mapping is the group → role table.
func (c *SSOConfig) Mapping() []GroupRole { return parseMapping(c.GroupRoles) }

// Provider is the provider as the sign-in page and "require SSO" see it.
func (c *SSOConfig) Provider() SSOProvider {
	return SSOProvider{OrganizationID: c.OrganizationID, Kind: SSOKindOIDC, ProviderName: c.ProviderName, Issuer: c.Issuer}
}

func (c *SSOConfig) stamp(org string, now time.Time, isNew bool) {
	if isNew {
		c.OrganizationID, c.CreatedAt = org, now
	}
	c.UpdatedAt = now
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
	SecretChanged bool        `json:"secret_changed,omitempty"`
}

func (c *SSOConfig) auditView() any {
	return ssoAudit{c.ProviderName, c.Issuer, c.ClientID, c.DefaultRole, c.GroupsClaim, c.Mapping(), c.secretChanged}
}

// SSOInput is the settings form. An empty ClientSecret keeps the saved one.
type SSOInput struct {
	ProviderName, Issuer, ClientID, ClientSecret string
	DefaultRole                                  Role
	GroupsClaim                                  string
	GroupRoles                                   []GroupRole
}

var oidcForm = providerForm{name: "provider_name", mapping: "group_roles", groups: "groups_claim",
	groupsWords: "Name the claim that holds the groups (often \"groups\"), or leave the mapping empty."}

// Normalize checks the form's fields; the issuer's discovery is checked by the caller.
func (in *SSOInput) Normalize() error {
	in.Issuer = strings.TrimRight(strings.TrimSpace(in.Issuer), "/")
	in.ClientID = strings.TrimSpace(in.ClientID)
	in.GroupsClaim = strings.TrimSpace(in.GroupsClaim)
	if err := normalizeProvider(oidcForm, &in.ProviderName, string(in.DefaultRole), "default_role", in.GroupsClaim, &in.GroupRoles); err != nil {
		return err
	}
	u, err := url.Parse(in.Issuer)
	if in.Issuer == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return invalid("issuer", "Enter the provider's issuer URL, e.g. https://login.example.com.")
	}
	if in.ClientID == "" {
		return invalid("client_id", "Enter the client id the provider gave Sluice.")
	}
	return nil
}

// SSOConfigOf is the organization's SSO settings; ErrNotFound when it has none.
func (s *Store) SSOConfigOf(ctx context.Context, orgID string) (*SSOConfig, error) {
	return orgConfig[SSOConfig](s.db.WithContext(ctx), orgID)
}

// OwnerSSOConfig is the SSO settings of the organization the actor owns (nil when none
// yet), with the organization's id. Anyone but its owners: ErrForbidden.
func (s *Store) OwnerSSOConfig(ctx context.Context, a Actor) (*SSOConfig, string, error) {
	return ownerConfig[SSOConfig](s.db.WithContext(ctx), a)
}

// SSOClientSecret opens the client secret, for the token request only.
func (s *Store) SSOClientSecret(c *SSOConfig) (string, error) {
	return s.openSealed(c.SecretSealed, c.secretOwner(), "SSO client secret")
}

// SaveSSOConfig stores the SSO settings of the organization the actor owns; in was
// normalized. A new issuer is a new provider nobody has signed in with yet: "require
// SSO" goes off unless another provider the break-glass owner used is left.
func (s *Store) SaveSSOConfig(ctx context.Context, a Actor, in SSOInput) (*SSOConfig, error) {
	return saveProvider(ctx, s, a, func(tx *gorm.DB, c *SSOConfig, isNew bool) error {
		if isNew && in.ClientSecret == "" {
			return invalid("client_secret", "Enter the client secret the provider gave Sluice.")
		}
		if err := checkMapping(tx, c.OrganizationID, "group_roles", in.GroupRoles); err != nil {
			return err
		}
		mapping, err := json.Marshal(in.GroupRoles)
		if err != nil {
			return err
		}
		c.ProviderName, c.Issuer, c.ClientID, c.DefaultRole, c.GroupsClaim, c.GroupRoles =
			in.ProviderName, in.Issuer, in.ClientID, in.DefaultRole, in.GroupsClaim, string(mapping)
		if in.ClientSecret != "" {
			if c.SecretSealed, err = s.secrets.Seal([]byte(in.ClientSecret), c.secretOwner()); err != nil {
				return err
			}
			c.secretChanged = true
		}
		return nil
	})
}

// RemoveSSOConfig removes the OpenID Connect provider of the organization the actor
// owns; "require SSO" goes off when no provider it relies on is left.
func (s *Store) RemoveSSOConfig(ctx context.Context, a Actor) error {
	return removeProvider[SSOConfig](ctx, s, a)
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
	return s.saveSSOState(ctx, HashToken(state), st.OrganizationID, st, OAuthStateTTL)
}

// TakeSSOStart returns and forgets the sign-in under state: each is used once. Unknown
// or expired: ErrNotFound.
func (s *Store) TakeSSOStart(ctx context.Context, state string) (*SSOStart, error) {
	var st SSOStart
	if err := s.takeSSOState(ctx, HashToken(state), &st); err != nil {
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
// workspaces the groups map to (createSSOUser). created says an
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

// orgRoles is what the mapping gives someone with groups in the organization's
// workspaces, in order (the first workspace ahead), rows naming a workspace gone left
// out.
func orgRoles(tx *gorm.DB, c *SSOConfig, groups []string) (first string, order []string, roles map[string]Role, err error) {
	w, err := firstWorkspace(tx, c.OrganizationID)
	if err != nil {
		return "", nil, nil, err
	}
	var ids []string
	if err := tx.Model(&Workspace{}).Where("organization_id = ?", c.OrganizationID).Pluck("id", &ids).Error; err != nil {
		return "", nil, nil, translate(err)
	}
	all, roles := workspaceRoles(c.Mapping(), groups, w.ID)
	for _, ws := range all {
		if slices.Contains(ids, ws) {
			order = append(order, ws)
		}
	}
	return w.ID, order, roles, nil
}

// createSSOUser makes the account of a first sign-in, a member of each workspace its
// groups map to and of each workspace of the organization a pending invitation of its
// e-mail names, or of the organization's first workspace with the default role when
// neither gives one. Where both give a role in a workspace, the higher one wins: each is
// a grant someone of the organization made, and neither is meant to take the other away.
// The invitations used are marked accepted, audited, so their links open nothing.
func (s *Store) createSSOUser(tx *gorm.DB, c *SSOConfig, cl SSOClaims, email string, u *User) error {
	first, order, roles, err := orgRoles(tx, c, cl.Groups)
	if err != nil {
		return err
	}
	now := s.now()
	var invs []Invitation
	if err := tx.Where("email = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?", email, now).
		Where("workspace_id IN (?)", tx.Model(&Workspace{}).Select("id").Where("organization_id = ?", c.OrganizationID)).
		Order("created_at, id").Find(&invs).Error; err != nil {
		return translate(err)
	}
	for _, inv := range invs {
		if r, ok := roles[inv.WorkspaceID]; !ok {
			order, roles[inv.WorkspaceID] = append(order, inv.WorkspaceID), inv.Role
		} else if inv.Role.AtLeast(r) {
			roles[inv.WorkspaceID] = inv.Role
		}
	}
	if len(order) == 0 {
		order, roles = []string{first}, map[string]Role{first: c.DefaultRole}
	}
	home := order[0]
	*u = User{ID: newID(), OrganizationID: c.OrganizationID, WorkspaceID: home, Email: email, Name: strings.TrimSpace(cl.Name),
		CreatedAt: now, UpdatedAt: now}
	if err := tx.Create(u).Error; err != nil {
		return translate(err)
	}
	for i, ws := range order {
		if err := s.addMembership(tx, u.ID, ws, roles[ws]); err != nil {
			return err
		}
		a := Actor{WorkspaceID: ws, Type: ActorSystem, Name: c.ProviderName}
		action := "user.add"
		if i == 0 {
			action = "user.create"
		}
		if err := s.record(tx, a, change{action, "user", u.ID, u.Email, nil, map[string]any{"email": u.Email, "name": u.Name, "role": roles[ws], "via": "sso", "groups": cl.Groups}}); err != nil {
			return err
		}
	}
	for _, inv := range invs {
		if err := tx.Model(&Invitation{}).Where("id = ? AND accepted_at IS NULL", inv.ID).Update("accepted_at", now).Error; err != nil {
			return translate(err)
		}
		a := Actor{WorkspaceID: inv.WorkspaceID, Type: ActorUser, ID: u.ID, Name: u.Email, Role: roles[inv.WorkspaceID]}
		after := inv.audit()
		after.Via = "sso"
		if err := s.record(tx, a, change{"invitation.accept", "invitation", inv.ID, inv.Email, nil, after}); err != nil {
			return err
		}
	}
	u.Role = roles[home]
	return nil
}

// syncSSORole gives an existing account, at each sign-in, the role its groups map to in
// each workspace a mapping row matches, making it a member there if it is not yet; a
// workspace no row matches keeps the role given on Settings -> Users. A workspace's last
// admin stays admin.
func (s *Store) syncSSORole(tx *gorm.DB, c *SSOConfig, u *User, groups []string) error {
	_, order, roles, err := orgRoles(tx, c, groups)
	if err != nil {
		return err
	}
	for _, ws := range order {
		role := roles[ws]
		a := Actor{WorkspaceID: ws, Type: ActorSystem, Name: c.ProviderName}
		var m Membership
		err := tx.Where("user_id = ? AND workspace_id = ?", u.ID, ws).Take(&m).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			if err := s.addMembership(tx, u.ID, ws, role); err != nil {
				return err
			}
			if err := s.record(tx, a, change{"user.add", "user", u.ID, u.Email, nil, userAudit{Email: u.Email, Name: u.Name, Role: role}}); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return translate(err)
		}
		if m.Role == role {
			continue
		}
		if m.Role == RoleAdmin {
			if err := s.keepOneAdmin(tx, ws, "role"); err != nil {
				var fe *FieldError
				if errors.As(err, &fe) {
					continue // the last admin keeps the workspace administered
				}
				return err
			}
		}
		if err := tx.Model(&Membership{}).Where("user_id = ? AND workspace_id = ?", u.ID, ws).
			Updates(map[string]any{"role": role, "updated_at": s.now()}).Error; err != nil {
			return translate(err)
		}
		before := userAudit{Email: u.Email, Name: u.Name, Role: m.Role}
		after := userAudit{Email: u.Email, Name: u.Name, Role: role}
		if err := s.record(tx, a, change{"user.update", "user", u.ID, u.Email, before, after}); err != nil {
			return err
		}
	}
	return nil
}
