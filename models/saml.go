package models

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"
)

// SAMLConfig is an organization's single sign-on with a SAML 2.0 identity provider:
// its metadata, and Sluice's own key and certificate for the organization (the key
// sealed). Roles map as for OpenID Connect. MetadataReadAt is when the metadata was
// last read: at each save, and again from the metadata URL when it grows old.
type SAMLConfig struct {
	OrganizationID  string `gorm:"primaryKey"`
	ProviderName    string
	MetadataURL     string
	MetadataXML     string
	IdPEntityID     string `gorm:"column:idp_entity_id"`
	SPKeySealed     string `gorm:"column:sp_key_sealed"`
	SPCertPEM       string `gorm:"column:sp_cert_pem"`
	DefaultRole     Role
	GroupsAttribute string
	GroupRoles      string
	MetadataReadAt  *time.Time
	// MetadataTriedAt is when the metadata URL was last asked, answered or not: a URL
	// that failed is not asked again for a while (core's samlRetryAfter).
	MetadataTriedAt *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time

	keyMade bool // for the audit entry of a save
}

// TableName is the configs' table.
func (SAMLConfig) TableName() string { return "saml_configs" }

// Mapping is the group → role table.
func (c *SAMLConfig) Mapping() []GroupRole { return parseMapping(c.GroupRoles) }

// AsSSO is the config in the shape SSOSignIn takes, so that both kinds of provider find,
// match and make accounts by one rule: the IdP's entity ID stands for the issuer.
func (c *SAMLConfig) AsSSO() *SSOConfig {
	return &SSOConfig{OrganizationID: c.OrganizationID, ProviderName: c.ProviderName, Issuer: c.IdPEntityID,
		DefaultRole: c.DefaultRole, GroupsClaim: c.GroupsAttribute, GroupRoles: c.GroupRoles}
}

// Provider is the provider as the sign-in page and "require SSO" see it.
func (c *SAMLConfig) Provider() SSOProvider {
	return SSOProvider{OrganizationID: c.OrganizationID, Kind: SSOKindSAML, ProviderName: c.ProviderName, Issuer: c.IdPEntityID}
}

func (c *SAMLConfig) stamp(org string, now time.Time, isNew bool) {
	if isNew {
		c.OrganizationID, c.CreatedAt = org, now
	}
	c.UpdatedAt = now
}

func (c *SAMLConfig) keyOwner() string { return "saml-key:" + c.OrganizationID }

type samlAudit struct {
	ProviderName    string      `json:"provider_name"`
	MetadataURL     string      `json:"metadata_url"`
	IdPEntityID     string      `json:"idp_entity_id"`
	DefaultRole     Role        `json:"default_role"`
	GroupsAttribute string      `json:"groups_attribute"`
	GroupRoles      []GroupRole `json:"group_roles"`
	KeyMade         bool        `json:"key_made,omitempty"`
}

func (c *SAMLConfig) auditView() any {
	return samlAudit{c.ProviderName, c.MetadataURL, c.IdPEntityID, c.DefaultRole, c.GroupsAttribute, c.Mapping(), c.keyMade}
}

// SAMLInput is the settings form once the metadata was read and checked by the caller.
// NewKeyPEM and NewCertPEM are given only when the organization has no key yet.
type SAMLInput struct {
	ProviderName, MetadataURL, MetadataXML, IdPEntityID string
	DefaultRole                                         Role
	GroupsAttribute                                     string
	GroupRoles                                          []GroupRole
	NewKeyPEM, NewCertPEM                               string
}

var samlForm = providerForm{name: "saml_provider_name", mapping: "saml_group_roles", groups: "groups_attribute",
	groupsWords: "Name the attribute that holds the groups, or leave the mapping empty."}

// Normalize checks the form's own fields; the metadata is the caller's.
func (in *SAMLInput) Normalize() error {
	in.MetadataURL = strings.TrimSpace(in.MetadataURL)
	in.GroupsAttribute = strings.TrimSpace(in.GroupsAttribute)
	return normalizeProvider(samlForm, &in.ProviderName, string(in.DefaultRole), "saml_default_role", in.GroupsAttribute, &in.GroupRoles)
}

// SAMLConfigOf is the organization's SAML settings; ErrNotFound when it has none.
func (s *Store) SAMLConfigOf(ctx context.Context, orgID string) (*SAMLConfig, error) {
	return orgConfig[SAMLConfig](s.db.WithContext(ctx), orgID)
}

// OwnerSAMLConfig is the SAML settings of the organization the actor owns (nil when
// none yet), with the organization's id. Anyone but its owners: ErrForbidden.
func (s *Store) OwnerSAMLConfig(ctx context.Context, a Actor) (*SAMLConfig, string, error) {
	return ownerConfig[SAMLConfig](s.db.WithContext(ctx), a)
}

// SAMLKey opens the organization's SP private key (PEM), to sign and decrypt only.
func (s *Store) SAMLKey(c *SAMLConfig) (string, error) {
	return s.openSealed(c.SPKeySealed, c.keyOwner(), "SAML key")
}

// SaveSAMLConfig stores the SAML settings of the organization the actor owns; in was
// normalized and its metadata checked. The key is kept once made. Another identity
// provider (entity ID) is one nobody has signed in with yet: "require SSO" goes off
// unless another provider the break-glass owner used is left.
func (s *Store) SaveSAMLConfig(ctx context.Context, a Actor, in SAMLInput) (*SAMLConfig, error) {
	return saveProvider(ctx, s, a, func(tx *gorm.DB, c *SAMLConfig, _ bool) error {
		if err := checkMapping(tx, c.OrganizationID, "saml_group_roles", in.GroupRoles); err != nil {
			return err
		}
		mapping, err := json.Marshal(in.GroupRoles)
		if err != nil {
			return err
		}
		c.ProviderName, c.MetadataURL, c.MetadataXML, c.IdPEntityID = in.ProviderName, in.MetadataURL, in.MetadataXML, in.IdPEntityID
		c.DefaultRole, c.GroupsAttribute, c.GroupRoles = in.DefaultRole, in.GroupsAttribute, string(mapping)
		readAt := s.now()
		c.MetadataReadAt = &readAt
		if c.SPKeySealed == "" {
			if in.NewKeyPEM == "" || in.NewCertPEM == "" {
				return errors.New("models: a new SAML configuration needs its key and certificate")
			}
			if c.SPKeySealed, err = s.secrets.Seal([]byte(in.NewKeyPEM), c.keyOwner()); err != nil {
				return err
			}
			c.SPCertPEM, c.keyMade = in.NewCertPEM, true
		}
		return nil
	})
}

// RemoveSAMLConfig removes the SAML provider of the organization the actor owns, its key
// with it; "require SSO" goes off when no provider it relies on is left.
func (s *Store) RemoveSAMLConfig(ctx context.Context, a Actor) error {
	return removeProvider[SAMLConfig](ctx, s, a)
}
