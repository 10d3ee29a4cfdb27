package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"

	"gorm.io/gorm"

	"sluice/connectors"
)

// Source statuses.
const (
	SourceUnknown   = "unknown"
	SourceConnected = "connected"
	SourceBroken    = "broken"
)

// Source is a warehouse connection. Settings marked secret in the connector's spec are
// sealed in SecretsSealed; the others sit in plain JSON.
type Source struct {
	ID            string
	WorkspaceID   string
	Name          string
	Kind          string
	ConfigJSON    string
	SecretsSealed string
	Status        string
	ChecksJSON    string
	ValidatedAt   *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Checks are the results of the last validation, stage by stage.
func (s *Source) Checks() []connectors.Check {
	var checks []connectors.Check
	_ = json.Unmarshal([]byte(s.ChecksJSON), &checks)
	return checks
}

// PublicConfig is the settings that may be shown back: never a secret.
func (s *Source) PublicConfig() map[string]string {
	cfg := map[string]string{}
	_ = json.Unmarshal([]byte(s.ConfigJSON), &cfg)
	return cfg
}

// FailedCheck is the first failing stage, if any.
func (s *Source) FailedCheck() *connectors.Check {
	for _, c := range s.Checks() {
		if !c.OK && !c.Skipped {
			return &c
		}
	}
	return nil
}

func (s *Source) sealOwner() string { return "source:" + s.ID }

type sourceAudit struct {
	Name    string            `json:"name"`
	Kind    string            `json:"kind"`
	Config  map[string]string `json:"config"`
	Secrets []string          `json:"secrets_set,omitempty"`
}

func (s *Source) audit(secretNames []string) sourceAudit {
	return sourceAudit{Name: s.Name, Kind: s.Kind, Config: s.PublicConfig(), Secrets: secretNames}
}

// SourceInput creates or changes a source. On update an empty secret keeps the old one.
type SourceInput struct {
	Name   string
	Config connectors.Config
	// Generated are values of the spec's Generated fields (an SSH tunnel's key pair),
	// which only core sets: the same fields in Config, from a form or the API, are
	// ignored.
	Generated connectors.Config
}

// withGenerated is cfg without what a form or the API sent for generated fields, with
// what core generated instead.
func withGenerated(fields []connectors.FieldSpec, cfg, generated connectors.Config) connectors.Config {
	out := withoutGenerated(fields, cfg)
	for k, v := range generated {
		out[k] = v
	}
	return out
}

// splitConfig separates secret settings from the rest, as the fields say. A URL with
// secrets of its own (user info, query string: connectors.URLHasSecrets), in any other
// field, is sealed whole with the secrets and kept masked with the rest, which is all
// pages, the API and the audit log ever show.
func splitConfig(fields []connectors.FieldSpec, cfg connectors.Config) (public, secret map[string]string) {
	public, secret = map[string]string{}, map[string]string{}
	for _, f := range fields {
		v, ok := cfg[f.Name]
		if !ok {
			continue
		}
		switch {
		case f.Secret:
			secret[f.Name] = v
		case connectors.URLHasSecrets(v):
			public[f.Name], secret[f.Name] = connectors.MaskURL(v), v
		default:
			public[f.Name] = v
		}
	}
	return public, secret
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// errNoSecretKey: a secret is to be sealed or opened without SLUICE_SECRET_KEY.
var errNoSecretKey = errors.New("models: no secret key configured")

func (s *Store) seal(owner string, values map[string]string) (string, error) {
	if len(values) == 0 {
		return "", nil
	}
	if s.secrets == nil {
		return "", errNoSecretKey
	}
	raw, err := json.Marshal(values)
	if err != nil {
		return "", err
	}
	return s.secrets.Seal(raw, owner)
}

func (s *Store) open(owner, sealed string) (map[string]string, error) {
	values := map[string]string{}
	if sealed == "" {
		return values, nil
	}
	if s.secrets == nil {
		return nil, errNoSecretKey
	}
	raw, err := s.secrets.Open(sealed, owner)
	if err != nil {
		return nil, fmt.Errorf("models: open secrets of %s: %w", owner, err)
	}
	return values, json.Unmarshal(raw, &values)
}

// SourceConfig returns a source's full settings, secrets decrypted, for its connector.
func (s *Store) SourceConfig(src *Source) (connectors.Config, error) {
	cfg := connectors.Config(src.PublicConfig())
	secret, err := s.open(src.sealOwner(), src.SecretsSealed)
	if err != nil {
		return nil, err
	}
	for k, v := range secret {
		cfg[k] = v
	}
	return cfg, nil
}

// validName is the rule of every name (source, model, segment, platform, activation):
// one line of printable text. Control characters (NUL, tabs, line breaks…) are refused
// here whatever the caller; the HTTP layer already refuses NUL in any input.
func validName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", invalid("name", "Give it a name.")
	}
	if len(name) > 100 {
		return "", invalid("name", "Keep the name under 100 characters.")
	}
	if strings.ContainsFunc(name, unicode.IsControl) {
		return "", invalid("name", "A name is one line of text: remove the tabs, line breaks or other control characters.")
	}
	return name, nil
}

// CreateSource stores a new source (its first validation is the caller's next step).
func (s *Store) CreateSource(ctx context.Context, a Actor, spec connectors.SourceSpec, in SourceInput) (*Source, error) {
	name, err := validName(in.Name)
	if err != nil {
		return nil, err
	}
	in.Config = withGenerated(spec.Fields, in.Config, in.Generated)
	if err := in.Config.Validate(spec.Fields); err != nil {
		return nil, configFieldError(err)
	}
	now := s.now()
	src := Source{ID: newID(), WorkspaceID: a.WorkspaceID, Name: name, Kind: spec.Kind, Status: SourceUnknown, ChecksJSON: "[]", CreatedAt: now, UpdatedAt: now}
	public, secret := splitConfig(spec.Fields, in.Config)
	if err := s.fillConfig(&src, public, secret); err != nil {
		return nil, err
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := translate(tx.Create(&src).Error); err != nil {
			if errors.Is(err, ErrConflict) {
				return invalid("name", "Another source already has this name.")
			}
			return err
		}
		return s.record(tx, a, change{"source.create", "source", src.ID, src.Name, nil, src.audit(sortedKeys(secret))})
	})
	if err != nil {
		return nil, err
	}
	return &src, nil
}

func (s *Store) fillConfig(src *Source, public, secret map[string]string) error {
	raw, err := json.Marshal(public)
	if err != nil {
		return err
	}
	src.ConfigJSON = string(raw)
	src.SecretsSealed, err = s.seal(src.sealOwner(), secret)
	return err
}

// configFieldError turns a connector's config error into a form field error.
func configFieldError(err error) error {
	if ce, ok := connectors.AsError(err); ok && ce.Field != "" {
		return invalid("config."+ce.Field, ce.Message)
	}
	return err
}

// UpdateSource changes a source's name or settings. Secrets given replace the old ones;
// secrets left empty are kept. Changed settings reset the status until validated again.
func (s *Store) UpdateSource(ctx context.Context, a Actor, id string, spec connectors.SourceSpec, in SourceInput) (*Source, error) {
	var src Source
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("workspace_id = ? AND id = ?", a.WorkspaceID, id).Take(&src).Error; err != nil {
			return translate(err)
		}
		oldSecret, err := s.open(src.sealOwner(), src.SecretsSealed)
		if err != nil {
			return err
		}
		before := src.audit(sortedKeys(oldSecret))
		if in.Name != "" {
			if src.Name, err = validName(in.Name); err != nil {
				return err
			}
		}
		if in.Config != nil {
			merged := mergeConfig(src.PublicConfig(), oldSecret, withGenerated(spec.Fields, in.Config, in.Generated))
			if err := merged.Validate(spec.Fields); err != nil {
				return configFieldError(err)
			}
			public, secret := splitConfig(spec.Fields, merged)
			if err := s.fillConfig(&src, public, secret); err != nil {
				return err
			}
			src.Status, src.ChecksJSON, src.ValidatedAt = SourceUnknown, "[]", nil
		}
		src.UpdatedAt = s.now()
		if err := translate(tx.Save(&src).Error); err != nil {
			if errors.Is(err, ErrConflict) {
				return invalid("name", "Another source already has this name.")
			}
			return err
		}
		newSecret, _ := s.open(src.sealOwner(), src.SecretsSealed)
		return s.record(tx, a, change{"source.update", "source", src.ID, src.Name, before, src.audit(sortedKeys(newSecret))})
	})
	if err != nil {
		return nil, err
	}
	return &src, nil
}

// SetSourceGenerated changes generated settings of a source (an SSH tunnel's key pair,
// the bastion's pinned host key) and records action in the audit log: before and after
// show the public settings, and secrets by name only. An empty value removes the
// setting. The status and checks are kept: the caller validates again when the change
// calls for it.
func (s *Store) SetSourceGenerated(ctx context.Context, a Actor, id, action string, spec connectors.SourceSpec, values connectors.Config) (*Source, error) {
	generated := map[string]bool{}
	for _, f := range spec.Fields {
		generated[f.Name] = f.Generated
	}
	for k := range values {
		if !generated[k] {
			return nil, fmt.Errorf("models: set source setting %q: not a generated field of %s", k, spec.Kind)
		}
	}
	var src Source
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("workspace_id = ? AND id = ?", a.WorkspaceID, id).Take(&src).Error; err != nil {
			return translate(err)
		}
		oldSecret, err := s.open(src.sealOwner(), src.SecretsSealed)
		if err != nil {
			return err
		}
		before := src.audit(sortedKeys(oldSecret))
		cfg := connectors.Config(src.PublicConfig())
		for k, v := range oldSecret {
			cfg[k] = v
		}
		for k, v := range values {
			if v == "" {
				delete(cfg, k)
			} else {
				cfg[k] = v
			}
		}
		public, secret := splitConfig(spec.Fields, cfg)
		if err := s.fillConfig(&src, public, secret); err != nil {
			return err
		}
		src.UpdatedAt = s.now()
		if err := translate(tx.Save(&src).Error); err != nil {
			return err
		}
		return s.record(tx, a, change{action, "source", src.ID, src.Name, before, src.audit(sortedKeys(secret))})
	})
	if err != nil {
		return nil, err
	}
	return &src, nil
}

// mergeConfig applies changed settings to stored ones: given values replace, and an
// empty value for a stored secret keeps it (forms never show secrets back), as does a
// URL sent back as it is shown, its secrets masked (public holds that masked form).
func mergeConfig(public, secret map[string]string, patch connectors.Config) connectors.Config {
	merged := connectors.Config{}
	for k, v := range public {
		merged[k] = v
	}
	for k, v := range secret {
		merged[k] = v
	}
	for k, v := range patch {
		if secret[k] != "" && (v == "" || strings.TrimSpace(v) == public[k]) {
			continue
		}
		merged[k] = v
	}
	return merged
}

// RecordSourceValidation stores the checks of a validation and the status they give.
func (s *Store) RecordSourceValidation(ctx context.Context, workspaceID, id string, checks []connectors.Check) (*Source, error) {
	status := SourceConnected
	for _, c := range checks {
		if !c.OK {
			status = SourceBroken
		}
	}
	raw, err := json.Marshal(checks)
	if err != nil {
		return nil, err
	}
	now := s.now()
	res := s.db.WithContext(ctx).Model(&Source{}).Where("workspace_id = ? AND id = ?", workspaceID, id).
		Updates(map[string]any{"status": status, "checks_json": string(raw), "validated_at": now})
	if res.Error != nil {
		return nil, translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, ErrNotFound
	}
	return s.SourceByID(ctx, workspaceID, id)
}

// SourceByID loads a source of a workspace.
func (s *Store) SourceByID(ctx context.Context, workspaceID, id string) (*Source, error) {
	return byID[Source](ctx, s, workspaceID, id)
}

// ListSources returns a workspace's sources by name.
func (s *Store) ListSources(ctx context.Context, workspaceID string) ([]Source, error) {
	return listByName[Source](ctx, s, workspaceID)
}

// DeleteSource removes a source no model uses.
func (s *Store) DeleteSource(ctx context.Context, a Actor, id string) error {
	return deleteUnused(ctx, s, a, id, "source_id", "model", func(m *DataModel) (string, string) { return m.ID, m.Name },
		func(src *Source) change {
			return change{"source.delete", "source", src.ID, src.Name, src.audit(nil), nil}
		})
}
