package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// SAMLConfig is an organization's single sign-on with a SAML 2.0 identity provider:
// its metadata, and Sluice's own key and certificate for the organization (the key
// sealed). Roles map as for OpenID Connect.
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
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// TableName is the configs' table.
func (SAMLConfig) TableName() string { return "saml_configs" }

// Mapping is the group → role table.
func (c *SAMLConfig) Mapping() []GroupRole {
	var out []GroupRole
	_ = json.Unmarshal([]byte(c.GroupRoles), &out)
	return out
}

// AsSSO is the config in the shape SSOSignIn takes, so that both kinds of provider find,
// match and make accounts by one rule: the IdP's entity ID stands for the issuer.
func (c *SAMLConfig) AsSSO() *SSOConfig {
	return &SSOConfig{OrganizationID: c.OrganizationID, ProviderName: c.ProviderName, Issuer: c.IdPEntityID,
		DefaultRole: c.DefaultRole, GroupsClaim: c.GroupsAttribute, GroupRoles: c.GroupRoles}
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

func (c *SAMLConfig) audit() samlAudit {
	return samlAudit{c.ProviderName, c.MetadataURL, c.IdPEntityID, c.DefaultRole, c.GroupsAttribute, c.Mapping(), false}
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

// Normalize checks the form's own fields; the metadata is the caller's.
func (in *SAMLInput) Normalize() error {
	in.ProviderName = strings.TrimSpace(in.ProviderName)
	in.MetadataURL = strings.TrimSpace(in.MetadataURL)
	in.GroupsAttribute = strings.TrimSpace(in.GroupsAttribute)
	if in.ProviderName == "" {
		return invalid("saml_provider_name", "Give the provider a name: the sign-in button says \"Sign in with\" it.")
	}
	if len(in.ProviderName) > 60 {
		return invalid("saml_provider_name", "Keep the provider's name under 60 characters.")
	}
	if !in.DefaultRole.Valid() {
		return invalid("saml_default_role", "Choose the role of accounts made at their first sign-in.")
	}
	var kept []GroupRole
	for _, m := range in.GroupRoles {
		m.Group = strings.TrimSpace(m.Group)
		if m.Group == "" {
			continue
		}
		if !m.Role.Valid() {
			return invalid("saml_group_roles", fmt.Sprintf("Choose a role for the group %q.", m.Group))
		}
		kept = append(kept, m)
	}
	if len(kept) > 0 && in.GroupsAttribute == "" {
		return invalid("groups_attribute", "Name the attribute that holds the groups, or leave the mapping empty.")
	}
	in.GroupRoles = kept
	return nil
}

// SAMLConfigOf is the organization's SAML settings; ErrNotFound when it has none.
func (s *Store) SAMLConfigOf(ctx context.Context, orgID string) (*SAMLConfig, error) {
	var c SAMLConfig
	if err := s.db.WithContext(ctx).Where("organization_id = ?", orgID).Take(&c).Error; err != nil {
		return nil, translate(err)
	}
	return &c, nil
}

// OwnerSAMLConfig is the SAML settings of the organization the actor owns (nil when
// none yet), with the organization's id. Anyone but its owners: ErrForbidden.
func (s *Store) OwnerSAMLConfig(ctx context.Context, a Actor) (*SAMLConfig, string, error) {
	org, err := ownerOrganization(s.db.WithContext(ctx), a)
	if err != nil {
		return nil, "", err
	}
	c, err := s.SAMLConfigOf(ctx, org)
	if IsNotFound(err) {
		return nil, org, nil
	}
	return c, org, err
}

// SAMLKey opens the organization's SP private key (PEM), to sign and decrypt only.
func (s *Store) SAMLKey(c *SAMLConfig) (string, error) {
	if s.secrets == nil {
		return "", errNoSecretKey
	}
	raw, err := s.secrets.Open(c.SPKeySealed, c.keyOwner())
	if err != nil {
		return "", fmt.Errorf("models: open the SAML key: %w", err)
	}
	return string(raw), nil
}

// SaveSAMLConfig stores the SAML settings of the organization the actor owns; in was
// normalized and its metadata checked. The key is kept once made.
func (s *Store) SaveSAMLConfig(ctx context.Context, a Actor, in SAMLInput) (*SAMLConfig, error) {
	if s.secrets == nil {
		return nil, errNoSecretKey
	}
	var out *SAMLConfig
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		org, err := ownerOrganization(tx, a)
		if err != nil {
			return err
		}
		now := s.now()
		var c SAMLConfig
		err = tx.Where("organization_id = ?", org).Take(&c).Error
		isNew := errors.Is(err, gorm.ErrRecordNotFound)
		if err != nil && !isNew {
			return translate(err)
		}
		var before any
		if isNew {
			c = SAMLConfig{OrganizationID: org, CreatedAt: now}
		} else {
			before = c.audit()
		}
		mapping, err := json.Marshal(in.GroupRoles)
		if err != nil {
			return err
		}
		c.ProviderName, c.MetadataURL, c.MetadataXML, c.IdPEntityID = in.ProviderName, in.MetadataURL, in.MetadataXML, in.IdPEntityID
		c.DefaultRole, c.GroupsAttribute, c.GroupRoles, c.UpdatedAt = in.DefaultRole, in.GroupsAttribute, string(mapping), now
		keyMade := false
		if c.SPKeySealed == "" {
			if in.NewKeyPEM == "" || in.NewCertPEM == "" {
				return errors.New("models: a new SAML configuration needs its key and certificate")
			}
			if c.SPKeySealed, err = s.secrets.Seal([]byte(in.NewKeyPEM), c.keyOwner()); err != nil {
				return err
			}
			c.SPCertPEM, keyMade = in.NewCertPEM, true
		}
		if err := translate(tx.Save(&c).Error); err != nil {
			return err
		}
		after := c.audit()
		after.KeyMade = keyMade
		out = &c
		return s.record(tx, a, change{"saml.update", "saml", org, c.ProviderName, before, after})
	})
	return out, err
}
