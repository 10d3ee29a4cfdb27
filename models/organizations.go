package models

import (
	"context"
	"fmt"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// OrganizationOf is the organization the actor owns, for its owners' page.
func (s *Store) OrganizationOf(ctx context.Context, a Actor) (*Organization, error) {
	db := s.db.WithContext(ctx)
	org, err := ownerOrganization(db, a)
	if err != nil {
		return nil, err
	}
	var o Organization
	if err := db.Where("id = ?", org).Take(&o).Error; err != nil {
		return nil, translate(err)
	}
	return &o, nil
}

type organizationAudit struct {
	Name string `json:"name"`
}

// RenameOrganization renames the organization the actor owns.
func (s *Store) RenameOrganization(ctx context.Context, a Actor, name string) (*Organization, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return nil, invalid("org-name", "Give the organization a name, e.g. your company's.")
	case len(name) > 100:
		return nil, invalid("org-name", "Keep the name under 100 characters.")
	}
	var o Organization
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		org, err := ownerOrganization(tx, a)
		if err != nil {
			return err
		}
		if err := tx.Where("id = ?", org).Take(&o).Error; err != nil {
			return translate(err)
		}
		if o.Name == name {
			return nil
		}
		before := organizationAudit{o.Name}
		if err := tx.Model(&Organization{}).Where("id = ?", org).Update("name", name).Error; err != nil {
			return translate(err)
		}
		o.Name = name
		return s.recordOrg(tx, a, org, change{"organization.rename", "organization", org, name, before, organizationAudit{name}})
	})
	if err != nil {
		return nil, err
	}
	return &o, nil
}

// OrgMember is an account of an organization, with how many of its workspaces it works
// in, for the owners' page.
type OrgMember struct {
	ID         string
	Email      string
	Name       string
	Owner      bool
	Workspaces int
}

// DisplayName is the member's name, or their e-mail when they gave none.
func (m *OrgMember) DisplayName() string {
	if m.Name != "" {
		return m.Name
	}
	return m.Email
}

// OrganizationMembers lists the accounts of the organization the actor owns, owners
// first, then by e-mail.
func (s *Store) OrganizationMembers(ctx context.Context, a Actor) ([]OrgMember, error) {
	db := s.db.WithContext(ctx)
	org, err := ownerOrganization(db, a)
	if err != nil {
		return nil, err
	}
	var out []OrgMember
	err = db.Model(&User{}).
		Select("users.id, users.email, users.name, users.owner, (SELECT COUNT(*) FROM memberships WHERE memberships.user_id = users.id) AS workspaces").
		Where("users.organization_id = ?", org).Order("users.owner DESC, users.email").Scan(&out).Error
	return out, translate(err)
}

type ownerAudit struct {
	Email string `json:"email"`
	Owner bool   `json:"owner"`
}

// lockOrganization holds the organization's row until the transaction ends, so that
// changes of its owners are made one at a time (two owners stepping down together must
// not leave none). SQLite's immediate transactions serialise them already.
func (s *Store) lockOrganization(tx *gorm.DB, org string) error {
	if s.dialect != "postgres" {
		return nil
	}
	var id string
	return translate(tx.Model(&Organization{}).Clauses(clause.Locking{Strength: "UPDATE"}).Where("id = ?", org).Pluck("id", &id).Error)
}

// MakeOwner makes another account of the organization the actor owns an owner too.
func (s *Store) MakeOwner(ctx context.Context, a Actor, userID string) (*User, error) {
	var u User
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		org, err := ownerOrganization(tx, a)
		if err != nil {
			return err
		}
		if err := s.lockOrganization(tx, org); err != nil {
			return err
		}
		if err := tx.Where("organization_id = ? AND id = ?", org, userID).Take(&u).Error; err != nil {
			return translate(err)
		}
		if u.Owner {
			return invalid("owner", u.Email+" is an owner already.")
		}
		if err := tx.Model(&User{}).Where("id = ?", u.ID).Update("owner", true).Error; err != nil {
			return translate(err)
		}
		u.Owner = true
		return s.recordOrg(tx, a, org, change{"organization.owner_add", "user", u.ID, u.Email,
			ownerAudit{u.Email, false}, ownerAudit{u.Email, true}})
	})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// StepDown ends the actor's ownership of their organization, who keeps their roles in
// its workspaces. Refused to its only owner (an organization always has one), and to
// the break-glass owner while single sign-on is required (password sign-in is kept for
// an owner only).
func (s *Store) StepDown(ctx context.Context, a Actor) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		org, err := ownerOrganization(tx, a)
		if err != nil {
			return err
		}
		if err := s.lockOrganization(tx, org); err != nil {
			return err
		}
		var others int64
		if err := tx.Model(&User{}).Where("organization_id = ? AND owner AND id <> ?", org, a.ID).Count(&others).Error; err != nil {
			return translate(err)
		}
		if others == 0 {
			return invalid("owner", "You are the organization's only owner: make another member an owner first, then step down.")
		}
		if err := keepBreakGlass(tx, "owner", a.ID, "You are", "step down"); err != nil {
			return err
		}
		var email string
		if err := tx.Model(&User{}).Where("id = ?", a.ID).Pluck("email", &email).Error; err != nil {
			return translate(err)
		}
		if err := tx.Model(&User{}).Where("id = ?", a.ID).Update("owner", false).Error; err != nil {
			return translate(err)
		}
		return s.recordOrg(tx, a, org, change{"organization.owner_remove", "user", a.ID, email,
			ownerAudit{email, true}, ownerAudit{email, false}})
	})
}

// OrgAuditEntry is an entry of an organization's audit trail, with the name of the
// workspace it was recorded in (kept after that workspace is deleted).
type OrgAuditEntry struct {
	AuditEntry
	WorkspaceName string
	// WorkspaceGone: the workspace has been deleted since.
	WorkspaceGone bool
}

// ListOrganizationAudit returns the audit trail of the organization the actor owns,
// newest first, a page at a time: the organization's own changes, its workspaces'
// creation, renaming and deletion, and every entry of its deleted workspaces.
func (s *Store) ListOrganizationAudit(ctx context.Context, a Actor, cursor string, limit int) ([]OrgAuditEntry, string, error) {
	db := s.db.WithContext(ctx)
	org, err := ownerOrganization(db, a)
	if err != nil {
		return nil, "", err
	}
	limit = clampLimit(limit)
	deletedName := "(SELECT d.resource_name FROM audit_entries d WHERE d.action = 'workspace.delete' AND d.resource_id = audit_entries.workspace_id ORDER BY d.at LIMIT 1)"
	q := db.Model(&AuditEntry{}).
		Select("audit_entries.*, COALESCE(workspaces.name, "+deletedName+", '') AS workspace_name, workspaces.id IS NULL AS workspace_gone").
		Joins("LEFT JOIN workspaces ON workspaces.id = audit_entries.workspace_id").
		Where("audit_entries.organization_id = ?", org)
	if cursor != "" {
		at, id, err := decodeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		q = q.Where("audit_entries.at < ? OR (audit_entries.at = ? AND audit_entries.id < ?)", at, at, id)
	}
	var entries []OrgAuditEntry
	if err := q.Order("audit_entries.at DESC, audit_entries.id DESC").Limit(limit + 1).Scan(&entries).Error; err != nil {
		return nil, "", fmt.Errorf("models: list the organization's audit entries: %w", translate(err))
	}
	next := ""
	if len(entries) > limit {
		entries = entries[:limit]
		last := entries[limit-1]
		next = encodeCursor(last.At, last.ID)
	}
	return entries, next, nil
}
