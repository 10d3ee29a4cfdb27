package models

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"
)

// APIToken lets scripts use the API as one workspace with one role. Only a hash of the
// token is stored; the token itself is shown once, when it is made.
type APIToken struct {
	ID          string
	WorkspaceID string
	Name        string
	TokenHash   string
	TokenPrefix string
	Role        Role
	CreatedBy   string
	// CreatedByUserID is the user who made the token ("" when Sluice or the command line
	// did, and for tokens made before version 00034): an admin token made by an owner of
	// the organization manages its workspaces while that user owns it (workspaceManager).
	CreatedByUserID string
	LastUsedAt      *time.Time
	CreatedAt       time.Time
}

// Actor is who acts with the token: the token itself, in its workspace, with its role.
func (t *APIToken) Actor() Actor {
	return Actor{WorkspaceID: t.WorkspaceID, Type: ActorToken, ID: t.ID, Name: "token " + t.Name, Role: t.Role}
}

type tokenAudit struct {
	Name   string `json:"name"`
	Role   Role   `json:"role"`
	Prefix string `json:"prefix"`
}

func (t *APIToken) audit() tokenAudit {
	return tokenAudit{Name: t.Name, Role: t.Role, Prefix: t.TokenPrefix}
}

// tokenPrefix starts every token, so leaked ones are easy to recognise in code scans.
const tokenPrefix = "slu_"

// GenerateToken returns a new random token: 160 bits, base32 without padding.
func GenerateToken() string {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic("models: crypto/rand failed: " + err.Error())
	}
	return tokenPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// HashToken is how tokens are kept: SHA-256 is enough for 160 random bits.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// displayPrefix is what is kept to tell a token apart: "slu_" and the first 4 of its 32
// random characters (20 bits of 160, too few to help a guess). A value someone chose
// (SLUICE_BOOTSTRAP_TOKEN) has no random part to spare, so none of it is kept.
func displayPrefix(token string) string {
	if strings.HasPrefix(token, tokenPrefix) && len(token) >= len(tokenPrefix)+20 {
		return token[:len(tokenPrefix)+4]
	}
	return ""
}

// DisplayPrefix is how the token is shown in lists: its short prefix, or a note that
// its value was chosen rather than generated.
func (t *APIToken) DisplayPrefix() string {
	if t.TokenPrefix == "" {
		return "custom value"
	}
	return t.TokenPrefix + "…"
}

// CreateAPIToken makes a token in the actor's workspace and returns it once in plaintext.
func (s *Store) CreateAPIToken(ctx context.Context, a Actor, name string, role Role) (*APIToken, string, error) {
	plaintext := GenerateToken()
	t, err := s.createAPIToken(ctx, a, name, role, plaintext)
	return t, plaintext, err
}

func (s *Store) createAPIToken(ctx context.Context, a Actor, name string, role Role, plaintext string) (*APIToken, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, invalid("name", "Name the token after what uses it, e.g. \"terraform\".")
	}
	if len(name) > 100 {
		return nil, invalid("name", "Keep the name under 100 characters.")
	}
	if !role.Valid() {
		return nil, invalid("role", "Choose a role: admin, editor, operator or viewer.")
	}
	t := APIToken{ID: newID(), WorkspaceID: a.WorkspaceID, Name: name, TokenHash: HashToken(plaintext),
		TokenPrefix: displayPrefix(plaintext), Role: role, CreatedBy: a.Name, CreatedAt: s.now()}
	if a.Type == ActorUser {
		t.CreatedByUserID = a.ID
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := translate(tx.Create(&t).Error); err != nil {
			return err
		}
		return s.record(tx, a, change{"api_token.create", "api_token", t.ID, t.Name, nil, t.audit()})
	})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// EnsureBootstrapToken creates an admin token with exactly this value in the first
// workspace when the database has no token at all. Several instances may race here:
// the unique hash makes all but one a no-op.
func (s *Store) EnsureBootstrapToken(ctx context.Context, value string) (created bool, err error) {
	if len(value) < 16 {
		return false, errors.New("models: SLUICE_BOOTSTRAP_TOKEN must be at least 16 characters")
	}
	var n int64
	if err := s.db.WithContext(ctx).Model(&APIToken{}).Count(&n).Error; err != nil {
		return false, translate(err)
	}
	if n > 0 {
		return false, nil
	}
	a := Actor{WorkspaceID: DefaultWorkspaceID, Type: ActorSystem, Name: "SLUICE_BOOTSTRAP_TOKEN"}
	_, err = s.createAPIToken(ctx, a, "bootstrap", RoleAdmin, value)
	if errors.Is(err, ErrConflict) {
		return false, nil
	}
	return err == nil, err
}

// APITokenByValue finds the token a request presents. Unknown tokens are ErrNotFound.
func (s *Store) APITokenByValue(ctx context.Context, value string) (*APIToken, error) {
	// Every API request asks this: read without reflection.
	t := APIToken{TokenHash: HashToken(value)}
	err := s.db.WithContext(ctx).Model(&APIToken{}).
		Select("id, workspace_id, name, token_prefix, role, created_by, last_used_at, created_at").
		Where("token_hash = ?", t.TokenHash).Limit(1).Row().
		Scan(&t.ID, &t.WorkspaceID, &t.Name, &t.TokenPrefix, &t.Role, &t.CreatedBy, &t.LastUsedAt, &t.CreatedAt)
	if err != nil {
		return nil, translate(err)
	}
	// Note the use at most once a minute, so busy scripts do not write on every request.
	now := s.now()
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > time.Minute {
		t.LastUsedAt = &now
		if err := s.db.WithContext(ctx).Model(&t).Update("last_used_at", now).Error; err != nil {
			return nil, translate(err)
		}
	}
	return &t, nil
}

// ListAPITokens returns a workspace's tokens, newest first.
func (s *Store) ListAPITokens(ctx context.Context, workspaceID string) ([]APIToken, error) {
	var ts []APIToken
	err := s.db.WithContext(ctx).Where("workspace_id = ?", workspaceID).Order("created_at DESC, id DESC").Find(&ts).Error
	return ts, translate(err)
}

// DeleteAPIToken revokes a token at once.
func (s *Store) DeleteAPIToken(ctx context.Context, a Actor, id string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var t APIToken
		if err := tx.Where("workspace_id = ? AND id = ?", a.WorkspaceID, id).Take(&t).Error; err != nil {
			return translate(err)
		}
		if err := tx.Delete(&t).Error; err != nil {
			return translate(err)
		}
		return s.record(tx, a, change{"api_token.delete", "api_token", t.ID, t.Name, t.audit(), nil})
	})
}
