package models

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// CopyTargetActor is the actor as a member of another workspace of the same
// organization, to copy into it. The actor must be an editor (or above) where they act
// and in the target. A workspace of another organization, or one they are not a member
// of, is ErrNotFound; a role below editor on either side is ErrForbidden.
func (s *Store) CopyTargetActor(ctx context.Context, a Actor, workspaceID string) (Actor, error) {
	return copyTarget(s.db.WithContext(ctx), a, Actor{WorkspaceID: workspaceID, Type: ActorUser, ID: a.ID, Name: a.Name})
}

// CopyTargetToken is the actor of an API token of another workspace, given by its value
// (ip counts wrong values as APITokenFrom does), for a copy through the API by a token:
// a token acts in its own workspace only, so copying needs one of the target too, an
// editor's (or above) in a workspace of the same organization. A value that is no token
// is ErrNotFound, as a workspace of another organization; a role below editor on either
// side is ErrForbidden.
func (s *Store) CopyTargetToken(ctx context.Context, a Actor, value, ip string) (Actor, error) {
	t, err := s.APITokenFrom(ctx, value, ip)
	if err != nil {
		return Actor{}, err
	}
	return copyTarget(s.db.WithContext(ctx), a, t.Actor())
}

// CopyTarget checks again that a may copy into t's workspace as t (one of
// CopyTargetActor's or CopyTargetToken's answers), with their roles as they are now.
func (s *Store) CopyTarget(ctx context.Context, a, t Actor) (Actor, error) {
	return copyTarget(s.db.WithContext(ctx), a, t)
}

// copyTarget answers t with its current role in its workspace, after checking that a
// may copy there as t: t is a itself (a person) or a token of the target (a token),
// the workspace is another of a's organization, and both are editors or above.
func copyTarget(tx *gorm.DB, a, t Actor) (Actor, error) {
	if t.WorkspaceID == a.WorkspaceID || t.Type != a.Type || (a.Type == ActorUser && t.ID != a.ID) {
		return Actor{}, ErrNotFound
	}
	from, err := organizationOf(tx, a.WorkspaceID)
	if err != nil {
		return Actor{}, err
	}
	var w Workspace
	if err := tx.Where("organization_id = ? AND id = ?", from, t.WorkspaceID).Take(&w).Error; err != nil {
		return Actor{}, translate(err)
	}
	switch a.Type {
	case ActorUser:
		var m Membership
		if err := tx.Where("user_id = ? AND workspace_id = ?", t.ID, t.WorkspaceID).Take(&m).Error; err != nil {
			return Actor{}, translate(err)
		}
		t.Role = m.Role
	case ActorToken:
		var tok APIToken
		if err := tx.Where("id = ? AND workspace_id = ?", t.ID, t.WorkspaceID).Take(&tok).Error; err != nil {
			return Actor{}, translate(err)
		}
		t.Role = tok.Role
	default:
		return Actor{}, ErrNotFound
	}
	if !a.Role.AtLeast(RoleEditor) || !t.Role.AtLeast(RoleEditor) {
		return Actor{}, ErrForbidden
	}
	return t, nil
}

// CopyTargets lists the workspaces the actor may copy into, by name.
func (s *Store) CopyTargets(ctx context.Context, a Actor) ([]MemberWorkspace, error) {
	if a.Type != ActorUser || !a.Role.AtLeast(RoleEditor) {
		return nil, nil
	}
	ws, err := s.WorkspacesOf(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	org, err := organizationOf(s.db.WithContext(ctx), a.WorkspaceID)
	if err != nil {
		return nil, err
	}
	var out []MemberWorkspace
	for _, w := range ws {
		if w.ID != a.WorkspaceID && w.OrganizationID == org && w.Role.AtLeast(RoleEditor) {
			out = append(out, w)
		}
	}
	return out, nil
}

// CopyInput is what a copy creates in the target workspace, dependencies first: the
// model (its source already mapped to one of the target's), then the segment on it, then
// the activation (its platform mapped). Segment and Activation may be nil; their model
// and segment ids are set here.
type CopyInput struct {
	From       string // the name of what is copied, for the source workspace's audit entry
	Model      ModelInput
	Segment    *SegmentInput
	Activation *ActivationInput
}

// Copied is what a copy created in the target workspace.
type Copied struct {
	Model      *DataModel
	Segment    *Segment
	Activation *Activation
}

// CopyPausedReason is why a copied activation starts paused.
const CopyPausedReason = "Copied from another workspace: review it, then resume it."

// FreeCopyName is the name a copy takes in the target: its own when free there, else
// "… (copy)", "… (copy 2)" and so on. taken reports whether a name is used.
func FreeCopyName(name string, taken func(string) (bool, error)) (string, error) {
	for n := 0; n < 100; n++ {
		try := name
		switch {
		case n == 1:
			try = name + " (copy)"
		case n > 1:
			try = fmt.Sprintf("%s (copy %d)", name, n)
		}
		used, err := taken(try)
		if err != nil {
			return "", err
		}
		if !used {
			return try, nil
		}
	}
	return "", invalid("name", "Too many copies of "+name+" in the target workspace already.")
}

// NameTaken reports whether a model, segment or activation of the workspace has the name.
func (s *Store) NameTaken(ctx context.Context, workspaceID, kind, name string) (bool, error) {
	return nameTaken(s.db.WithContext(ctx), workspaceID, kind, name)
}

func nameTaken(tx *gorm.DB, workspaceID, kind, name string) (bool, error) {
	var v any
	switch kind {
	case "model":
		v = &DataModel{}
	case "segment":
		v = &Segment{}
	case "activation":
		v = &Activation{}
	default:
		return false, fmt.Errorf("models: no names for %q", kind)
	}
	var n int64
	err := tx.Model(v).Where("workspace_id = ? AND name = ?", workspaceID, name).Count(&n).Error
	return n > 0, translate(err)
}

// CopyInto creates the copy in the target workspace in one transaction, as t (the
// actor there, checked again): all of it or nothing. Names taken in the target get " (copy)"; the activation starts paused. Each
// created object has its audit entry in the target, and the source workspace records
// the copy on the object copied.
func (s *Store) CopyInto(ctx context.Context, a, t Actor, resourceType, resourceID string, in CopyInput) (*Copied, error) {
	var out Copied
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		t, err := copyTarget(tx, a, t)
		if err != nil {
			return err
		}
		free := func(kind, name string) (string, error) {
			return FreeCopyName(name, func(n string) (bool, error) { return nameTaken(tx, t.WorkspaceID, kind, n) })
		}
		now := s.now()
		m := DataModel{ID: newID(), WorkspaceID: t.WorkspaceID, CreatedAt: now, UpdatedAt: now}
		if err := in.Model.apply(&m); err != nil {
			return err
		}
		if _, err := s.sourceIn(tx, t.WorkspaceID, in.Model.SourceID); err != nil {
			return err
		}
		if m.Name, err = free("model", m.Name); err != nil {
			return err
		}
		if err := translate(tx.Create(&m).Error); err != nil {
			return err
		}
		if err := s.record(tx, t, change{"model.create", "model", m.ID, m.Name, nil, m.audit()}); err != nil {
			return err
		}
		out.Model = &m
		if in.Segment != nil {
			name, err := validName(in.Segment.Name)
			if err != nil {
				return err
			}
			if name, err = free("segment", name); err != nil {
				return err
			}
			g := Segment{ID: newID(), WorkspaceID: t.WorkspaceID, ModelID: m.ID, Name: name, ConditionsJSON: in.Segment.ConditionsJSON, CreatedAt: now, UpdatedAt: now}
			if err := translate(tx.Create(&g).Error); err != nil {
				return err
			}
			if err := s.record(tx, t, change{"segment.create", "segment", g.ID, g.Name, nil, g.audit()}); err != nil {
				return err
			}
			out.Segment = &g
		}
		if in.Activation != nil && out.Segment != nil {
			act := Activation{ID: newID(), WorkspaceID: t.WorkspaceID, Status: ActivationPaused, Health: HealthNeverRun,
				PauseReason: CopyPausedReason, PausedAt: &now, CreatedAt: now, UpdatedAt: now}
			ai := *in.Activation
			ai.SegmentID = out.Segment.ID
			if err := ai.apply(&act); err != nil {
				return err
			}
			if act.Name, err = free("activation", act.Name); err != nil {
				return err
			}
			var p int64
			if err := tx.Model(&Platform{}).Where("workspace_id = ? AND id = ?", t.WorkspaceID, ai.PlatformID).Count(&p).Error; err != nil {
				return translate(err)
			}
			if p == 0 {
				return invalid("platform_id", "This platform does not exist in the target workspace.")
			}
			if err := translate(tx.Create(&act).Error); err != nil {
				return err
			}
			if err := s.record(tx, t, change{"activation.create", "activation", act.ID, act.Name, nil, act.audit()}); err != nil {
				return err
			}
			out.Activation = &act
		}
		var w Workspace
		if err := tx.Where("id = ?", t.WorkspaceID).Take(&w).Error; err != nil {
			return translate(err)
		}
		return s.record(tx, a, change{resourceType + ".copy", resourceType, resourceID, in.From, nil,
			copyAudit{Workspace: w.Name, WorkspaceID: w.ID}})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

type copyAudit struct {
	Workspace   string `json:"copied_to_workspace"`
	WorkspaceID string `json:"copied_to_workspace_id"`
}
