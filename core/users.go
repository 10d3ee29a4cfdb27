package core

import (
	"context"

	"sluice/models"
)

// SetupFirstAdmin names the first workspace and creates its admin, once.
func (s *Service) SetupFirstAdmin(ctx context.Context, workspaceName string, n models.NewUser) (*models.User, error) {
	return s.store.SetupFirstAdmin(ctx, workspaceName, n)
}

// CreateUser adds a user to the actor's workspace.
func (s *Service) CreateUser(ctx context.Context, a models.Actor, n models.NewUser) (*models.User, error) {
	return s.store.CreateUser(ctx, a, n)
}

// UpdateUserRole changes a user's role and ends their sessions; a workspace keeps one admin.
func (s *Service) UpdateUserRole(ctx context.Context, a models.Actor, id string, role models.Role) (*models.User, error) {
	return s.store.UpdateUserRole(ctx, a, id, role)
}

// DeleteUser removes a user and their sessions; nobody removes themselves.
func (s *Service) DeleteUser(ctx context.Context, a models.Actor, id string) error {
	return s.store.DeleteUser(ctx, a, id)
}

// SignIn starts a session for u and ends the one it replaces; it answers the token the
// cookie carries.
func (s *Service) SignIn(ctx context.Context, u *models.User, userAgent, ip, replaces string) (string, error) {
	return s.store.CreateSession(ctx, u, userAgent, ip, replaces)
}

// SignOut ends the session of token.
func (s *Service) SignOut(ctx context.Context, a models.Actor, token string) error {
	return s.store.SignOut(ctx, a, token)
}

// EndSession ends one session of the actor's workspace.
func (s *Service) EndSession(ctx context.Context, a models.Actor, id string) (*models.Session, error) {
	return s.store.EndSession(ctx, a, id)
}

// EndUserSessions signs a user out everywhere.
func (s *Service) EndUserSessions(ctx context.Context, a models.Actor, userID string) (int64, error) {
	return s.store.EndUserSessions(ctx, a, userID)
}
