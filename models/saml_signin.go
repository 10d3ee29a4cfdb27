package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"gorm.io/gorm"
)

// SAMLOutcome is what the assertion consumer service made of a SAML response: the
// person's claims, or why the response was refused. The ACS is posted to from the
// identity provider's page, a cross-site post that carries none of the browser's
// cookies, so it keeps the outcome under a one-time code and sends the browser on to a
// page of Sluice's own, where the session shows whether this browser started the sign-in.
type SAMLOutcome struct {
	OrganizationID string
	// Started is the hash of the relay state of the sign-in the response answers; the
	// browser that started it holds the same hash in its session.
	Started string
	Next    string
	Claims  SSOClaims
	// Refusal, when set, is why the response was refused, shown to that browser only.
	Refusal string
}

// SAMLOutcomeTTL is how long an outcome waits for its browser: it follows the ACS's
// redirect at once.
const SAMLOutcomeTTL = 2 * time.Minute

// samlOutcomeHash keeps codes and relay states apart in sso_states: a relay state given
// as a code finds nothing.
func samlOutcomeHash(code string) string { return HashToken("saml-outcome:" + code) }

// SaveSAMLOutcome keeps o under code for TakeSAMLOutcome, for SAMLOutcomeTTL.
func (s *Store) SaveSAMLOutcome(ctx context.Context, code string, o SAMLOutcome) error {
	return s.saveSSOState(ctx, samlOutcomeHash(code), o.OrganizationID, o, SAMLOutcomeTTL)
}

// TakeSAMLOutcome returns and forgets the outcome under code: each is used once.
// Unknown or expired: ErrNotFound.
func (s *Store) TakeSAMLOutcome(ctx context.Context, code string) (*SAMLOutcome, error) {
	var o SAMLOutcome
	if err := s.takeSSOState(ctx, samlOutcomeHash(code), &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// saveSSOState keeps v (JSON, sealed) in sso_states under hash for ttl; expired rows go.
func (s *Store) saveSSOState(ctx context.Context, hash, orgID string, v any, ttl time.Duration) error {
	if s.secrets == nil {
		return errNoSecretKey
	}
	raw, err := json.Marshal(v)
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
		return translate(tx.Create(&ssoState{StateHash: hash, OrganizationID: orgID, Sealed: sealed, ExpiresAt: now.Add(ttl)}).Error)
	})
}

// takeSSOState reads into v and deletes the row under hash; unknown or expired:
// ErrNotFound.
func (s *Store) takeSSOState(ctx context.Context, hash string, v any) error {
	var row ssoState
	if err := s.takeState(ctx, hash, &row); err != nil {
		return err
	}
	if s.now().After(row.ExpiresAt) {
		return ErrNotFound
	}
	if s.secrets == nil {
		return errNoSecretKey
	}
	raw, err := s.secrets.Open(row.Sealed, "sso-state:"+hash)
	if err != nil {
		return fmt.Errorf("models: open an SSO state: %w", err)
	}
	return json.Unmarshal(raw, v)
}

// SAMLMetadataRead is the identity provider's metadata read again from its URL.
type SAMLMetadataRead struct {
	XML    string
	ReadAt time.Time
	// Before and After sum up what sign-ins rely on (the signing certificates, the
	// sign-in URL): when they differ, the change goes to the audit log.
	Before, After any
}

// NoteSAMLMetadataTry stamps when the organization's metadata URL was asked for fresh
// metadata, before the answer comes: sign-ins started meanwhile and after a failure
// do not ask again until it is due (core decides when).
func (s *Store) NoteSAMLMetadataTry(ctx context.Context, orgID string, at time.Time) error {
	return translate(s.db.WithContext(ctx).Model(&SAMLConfig{}).Where("organization_id = ?", orgID).
		UpdateColumn("metadata_tried_at", at).Error)
}

// SetSAMLMetadata stores metadata read again from the organization's metadata URL. It
// is the provider's doing, not a person's: a change of what sign-ins rely on is audited
// as the system's, in the organization's trail (and its first workspace's log).
func (s *Store) SetSAMLMetadata(ctx context.Context, orgID string, in SAMLMetadataRead) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var c SAMLConfig
		if err := tx.Where("organization_id = ?", orgID).Take(&c).Error; err != nil {
			return translate(err)
		}
		if err := tx.Model(&SAMLConfig{}).Where("organization_id = ?", orgID).
			Updates(map[string]any{"metadata_xml": in.XML, "metadata_read_at": in.ReadAt}).Error; err != nil {
			return translate(err)
		}
		if reflect.DeepEqual(in.Before, in.After) {
			return nil
		}
		var first Workspace
		err := tx.Where("organization_id = ?", orgID).Order("created_at, id").Take(&first).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil
		}
		if err != nil {
			return translate(err)
		}
		a := Actor{WorkspaceID: first.ID, Type: ActorSystem, Name: c.ProviderName}
		return s.recordOrg(tx, a, orgID, change{"saml.metadata_refresh", "saml", orgID, c.ProviderName, in.Before, in.After})
	})
}
