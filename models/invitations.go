package models

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"
)

// InvitationLifetime is how long an invitation's link works.
const InvitationLifetime = 7 * 24 * time.Hour

// Invitation asks someone, by e-mail, to work in a workspace with a role. The link holds
// a random token; only its hash is stored. It is used once: accepted, revoked or past
// ExpiresAt, it opens nothing.
type Invitation struct {
	ID          string
	WorkspaceID string
	Email       string
	Role        Role
	TokenHash   string
	InvitedBy   string
	SentAt      time.Time
	ExpiresAt   time.Time
	AcceptedAt  *time.Time
	RevokedAt   *time.Time
	CreatedAt   time.Time
}

// Now is the store's clock, which says when invitations expire.
func (s *Store) Now() time.Time { return s.now() }

// Expired reports whether the link has stopped working by now.
func (i *Invitation) Expired(now time.Time) bool { return !now.Before(i.ExpiresAt) }

type invitationAudit struct {
	Email     string    `json:"email"`
	Role      Role      `json:"role"`
	ExpiresAt time.Time `json:"expires_at"`
	// Via says how an invitation was accepted other than by its link: "sso", at the
	// first sign-in with the organization's identity provider.
	Via string `json:"via,omitempty"`
}

func (i *Invitation) audit() invitationAudit {
	return invitationAudit{Email: i.Email, Role: i.Role, ExpiresAt: i.ExpiresAt}
}

// ErrInvitationExpired: the link is right but too old; the inviter can resend it.
var ErrInvitationExpired = errors.New("models: invitation expired")

// InviteUser invites an e-mail to the actor's workspace with a role and returns the
// invitation with the link's token, which is not stored. Refused: a member already, an
// account of another organization, and an address with a live invitation (resend it).
func (s *Store) InviteUser(ctx context.Context, a Actor, email string, role Role) (*Invitation, string, error) {
	n := NewUser{Email: email, Role: role}
	if err := n.normalize(); err != nil {
		return nil, "", err
	}
	token := RandomToken()
	now := s.now()
	inv := Invitation{ID: newID(), WorkspaceID: a.WorkspaceID, Email: n.Email, Role: n.Role, TokenHash: HashToken(token),
		InvitedBy: a.Name, SentAt: now, ExpiresAt: now.Add(InvitationLifetime), CreatedAt: now}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if _, err := accountToAdd(tx, a.WorkspaceID, n.Email); err != nil {
			return err
		}
		var live int64
		if err := tx.Model(&Invitation{}).Where("workspace_id = ? AND email = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?",
			a.WorkspaceID, n.Email, now).Count(&live).Error; err != nil {
			return translate(err)
		}
		if live > 0 {
			return invalid("email", n.Email+" has an invitation waiting. Resend it from the list below.")
		}
		if err := tx.Create(&inv).Error; err != nil {
			return translate(err)
		}
		return s.record(tx, a, change{"invitation.create", "invitation", inv.ID, inv.Email, nil, inv.audit()})
	})
	if err != nil {
		return nil, "", err
	}
	return &inv, token, nil
}

// ListInvitations returns a workspace's invitations neither accepted nor revoked, the
// expired ones too (to resend), newest first.
func (s *Store) ListInvitations(ctx context.Context, workspaceID string) ([]Invitation, error) {
	var out []Invitation
	err := s.db.WithContext(ctx).Where("workspace_id = ? AND accepted_at IS NULL AND revoked_at IS NULL", workspaceID).
		Order("created_at DESC, id DESC").Find(&out).Error
	return out, translate(err)
}

func openInvitation(tx *gorm.DB, workspaceID, id string) (*Invitation, error) {
	var inv Invitation
	if err := tx.Where("workspace_id = ? AND id = ? AND accepted_at IS NULL AND revoked_at IS NULL", workspaceID, id).Take(&inv).Error; err != nil {
		return nil, translate(err)
	}
	return &inv, nil
}

// ResendInvitation gives an invitation of the actor's workspace a new token and a new
// expiry; the previous link stops working. It returns the new token.
func (s *Store) ResendInvitation(ctx context.Context, a Actor, id string) (*Invitation, string, error) {
	token := RandomToken()
	var inv *Invitation
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if inv, err = openInvitation(tx, a.WorkspaceID, id); err != nil {
			return err
		}
		before := inv.audit()
		now := s.now()
		inv.TokenHash, inv.SentAt, inv.ExpiresAt = HashToken(token), now, now.Add(InvitationLifetime)
		if err := tx.Model(inv).Updates(map[string]any{"token_hash": inv.TokenHash, "sent_at": now, "expires_at": inv.ExpiresAt}).Error; err != nil {
			return translate(err)
		}
		return s.record(tx, a, change{"invitation.resend", "invitation", inv.ID, inv.Email, before, inv.audit()})
	})
	if err != nil {
		return nil, "", err
	}
	return inv, token, nil
}

// RevokeInvitation ends an invitation of the actor's workspace: its link opens nothing.
func (s *Store) RevokeInvitation(ctx context.Context, a Actor, id string) (*Invitation, error) {
	var inv *Invitation
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if inv, err = openInvitation(tx, a.WorkspaceID, id); err != nil {
			return err
		}
		now := s.now()
		inv.RevokedAt = &now
		if err := tx.Model(inv).Update("revoked_at", now).Error; err != nil {
			return translate(err)
		}
		return s.record(tx, a, change{"invitation.revoke", "invitation", inv.ID, inv.Email, inv.audit(), nil})
	})
	if err != nil {
		return nil, err
	}
	return inv, nil
}

// InvitationByToken finds the invitation a link names, with its workspace, and whether
// an account with its e-mail exists already (then it is accepted after signing in). An
// unknown, accepted or revoked link is ErrNotFound; an expired one ErrInvitationExpired.
func (s *Store) InvitationByToken(ctx context.Context, token string) (*Invitation, *Workspace, bool, error) {
	if token == "" {
		return nil, nil, false, ErrNotFound
	}
	db := s.db.WithContext(ctx)
	var inv Invitation
	if err := db.Where("token_hash = ? AND accepted_at IS NULL AND revoked_at IS NULL", HashToken(token)).Take(&inv).Error; err != nil {
		return nil, nil, false, translate(err)
	}
	if inv.Expired(s.now()) {
		return &inv, nil, false, ErrInvitationExpired
	}
	w, err := s.WorkspaceByID(ctx, inv.WorkspaceID)
	if err != nil {
		return nil, nil, false, err
	}
	var accounts int64
	if err := db.Model(&User{}).Where("email = ?", inv.Email).Count(&accounts).Error; err != nil {
		return nil, nil, false, translate(err)
	}
	return &inv, w, accounts > 0, nil
}

// claimInvitation marks the invitation a token names accepted, once: the guarded update
// lets one of two simultaneous acceptances through.
func (s *Store) claimInvitation(tx *gorm.DB, token string) (*Invitation, error) {
	var inv Invitation
	if err := tx.Where("token_hash = ? AND accepted_at IS NULL AND revoked_at IS NULL", HashToken(token)).Take(&inv).Error; err != nil {
		return nil, translate(err)
	}
	now := s.now()
	if inv.Expired(now) {
		return nil, ErrInvitationExpired
	}
	res := tx.Model(&Invitation{}).Where("id = ? AND accepted_at IS NULL AND revoked_at IS NULL", inv.ID).Update("accepted_at", now)
	if res.Error != nil {
		return nil, translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, ErrNotFound
	}
	inv.AcceptedAt = &now
	return &inv, nil
}

// AcceptInvitation makes the account an invitation is for, a member of its workspace
// with its role, from the name and password the invitee chose. An e-mail that has an
// account meanwhile is refused: that person signs in and accepts (AcceptInvitationAs).
func (s *Store) AcceptInvitation(ctx context.Context, token, name, password string) (*User, error) {
	var u *User
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		inv, err := s.claimInvitation(tx, token)
		if err != nil {
			return err
		}
		n := NewUser{Email: inv.Email, Name: name, Password: password, Role: inv.Role}
		if err := n.normalize(); err != nil {
			return err
		}
		if u, err = s.insertUser(tx, inv.WorkspaceID, n, false); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) && fe.Field == "email" {
				return invalid("password", "An account with "+inv.Email+" exists already: sign in, then open the link again.")
			}
			return err
		}
		a := Actor{WorkspaceID: inv.WorkspaceID, Type: ActorUser, ID: u.ID, Name: u.Email, Role: u.Role}
		return s.record(tx, a, change{"invitation.accept", "invitation", inv.ID, inv.Email, nil, inv.audit()})
	})
	return u, err
}

// AcceptInvitationAs adds the signed-in user u to an invitation's workspace with its
// role. The invitation must be for u's e-mail, and u of the workspace's organization.
func (s *Store) AcceptInvitationAs(ctx context.Context, token string, u *User) (*Membership, error) {
	var m Membership
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		inv, err := s.claimInvitation(tx, token)
		if err != nil {
			return err
		}
		if !strings.EqualFold(inv.Email, u.Email) {
			return invalid("email", "This invitation is for "+inv.Email+", not for "+u.Email+". Sign out, then open the link again.")
		}
		org, err := organizationOf(tx, inv.WorkspaceID)
		if err != nil {
			return err
		}
		if u.OrganizationID != org {
			return invalid("email", "Your account belongs to another organization.")
		}
		var member int64
		if err := tx.Model(&Membership{}).Where("user_id = ? AND workspace_id = ?", u.ID, inv.WorkspaceID).Count(&member).Error; err != nil {
			return translate(err)
		}
		if member == 0 {
			if err := s.addMembership(tx, u.ID, inv.WorkspaceID, inv.Role); err != nil {
				return err
			}
		}
		if err := tx.Where("user_id = ? AND workspace_id = ?", u.ID, inv.WorkspaceID).Take(&m).Error; err != nil {
			return translate(err)
		}
		a := Actor{WorkspaceID: inv.WorkspaceID, Type: ActorUser, ID: u.ID, Name: u.Email, Role: m.Role}
		return s.record(tx, a, change{"invitation.accept", "invitation", inv.ID, inv.Email, nil, inv.audit()})
	})
	if err != nil {
		return nil, err
	}
	return &m, nil
}
