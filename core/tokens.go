package core

import (
	"context"

	"sluice/models"
)

// CreateAPIToken makes a token and answers its value, to be shown once.
func (s *Service) CreateAPIToken(ctx context.Context, a models.Actor, name string, role models.Role) (*models.APIToken, string, error) {
	return s.store.CreateAPIToken(ctx, a, name, role)
}

// DeleteAPIToken revokes a token at once.
func (s *Service) DeleteAPIToken(ctx context.Context, a models.Actor, id string) error {
	return s.store.DeleteAPIToken(ctx, a, id)
}
