package core

import (
	"context"

	"sluice/models"
)

// AddWorkspace creates a workspace in the organization the actor owns.
func (s *Service) AddWorkspace(ctx context.Context, a models.Actor, name string) (*models.Workspace, error) {
	return s.store.AddWorkspace(ctx, a, name)
}

// RenameWorkspace renames a workspace of the organization the actor owns.
func (s *Service) RenameWorkspace(ctx context.Context, a models.Actor, id, name string) (*models.Workspace, error) {
	return s.store.RenameWorkspace(ctx, a, id, name)
}

// DeleteWorkspace deletes a workspace of the actor's organization and everything in it;
// confirm is its name, typed.
func (s *Service) DeleteWorkspace(ctx context.Context, a models.Actor, id, confirm string) error {
	return s.store.DeleteWorkspace(ctx, a, id, confirm)
}

// SwitchWorkspace moves a browser's session to another workspace of its user.
func (s *Service) SwitchWorkspace(ctx context.Context, sessionID, userID, workspaceID string) (*models.Membership, error) {
	return s.store.SwitchWorkspace(ctx, sessionID, userID, workspaceID)
}

// RenameOrganization renames the organization the actor owns.
func (s *Service) RenameOrganization(ctx context.Context, a models.Actor, name string) (*models.Organization, error) {
	return s.store.RenameOrganization(ctx, a, name)
}

// MakeOwner makes another account of the actor's organization an owner.
func (s *Service) MakeOwner(ctx context.Context, a models.Actor, userID string) (*models.User, error) {
	return s.store.MakeOwner(ctx, a, userID)
}

// StepDown ends the actor's ownership, while another owner remains.
func (s *Service) StepDown(ctx context.Context, a models.Actor) error {
	return s.store.StepDown(ctx, a)
}
