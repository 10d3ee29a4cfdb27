package handlers_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"sluice/internal/testutil"
	"sluice/models"
)

// copyCookies is a second browser holding a copy of this one's cookies, as someone who
// stole them would.
func (c *client) copyCookies() *client {
	c.t.Helper()
	u, err := url.Parse(c.base)
	if err != nil {
		c.t.Fatal(err)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	jar.SetCookies(u, c.hc.Jar.Cookies(u))
	return &client{t: c.t, base: c.base, hc: &http.Client{Jar: jar, CheckRedirect: c.hc.CheckRedirect}}
}

// cookieValues is the cookie header this browser sends.
func (c *client) cookieValues() string {
	c.t.Helper()
	u, _ := url.Parse(c.base)
	var parts []string
	for _, k := range c.hc.Jar.Cookies(u) {
		parts = append(parts, k.Name+"="+k.Value)
	}
	return strings.Join(parts, "; ")
}

// refused checks a copied cookie is signed out: a page sends it to sign in, and a state
// change (with the CSRF token it carried) neither happens nor is answered as if it might.
func refused(t *testing.T, a *app, thief *client, csrf string) {
	t.Helper()
	r := thief.get("/settings/tokens").want(t, http.StatusSeeOther)
	if !strings.HasPrefix(r.Location(), "/login") {
		t.Errorf("GET with the copied cookie goes to %q, want /login", r.Location())
	}
	before, err := a.store.ListAPITokens(t.Context(), models.DefaultWorkspaceID)
	if err != nil {
		t.Fatal(err)
	}
	r = thief.post("/settings/tokens", url.Values{"_csrf": {csrf}, "name": {"stolen"}, "role": {"admin"}}).want(t, http.StatusSeeOther)
	if r.Location() != "/login" {
		t.Errorf("POST with the copied cookie goes to %q, want /login", r.Location())
	}
	for _, tok := range before {
		thief.do(http.MethodDelete, "/settings/tokens/"+tok.ID, nil, "HX-Request", "true", "X-CSRF-Token", csrf).want(t, http.StatusOK)
	}
	after, err := a.store.ListAPITokens(t.Context(), models.DefaultWorkspaceID)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("%d tokens after the copied cookie's tries, want %d: it changed something", len(after), len(before))
	}
}

// signedInAs signs a new browser in as a new user of the first workspace.
func signedInAs(t *testing.T, a *app, by models.Actor, email string, role models.Role) (*models.User, *client) {
	t.Helper()
	u, err := a.store.CreateUser(t.Context(), by, models.NewUser{Email: email, Password: testutil.Password, Role: role})
	if err != nil {
		t.Fatal(err)
	}
	c := a.client(t)
	c.signIn(email, testutil.Password)
	return u, c
}

// A cookie copied before sign-out, a role change or a removal is worth nothing after.
func TestCopiedSessionCookieEnds(t *testing.T) {
	t.Parallel()
	eachApp(t, func(t *testing.T, a *app) {
		ada, admin := signedInAdmin(t, a)
		if _, _, err := a.store.CreateAPIToken(t.Context(), testutil.ActorOf(ada), "target", models.RoleViewer); err != nil {
			t.Fatal(err)
		}
		adminCSRF := admin.csrf("/settings/users")

		t.Run("sign-out", func(t *testing.T) {
			_, bob := signedInAs(t, a, testutil.ActorOf(ada), "bob@example.com", models.RoleAdmin)
			csrf := bob.csrf("/settings/tokens")
			thief := bob.copyCookies()
			if !thief.signedIn() {
				t.Fatal("the copied cookie does not work before sign-out: the test proves nothing")
			}
			bob.post("/logout", url.Values{"_csrf": {csrf}}).want(t, http.StatusSeeOther)
			refused(t, a, thief, csrf)
			// Signing in again makes a new session; the copy stays dead.
			bob.signIn("bob@example.com", testutil.Password)
			if !bob.signedIn() || thief.signedIn() {
				t.Errorf("after signing in again: owner signed in %v, copy signed in %v", bob.signedIn(), thief.signedIn())
			}
		})

		t.Run("role change", func(t *testing.T) {
			carl, c := signedInAs(t, a, testutil.ActorOf(ada), "carl@example.com", models.RoleAdmin)
			csrf := c.csrf("/settings/tokens")
			thief := c.copyCookies()
			admin.post("/settings/users/"+carl.ID, url.Values{"role": {"editor"}}, "HX-Request", "true", "X-CSRF-Token", adminCSRF).want(t, http.StatusOK)
			refused(t, a, thief, csrf)
			if c.signedIn() {
				t.Error("the user's own browser is still signed in after the role change")
			}
			// Signed in again, carl has the new role.
			c.signIn("carl@example.com", testutil.Password)
			c.post("/settings/tokens", url.Values{"_csrf": {c.csrf("/activations")}, "name": {"x"}, "role": {"viewer"}}).want(t, http.StatusForbidden)
		})

		t.Run("removal", func(t *testing.T) {
			dora, d := signedInAs(t, a, testutil.ActorOf(ada), "dora@example.com", models.RoleAdmin)
			csrf := d.csrf("/settings/tokens")
			thief := d.copyCookies()
			admin.do(http.MethodDelete, "/settings/users/"+dora.ID, nil, "HX-Request", "true", "X-CSRF-Token", adminCSRF).want(t, http.StatusOK)
			refused(t, a, thief, csrf)
			var n int64
			if err := a.store.DB().Model(&models.Session{}).Where("user_id = ?", dora.ID).Count(&n).Error; err != nil || n != 0 {
				t.Errorf("%d sessions of the removed user left (%v)", n, err)
			}
		})

		// The admin who did all this is still signed in.
		if !admin.signedIn() {
			t.Error("the acting admin was signed out")
		}
	})
}

func TestAdminEndsSessions(t *testing.T) {
	t.Parallel()
	eachApp(t, func(t *testing.T, a *app) {
		ada, admin := signedInAdmin(t, a)
		bob, b1 := signedInAs(t, a, testutil.ActorOf(ada), "bob@example.com", models.RoleEditor)
		b2 := a.client(t)
		b2.signIn("bob@example.com", testutil.Password)
		vic, viewer := signedInAs(t, a, testutil.ActorOf(ada), "vic@example.com", models.RoleViewer)

		page := admin.get("/settings/users").want(t, http.StatusOK)
		doc := page.Doc(t)
		rows := func(u *models.User) int {
			return doc.Find("[data-testid=session-row][data-user='" + u.ID + "']").Length()
		}
		if rows(ada) != 1 || rows(bob) != 2 || rows(vic) != 1 {
			t.Fatalf("session rows: ada %d, bob %d, vic %d; want 1, 2, 1\n%s", rows(ada), rows(bob), rows(vic), page.Body)
		}
		mine := doc.Find("[data-testid=session-row]:has([data-testid=this-browser])")
		if mine.Length() != 1 || mine.AttrOr("data-user", "") != ada.ID {
			t.Errorf("the admin's own session is not the one marked as this browser")
		}
		bobRow := doc.Find("[data-testid=session-row][data-user='" + bob.ID + "']").First()
		if txt := bobRow.Text(); !strings.Contains(txt, "127.0.0.1") || !strings.Contains(txt, "Go HTTP client") {
			t.Errorf("bob's session row lacks address or browser: %q", strings.Join(strings.Fields(txt), " "))
		}
		if doc.Find("[data-testid=end-user-sessions]").Length() != 1 {
			t.Errorf("want one \"Sign out everywhere\", for the one user with several sessions")
		}
		csrf := admin.csrf("/settings/users")
		htmx := []string{"HX-Request", "true", "X-CSRF-Token", csrf}

		sessions, err := a.store.ListSessions(t.Context(), models.DefaultWorkspaceID)
		if err != nil {
			t.Fatal(err)
		}
		idOf := func(u *models.User) []string {
			var ids []string
			for _, s := range sessions {
				if s.UserID == u.ID {
					ids = append(ids, s.ID)
				}
			}
			return ids
		}

		t.Run("a viewer cannot end sessions", func(t *testing.T) {
			vcsrf := viewer.csrf("/activations")
			viewer.do(http.MethodDelete, "/settings/sessions/"+idOf(ada)[0], nil, "HX-Request", "true", "X-CSRF-Token", vcsrf).want(t, http.StatusForbidden)
			viewer.do(http.MethodDelete, "/settings/users/"+ada.ID+"/sessions", nil, "HX-Request", "true", "X-CSRF-Token", vcsrf).want(t, http.StatusForbidden)
			viewer.get("/settings/users").want(t, http.StatusForbidden)
			if !admin.signedIn() {
				t.Error("the viewer signed the admin out")
			}
		})

		t.Run("without the CSRF token", func(t *testing.T) {
			admin.do(http.MethodDelete, "/settings/sessions/"+idOf(vic)[0], nil, "HX-Request", "true").want(t, http.StatusForbidden)
			if !viewer.signedIn() {
				t.Error("a request without the CSRF token ended a session")
			}
		})

		t.Run("end one session", func(t *testing.T) {
			// Which of bob's browsers holds which session: end one, see which one fails.
			r := admin.do(http.MethodDelete, "/settings/sessions/"+idOf(bob)[0], nil, htmx...).want(t, http.StatusOK)
			if n := r.Count(t, "[data-testid=session-row][data-user='"+bob.ID+"']"); n != 1 {
				t.Errorf("the card shows %d sessions of bob after ending one, want 1", n)
			}
			one, two := b1.signedIn(), b2.signedIn()
			if one == two {
				t.Fatalf("bob's browsers signed in: %v, %v; want exactly one ended", one, two)
			}
			e := latestAudit(t, a)
			if e.Action != "session.end" || e.ResourceID != idOf(bob)[0] || e.ResourceName != bob.Email || e.ActorID != ada.ID {
				t.Errorf("audit entry %+v", e)
			}
		})

		t.Run("sign out everywhere", func(t *testing.T) {
			again := a.client(t)
			again.signIn("bob@example.com", testutil.Password)
			admin.do(http.MethodDelete, "/settings/users/"+bob.ID+"/sessions", nil, htmx...).want(t, http.StatusOK)
			if b1.signedIn() || b2.signedIn() || again.signedIn() {
				t.Error("a browser of bob is still signed in")
			}
			if e := latestAudit(t, a); e.Action != "session.end_all" || e.ResourceID != bob.ID || e.ActorID != ada.ID {
				t.Errorf("audit entry %+v", e)
			}
			if !viewer.signedIn() || !admin.signedIn() {
				t.Error("other users were signed out too")
			}
		})

		t.Run("another workspace's session is not found", func(t *testing.T) {
			ws, err := a.store.CreateWorkspace(t.Context(), "Globex")
			if err != nil {
				t.Fatal(err)
			}
			sys := models.Actor{WorkspaceID: ws.ID, Type: models.ActorSystem, Name: "test"}
			_, other := signedInAs(t, a, sys, "boss@globex.example", models.RoleAdmin)
			ocsrf := other.csrf("/settings/users")
			other.do(http.MethodDelete, "/settings/sessions/"+idOf(vic)[0], nil, "HX-Request", "true", "X-CSRF-Token", ocsrf).want(t, http.StatusNotFound)
			other.do(http.MethodDelete, "/settings/users/"+vic.ID+"/sessions", nil, "HX-Request", "true", "X-CSRF-Token", ocsrf).want(t, http.StatusNotFound)
			if !viewer.signedIn() {
				t.Error("another workspace's admin ended a session")
			}
			if n := other.get("/settings/users").Count(t, "[data-testid=session-row]"); n != 1 {
				t.Errorf("another workspace's admin sees %d sessions, want only their own", n)
			}
		})

		t.Run("ending your own session signs you out", func(t *testing.T) {
			thief := admin.copyCookies()
			r := admin.do(http.MethodDelete, "/settings/sessions/"+idOf(ada)[0], nil, htmx...).want(t, http.StatusOK)
			if r.Header.Get("HX-Redirect") != "/login" {
				t.Errorf("HX-Redirect %q, want /login", r.Header.Get("HX-Redirect"))
			}
			if admin.signedIn() || thief.signedIn() {
				t.Error("still signed in after ending one's own session")
			}
		})
	})
}

func latestAudit(t *testing.T, a *app) models.AuditEntry {
	t.Helper()
	entries, _, err := a.store.ListAuditEntries(t.Context(), models.DefaultWorkspaceID, models.AuditFilter{Limit: 1})
	if err != nil || len(entries) == 0 {
		t.Fatalf("audit entries: %v, %v", entries, err)
	}
	return entries[0]
}

// A new token's value is in the answer that made it, and in nothing after: not on a
// reload, not with a cookie copied before or after.
func TestTokenValueOnlyInCreatingAnswer(t *testing.T) {
	t.Parallel()
	eachApp(t, func(t *testing.T, a *app) {
		_, c := signedInAdmin(t, a)
		csrf := c.csrf("/settings/tokens")
		copyBefore := c.copyCookies()
		cookieBefore := c.cookieValues()

		for _, tc := range []struct {
			name   string
			header []string
		}{
			{"form post", nil},
			{"htmx", []string{"HX-Request", "true", "X-CSRF-Token", csrf}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := c.post("/settings/tokens", url.Values{"_csrf": {csrf}, "name": {"ci " + tc.name}, "role": {"viewer"}}, tc.header...).want(t, http.StatusCreated)
				plain := r.Text(t, "[data-testid=token-value]")
				if !strings.HasPrefix(plain, "slu_") {
					t.Fatalf("the creating answer shows %q, want the token", plain)
				}
				if r.Location() != "" || r.Header.Get("HX-Redirect") != "" {
					t.Errorf("the creating answer redirects (Location %q, HX-Redirect %q)", r.Location(), r.Header.Get("HX-Redirect"))
				}
				if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
					t.Errorf("Cache-Control %q, want no-store", cc)
				}
				if r.Count(t, "[data-testid=token-row]") == 0 {
					t.Error("the new token is not in the list beside its value")
				}
				if tc.header != nil && strings.Contains(r.Body, "<html") {
					t.Error("htmx got a whole page")
				}
				if got := c.cookieValues(); got != cookieBefore {
					t.Error("the creating answer changed the session cookie: it may carry the token")
				}
				copyAfter := c.copyCookies()
				for name, b := range map[string]*client{"same browser": c, "cookie copied before": copyBefore, "cookie copied after": copyAfter} {
					page := b.get("/settings/tokens").want(t, http.StatusOK)
					if strings.Contains(page.Body, plain) || page.Count(t, "[data-testid=token-value]") != 0 {
						t.Errorf("%s: GET /settings/tokens shows the token again", name)
					}
					if strings.Contains(b.get("/settings/tokens", "HX-Request", "true").Body, plain) {
						t.Errorf("%s: the htmx page shows the token again", name)
					}
				}
				if _, err := a.store.APITokenByValue(t.Context(), plain); err != nil {
					t.Errorf("the token shown does not work: %v", err)
				}
			})
		}
	})
}
