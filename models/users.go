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
	"gorm.io/gorm/clause"
)

// User is a person of one organization, with a role in each workspace they are a member
// of (memberships). The e-mail is unique across the installation, not per organization:
// sign-in asks only for an e-mail and a password, so one address must name one account,
// and an invitation to an address that has an account adds a membership to it.
type User struct {
	ID             string
	OrganizationID string
	// WorkspaceID is the workspace a sign-in opens: the last one the user switched to.
	WorkspaceID  string
	Email        string
	Name         string
	PasswordHash string
	// Owner: the user owns the organization, and creates, renames and deletes its
	// workspaces.
	Owner bool
	// Role is the user's role in the workspace they were loaded for (memberships.role);
	// the users table has no role.
	Role         Role `gorm:"->"`
	LastSignInAt *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Membership is a user's role in one workspace.
type Membership struct {
	UserID      string
	WorkspaceID string
	Role        Role
	CreatedAt   time.Time
	UpdatedAt   time.Time
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

// normalize checks the e-mail, name and role; the password is checked only when a new
// account is made (checkPassword), since adding an existing member needs none.
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
	return nil
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

// organizationOf is the organization a workspace belongs to.
func organizationOf(tx *gorm.DB, workspaceID string) (string, error) {
	var org string
	err := tx.Model(&Workspace{}).Where("id = ?", workspaceID).Pluck("organization_id", &org).Error
	if err == nil && org == "" {
		err = gorm.ErrRecordNotFound
	}
	return org, translate(err)
}

// insertUser makes a new account in the workspace's organization, a member of the
// workspace with n's role.
func (s *Store) insertUser(tx *gorm.DB, workspaceID string, n NewUser, owner bool) (*User, error) {
	if err := checkPassword(n.Password); err != nil {
		return nil, err
	}
	org, err := organizationOf(tx, workspaceID)
	if err != nil {
		return nil, err
	}
	hash, err := hashPassword(n.Password)
	if err != nil {
		return nil, err
	}
	now := s.now()
	u := User{ID: newID(), OrganizationID: org, WorkspaceID: workspaceID, Email: n.Email, Name: n.Name, PasswordHash: hash,
		Owner: owner, CreatedAt: now, UpdatedAt: now}
	if err := translate(tx.Create(&u).Error); err != nil {
		if errors.Is(err, ErrConflict) {
			return nil, invalid("email", "A user with this e-mail already exists.")
		}
		return nil, err
	}
	if err := s.addMembership(tx, u.ID, workspaceID, n.Role); err != nil {
		return nil, err
	}
	u.Role = n.Role
	return &u, nil
}

func (s *Store) addMembership(tx *gorm.DB, userID, workspaceID string, role Role) error {
	now := s.now()
	return translate(tx.Create(&Membership{UserID: userID, WorkspaceID: workspaceID, Role: role, CreatedAt: now, UpdatedAt: now}).Error)
}

// accountToAdd is the account of email in the workspace's organization, nil when the
// address has none. One address names one account in the installation, so another
// organization's is refused, as is a member of the workspace already.
func accountToAdd(tx *gorm.DB, workspaceID, email string) (*User, error) {
	var existing User
	err := tx.Where("email = ?", email).Take(&existing).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, translate(err)
	}
	org, err := organizationOf(tx, workspaceID)
	if err != nil {
		return nil, err
	}
	if existing.OrganizationID != org {
		return nil, invalid("email", "This e-mail already has an account in another organization of this installation.")
	}
	var member int64
	if err := tx.Model(&Membership{}).Where("user_id = ? AND workspace_id = ?", existing.ID, workspaceID).Count(&member).Error; err != nil {
		return nil, translate(err)
	}
	if member > 0 {
		return nil, invalid("email", email+" is already a member of this workspace.")
	}
	return &existing, nil
}

// CreateUser adds a user to the actor's workspace. An e-mail that already has an account
// in the workspace's organization gets a membership (no password needed: the account
// has one); one given with a password is refused rather than have the password silently
// ignored or someone's password replaced by whoever adds them. An e-mail of another
// organization's account is refused, since one address names one account.
func (s *Store) CreateUser(ctx context.Context, a Actor, n NewUser) (*User, error) {
	if err := n.normalize(); err != nil {
		return nil, err
	}
	var u *User
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		existing, err := accountToAdd(tx, a.WorkspaceID, n.Email)
		if err != nil {
			return err
		}
		if existing != nil {
			if n.Password != "" {
				return invalid("password", n.Email+" already has an account in this organization, with its own password, which is not changed here. Leave the password out to add the account to this workspace with this role.")
			}
			if err := s.addMembership(tx, existing.ID, a.WorkspaceID, n.Role); err != nil {
				return err
			}
			existing.Role = n.Role
			u = existing
			return s.record(tx, a, change{"user.add", "user", u.ID, u.Email, nil, u.audit()})
		}
		if u, err = s.insertUser(tx, a.WorkspaceID, n, false); err != nil {
			return err
		}
		// The first user made outside /setup (e.g. `sluice user create`) also ends setup,
		// and owns the organization.
		res := tx.Model(&Workspace{}).Where("id = ? AND setup_completed_at IS NULL", a.WorkspaceID).Update("setup_completed_at", s.now())
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected > 0 && u.Role == RoleAdmin {
			if err := tx.Model(u).Update("owner", true).Error; err != nil {
				return translate(err)
			}
			u.Owner = true
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

// SetupFirstAdmin names the first workspace and creates its admin, who owns the
// organization. The guarded update on setup_completed_at makes it succeed once, even
// when two browsers submit together.
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
	if err := checkPassword(n.Password); err != nil {
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
		org, err := organizationOf(tx, DefaultWorkspaceID)
		if err != nil {
			return err
		}
		if err := tx.Model(&Organization{}).Where("id = ?", org).Update("name", workspaceName).Error; err != nil {
			return translate(err)
		}
		if u, err = s.insertUser(tx, DefaultWorkspaceID, n, true); err != nil {
			return err
		}
		a := Actor{WorkspaceID: DefaultWorkspaceID, Type: ActorUser, ID: u.ID, Name: u.Email, Role: RoleAdmin}
		return s.record(tx, a, change{"workspace.setup", "user", u.ID, u.Email, nil, u.audit()})
	})
	return u, err
}

// members reads users with their role in one workspace.
func members(tx *gorm.DB, workspaceID string) *gorm.DB {
	return tx.Model(&User{}).Select("users.*, memberships.role AS role").
		Joins("JOIN memberships ON memberships.user_id = users.id AND memberships.workspace_id = ?", workspaceID)
}

func memberTx(tx *gorm.DB, workspaceID, id string) (*User, error) {
	var u User
	if err := members(tx, workspaceID).Where("users.id = ?", id).Take(&u).Error; err != nil {
		return nil, translate(err)
	}
	return &u, nil
}

// UserByID loads a member of a workspace, with their role in it.
func (s *Store) UserByID(ctx context.Context, workspaceID, id string) (*User, error) {
	return memberTx(s.db.WithContext(ctx), workspaceID, id)
}

// ListUsers returns a workspace's members by e-mail, with their roles in it.
func (s *Store) ListUsers(ctx context.Context, workspaceID string) ([]User, error) {
	var users []User
	err := members(s.db.WithContext(ctx), workspaceID).Order("users.email").Find(&users).Error
	return users, translate(err)
}

// UpdateUserRole changes a member's role in the actor's workspace; a workspace always
// keeps one admin.
func (s *Store) UpdateUserRole(ctx context.Context, a Actor, id string, role Role) (*User, error) {
	if !role.Valid() {
		return nil, invalid("role", "Choose a role: admin, editor, operator or viewer.")
	}
	var u *User
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if u, err = memberTx(tx, a.WorkspaceID, id); err != nil {
			return err
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
		now := s.now()
		if err := tx.Model(&Membership{}).Where("user_id = ? AND workspace_id = ?", u.ID, a.WorkspaceID).
			Updates(map[string]any{"role": role, "updated_at": now}).Error; err != nil {
			return translate(err)
		}
		u.Role = role
		// The user signs in again under the new role, on every browser in this workspace.
		if _, err := endSessionsIn(tx, u.ID, a.WorkspaceID); err != nil {
			return err
		}
		return s.record(tx, a, change{"user.update", "user", u.ID, u.Email, before, u.audit()})
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// DeleteUser removes a member from the actor's workspace. Nobody removes themselves, and
// the last admin stays. A user left without any workspace is deleted, except an
// organization's owner, who stays until they hand the organization over.
func (s *Store) DeleteUser(ctx context.Context, a Actor, id string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		u, err := memberTx(tx, a.WorkspaceID, id)
		if err != nil {
			return err
		}
		if a.Type == ActorUser && a.ID == u.ID {
			return invalid("user", "You cannot remove yourself. Ask another admin.")
		}
		if u.Role == RoleAdmin {
			if err := s.keepOneAdmin(tx, a.WorkspaceID, "user"); err != nil {
				return err
			}
		}
		var others []string
		if err := tx.Model(&Membership{}).Where("user_id = ? AND workspace_id <> ?", u.ID, a.WorkspaceID).
			Order("created_at, workspace_id").Pluck("workspace_id", &others).Error; err != nil {
			return translate(err)
		}
		if len(others) == 0 {
			if err := keepBreakGlass(tx, "user", u.ID, u.Email+" is", "remove them"); err != nil {
				return err
			}
		}
		if len(others) == 0 && u.Owner {
			return invalid("user", u.Email+" owns the organization and has no other workspace; they cannot be removed.")
		}
		if _, err := endSessionsIn(tx, u.ID, a.WorkspaceID); err != nil {
			return err
		}
		if err := tx.Where("user_id = ? AND workspace_id = ?", u.ID, a.WorkspaceID).Delete(&Membership{}).Error; err != nil {
			return translate(err)
		}
		switch {
		case len(others) == 0:
			if _, err := endSessionsOf(tx, u.ID); err != nil {
				return err
			}
			if err := tx.Delete(&User{ID: u.ID}).Error; err != nil {
				return translate(err)
			}
		case u.WorkspaceID == a.WorkspaceID:
			if err := tx.Model(&User{ID: u.ID}).Update("workspace_id", others[0]).Error; err != nil {
				return translate(err)
			}
		}
		return s.record(tx, a, change{"user.delete", "user", u.ID, u.Email, u.audit(), nil})
	})
}

func (s *Store) keepOneAdmin(tx *gorm.DB, workspaceID, field string) error {
	var admins int64
	if err := tx.Model(&Membership{}).Where("workspace_id = ? AND role = ?", workspaceID, RoleAdmin).Count(&admins).Error; err != nil {
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
	if err == nil {
		// The role is the one in the workspace the sign-in opens: the last one used, or
		// any the user is still a member of.
		var m Membership
		err = db.Where("user_id = ?", u.ID).Order(clause.Expr{SQL: "workspace_id = ? DESC, created_at", Vars: []any{u.WorkspaceID}}).Take(&m).Error
		u.WorkspaceID, u.Role = m.WorkspaceID, m.Role
	}
	hash := dummyHash
	if err == nil {
		hash = []byte(u.PasswordHash)
	} else if !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, translate(err)
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || err != nil {
		return nil, ErrBadCredentials // the try stays counted as a failure
	}
	if err := passwordRefusal(db, &u); err != nil {
		return nil, err
	}
	if err := s.signInSucceeded(ctx, pair, address); err != nil {
		return nil, err
	}
	now := s.now()
	return &u, s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&u).Updates(map[string]any{"last_sign_in_at": now, "workspace_id": u.WorkspaceID}).Error; err != nil {
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
