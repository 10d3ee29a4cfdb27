package core

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	"sluice/models"
	"sluice/notify"
)

// InvitationPath is the app path of an invitation's link. The token rides in the query, which
// the request log leaves out (it logs paths).
func InvitationPath(token string) string { return "/invitation?token=" + url.QueryEscape(token) }

// InviteUser invites an e-mail to the actor's workspace with a role, and sends the link
// by e-mail through the alerts' outbox.
func (s *Service) InviteUser(ctx context.Context, a models.Actor, email string, role models.Role) (*models.Invitation, string, error) {
	inv, token, err := s.store.InviteUser(ctx, a, email, role)
	if err != nil {
		return nil, "", err
	}
	link, err := s.sendInvitation(ctx, a, inv, token)
	return inv, link, err
}

// ResendInvitation sends an invitation again with a new link; the previous one dies.
func (s *Service) ResendInvitation(ctx context.Context, a models.Actor, id string) (*models.Invitation, string, error) {
	inv, token, err := s.store.ResendInvitation(ctx, a, id)
	if err != nil {
		return nil, "", err
	}
	link, err := s.sendInvitation(ctx, a, inv, token)
	return inv, link, err
}

// RevokeInvitation ends an invitation; its link opens nothing.
func (s *Service) RevokeInvitation(ctx context.Context, a models.Actor, id string) (*models.Invitation, error) {
	return s.store.RevokeInvitation(ctx, a, id)
}

// AcceptInvitation makes the invitee's account from the name and password they chose.
func (s *Service) AcceptInvitation(ctx context.Context, token, name, password string) (*models.User, error) {
	return s.store.AcceptInvitation(ctx, token, name, password)
}

// AcceptInvitationAs adds the signed-in user to the invitation's workspace.
func (s *Service) AcceptInvitationAs(ctx context.Context, token string, u *models.User) (*models.Membership, error) {
	return s.store.AcceptInvitationAs(ctx, token, u)
}

// sendInvitation queues the invitation's e-mail and returns its link, which the inviting
// admin is shown when no mail server is configured.
func (s *Service) sendInvitation(ctx context.Context, a models.Actor, inv *models.Invitation, token string) (string, error) {
	ws, err := s.store.WorkspaceByID(ctx, inv.WorkspaceID)
	if err != nil {
		return "", err
	}
	base := s.baseURL
	if base == "" {
		base = "http://localhost:8080"
	}
	link, err := notify.Link(base, InvitationPath(token))
	if err != nil {
		return "", err
	}
	who := a.Name
	if who == "" {
		who = "An admin"
	}
	msg := notify.Message{
		Kind:      notify.KindInvitation,
		Title:     fmt.Sprintf("%s invites you to %s", who, ws.Name),
		Workspace: ws.Name,
		Reason: fmt.Sprintf("You are invited to work in %s on Sluice as %s (%s). The link works once, until %s.",
			ws.Name, inv.Role.Label(), inv.Role.Description(), inv.ExpiresAt.UTC().Format("2 Jan 2006, 15:04 UTC")),
		Buttons:    []notify.Button{{Label: "Accept the invitation", URL: link}},
		OccurredAt: s.now(),
	}
	payload, err := json.Marshal(msg)
	if err != nil {
		return "", err
	}
	if _, err := s.store.EnqueueAlerts(ctx, models.NewAlert{WorkspaceID: inv.WorkspaceID, Channel: ChannelEmail, Target: inv.Email, Payload: payload, Secret: true}); err != nil {
		return "", fmt.Errorf("core: send invitation to %s: %w", inv.Email, err)
	}
	return link, nil
}
