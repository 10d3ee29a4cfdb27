package models_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"sluice/internal/testutil"
	"sluice/models"
)

// An invitation's link works once and only until it expires; resending replaces it and
// revoking ends it; accepting makes the account, or adds a membership to an account of
// the organization; every step is in the workspace's audit log.
func TestInvitations(t *testing.T) {
	t.Parallel()
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		models.SetClock(s, func() time.Time { return now })
		ada, adaA := testutil.Admin(t, s)
		_, boss := otherWorkspace(t, s)

		_, _, err := s.InviteUser(ctx, adaA, "not an address", models.RoleViewer)
		wantField(t, err, "email")
		_, _, err = s.InviteUser(ctx, adaA, ada.Email, models.RoleViewer)
		wantField(t, err, "email") // a member already
		_, _, err = s.InviteUser(ctx, adaA, "boss@globex.example", models.RoleViewer)
		wantField(t, err, "email") // an account of another organization
		_, _, err = s.InviteUser(ctx, adaA, "grace@example.com", "owner")
		wantField(t, err, "role")

		inv, first, err := s.InviteUser(ctx, adaA, " Grace@Example.com ", models.RoleEditor)
		if err != nil {
			t.Fatal(err)
		}
		if inv.Email != "grace@example.com" || inv.TokenHash == first || inv.TokenHash != models.HashToken(first) {
			t.Fatalf("invitation %+v: e-mail not normalised or token stored in clear", inv)
		}
		_, _, err = s.InviteUser(ctx, adaA, "grace@example.com", models.RoleViewer)
		wantField(t, err, "email") // invited already: resend instead

		// Resending kills the first link.
		_, second, err := s.ResendInvitation(ctx, adaA, inv.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := s.InvitationByToken(ctx, first); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("the first link after a resend: %v, want ErrNotFound", err)
		}
		got, w, hasAccount, err := s.InvitationByToken(ctx, second)
		if err != nil || got.ID != inv.ID || w.ID != ada.WorkspaceID || hasAccount {
			t.Fatalf("the new link: %+v %+v %v %v", got, w, hasAccount, err)
		}

		// Another workspace's admin can neither resend nor revoke it.
		if _, _, err := s.ResendInvitation(ctx, boss, inv.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("another workspace resends: %v", err)
		}
		if _, err := s.RevokeInvitation(ctx, boss, inv.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("another workspace revokes: %v", err)
		}

		// Expired after 7 days, until resent.
		now = now.Add(models.InvitationLifetime)
		if _, _, _, err := s.InvitationByToken(ctx, second); !errors.Is(err, models.ErrInvitationExpired) {
			t.Errorf("a link 7 days old: %v, want ErrInvitationExpired", err)
		}
		if _, err := s.AcceptInvitation(ctx, second, "Grace", testutil.Password); !errors.Is(err, models.ErrInvitationExpired) {
			t.Errorf("accepting an expired link: %v", err)
		}
		_, third, err := s.ResendInvitation(ctx, adaA, inv.ID)
		if err != nil {
			t.Fatal(err)
		}

		// A bad password leaves the link working; a good one makes the account, once.
		_, err = s.AcceptInvitation(ctx, third, "Grace", "short")
		wantField(t, err, "password")
		grace, err := s.AcceptInvitation(ctx, third, "Grace Hopper", testutil.Password)
		if err != nil {
			t.Fatal(err)
		}
		if grace.Role != models.RoleEditor || grace.WorkspaceID != ada.WorkspaceID || grace.OrganizationID != ada.OrganizationID || grace.Owner {
			t.Errorf("grace: %+v", grace)
		}
		if _, err := s.AcceptInvitation(ctx, third, "Mallory", testutil.Password); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("the link used twice: %v, want ErrNotFound", err)
		}
		if u, err := s.Authenticate(ctx, "grace@example.com", testutil.Password, "192.0.2.9"); err != nil || u.Role != models.RoleEditor {
			t.Errorf("grace signs in: %+v %v", u, err)
		}
		if list, _ := s.ListInvitations(ctx, ada.WorkspaceID); len(list) != 0 {
			t.Errorf("accepted invitation still listed: %+v", list)
		}

		// An account of the organization accepts as itself, in another workspace.
		mkt, err := s.AddWorkspace(ctx, adaA, "Marketing")
		if err != nil {
			t.Fatal(err)
		}
		inMkt := adaA
		inMkt.WorkspaceID = mkt.ID
		_, tok, err := s.InviteUser(ctx, inMkt, "grace@example.com", models.RoleViewer)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, hasAccount, err := s.InvitationByToken(ctx, tok); err != nil || !hasAccount {
			t.Errorf("invitation of an existing account: hasAccount %v, %v", hasAccount, err)
		}
		_, err = s.AcceptInvitationAs(ctx, tok, ada)
		wantField(t, err, "email") // not ada's invitation
		m, err := s.AcceptInvitationAs(ctx, tok, grace)
		if err != nil || m.WorkspaceID != mkt.ID || m.Role != models.RoleViewer {
			t.Fatalf("grace accepts Marketing: %+v %v", m, err)
		}

		// Revoked: the link opens nothing.
		r, tok2, err := s.InviteUser(ctx, adaA, "linus@example.com", models.RoleViewer)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.RevokeInvitation(ctx, adaA, r.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := s.InvitationByToken(ctx, tok2); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("revoked link: %v", err)
		}

		got2 := auditActions(t, s, ada.WorkspaceID)
		for _, want := range []string{"invitation.create grace@example.com", "invitation.resend grace@example.com",
			"invitation.accept grace@example.com", "invitation.create linus@example.com", "invitation.revoke linus@example.com"} {
			if !slices.Contains(got2, want) {
				t.Errorf("audit log lacks %q: %v", want, got2)
			}
		}
		if !slices.Contains(auditActions(t, s, mkt.ID), "invitation.accept grace@example.com") {
			t.Error("Marketing's audit log lacks grace's acceptance")
		}
	})
}
