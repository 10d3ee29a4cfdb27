package models

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
)

// User is a person who signs in to one workspace.
type User struct {
	ID           string
	WorkspaceID  string
	Email        string
	Name         string
	PasswordHash string
	Role         Role
	LastSignInAt *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// DisplayName is the name, or the e-mail when no name was given.
func (u *User) DisplayName() string {
	if u.Name != "" {
		return u.Name
	}
	return u.Email
}

// userAudit is what the audit log keeps of a user: never the password hash.
type userAudit struct {
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  Role   `json:"role"`
}

func (u *User) audit() userAudit { return userAudit{Email: u.Email, Name: u.Name, Role: u.Role} }

// NewUser is the input for creating a user.
type NewUser struct {
	Email    string
	Name     string
	Password string
	Role     Role
}

// Password rules: long enough to resist guessing, short enough for bcrypt's 72-byte limit.
const (
	MinPasswordLength = 10
	maxPasswordBytes  = 72
	bcryptCost        = 11
)

func (n *NewUser) normalize() error {
	n.Email = strings.ToLower(strings.TrimSpace(n.Email))
	n.Name = strings.TrimSpace(n.Name)
	if n.Email == "" {
		return invalid("email", "Enter an e-mail address.")
	}
	if a, err := mail.ParseAddress(n.Email); err != nil || a.Address != n.Email || !strings.Contains(n.Email, ".") {
		return invalid("email", "This is not a valid e-mail address.")
	}
	if len(n.Name) > 100 {
		return invalid("name", "Keep the name under 100 characters.")
	}
	if !n.Role.Valid() {
		return invalid("role", "Choose a role: admin, editor, operator or viewer.")
	}
	return checkPassword(n.Password)
}

func checkPassword(p string) error {
	switch {
	case len([]rune(p)) < MinPasswordLength:
		return invalid("password", fmt.Sprintf("Use at least %d characters.", MinPasswordLength))
	case len(p) > maxPasswordBytes:
		return invalid("password", fmt.Sprintf("Use at most %d bytes (a limit of the hashing scheme).", maxPasswordBytes))
	}
	return nil
}

func hashPassword(p string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(p), bcryptCost)
	if err != nil {
		return "", fmt.Errorf("models: hash password: %w", err)
	}
	return string(h), nil
}

func (s *Store) insertUser(tx *gorm.DB, workspaceID string, n NewUser) (*User, error) {
	hash, err := hashPassword(n.Password)
	if err != nil {
		return nil, err
	}
	now := s.now()
	u := User{ID: newID(), WorkspaceID: workspaceID, Email: n.Email, Name: n.Name, PasswordHash: hash, Role: n.Role, CreatedAt: now, UpdatedAt: now}
	if err := translate(tx.Create(&u).Error); err != nil {
		if errors.Is(err, ErrConflict) {
			return nil, invalid("email", "A user with this e-mail already exists.")
		}
		return nil, err
	}
	return &u, nil
}

// CreateUser adds a user to the actor's workspace.
func (s *Store) CreateUser(ctx context.Context, a Actor, n NewUser) (*User, error) {
	if err := n.normalize(); err != nil {
		return nil, err
	}
	var u *User
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if u, err = s.insertUser(tx, a.WorkspaceID, n); err != nil {
			return err
		}
		// The first user made outside /setup (e.g. `sluice user create`) also ends setup.
		if err := tx.Model(&Workspace{}).Where("id = ? AND setup_completed_at IS NULL", a.WorkspaceID).
			Update("setup_completed_at", s.now()).Error; err != nil {
			return err
		}
		return s.record(tx, a, change{"user.create", "user", u.ID, u.Email, nil, u.audit()})
	})
	return u, err
}

// ErrSetupDone means the first admin exists already; /setup is gone.
var ErrSetupDone = errors.New("models: setup already completed")

// NeedsSetup reports whether the installation has no user yet.
func (s *Store) NeedsSetup(ctx context.Context) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&User{}).Limit(1).Count(&n).Error
	return n == 0, translate(err)
}

// SetupFirstAdmin names the first workspace and creates its admin. The guarded update on
// setup_completed_at makes it succeed once, even when two browsers submit together.
func (s *Store) SetupFirstAdmin(ctx context.Context, workspaceName string, n NewUser) (*User, error) {
	n.Role = RoleAdmin
	workspaceName = strings.TrimSpace(workspaceName)
	if workspaceName == "" {
		return nil, invalid("workspace", "Give your workspace a name, e.g. your company's.")
	}
	if len(workspaceName) > 100 {
		return nil, invalid("workspace", "Keep the name under 100 characters.")
	}
	if err := n.normalize(); err != nil {
		return nil, err
	}
	var u *User
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var users int64
		if err := tx.Model(&User{}).Count(&users).Error; err != nil {
			return translate(err)
		}
		if users > 0 {
			return ErrSetupDone
		}
		res := tx.Model(&Workspace{}).Where("id = ? AND setup_completed_at IS NULL", DefaultWorkspaceID).
			Updates(map[string]any{"setup_completed_at": s.now(), "name": workspaceName})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrSetupDone
		}
		var err error
		if u, err = s.insertUser(tx, DefaultWorkspaceID, n); err != nil {
			return err
		}
		a := Actor{WorkspaceID: DefaultWorkspaceID, Type: ActorUser, ID: u.ID, Name: u.Email, Role: RoleAdmin}
		return s.record(tx, a, change{"workspace.setup", "user", u.ID, u.Email, nil, u.audit()})
	})
	return u, err
}

// UserByID loads a user of a workspace.
func (s *Store) UserByID(ctx context.Context, workspaceID, id string) (*User, error) {
	return byID[User](ctx, s, workspaceID, id)
}

// ListUsers returns a workspace's users by e-mail.
func (s *Store) ListUsers(ctx context.Context, workspaceID string) ([]User, error) {
	var users []User
	err := s.db.WithContext(ctx).Where("workspace_id = ?", workspaceID).Order("email").Find(&users).Error
	return users, translate(err)
}

// UpdateUserRole changes a user's role; a workspace always keeps one admin.
func (s *Store) UpdateUserRole(ctx context.Context, a Actor, id string, role Role) (*User, error) {
	if !role.Valid() {
		return nil, invalid("role", "Choose a role: admin, editor, operator or viewer.")
	}
	var u User
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("workspace_id = ? AND id = ?", a.WorkspaceID, id).Take(&u).Error; err != nil {
			return translate(err)
		}
		if u.Role == role {
			return nil
		}
		before := u.audit()
		if u.Role == RoleAdmin {
			if err := s.keepOneAdmin(tx, a.WorkspaceID, "role"); err != nil {
				return err
			}
		}
		u.Role, u.UpdatedAt = role, s.now()
		if err := tx.Model(&u).Updates(map[string]any{"role": role, "updated_at": u.UpdatedAt}).Error; err != nil {
			return translate(err)
		}
		// The user signs in again under the new role, wherever they were signed in.
		if _, err := endSessionsOf(tx, u.ID); err != nil {
			return err
		}
		return s.record(tx, a, change{"user.update", "user", u.ID, u.Email, before, u.audit()})
	})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// DeleteUser removes a user. Nobody removes themselves, and the last admin stays.
func (s *Store) DeleteUser(ctx context.Context, a Actor, id string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var u User
		if err := tx.Where("workspace_id = ? AND id = ?", a.WorkspaceID, id).Take(&u).Error; err != nil {
			return translate(err)
		}
		if a.Type == ActorUser && a.ID == u.ID {
			return invalid("user", "You cannot remove yourself. Ask another admin.")
		}
		if u.Role == RoleAdmin {
			if err := s.keepOneAdmin(tx, a.WorkspaceID, "user"); err != nil {
				return err
			}
		}
		if _, err := endSessionsOf(tx, u.ID); err != nil {
			return err
		}
		if err := tx.Delete(&u).Error; err != nil {
			return translate(err)
		}
		return s.record(tx, a, change{"user.delete", "user", u.ID, u.Email, u.audit(), nil})
	})
}

func (s *Store) keepOneAdmin(tx *gorm.DB, workspaceID, field string) error {
	var admins int64
	if err := tx.Model(&User{}).Where("workspace_id = ? AND role = ?", workspaceID, RoleAdmin).Count(&admins).Error; err != nil {
		return translate(err)
	}
	if admins <= 1 {
		return invalid(field, "A workspace needs at least one admin. Make someone else admin first.")
	}
	return nil
}

// ErrBadCredentials never says which of e-mail or password was wrong.
var ErrBadCredentials = errors.New("models: wrong e-mail or password")

// dummyHash is compared against when the e-mail is unknown, so the answer takes as long
// as for a known e-mail and does not reveal which addresses have accounts.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("sluice-timing-equaliser"), bcryptCost)

// Authenticate checks an e-mail and password tried from the client address ip. Failures
// are throttled per (address, e-mail) and per address (throttle.go), never per e-mail
// alone: a stranger's wrong passwords never keep the account's owner out. A try that
// must wait is refused with a *ThrottledError (errors.Is ErrThrottled) before the
// password is looked at.
func (s *Store) Authenticate(ctx context.Context, email, password, ip string) (*User, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	db := s.db.WithContext(ctx)
	pair, address, err := s.takeSignInTry(ctx, email, ip)
	if err != nil {
		return nil, err
	}
	var u User
	err = db.Where("email = ?", email).Take(&u).Error
	hash := dummyHash
	if err == nil {
		hash = []byte(u.PasswordHash)
	} else if !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, translate(err)
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || err != nil {
		return nil, ErrBadCredentials // the try stays counted as a failure
	}
	if err := s.signInSucceeded(ctx, pair, address); err != nil {
		return nil, err
	}
	now := s.now()
	return &u, s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&u).Update("last_sign_in_at", now).Error; err != nil {
			return err
		}
		a := Actor{WorkspaceID: u.WorkspaceID, Type: ActorUser, ID: u.ID, Name: u.Email, Role: u.Role}
		return s.record(tx, a, change{action: "user.sign_in", resourceType: "session", resourceID: u.ID, resourceName: u.Email})
	})
}

// RecordSignOut notes a sign-out in the audit log.
func (s *Store) RecordSignOut(ctx context.Context, a Actor) error {
	return s.record(s.db.WithContext(ctx), a, change{action: "user.sign_out", resourceType: "session", resourceID: a.ID, resourceName: a.Name})
}
