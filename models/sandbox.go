package models

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// SandboxRecord is one record the Sandbox inbox received, with its verdict (Rejection
// empty: accepted). Fields is the record's fields as JSON.
type SandboxRecord struct {
	ID          int64 `gorm:"primaryKey;autoIncrement"`
	WorkspaceID string
	PlatformID  string
	BatchID     string
	RunID       string
	ReceivedAt  time.Time
	Op          string
	RecordKey   string
	Fields      string
	Rejection   string
}

func (SandboxRecord) TableName() string { return "sandbox_records" }

// SandboxKeep is how many received records the inbox keeps per platform: the newest.
const SandboxKeep = 5000

// SandboxPlatform finds a platform of one of kinds by id, in any workspace: for the
// inbox and the built-in authorization server, whose callers prove which platform they
// act for with its generated key (the workspace is then the platform's).
func (s *Store) SandboxPlatform(ctx context.Context, id string, kinds ...string) (*Platform, error) {
	var p Platform
	if err := s.db.WithContext(ctx).Where("id = ? AND kind IN ?", id, kinds).Take(&p).Error; err != nil {
		return nil, translate(err)
	}
	return &p, nil
}

// AddSandboxRecords stores the records of one received batch, all of one platform, and
// forgets that platform's oldest beyond SandboxKeep.
func (s *Store) AddSandboxRecords(ctx context.Context, rows []SandboxRecord) error {
	if len(rows) == 0 {
		return nil
	}
	platformID := rows[0].PlatformID
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.CreateInBatches(rows, 200).Error; err != nil {
			return translate(err)
		}
		return translate(tx.Exec(`DELETE FROM sandbox_records WHERE platform_id = ? AND id <=
			(SELECT id FROM sandbox_records WHERE platform_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`,
			platformID, platformID, SandboxKeep).Error)
	})
}

// SandboxRecords is a page of what a platform's inbox received, newest first, and how
// many records it keeps in all.
func (s *Store) SandboxRecords(ctx context.Context, workspaceID, platformID string, offset, limit int) ([]SandboxRecord, int64, error) {
	q := s.db.WithContext(ctx).Model(&SandboxRecord{}).Where("workspace_id = ? AND platform_id = ?", workspaceID, platformID)
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, translate(err)
	}
	var out []SandboxRecord
	err := q.Order("id DESC").Offset(offset).Limit(limit).Find(&out).Error
	return out, total, translate(err)
}

// SandboxGrant is a grant of Sluice's built-in authorization server. Its code and
// refresh token are stored hashed (HashToken); its access tokens are signed, not stored
// (core/sandbox.go), so AccessHash and AccessExpiresAt stay empty.
type SandboxGrant struct {
	ID              string
	WorkspaceID     string
	UserID          string
	CodeHash        string
	CodeChallenge   string
	RedirectURI     string
	CodeExpiresAt   *time.Time
	AccessHash      string
	AccessExpiresAt *time.Time
	RefreshHash     string
	RevokedAt       *time.Time
	CreatedAt       time.Time
}

func (SandboxGrant) TableName() string { return "sandbox_grants" }

// NewSandboxGrant stores a consent: a grant whose code (stored hashed) may be exchanged
// once, until codeExpires.
func (s *Store) NewSandboxGrant(ctx context.Context, workspaceID, userID, code, challenge, redirectURI string, codeExpires time.Time) error {
	g := SandboxGrant{ID: newID(), WorkspaceID: workspaceID, UserID: userID, CodeHash: HashToken(code),
		CodeChallenge: challenge, RedirectURI: redirectURI, CodeExpiresAt: &codeExpires, CreatedAt: s.now()}
	return translate(s.db.WithContext(ctx).Create(&g).Error)
}

// TakeSandboxCode returns the live grant of code and makes the code unusable: each is
// exchanged once. An unknown, used, expired or revoked code is ErrNotFound.
func (s *Store) TakeSandboxCode(ctx context.Context, code string) (*SandboxGrant, error) {
	var g SandboxGrant
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("code_hash = ? AND revoked_at IS NULL", HashToken(code)).Take(&g).Error; err != nil {
			return translate(err)
		}
		res := tx.Model(&SandboxGrant{}).Where("id = ? AND code_hash = ?", g.ID, g.CodeHash).Update("code_hash", "")
		if res.Error != nil {
			return translate(res.Error)
		}
		if res.RowsAffected != 1 {
			return ErrNotFound // taken by a concurrent request
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if g.CodeExpiresAt == nil || s.now().After(*g.CodeExpiresAt) {
		return nil, ErrNotFound
	}
	return &g, nil
}

// SandboxGrantByRefresh returns the live grant of a refresh token (ErrNotFound when
// unknown or revoked).
func (s *Store) SandboxGrantByRefresh(ctx context.Context, refresh string) (*SandboxGrant, error) {
	var g SandboxGrant
	err := s.db.WithContext(ctx).Where("refresh_hash = ? AND refresh_hash <> '' AND revoked_at IS NULL", HashToken(refresh)).Take(&g).Error
	return &g, translate(err)
}

// IssueSandboxTokens gives a grant its refresh token (stored hashed). Access tokens are
// signed by core, not stored.
func (s *Store) IssueSandboxTokens(ctx context.Context, grantID, refresh string) error {
	return translate(s.db.WithContext(ctx).Model(&SandboxGrant{}).Where("id = ? AND revoked_at IS NULL", grantID).
		Update("refresh_hash", HashToken(refresh)).Error)
}

// LiveSandboxGrant is a grant that was not revoked (ErrNotFound otherwise).
func (s *Store) LiveSandboxGrant(ctx context.Context, id string) (*SandboxGrant, error) {
	var g SandboxGrant
	err := s.db.WithContext(ctx).Where("id = ? AND revoked_at IS NULL", id).Take(&g).Error
	return &g, translate(err)
}

// RevokeSandboxRefresh revokes the grant of a refresh token in the workspace: its access
// and refresh tokens die at once, as when a user removes an app's access.
func (s *Store) RevokeSandboxRefresh(ctx context.Context, workspaceID, refresh string) error {
	res := s.db.WithContext(ctx).Model(&SandboxGrant{}).
		Where("workspace_id = ? AND refresh_hash = ? AND refresh_hash <> '' AND revoked_at IS NULL", workspaceID, HashToken(refresh)).
		Update("revoked_at", s.now())
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}
