package models

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"sluice/connectors"
)

// Grant is what an OAuth platform holds after consent: its tokens, sealed at rest.
type Grant struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	Expiry       time.Time `json:"expiry"` // the access token's; zero when it does not expire
	// GrantExpiry is when the grant itself ends and only re-authorizing helps (a refresh
	// token's own expiry, or a long-lived token without refresh): zero when unknown.
	GrantExpiry time.Time `json:"grant_expiry"`
	Scopes      []string  `json:"scopes,omitempty"`
}

func (p *Platform) grantOwner() string { return "platform-grant:" + p.ID }

// HasGrant reports whether the platform was authorized with OAuth.
func (p *Platform) HasGrant() bool { return p.OAuthSealed != "" }

// ScopeList is the scopes the platform was granted.
func (p *Platform) ScopeList() []string { return strings.Fields(p.Scopes) }

// PlatformGrant opens a platform's grant.
func (s *Store) PlatformGrant(p *Platform) (*Grant, error) {
	if p.OAuthSealed == "" {
		return nil, fmt.Errorf("models: platform %s has no OAuth grant", p.ID)
	}
	if s.secrets == nil {
		return nil, errNoSecretKey
	}
	raw, err := s.secrets.Open(p.OAuthSealed, p.grantOwner())
	if err != nil {
		return nil, fmt.Errorf("models: open the grant of %s: %w", p.ID, err)
	}
	var g Grant
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, fmt.Errorf("models: read the grant of %s: %w", p.ID, err)
	}
	return &g, nil
}

// fillGrant seals g into p with the columns shown about it.
func (s *Store) fillGrant(p *Platform, g *Grant) error {
	if s.secrets == nil {
		return errNoSecretKey
	}
	raw, err := json.Marshal(g)
	if err != nil {
		return err
	}
	if p.OAuthSealed, err = s.secrets.Seal(raw, p.grantOwner()); err != nil {
		return err
	}
	p.TokenExpiresAt, p.GrantExpiresAt = timeOrNil(g.Expiry), timeOrNil(g.GrantExpiry)
	p.Scopes = strings.Join(g.Scopes, " ")
	return nil
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// RefreshGrant gives the platform's grant, refreshed first when fresh says it must be: one
// refresh at a time for a platform, across this process's runs and, on PostgreSQL, every
// instance (the platform's row is locked while refreshing); those that waited find the
// new grant and reuse it. refresh's error is returned as it is and nothing is stored.
func (s *Store) RefreshGrant(ctx context.Context, workspaceID, id string, fresh func(*Grant) bool, refresh func(*Grant) (*Grant, error)) (*Grant, error) {
	mu, _ := s.grantLocks.LoadOrStore(id, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	var out *Grant
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		q := tx.Where("workspace_id = ? AND id = ?", workspaceID, id)
		if s.dialect == "postgres" {
			q = q.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		var p Platform
		if err := q.Take(&p).Error; err != nil {
			return translate(err)
		}
		g, err := s.PlatformGrant(&p)
		if err != nil {
			return err
		}
		if fresh(g) {
			out = g
			return nil
		}
		ng, err := refresh(g)
		if err != nil {
			return err
		}
		if err := s.fillGrant(&p, ng); err != nil {
			return err
		}
		out = ng
		return translate(tx.Model(&p).Updates(map[string]any{"oauth_sealed": p.OAuthSealed,
			"token_expires_at": p.TokenExpiresAt, "grant_expires_at": p.GrantExpiresAt, "scopes": p.Scopes}).Error)
	})
	return out, err
}

// OAuthStart is a consent under way: who asked, and what to do when the provider sends
// the user back (connect a new platform of Kind called Name with Config, or re-authorize
// PlatformID), with the PKCE verifier.
type OAuthStart struct {
	WorkspaceID string
	UserID      string
	PlatformID  string
	Kind        string
	Name        string
	Config      connectors.Config
	Verifier    string
	ExpiresAt   time.Time
}

type oauthState struct {
	StateHash   string `gorm:"primaryKey"`
	WorkspaceID string
	UserID      string
	PlatformID  string
	Kind        string
	Name        string
	Sealed      string
	ExpiresAt   time.Time
}

func (oauthState) TableName() string { return "oauth_states" }

// OAuthStateTTL is how long a consent may take.
const OAuthStateTTL = 10 * time.Minute

// SaveOAuthStart keeps st under state (stored hashed), for TakeOAuthStart; expired ones go.
func (s *Store) SaveOAuthStart(ctx context.Context, state string, st OAuthStart) error {
	if s.secrets == nil {
		return errNoSecretKey
	}
	hash := HashToken(state)
	raw, err := json.Marshal(struct {
		Config   connectors.Config `json:"config"`
		Verifier string            `json:"verifier"`
	}{st.Config, st.Verifier})
	if err != nil {
		return err
	}
	sealed, err := s.secrets.Seal(raw, "oauth-state:"+hash)
	if err != nil {
		return err
	}
	now := s.now()
	row := oauthState{StateHash: hash, WorkspaceID: st.WorkspaceID, UserID: st.UserID, PlatformID: st.PlatformID,
		Kind: st.Kind, Name: st.Name, Sealed: sealed, ExpiresAt: now.Add(OAuthStateTTL)}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("expires_at < ?", now).Delete(&oauthState{}).Error; err != nil {
			return translate(err)
		}
		return translate(tx.Create(&row).Error)
	})
}

// takeState reads the sign-in or consent state row under hash into row and deletes it,
// in one transaction: each state is used once. Unknown, or taken by a concurrent
// request: ErrNotFound.
func (s *Store) takeState(ctx context.Context, hash string, row any) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("state_hash = ?", hash).Take(row).Error; err != nil {
			return translate(err)
		}
		res := tx.Where("state_hash = ?", hash).Delete(row)
		if res.Error != nil {
			return translate(res.Error)
		}
		if res.RowsAffected != 1 {
			return ErrNotFound
		}
		return nil
	})
}

// TakeOAuthStart returns and forgets the consent under state: each is used once. An
// unknown or expired state is ErrNotFound.
func (s *Store) TakeOAuthStart(ctx context.Context, state string) (*OAuthStart, error) {
	hash := HashToken(state)
	var row oauthState
	if err := s.takeState(ctx, hash, &row); err != nil {
		return nil, err
	}
	if s.now().After(row.ExpiresAt) {
		return nil, ErrNotFound
	}
	raw, err := s.secrets.Open(row.Sealed, "oauth-state:"+hash)
	if err != nil {
		return nil, fmt.Errorf("models: open an OAuth state: %w", err)
	}
	var sealed struct {
		Config   connectors.Config `json:"config"`
		Verifier string            `json:"verifier"`
	}
	if err := json.Unmarshal(raw, &sealed); err != nil {
		return nil, err
	}
	return &OAuthStart{WorkspaceID: row.WorkspaceID, UserID: row.UserID, PlatformID: row.PlatformID, Kind: row.Kind,
		Name: row.Name, Config: sealed.Config, Verifier: sealed.Verifier, ExpiresAt: row.ExpiresAt}, nil
}

// PlatformsWithGrantEnd lists the platforms, of every workspace, whose authorization has
// a known end.
func (s *Store) PlatformsWithGrantEnd(ctx context.Context) ([]Platform, error) {
	var out []Platform
	err := s.db.WithContext(ctx).Where("grant_expires_at IS NOT NULL").Order("grant_expires_at").Find(&out).Error
	return out, translate(err)
}
