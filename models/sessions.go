package models

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"time"

	"gorm.io/gorm"
)

// SessionLifetime is how long a browser session lasts from sign-in, however much it is
// used: a copied cookie is worth at most this long, and less once someone signs out.
const SessionLifetime = 7 * 24 * time.Hour

// lastSeenEvery is how stale last_seen_at may get, so busy pages do not write on every
// request.
const lastSeenEvery = time.Minute

// Session is one signed-in browser. The cookie carries a random token; only its hash is
// stored, so the table cannot be used to sign in. Deleting the row ends the session on
// the next request, whatever the cookie says.
type Session struct {
	ID          string
	TokenHash   string
	UserID      string
	WorkspaceID string
	CreatedAt   time.Time
	LastSeenAt  time.Time
	ExpiresAt   time.Time
	UserAgent   string
	IP          string
}

// sessionAudit is what the audit log keeps of a session: never its token or hash.
type sessionAudit struct {
	Started   time.Time `json:"started"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
}

func (s *Session) audit() sessionAudit {
	return sessionAudit{Started: s.CreatedAt, IP: s.IP, UserAgent: s.UserAgent}
}

// Limits on what a browser may tell about itself.
const (
	maxUserAgent = 300
	maxIP        = 64
)

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// RandomToken is 256 random bits, URL-safe: session tokens, CSRF tokens, OAuth states.
func RandomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("models: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// CreateSession starts a session for a user who just signed in and returns the token for
// the cookie. replaces, when not empty, is the token of the browser's previous session,
// which ends in the same transaction.
func (s *Store) CreateSession(ctx context.Context, u *User, userAgent, ip, replaces string) (string, error) {
	token := RandomToken()
	now := s.now()
	row := Session{ID: newID(), TokenHash: HashToken(token), UserID: u.ID, WorkspaceID: u.WorkspaceID,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(SessionLifetime),
		UserAgent: clip(userAgent, maxUserAgent), IP: clip(ip, maxIP)}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if replaces != "" {
			if err := tx.Where("token_hash = ?", HashToken(replaces)).Delete(&Session{}).Error; err != nil {
				return translate(err)
			}
		}
		return translate(tx.Create(&row).Error)
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

// SignedIn is what a live session stands for: its id, its user (with the role of their
// membership) and the session's workspace, which scopes the whole request.
type SignedIn struct {
	SessionID string
	User      User
	Workspace Workspace
	// Workspaces is how many workspaces the user is a member of: the frame offers a
	// switch between them when there is more than one.
	Workspaces int
}

// SessionUser finds the live session a cookie's token names, with its user and
// workspace in the same query, and notes the visit (at most once a minute). An
// unknown, ended or expired session is ErrNotFound.
func (s *Store) SessionUser(ctx context.Context, token string) (*SignedIn, error) {
	if token == "" {
		return nil, ErrNotFound
	}
	now := s.now()
	db := s.db.WithContext(ctx)
	// Every page asks this, so the row is read without reflection, and without the
	// password hash, which no page needs.
	var (
		in         SignedIn
		u          = &in.User
		w          = &in.Workspace
		lastSeenAt time.Time
	)
	// The role is the user's membership in the session's workspace: a user removed from
	// it, or a workspace deleted, leaves no row, so the session signs nobody in.
	err := db.Table("sessions").
		Select("users.id, users.organization_id, users.email, users.name, users.owner, memberships.role, users.last_sign_in_at, users.created_at, users.updated_at, "+
			"sessions.id, sessions.last_seen_at, sessions.workspace_id, workspaces.organization_id, workspaces.name, workspaces.setup_completed_at, workspaces.demo_seeded_at, workspaces.demo_removed_at, workspaces.demo_story, workspaces.created_at, "+
			"(SELECT COUNT(*) FROM memberships m WHERE m.user_id = sessions.user_id)").
		Joins("JOIN users ON users.id = sessions.user_id").
		Joins("JOIN memberships ON memberships.user_id = sessions.user_id AND memberships.workspace_id = sessions.workspace_id").
		Joins("JOIN workspaces ON workspaces.id = sessions.workspace_id").
		Where("sessions.token_hash = ? AND sessions.expires_at > ?", HashToken(token), now).
		Limit(1).Row().Scan(&u.ID, &u.OrganizationID, &u.Email, &u.Name, &u.Owner, &u.Role, &u.LastSignInAt, &u.CreatedAt, &u.UpdatedAt,
		&in.SessionID, &lastSeenAt, &w.ID, &w.OrganizationID, &w.Name, &w.SetupCompletedAt, &w.DemoSeededAt, &w.DemoRemovedAt, &w.DemoStory, &w.CreatedAt, &in.Workspaces)
	if err != nil {
		return nil, translate(err)
	}
	u.WorkspaceID = w.ID
	if now.Sub(lastSeenAt) > lastSeenEvery {
		if err := db.Model(&Session{}).Where("id = ?", in.SessionID).Update("last_seen_at", now).Error; err != nil {
			return nil, translate(err)
		}
	}
	return &in, nil
}

// SignOut ends the session a cookie's token names and notes the sign-out.
func (s *Store) SignOut(ctx context.Context, a Actor, token string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("token_hash = ?", HashToken(token)).Delete(&Session{}).Error; err != nil {
			return translate(err)
		}
		return s.record(tx, a, change{action: "user.sign_out", resourceType: "session", resourceID: a.ID, resourceName: a.Name})
	})
}

// ListSessions returns a workspace's live sessions, most recently seen first.
func (s *Store) ListSessions(ctx context.Context, workspaceID string) ([]Session, error) {
	var out []Session
	err := s.db.WithContext(ctx).Where("workspace_id = ? AND expires_at > ?", workspaceID, s.now()).
		Order("last_seen_at DESC, id").Find(&out).Error
	return out, translate(err)
}

// EndSession ends one session of the actor's workspace, e.g. a browser left signed in
// somewhere. It returns the session as it was.
func (s *Store) EndSession(ctx context.Context, a Actor, id string) (*Session, error) {
	var row Session
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("workspace_id = ? AND id = ?", a.WorkspaceID, id).Take(&row).Error; err != nil {
			return translate(err)
		}
		u, err := memberTx(tx, a.WorkspaceID, row.UserID)
		if err != nil {
			return err
		}
		if err := tx.Delete(&row).Error; err != nil {
			return translate(err)
		}
		return s.record(tx, a, change{"session.end", "session", row.ID, u.Email, row.audit(), nil})
	})
	if err != nil {
		return nil, err
	}
	return &row, nil
}

// EndUserSessions signs a member of the actor's workspace out of every browser in that
// workspace (their sessions in other workspaces are not this workspace's admins' to end)
// and returns how many sessions ended.
func (s *Store) EndUserSessions(ctx context.Context, a Actor, userID string) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		u, err := memberTx(tx, a.WorkspaceID, userID)
		if err != nil {
			return err
		}
		if n, err = endSessionsIn(tx, u.ID, a.WorkspaceID); err != nil {
			return err
		}
		return s.record(tx, a, change{"session.end_all", "session", u.ID, u.Email, nil, map[string]int64{"sessions": n}})
	})
	return n, err
}

// endSessionsOf ends every session of a user, in the caller's transaction: a change to
// who they are or what they may do takes effect on every browser at once.
func endSessionsOf(tx *gorm.DB, userID string) (int64, error) {
	res := tx.Where("user_id = ?", userID).Delete(&Session{})
	return res.RowsAffected, translate(res.Error)
}

// endSessionsIn ends a user's sessions in one workspace, in the caller's transaction.
func endSessionsIn(tx *gorm.DB, userID, workspaceID string) (int64, error) {
	res := tx.Where("user_id = ? AND workspace_id = ?", userID, workspaceID).Delete(&Session{})
	return res.RowsAffected, translate(res.Error)
}

// SwitchWorkspace moves a session to another workspace of its user, which later sign-ins
// open too. A workspace the user is not a member of is ErrNotFound.
func (s *Store) SwitchWorkspace(ctx context.Context, sessionID, userID, workspaceID string) (*Membership, error) {
	var m Membership
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("user_id = ? AND workspace_id = ?", userID, workspaceID).Take(&m).Error; err != nil {
			return translate(err)
		}
		if err := tx.Model(&Session{}).Where("id = ? AND user_id = ?", sessionID, userID).Update("workspace_id", workspaceID).Error; err != nil {
			return translate(err)
		}
		return translate(tx.Model(&User{}).Where("id = ?", userID).Update("workspace_id", workspaceID).Error)
	})
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// PruneSessions forgets sessions past their expiry.
func (s *Store) PruneSessions(ctx context.Context) (int64, error) {
	res := s.db.WithContext(ctx).Where("expires_at <= ?", s.now()).Delete(&Session{})
	return res.RowsAffected, translate(res.Error)
}
