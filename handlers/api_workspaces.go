package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"sluice/models"
)

// This file is the JSON API of workspaces and invitations. Choices where API.md is
// silent:
//
//   - A token acts in one workspace. Managing the organization's workspaces (create,
//     rename, delete) takes an owner's token: an admin token made in Settings → API
//     tokens by a user who owns the organization, for as long as they own it. Any other
//     token gets 403. The workspace a token creates gets that owner as its first admin;
//     the token itself stays in its own workspace.
//   - GET /workspaces lists what the token may see: every workspace of the organization
//     for an owner's token, its own workspace for any other.
//   - DELETE /workspaces/{id} takes the workspace's name in ?confirm=, as the page asks
//     for it typed, and refuses the token's own workspace and the installation's first.
//   - Invitations are the workspace's (admin tokens). The answer to creating or resending
//     one carries its link only when Sluice has no mail server (SLUICE_SMTP_URL), for the
//     caller to pass on, as the page does; otherwise the link leaves by e-mail only.

// WorkspaceAPI serves /api/v1/workspaces.
type WorkspaceAPI struct{ *Server }

type apiWorkspaceJSON struct {
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	Members   int          `json:"members"`
	Current   bool         `json:"current"`
	CreatedAt apiTimestamp `json:"created_at"`
}

type apiWorkspaceInput struct {
	Name *string `json:"name"`
}

var errNotOwnerToken = echo.NewHTTPError(http.StatusForbidden,
	"Only an owner's token manages the organization's workspaces: an admin token made in Settings → API tokens by an owner of the organization.")

// ownerOnly turns the store's refusal of a token that is not an owner's into a 403 that
// says which token would do.
func ownerOnly(err error) error {
	if errors.Is(err, models.ErrForbidden) {
		return errNotOwnerToken
	}
	return err
}

func (h *WorkspaceAPI) toJSON(c echo.Context, w models.OrgWorkspace) apiWorkspaceJSON {
	return apiWorkspaceJSON{ID: w.ID, Name: w.Name, Members: w.Members, Current: w.ID == workspaceID(c), CreatedAt: apiTime(w.CreatedAt)}
}

// Index lists the workspaces the token may see, by name.
func (h *WorkspaceAPI) Index(c echo.Context) error {
	ctx := c.Request().Context()
	list, err := h.store.OrganizationWorkspaces(ctx, actor(c))
	if errors.Is(err, models.ErrForbidden) {
		w, werr := h.store.WorkspaceByID(ctx, workspaceID(c))
		if werr != nil {
			return fmt.Errorf("list workspaces: %w", werr)
		}
		users, uerr := h.store.ListUsers(ctx, w.ID)
		if uerr != nil {
			return fmt.Errorf("list workspaces: %w", uerr)
		}
		list, err = []models.OrgWorkspace{{Workspace: *w, Members: len(users)}}, nil
	}
	if err != nil {
		return fmt.Errorf("list workspaces: %w", err)
	}
	page, next, err := apiPage(c, list, func(w models.OrgWorkspace) (string, string) { return w.ID, w.Name })
	if err != nil {
		return err
	}
	items := make([]apiWorkspaceJSON, len(page))
	for i, w := range page {
		items[i] = h.toJSON(c, w)
	}
	return c.JSON(http.StatusOK, listAnswer[apiWorkspaceJSON]{Items: items, NextCursor: next})
}

// answer is one workspace of the organization, with its member count.
func (h *WorkspaceAPI) answer(c echo.Context, status int, id string) error {
	list, err := h.store.OrganizationWorkspaces(c.Request().Context(), actor(c))
	if err != nil {
		return ownerOnly(err)
	}
	for _, w := range list {
		if w.ID == id {
			return c.JSON(status, h.toJSON(c, w))
		}
	}
	return models.ErrNotFound
}

// Create adds a workspace to the organization (an owner's token).
func (h *WorkspaceAPI) Create(c echo.Context) error {
	var in apiWorkspaceInput
	if err := apiDecode(c, &in); err != nil {
		return err
	}
	name := ""
	if in.Name != nil {
		name = *in.Name
	}
	w, err := h.core.AddWorkspace(c.Request().Context(), actor(c), name)
	if err != nil {
		return fmt.Errorf("create workspace: %w", ownerOnly(err))
	}
	return h.answer(c, http.StatusCreated, w.ID)
}

// Update renames a workspace of the organization (an owner's token).
func (h *WorkspaceAPI) Update(c echo.Context) error {
	var in apiWorkspaceInput
	if err := apiDecode(c, &in); err != nil {
		return err
	}
	name := "" // none sent: the store names the field once it has found the workspace
	if in.Name != nil {
		name = *in.Name
	}
	w, err := h.core.RenameWorkspace(c.Request().Context(), actor(c), c.Param("id"), name)
	if err != nil {
		return fmt.Errorf("rename workspace: %w", ownerOnly(err))
	}
	return h.answer(c, http.StatusOK, w.ID)
}

// Delete deletes a workspace of the organization and everything in it (an owner's
// token); ?confirm= is its name.
func (h *WorkspaceAPI) Delete(c echo.Context) error {
	if err := h.core.DeleteWorkspace(c.Request().Context(), actor(c), c.Param("id"), c.QueryParam("confirm")); err != nil {
		return fmt.Errorf("delete workspace: %w", ownerOnly(err))
	}
	return c.NoContent(http.StatusNoContent)
}

// InvitationAPI serves /api/v1/invitations (admin tokens).
type InvitationAPI struct{ *Server }

type apiInvitationJSON struct {
	ID        string       `json:"id"`
	Email     string       `json:"email"`
	Role      models.Role  `json:"role"`
	InvitedBy string       `json:"invited_by"`
	SentAt    apiTimestamp `json:"sent_at"`
	ExpiresAt apiTimestamp `json:"expires_at"`
	Expired   bool         `json:"expired"`
	// Link is the invitation's link, only when no mail server can send it.
	Link string `json:"link,omitempty"`
}

type apiInvitationInput struct {
	Email *string `json:"email"`
	Role  *string `json:"role"`
}

func (h *InvitationAPI) toJSON(inv *models.Invitation, link string) apiInvitationJSON {
	out := apiInvitationJSON{ID: inv.ID, Email: inv.Email, Role: inv.Role, InvitedBy: inv.InvitedBy, SentAt: apiTime(inv.SentAt),
		ExpiresAt: apiTime(inv.ExpiresAt), Expired: inv.Expired(h.store.Now())}
	if h.cfg.SMTPURL == "" {
		out.Link = link
	}
	return out
}

// Index lists the workspace's invitations neither accepted nor revoked, newest first.
func (h *InvitationAPI) Index(c echo.Context) error {
	list, err := h.store.ListInvitations(c.Request().Context(), workspaceID(c))
	if err != nil {
		return fmt.Errorf("list invitations: %w", err)
	}
	// Newest first: the next page starts at the first key below the cursor.
	page, next, err := apiSeekPage(c, list, func(inv models.Invitation) string { return apiSortKey(inv.CreatedAt, inv.ID) },
		func(key, cursor string) bool { return key < cursor })
	if err != nil {
		return err
	}
	items := make([]apiInvitationJSON, len(page))
	for i := range page {
		items[i] = h.toJSON(&page[i], "")
	}
	return c.JSON(http.StatusOK, listAnswer[apiInvitationJSON]{Items: items, NextCursor: next})
}

// Create invites an e-mail to the workspace with a role and e-mails the link.
func (h *InvitationAPI) Create(c echo.Context) error {
	var in apiInvitationInput
	if err := apiDecode(c, &in); err != nil {
		return err
	}
	var email, role string
	if in.Email != nil {
		email = *in.Email
	}
	if in.Role != nil {
		role = *in.Role
	}
	inv, link, err := h.core.InviteUser(c.Request().Context(), actor(c), email, models.Role(role))
	if err != nil {
		return fmt.Errorf("invite: %w", err)
	}
	return c.JSON(http.StatusCreated, h.toJSON(inv, link))
}

// Resend sends the invitation again with a new link; the previous one stops working.
func (h *InvitationAPI) Resend(c echo.Context) error {
	inv, link, err := h.core.ResendInvitation(c.Request().Context(), actor(c), c.Param("id"))
	if err != nil {
		return fmt.Errorf("resend invitation: %w", err)
	}
	return c.JSON(http.StatusOK, h.toJSON(inv, link))
}

// Delete revokes the invitation: its link opens nothing.
func (h *InvitationAPI) Delete(c echo.Context) error {
	if _, err := h.core.RevokeInvitation(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return fmt.Errorf("revoke invitation: %w", err)
	}
	return c.NoContent(http.StatusNoContent)
}
