package models

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"gorm.io/gorm"

	"sluice/connectors"
)

// Platform statuses.
const (
	PlatformConnected = "connected"
	PlatformBroken    = "broken"
)

// Platform is a configured destination account. Secret settings (API keys, signing
// secrets, OAuth tokens, and any URL's user info and query string) are sealed; the rest
// is plain JSON, URLs masked.
type Platform struct {
	ID            string
	WorkspaceID   string
	Name          string
	Kind          string
	ConfigJSON    string
	SecretsSealed string
	Status        string
	StatusMessage string
	CheckedAt     *time.Time
	// BrokenAt is since when the platform is broken.
	BrokenAt *time.Time
	// OAuth platforms: the grant sealed (Grant), when the access token and the grant
	// expire where known, the scopes granted, and who connected it when.
	OAuthSealed    string `gorm:"column:oauth_sealed"`
	TokenExpiresAt *time.Time
	GrantExpiresAt *time.Time
	Scopes         string
	ConnectedBy    string
	ConnectedAt    *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// PublicConfig is the settings that may be shown back: never a secret.
func (p *Platform) PublicConfig() map[string]string {
	cfg := map[string]string{}
	_ = json.Unmarshal([]byte(p.ConfigJSON), &cfg)
	return cfg
}

func (p *Platform) sealOwner() string { return "platform:" + p.ID }

type platformAudit struct {
	Name    string            `json:"name"`
	Kind    string            `json:"kind"`
	Config  map[string]string `json:"config"`
	Secrets []string          `json:"secrets_set,omitempty"`
	Status  string            `json:"status"`
	// Scopes granted, for OAuth platforms (never the tokens).
	Scopes string `json:"scopes,omitempty"`
}

func (p *Platform) audit(secretNames []string) platformAudit {
	return platformAudit{Name: p.Name, Kind: p.Kind, Config: p.PublicConfig(), Secrets: secretNames, Status: p.Status, Scopes: p.Scopes}
}

// PlatformInput creates or changes a platform; on update an empty secret keeps the old one.
type PlatformInput struct {
	Name   string
	Config connectors.Config
	// Grant is a new OAuth grant from consent (nil: the grant is kept): the actor is
	// recorded as who connected the platform.
	Grant *Grant
}

// connectedBy is how a platform's page names who connected it.
func (a Actor) connectedBy() string { return a.Name }

func (s *Store) fillPlatformConfig(p *Platform, fields []connectors.FieldSpec, cfg connectors.Config) ([]string, error) {
	public, secret := splitConfig(fields, cfg)
	raw, err := json.Marshal(public)
	if err != nil {
		return nil, err
	}
	p.ConfigJSON = string(raw)
	if p.SecretsSealed, err = s.seal(p.sealOwner(), secret); err != nil {
		return nil, err
	}
	return sortedKeys(secret), nil
}

// CreatePlatform stores a destination account (checked by the caller first).
func (s *Store) CreatePlatform(ctx context.Context, a Actor, spec connectors.DestinationSpec, in PlatformInput) (*Platform, error) {
	name, err := validName(in.Name)
	if err != nil {
		return nil, err
	}
	in.Config = withoutGenerated(spec.Config, in.Config)
	now := s.now()
	p := Platform{ID: newID(), WorkspaceID: a.WorkspaceID, Name: name, Kind: spec.Kind, Status: PlatformConnected, CreatedAt: now, UpdatedAt: now}
	for _, f := range spec.Config {
		if f.Generated {
			in.Config[f.Name] = connectors.GeneratedValue(p.ID, RandomToken())
		}
	}
	if err := in.Config.Validate(spec.Config); err != nil {
		return nil, configFieldError(err)
	}
	names, err := s.fillPlatformConfig(&p, spec.Config, in.Config)
	if err != nil {
		return nil, err
	}
	p.ConnectedBy, p.ConnectedAt = a.connectedBy(), &now
	if in.Grant != nil {
		if err := s.fillGrant(&p, in.Grant); err != nil {
			return nil, err
		}
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := translate(tx.Create(&p).Error); err != nil {
			if errors.Is(err, ErrConflict) {
				return invalid("name", "Another platform already has this name.")
			}
			return err
		}
		return s.record(tx, a, change{"platform.create", "platform", p.ID, p.Name, nil, p.audit(names)})
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// UpdatePlatform changes a platform's name or settings (new credentials re-authorize it).
func (s *Store) UpdatePlatform(ctx context.Context, a Actor, id string, spec connectors.DestinationSpec, in PlatformInput) (*Platform, error) {
	var p Platform
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("workspace_id = ? AND id = ?", a.WorkspaceID, id).Take(&p).Error; err != nil {
			return translate(err)
		}
		oldSecret, err := s.open(p.sealOwner(), p.SecretsSealed)
		if err != nil {
			return err
		}
		before := p.audit(sortedKeys(oldSecret))
		if in.Name != "" {
			if p.Name, err = validName(in.Name); err != nil {
				return err
			}
		}
		names := sortedKeys(oldSecret)
		if in.Config != nil {
			merged := mergeConfig(p.PublicConfig(), oldSecret, withoutGenerated(spec.Config, in.Config))
			if err := merged.Validate(spec.Config); err != nil {
				return configFieldError(err)
			}
			if names, err = s.fillPlatformConfig(&p, spec.Config, merged); err != nil {
				return err
			}
		}
		p.UpdatedAt = s.now()
		if in.Grant != nil {
			if err := s.fillGrant(&p, in.Grant); err != nil {
				return err
			}
			p.ConnectedBy, p.ConnectedAt = a.connectedBy(), &p.UpdatedAt
		}
		if err := translate(tx.Save(&p).Error); err != nil {
			if errors.Is(err, ErrConflict) {
				return invalid("name", "Another platform already has this name.")
			}
			return err
		}
		return s.record(tx, a, change{"platform.update", "platform", p.ID, p.Name, before, p.audit(names)})
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// PatchedPlatformConfig is what a platform's full settings would be once UpdatePlatform
// applies patch (secrets left empty or URLs sent back masked are kept), for the
// connector to check them before they are saved.
func (s *Store) PatchedPlatformConfig(p *Platform, fields []connectors.FieldSpec, patch connectors.Config) (connectors.Config, error) {
	secret, err := s.open(p.sealOwner(), p.SecretsSealed)
	if err != nil {
		return nil, err
	}
	return mergeConfig(p.PublicConfig(), secret, withoutGenerated(fields, patch)), nil
}

// withoutGenerated is cfg (a copy) without the values of generated fields: only the store
// sets them, at creation, whatever a form or the API sent.
func withoutGenerated(fields []connectors.FieldSpec, cfg connectors.Config) connectors.Config {
	out := connectors.Config{}
	for k, v := range cfg {
		out[k] = v
	}
	for _, f := range fields {
		if f.Generated {
			delete(out, f.Name)
		}
	}
	return out
}

// PlatformConfig returns a platform's full settings, secrets decrypted, for its connector.
func (s *Store) PlatformConfig(p *Platform) (connectors.Config, error) {
	secret, err := s.open(p.sealOwner(), p.SecretsSealed)
	if err != nil {
		return nil, err
	}
	return mergeConfig(p.PublicConfig(), nil, secret), nil
}

// SetPlatformStatus marks a platform connected or broken (a 401 mid-run breaks it; a
// successful check after new credentials connects it again). It answers whether the
// status changed.
func (s *Store) SetPlatformStatus(ctx context.Context, a Actor, id, status, message string) (bool, error) {
	changed := false
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var p Platform
		if err := tx.Where("workspace_id = ? AND id = ?", a.WorkspaceID, id).Take(&p).Error; err != nil {
			return translate(err)
		}
		now := s.now()
		updates := map[string]any{"status": status, "status_message": message, "checked_at": now}
		if p.Status != status {
			updates["broken_at"] = nil
			if status == PlatformBroken {
				updates["broken_at"] = now
			}
		}
		if err := tx.Model(&p).Updates(updates).Error; err != nil {
			return translate(err)
		}
		if p.Status == status {
			return nil
		}
		changed = true
		type st struct {
			Status  string `json:"status"`
			Message string `json:"message,omitempty"`
		}
		return s.record(tx, a, change{"platform.status", "platform", p.ID, p.Name, st{p.Status, p.StatusMessage}, st{status, message}})
	})
	return changed, err
}

// PlatformByID loads a platform of a workspace.
func (s *Store) PlatformByID(ctx context.Context, workspaceID, id string) (*Platform, error) {
	return byID[Platform](ctx, s, workspaceID, id)
}

// ListPlatforms returns a workspace's platforms by name.
func (s *Store) ListPlatforms(ctx context.Context, workspaceID string) ([]Platform, error) {
	return listByName[Platform](ctx, s, workspaceID)
}

// DeletePlatform removes a platform no activation sends to.
func (s *Store) DeletePlatform(ctx context.Context, a Actor, id string) error {
	return deleteUnused(ctx, s, a, id, "platform_id", "activation", func(d *Activation) (string, string) { return d.ID, d.Name },
		func(p *Platform) change {
			return change{"platform.delete", "platform", p.ID, p.Name, p.audit(nil), nil}
		})
}

// ActivationCountsByPlatform is how many activations send to each platform of a
// workspace, in one query.
func (s *Store) ActivationCountsByPlatform(ctx context.Context, workspaceID string) (map[string]int, error) {
	var rows []struct {
		PlatformID string
		N          int
	}
	err := s.db.WithContext(ctx).Model(&Activation{}).Select("platform_id, COUNT(*) AS n").
		Where("workspace_id = ?", workspaceID).Group("platform_id").Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.PlatformID] = r.N
	}
	return out, nil
}
