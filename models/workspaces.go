package models

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Organization holds workspaces and the users who work in them.
type Organization struct {
	ID        string
	Name      string
	CreatedAt time.Time
	// RequireSSO turns password sign-in off for everyone of the organization but the
	// BreakGlassUserID, the owner who turned it on (see SSOPolicy).
	RequireSSO       bool
	BreakGlassUserID string
}

// Workspace is the tenant: every other row belongs to exactly one.
type Workspace struct {
	ID               string
	OrganizationID   string
	Name             string
	SetupCompletedAt *time.Time
	// DemoSeededAt is when the demo seed filled the workspace (nil: never), and
	// DemoRemovedAt when its demo data was removed.
	DemoSeededAt  *time.Time
	DemoRemovedAt *time.Time
	// DemoStory is where the demo's story stands (DemoStory…): its platforms,
	// activations and runs are made after Sluice listens.
	DemoStory string
	CreatedAt time.Time
}

// HoldsDemo is whether the workspace holds the demo's data.
func (w *Workspace) HoldsDemo() bool {
	return w != nil && w.DemoSeededAt != nil && w.DemoRemovedAt == nil
}

// PreparingDemo is whether the demo's platforms, activations and runs are still being
// made.
func (w *Workspace) PreparingDemo() bool {
	return w.HoldsDemo() && w.DemoStory == DemoStoryPreparing
}

// DemoStopped is whether making the demo's story stopped part way (the next start
// with the story on carries on).
func (w *Workspace) DemoStopped() bool {
	return w.HoldsDemo() && w.DemoStory == DemoStoryStopped
}

// WorkspaceByID loads one workspace.
func (s *Store) WorkspaceByID(ctx context.Context, id string) (*Workspace, error) {
	var w Workspace
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&w).Error; err != nil {
		return nil, translate(err)
	}
	return &w, nil
}

func workspaceName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", invalid("name", "Give the workspace a name.")
	}
	if len(name) > 100 {
		return "", invalid("name", "Keep the name under 100 characters.")
	}
	return name, nil
}

// CreateWorkspace adds a tenant of its own: a new organization holding one workspace,
// e.g. another customer of the same installation. Owners add workspaces to their own
// organization with AddWorkspace.
func (s *Store) CreateWorkspace(ctx context.Context, name string) (*Workspace, error) {
	name, err := workspaceName(name)
	if err != nil {
		return nil, err
	}
	now := s.now()
	org := Organization{ID: newID(), Name: name, CreatedAt: now}
	w := Workspace{ID: newID(), OrganizationID: org.ID, Name: name, CreatedAt: now}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&org).Error; err != nil {
			return translate(err)
		}
		return translate(tx.Create(&w).Error)
	})
	if err != nil {
		return nil, err
	}
	return &w, nil
}

// MemberWorkspace is one workspace a user belongs to, with their role in it.
type MemberWorkspace struct {
	Workspace
	Role Role
}

// WorkspacesOf lists the workspaces a user is a member of, by name.
func (s *Store) WorkspacesOf(ctx context.Context, userID string) ([]MemberWorkspace, error) {
	var out []MemberWorkspace
	err := s.db.WithContext(ctx).Model(&Workspace{}).Select("workspaces.*, memberships.role AS role").
		Joins("JOIN memberships ON memberships.workspace_id = workspaces.id AND memberships.user_id = ?", userID).
		Order("workspaces.name, workspaces.id").Scan(&out).Error
	return out, translate(err)
}

// OrgWorkspace is a workspace of an organization, for its owners' page.
type OrgWorkspace struct {
	Workspace
	Members int
}

// ownerOrganization is the organization the actor owns, through the workspace they act
// in. Anyone else, and API tokens, get ErrForbidden: only owners manage workspaces.
func ownerOrganization(tx *gorm.DB, a Actor) (string, error) {
	if a.Type != ActorUser {
		return "", ErrForbidden
	}
	var u User
	if err := tx.Where("id = ?", a.ID).Take(&u).Error; err != nil {
		return "", translate(err)
	}
	org, err := organizationOf(tx, a.WorkspaceID)
	if err != nil {
		return "", err
	}
	if !u.Owner || u.OrganizationID != org {
		return "", ErrForbidden
	}
	return org, nil
}

// workspaceManager is who manages the workspaces of an organization: its owners, and an
// owner's API token. A token manages them only while it is an admin token made by a user
// who owns the token's organization now (it loses that power when they step down or
// leave); any other token, and tokens made before 00034 (whose maker is not known), get
// ErrForbidden. It answers the organization and the owner's user id (the one a new
// workspace gets as its first admin). The organization's single sign-on settings are
// managed the same way (ownerConfig, saveProvider, removeProvider, SetRequireSSO); its
// name and owners stay with signed-in owners: ownerOrganization.
func workspaceManager(tx *gorm.DB, a Actor) (org, userID string, err error) {
	if a.Type != ActorToken {
		org, err = ownerOrganization(tx, a)
		return org, a.ID, err
	}
	var t APIToken
	err = translate(tx.Where("id = ? AND workspace_id = ?", a.ID, a.WorkspaceID).Take(&t).Error)
	if errors.Is(err, ErrNotFound) {
		return "", "", ErrForbidden // revoked meanwhile
	}
	if err != nil {
		return "", "", err
	}
	if t.Role != RoleAdmin || t.CreatedByUserID == "" {
		return "", "", ErrForbidden
	}
	if org, err = organizationOf(tx, a.WorkspaceID); err != nil {
		return "", "", err
	}
	var owners int64
	if err := tx.Model(&User{}).Where("id = ? AND organization_id = ? AND owner", t.CreatedByUserID, org).Count(&owners).Error; err != nil {
		return "", "", translate(err)
	}
	if owners == 0 {
		return "", "", ErrForbidden
	}
	return org, t.CreatedByUserID, nil
}

// IsOwner reports whether the actor owns the organization of the workspace they act in.
func (s *Store) IsOwner(ctx context.Context, a Actor) (bool, error) {
	_, err := ownerOrganization(s.db.WithContext(ctx), a)
	switch {
	case err == nil:
		return true, nil
	case err == ErrForbidden:
		return false, nil
	}
	return false, err
}

// OrganizationWorkspaces lists the workspaces of the organization the actor owns, by
// name, with how many members each has.
func (s *Store) OrganizationWorkspaces(ctx context.Context, a Actor) ([]OrgWorkspace, error) {
	db := s.db.WithContext(ctx)
	org, _, err := workspaceManager(db, a)
	if err != nil {
		return nil, err
	}
	var out []OrgWorkspace
	err = db.Model(&Workspace{}).
		Select("workspaces.*, (SELECT COUNT(*) FROM memberships WHERE memberships.workspace_id = workspaces.id) AS members").
		Where("workspaces.organization_id = ?", org).Order("workspaces.name, workspaces.id").Scan(&out).Error
	return out, translate(err)
}

// orgWorkspace loads a workspace of the organization the actor owns.
func orgWorkspace(tx *gorm.DB, a Actor, id string) (*Workspace, error) {
	org, _, err := workspaceManager(tx, a)
	if err != nil {
		return nil, err
	}
	var w Workspace
	if err := tx.Where("organization_id = ? AND id = ?", org, id).Take(&w).Error; err != nil {
		return nil, translate(err)
	}
	return &w, nil
}

type workspaceAudit struct {
	Name string `json:"name"`
}

// AddWorkspace creates a workspace in the organization the actor owns; the owner (for an
// owner's token, the owner who made it) is its first admin. The audit entry goes to both the new workspace and the one the owner acts
// in.
func (s *Store) AddWorkspace(ctx context.Context, a Actor, name string) (*Workspace, error) {
	name, err := workspaceName(name)
	if err != nil {
		return nil, err
	}
	var w *Workspace
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		org, owner, err := workspaceManager(tx, a)
		if err != nil {
			return err
		}
		if err := uniqueWorkspaceName(tx, org, name, ""); err != nil {
			return err
		}
		now := s.now()
		w = &Workspace{ID: newID(), OrganizationID: org, Name: name, SetupCompletedAt: &now, CreatedAt: now}
		if err := tx.Create(w).Error; err != nil {
			return translate(err)
		}
		if err := s.addMembership(tx, owner, w.ID, RoleAdmin); err != nil {
			return err
		}
		c := change{"workspace.create", "workspace", w.ID, w.Name, nil, workspaceAudit{w.Name}}
		if err := s.recordOrg(tx, a, org, c); err != nil {
			return err
		}
		in := a
		in.WorkspaceID, in.Role = w.ID, RoleAdmin
		return s.record(tx, in, c)
	})
	return w, err
}

func uniqueWorkspaceName(tx *gorm.DB, org, name, except string) error {
	var n int64
	err := tx.Model(&Workspace{}).Where("organization_id = ? AND LOWER(name) = LOWER(?) AND id <> ?", org, name, except).Count(&n).Error
	if err != nil {
		return translate(err)
	}
	if n > 0 {
		return invalid("name", "Another workspace of your organization has this name.")
	}
	return nil
}

// RenameWorkspace renames a workspace of the organization the actor owns. The workspace
// is looked up before the name is checked: another organization's answers not found,
// whatever was sent.
func (s *Store) RenameWorkspace(ctx context.Context, a Actor, id, name string) (*Workspace, error) {
	var w *Workspace
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if w, err = orgWorkspace(tx, a, id); err != nil {
			return err
		}
		if name, err = workspaceName(name); err != nil {
			return err
		}
		if w.Name == name {
			return nil
		}
		if err := uniqueWorkspaceName(tx, w.OrganizationID, name, w.ID); err != nil {
			return err
		}
		before := workspaceAudit{w.Name}
		if err := tx.Model(w).Update("name", name).Error; err != nil {
			return translate(err)
		}
		w.Name = name
		c := change{"workspace.rename", "workspace", w.ID, w.Name, before, workspaceAudit{w.Name}}
		if err := s.recordOrg(tx, a, w.OrganizationID, c); err != nil {
			return err
		}
		if w.ID == a.WorkspaceID {
			return nil
		}
		in := a
		in.WorkspaceID = w.ID
		return s.record(tx, in, c)
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// DeleteWorkspace deletes a workspace of the organization the actor owns and everything
// in it; confirm must be its name, typed. Members keep their other workspaces (sign-in
// and their open browsers move to one of them); members of no other workspace are
// removed with it. Its audit entries stay, in the organization's trail. Refused: the workspace the owner acts in (the audit entry goes
// there), the installation's first workspace (the command line and the bootstrap token
// act in it), and a workspace with a run under way.
func (s *Store) DeleteWorkspace(ctx context.Context, a Actor, id, confirm string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		w, err := orgWorkspace(tx, a, id)
		if err != nil {
			return err
		}
		switch {
		case strings.TrimSpace(confirm) != w.Name:
			return invalid("confirm", "Type the workspace's name, "+w.Name+", to delete it.")
		case w.ID == a.WorkspaceID && a.Type == ActorToken:
			return invalid("confirm", "This token belongs to "+w.Name+" and cannot delete it. Use an owner's token of another workspace.")
		case w.ID == a.WorkspaceID:
			return invalid("confirm", "You are working in "+w.Name+". Switch to another workspace, then delete it from there.")
		case w.ID == DefaultWorkspaceID:
			return invalid("confirm", w.Name+" is the installation's first workspace: the command line and the bootstrap token act in it. Rename it instead.")
		}
		var running int64
		if err := tx.Model(&Run{}).Where("workspace_id = ? AND status IN ?", w.ID, []string{RunQueued, RunRunning}).Count(&running).Error; err != nil {
			return translate(err)
		}
		if running > 0 {
			return invalid("confirm", "A run of "+w.Name+" is queued or under way. Wait for it to finish or cancel it, then delete the workspace.")
		}
		var goneUsers []User
		if err := tx.Model(&User{}).Select("users.id, users.email").
			Joins("JOIN memberships ON memberships.user_id = users.id AND memberships.workspace_id = ?", w.ID).
			Where("NOT EXISTS (SELECT 1 FROM memberships o WHERE o.user_id = users.id AND o.workspace_id <> ?)", w.ID).
			Order("users.email").Find(&goneUsers).Error; err != nil {
			return translate(err)
		}
		var gone []string
		for _, u := range goneUsers {
			if err := keepBreakGlass(tx, "confirm", u.ID, u.Email+" (whose only workspace "+w.Name+" is) is", "delete the workspace"); err != nil {
				return err
			}
			gone = append(gone, u.Email)
		}
		// Sign-ins and open browsers of members with another workspace move there.
		other := "(SELECT o.workspace_id FROM memberships o WHERE o.user_id = users.id AND o.workspace_id <> ? ORDER BY o.created_at, o.workspace_id LIMIT 1)"
		if err := tx.Exec("UPDATE users SET workspace_id = "+other+" WHERE workspace_id = ? AND EXISTS (SELECT 1 FROM memberships o WHERE o.user_id = users.id AND o.workspace_id <> ?)",
			w.ID, w.ID, w.ID).Error; err != nil {
			return translate(err)
		}
		if err := tx.Exec("UPDATE sessions SET workspace_id = (SELECT users.workspace_id FROM users WHERE users.id = sessions.user_id) WHERE workspace_id = ? AND user_id IN (SELECT id FROM users WHERE workspace_id <> ?)",
			w.ID, w.ID).Error; err != nil {
			return translate(err)
		}
		// The workspace's audit entries stay, in the organization's trail.
		if err := tx.Model(&AuditEntry{}).Where("workspace_id = ?", w.ID).Update("organization_id", w.OrganizationID).Error; err != nil {
			return translate(err)
		}
		// Users whose only workspace this is go with it (users.workspace_id cascades),
		// and so does every other row of the workspace.
		if err := tx.Delete(&Workspace{ID: w.ID}).Error; err != nil {
			return translate(err)
		}
		return s.recordOrg(tx, a, w.OrganizationID, change{"workspace.delete", "workspace", w.ID, w.Name,
			map[string]any{"name": w.Name, "users_removed": gone}, nil})
	})
}

// linkable are the objects whose pages alerts link to, by table.
var linkable = map[string]bool{"runs": true, "activations": true}

// ObjectWorkspace is the workspace a run or an activation (table "runs" or
// "activations") belongs to, so a link to it can open in the right workspace.
func (s *Store) ObjectWorkspace(ctx context.Context, table, id string) (string, error) {
	if !linkable[table] {
		return "", ErrNotFound
	}
	var ws []string
	if err := s.db.WithContext(ctx).Table(table).Where("id = ?", id).Limit(1).Pluck("workspace_id", &ws).Error; err != nil {
		return "", translate(err)
	}
	if len(ws) == 0 {
		return "", ErrNotFound
	}
	return ws[0], nil
}
