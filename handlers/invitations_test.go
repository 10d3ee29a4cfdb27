package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"sluice/config"
	"sluice/internal/testutil"
	"sluice/models"
	"sluice/notify"
)

// mailedLink claims the one e-mail queued for to and returns its invitation link's path.
func mailedLink(t *testing.T, a *app, to string) string {
	t.Helper()
	msgs, err := a.store.ClaimAlerts(t.Context(), 10, time.Minute)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("queued e-mails: %d (%v), want 1", len(msgs), err)
	}
	target, err := a.store.AlertTarget(&msgs[0])
	if err != nil || target != to || msgs[0].Channel != "email" {
		t.Fatalf("e-mail to %q over %s (%v), want %s", target, msgs[0].Channel, err, to)
	}
	payload, err := a.store.AlertPayload(&msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	var m notify.Message
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	if m.Kind != notify.KindInvitation || len(m.Buttons) != 1 {
		t.Fatalf("message %+v, want an invitation with its link", m)
	}
	u, err := url.Parse(m.Buttons[0].URL)
	if err != nil || u.Path != "/invitation" || u.Query().Get("token") == "" {
		t.Fatalf("link %q", m.Buttons[0].URL)
	}
	// The row itself holds the link sealed: whoever reads the table (or a backup) cannot
	// use it.
	var stored []string
	if err := a.store.DB().Raw("SELECT payload || ' ' || payload_sealed FROM alert_outbox WHERE id = ?", msgs[0].ID).Scan(&stored).Error; err != nil || len(stored) != 1 {
		t.Fatalf("stored row: %v, %v", stored, err)
	}
	if token := u.Query().Get("token"); strings.Contains(stored[0], token) || strings.Contains(stored[0], "/invitation") || !strings.HasPrefix(stored[0], "{} ") {
		t.Errorf("the outbox row holds the link in clear: %q", stored[0])
	}
	return u.RequestURI()
}

// Invitations through Settings → Users: the e-mailed link makes an account once; resend
// kills the old link, revoke the link; an account of the organization accepts into a
// second workspace after signing in; only admins invite, and only in their workspace.
func TestInvitationsThroughThePages(t *testing.T) {
	t.Parallel()
	eachApp(t, func(t *testing.T, a *app) {
		ctx := t.Context()
		_, ada := signedInAdmin(t, a)
		csrf := ada.csrf("/settings/users")
		invite := func(c *client, token, email, role string) *response {
			return c.post("/settings/invitations", url.Values{"_csrf": {token}, "invite-email": {email}, "invite-role": {role}})
		}
		invite(ada, csrf, "grace@acme.example", "editor").want(t, http.StatusSeeOther)
		// No mail server in this app: the admin is given the link to pass on.
		sent := ada.get("/settings/users").want(t, http.StatusOK).Text(t, "#flash")
		r := invite(ada, csrf, "grace@acme.example", "viewer").want(t, http.StatusUnprocessableEntity)
		if !strings.Contains(r.Text(t, "[data-testid=error-invite-email]"), "Resend") {
			t.Errorf("inviting twice: %q", r.Text(t, "[data-testid=error-invite-email]"))
		}
		// A member of the workspace already is not invited again.
		if r := invite(ada, csrf, "admin@example.com", "viewer").want(t, http.StatusUnprocessableEntity); !strings.Contains(r.Text(t, "[data-testid=error-invite-email]"), "already a member of this workspace") {
			t.Errorf("inviting a member: %q", r.Text(t, "[data-testid=error-invite-email]"))
		}
		first := mailedLink(t, a, "grace@acme.example")
		if !strings.Contains(sent, "no mail server configured") || !strings.Contains(sent, first) {
			t.Errorf("without a mail server the admin is not given the link %s: %q", first, sent)
		}
		list, err := a.store.ListInvitations(ctx, models.DefaultWorkspaceID)
		if err != nil || len(list) != 1 {
			t.Fatalf("invitations: %+v %v", list, err)
		}
		if n := ada.get("/settings/users").want(t, http.StatusOK).Count(t, "[data-testid=invitation-row]"); n != 1 {
			t.Errorf("users page lists %d invitations", n)
		}

		// Only admins invite; another workspace's admin cannot resend or revoke it.
		viewer := userIn(t, a, models.DefaultWorkspaceID, models.RoleViewer)
		invite(viewer, viewer.csrf("/activations"), "mallory@acme.example", "admin").want(t, http.StatusForbidden)
		ws, err := a.store.CreateWorkspace(ctx, "Globex")
		if err != nil {
			t.Fatal(err)
		}
		other := userIn(t, a, ws.ID, models.RoleAdmin)
		otherCSRF := other.csrf("/settings/users")
		other.post("/settings/invitations/"+list[0].ID+"/resend", url.Values{"_csrf": {otherCSRF}}).want(t, http.StatusNotFound)
		other.post("/settings/invitations/"+list[0].ID+"/revoke", url.Values{"_csrf": {otherCSRF}}).want(t, http.StatusNotFound)

		// Resend: the first link is dead, the second works.
		ada.post("/settings/invitations/"+list[0].ID+"/resend", url.Values{"_csrf": {csrf}}).want(t, http.StatusSeeOther)
		second := mailedLink(t, a, "grace@acme.example")
		grace := a.client(t)
		grace.get(first).want(t, http.StatusNotFound)
		page := grace.get(second).want(t, http.StatusOK)
		if !strings.Contains(page.Text(t, "[data-testid=invitation-summary]"), "Editor") {
			t.Errorf("invitation page: %q", page.Text(t, "[data-testid=invitation-summary]"))
		}
		token, _ := url.ParseQuery(strings.TrimPrefix(second, "/invitation?"))
		gcsrf := grace.csrf(second)
		grace.post("/invitation", url.Values{"_csrf": {gcsrf}, "token": {token.Get("token")}, "name": {"Grace"}, "password": {"short"}}).
			want(t, http.StatusUnprocessableEntity)
		grace.post("/invitation", url.Values{"_csrf": {gcsrf}, "token": {token.Get("token")}, "name": {"Grace Hopper"}, "password": {testutil.Password}}).
			want(t, http.StatusSeeOther)
		page = grace.get("/activations").want(t, http.StatusOK)
		if got := page.Text(t, ".sidebar-footer .badge"); got != "Editor" {
			t.Errorf("grace's role: %q, want Editor", got)
		}
		a.client(t).get(second).want(t, http.StatusNotFound) // used once

		// Revoked: the link opens nothing.
		invite(ada, csrf, "linus@acme.example", "viewer").want(t, http.StatusSeeOther)
		linusLink := mailedLink(t, a, "linus@acme.example")
		list, _ = a.store.ListInvitations(ctx, models.DefaultWorkspaceID)
		ada.post("/settings/invitations/"+list[0].ID+"/revoke", url.Values{"_csrf": {csrf}}).want(t, http.StatusSeeOther)
		a.client(t).get(linusLink).want(t, http.StatusNotFound)

		// Grace's account joins a second workspace of the organization: she signs in and
		// accepts, and works there at once.
		ada.post("/settings/workspaces", url.Values{"_csrf": {csrf}, "name": {"Marketing"}}).want(t, http.StatusSeeOther)
		all, err := a.store.ListUsers(ctx, models.DefaultWorkspaceID)
		if err != nil {
			t.Fatal(err)
		}
		var adaID string
		for _, u := range all {
			if u.Owner {
				adaID = u.ID
			}
		}
		wss, _ := a.store.WorkspacesOf(ctx, adaID)
		var mkt string
		for _, w := range wss {
			if w.Name == "Marketing" {
				mkt = w.ID
			}
		}
		ada.post("/workspaces/switch", url.Values{"_csrf": {csrf}, "workspace": {mkt}}).want(t, http.StatusSeeOther)
		invite(ada, csrf, "grace@acme.example", "viewer").want(t, http.StatusSeeOther)
		mktLink := mailedLink(t, a, "grace@acme.example")
		stranger := a.client(t)
		if stranger.get(mktLink).want(t, http.StatusOK).Count(t, "[data-testid=sign-in-to-accept]") != 1 {
			t.Error("an invitation for an existing account should ask to sign in")
		}
		mktToken, _ := url.ParseQuery(strings.TrimPrefix(mktLink, "/invitation?"))
		if grace.get(mktLink).want(t, http.StatusOK).Count(t, "[data-testid=accept-invitation]") != 1 {
			t.Fatal("signed in as grace, the invitation page should offer to accept")
		}
		grace.post("/invitation", url.Values{"_csrf": {grace.csrf(mktLink)}, "token": {mktToken.Get("token")}}).want(t, http.StatusSeeOther)
		page = grace.get("/activations").want(t, http.StatusOK)
		if got := page.Text(t, "[data-testid=workspace-switcher] option[selected]"); !strings.HasPrefix(got, "Marketing") {
			t.Errorf("grace works in %q after accepting, want Marketing", got)
		}
		if got := page.Text(t, ".sidebar-footer .badge"); got != "Viewer" {
			t.Errorf("grace's role in Marketing: %q, want Viewer", got)
		}
	})
}

// With a mail server configured, the link leaves by e-mail only.
func TestInvitationLinkIsNotShownWhenMailed(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.SMTPURL = "smtp://127.0.0.1:1"
	eachAppWith(t, cfg, func(t *testing.T, a *app) {
		_, ada := signedInAdmin(t, a)
		ada.post("/settings/invitations", url.Values{"_csrf": {ada.csrf("/settings/users")}, "invite-email": {"grace@acme.example"}, "invite-role": {"viewer"}}).
			want(t, http.StatusSeeOther)
		page := ada.get("/settings/users").want(t, http.StatusOK)
		link := mailedLink(t, a, "grace@acme.example")
		if strings.Contains(page.Body, link) || !strings.Contains(page.Body, "is on its way to grace@acme.example") {
			t.Errorf("with a mail server the page shows the link or no word of the e-mail:\n%s", page.Body)
		}
	})
}
