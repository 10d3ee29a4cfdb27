package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"sluice/internal/testutil"
	"sluice/models"
)

// Acceptance: a POST without its CSRF token gets 403.
func TestPostWithoutCSRFTokenGets403(t *testing.T) {
	t.Parallel()
	type tokenMode int
	const (
		noToken tokenMode = iota
		wrongField
		wrongHeader
		otherSession   // a real token, of another browser's session
		beforeSignIn   // the token of this browser from before it signed in
		field          // the right token, in the _csrf form field
		header         // the right token, in X-CSRF-Token
		fieldAndHeader // a wrong header wins over a right field
	)
	userForm := func(email string) url.Values {
		return url.Values{"email": {email}, "password": {testutil.Password}, "role": {"viewer"}}
	}
	loginForm := url.Values{"email": {"admin@example.com"}, "password": {testutil.Password}}
	userExists := func(email string) func(*testing.T, *app, *client) bool {
		return func(t *testing.T, a *app, _ *client) bool {
			users, err := a.store.ListUsers(t.Context(), models.DefaultWorkspaceID)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range users {
				if u.Email == email {
					return true
				}
			}
			return false
		}
	}
	signedIn := func(_ *testing.T, _ *app, c *client) bool { return c.signedIn() }
	signedOut := func(_ *testing.T, _ *app, c *client) bool { return !c.signedIn() }

	tests := []struct {
		name     string
		signedIn bool
		method   string
		path     string
		form     url.Values
		mode     tokenMode
		want     int
		// tookEffect reports whether the request did what it asks; it must not on 403.
		tookEffect func(*testing.T, *app, *client) bool
	}{
		{"add user, no token", true, http.MethodPost, "/settings/users", userForm("u1@example.com"), noToken, 403, userExists("u1@example.com")},
		{"add user, wrong field", true, http.MethodPost, "/settings/users", userForm("u2@example.com"), wrongField, 403, userExists("u2@example.com")},
		{"add user, wrong header", true, http.MethodPost, "/settings/users", userForm("u3@example.com"), wrongHeader, 403, userExists("u3@example.com")},
		{"add user, other session's token", true, http.MethodPost, "/settings/users", userForm("u4@example.com"), otherSession, 403, userExists("u4@example.com")},
		{"add user, token from before sign-in", true, http.MethodPost, "/settings/users", userForm("u5@example.com"), beforeSignIn, 403, userExists("u5@example.com")},
		{"add user, wrong header beside right field", true, http.MethodPost, "/settings/users", userForm("u6@example.com"), fieldAndHeader, 403, userExists("u6@example.com")},
		{"add user, token in field", true, http.MethodPost, "/settings/users", userForm("u7@example.com"), field, 303, userExists("u7@example.com")},
		{"add user, token in header", true, http.MethodPost, "/settings/users", userForm("u8@example.com"), header, 303, userExists("u8@example.com")},
		{"revoke token, no token", true, http.MethodDelete, "/settings/tokens/x", nil, noToken, 403, nil},
		{"revoke token, token in header", true, http.MethodDelete, "/settings/tokens/x", nil, header, 404, nil},
		{"logout, no token", true, http.MethodPost, "/logout", url.Values{}, noToken, 403, signedOut},
		{"logout, wrong field", true, http.MethodPost, "/logout", url.Values{}, wrongField, 403, signedOut},
		{"logout, token in field", true, http.MethodPost, "/logout", url.Values{}, field, 303, signedOut},
		{"logout, token in header", true, http.MethodPost, "/logout", url.Values{}, header, 303, signedOut},
		{"login, no token", false, http.MethodPost, "/login", loginForm, noToken, 403, signedIn},
		{"login, wrong field", false, http.MethodPost, "/login", loginForm, wrongField, 403, signedIn},
		{"login, other session's token", false, http.MethodPost, "/login", loginForm, otherSession, 403, signedIn},
		{"login, token in field", false, http.MethodPost, "/login", loginForm, field, 303, signedIn},
		{"login, token in header", false, http.MethodPost, "/login", loginForm, header, 303, signedIn},
	}
	eachApp(t, func(t *testing.T, a *app) {
		testutil.Admin(t, a.store)
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				c := a.client(t)
				page := "/login"
				early := c.csrf(page)
				if tc.signedIn {
					c.signIn("admin@example.com", testutil.Password)
					page = "/activations"
				}
				right := c.csrf(page)
				if tc.signedIn && right == early {
					t.Fatal("signing in kept the CSRF token of the signed-out session")
				}
				form := url.Values{}
				for k, v := range tc.form {
					form[k] = v
				}
				var hdr []string
				switch tc.mode {
				case wrongField:
					form.Set("_csrf", right+"x")
				case wrongHeader:
					hdr = []string{"X-CSRF-Token", "not-the-token"}
				case otherSession:
					other := a.client(t)
					if tc.signedIn {
						other.signIn("admin@example.com", testutil.Password)
					}
					form.Set("_csrf", other.csrf(page))
				case beforeSignIn:
					form.Set("_csrf", early)
				case field:
					form.Set("_csrf", right)
				case header:
					hdr = []string{"X-CSRF-Token", right}
				case fieldAndHeader:
					form.Set("_csrf", right)
					hdr = []string{"X-CSRF-Token", right[1:]}
				}
				if tc.form == nil && len(form) == 0 {
					form = nil
				}
				r := c.do(tc.method, tc.path, form, hdr...)
				r.want(t, tc.want)
				if r.Status == http.StatusForbidden && r.Count(t, "[data-testid=error-page]") != 1 {
					t.Errorf("403 without the error page:\n%s", r.Body)
				}
				if tc.tookEffect != nil {
					if got, want := tc.tookEffect(t, a, c), tc.want != http.StatusForbidden; got != want {
						t.Errorf("took effect = %v, want %v", got, want)
					}
				}
			})
		}
	})
}

// Acceptance: a viewer gets 403 on admin actions (and so do operators and editors).
func TestBelowAdminGets403OnAdminActions(t *testing.T) {
	t.Parallel()
	a := sqliteApp(t)
	admin, adminActor := testutil.Admin(t, a.store)
	tok, _, err := a.store.CreateAPIToken(t.Context(), adminActor, "ci", models.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	requests := []struct {
		method, path string
		form         url.Values
	}{
		{http.MethodGet, "/settings/users", nil},
		{http.MethodGet, "/settings/tokens", nil},
		{http.MethodGet, "/settings/audit", nil},
		{http.MethodPost, "/settings/users", url.Values{"email": {"mallory@example.com"}, "password": {testutil.Password}, "role": {"admin"}}},
		{http.MethodPost, "/settings/users/" + admin.ID, url.Values{"role": {"viewer"}}},
		{http.MethodDelete, "/settings/users/" + admin.ID, nil},
		{http.MethodPost, "/settings/tokens", url.Values{"name": {"mine"}, "role": {"admin"}}},
		{http.MethodDelete, "/settings/tokens/" + tok.ID, nil},
		{http.MethodDelete, "/settings/tokens/x", nil},
	}
	for _, role := range []models.Role{models.RoleViewer, models.RoleOperator, models.RoleEditor} {
		t.Run(string(role), func(t *testing.T) {
			email := string(role) + "@example.com"
			if _, err := a.store.CreateUser(t.Context(), adminActor, models.NewUser{Email: email, Password: testutil.Password, Role: role}); err != nil {
				t.Fatal(err)
			}
			c := a.client(t)
			c.signIn(email, testutil.Password)
			home := c.get("/activations").want(t, http.StatusOK)
			for _, nav := range []string{"users", "tokens", "audit"} {
				if home.Count(t, "[data-testid=nav-"+nav+"]") != 0 {
					t.Errorf("%s sees the %s link", role, nav)
				}
			}
			token := c.csrf("/activations")
			for _, rq := range requests {
				t.Run(rq.method+" "+rq.path, func(t *testing.T) {
					r := c.do(rq.method, rq.path, rq.form, "X-CSRF-Token", token).want(t, http.StatusForbidden)
					if msg := r.Text(t, "[data-testid=error-page]"); !strings.Contains(msg, "needs the Admin role") {
						t.Errorf("error page says %q, want the role it needs", msg)
					}
					// htmx gets the same refusal as a toast in the flash area.
					r = c.do(rq.method, rq.path, rq.form, "X-CSRF-Token", token, "HX-Request", "true").want(t, http.StatusForbidden)
					if r.Header.Get("HX-Retarget") != "#flash" || r.Count(t, "[data-testid=error-toast]") != 1 {
						t.Errorf("htmx 403: HX-Retarget %q, body %s", r.Header.Get("HX-Retarget"), r.Body)
					}
				})
			}
		})
	}
	// Nothing the refused requests asked for happened.
	if u, err := a.store.UserByID(t.Context(), admin.WorkspaceID, admin.ID); err != nil || u.Role != models.RoleAdmin {
		t.Errorf("admin after refused requests: %+v, %v", u, err)
	}
	if users, _ := a.store.ListUsers(t.Context(), admin.WorkspaceID); len(users) != 4 {
		t.Errorf("%d users, want the admin and the three test users", len(users))
	}
	if ts, _ := a.store.ListAPITokens(t.Context(), admin.WorkspaceID); len(ts) != 1 || ts[0].ID != tok.ID {
		t.Errorf("tokens = %+v, want only the admin's", ts)
	}
	// The role check, not something else, refused: an admin passes it.
	c := a.client(t)
	c.signIn(admin.Email, testutil.Password)
	c.get("/settings/audit").want(t, http.StatusOK)
}

// Acceptance: an object of another workspace answers 404, whichever way one looks.
func TestOtherWorkspaceObjectAnswers404(t *testing.T) {
	t.Parallel()
	eachApp(t, func(t *testing.T, a *app) {
		ctx := t.Context()
		ada, adaActor := testutil.Admin(t, a.store)
		ws, err := a.store.CreateWorkspace(ctx, "Globex")
		if err != nil {
			t.Fatal(err)
		}
		sys := models.Actor{WorkspaceID: ws.ID, Type: models.ActorSystem, Name: "test"}
		// Each workspace: an admin who acts, an editor and a token to aim at.
		type tenant struct {
			admin    *models.User
			editor   *models.User
			token    *models.APIToken
			plain    string
			browser  *client
			csrf     string
			emailEnd string
		}
		mk := func(actor models.Actor, admin *models.User, domain string) *tenant {
			tn := &tenant{admin: admin, emailEnd: domain}
			if tn.admin == nil {
				if tn.admin, err = a.store.CreateUser(ctx, actor, models.NewUser{Email: "boss" + domain, Password: testutil.Password, Role: models.RoleAdmin}); err != nil {
					t.Fatal(err)
				}
			}
			ed, err := a.store.CreateUser(ctx, actor, models.NewUser{Email: "editor" + domain, Password: testutil.Password, Role: models.RoleEditor})
			if err != nil {
				t.Fatal(err)
			}
			if tn.editor, err = a.store.UserByID(ctx, ed.WorkspaceID, ed.ID); err != nil { // as stored, to compare with later
				t.Fatal(err)
			}
			if tn.token, tn.plain, err = a.store.CreateAPIToken(ctx, actor, "ci"+strings.ReplaceAll(domain, ".", "-"), models.RoleViewer); err != nil {
				t.Fatal(err)
			}
			tn.browser = a.client(t)
			tn.browser.signIn(tn.admin.Email, testutil.Password)
			tn.csrf = tn.browser.csrf("/settings/users")
			return tn
		}
		acme := mk(adaActor, ada, "@acme.example")
		globex := mk(sys, nil, "@globex.example")

		for _, dir := range []struct {
			name          string
			actor, target *tenant
		}{
			{"acme on globex", acme, globex},
			{"globex on acme", globex, acme},
		} {
			c, token, victim, tok := dir.actor.browser, dir.actor.csrf, dir.target.editor, dir.target.token
			tests := []struct {
				name   string
				method string
				path   string
				form   url.Values
				header []string
			}{
				{"role change", http.MethodPost, "/settings/users/" + victim.ID, url.Values{"_csrf": {token}, "role": {"viewer"}}, nil},
				{"role change to admin via htmx", http.MethodPost, "/settings/users/" + victim.ID, url.Values{"role": {"admin"}}, []string{"X-CSRF-Token", token, "HX-Request", "true"}},
				{"remove", http.MethodDelete, "/settings/users/" + victim.ID, nil, []string{"X-CSRF-Token", token}},
				{"remove via htmx", http.MethodDelete, "/settings/users/" + victim.ID, nil, []string{"X-CSRF-Token", token, "HX-Request", "true"}},
				{"remove their admin", http.MethodDelete, "/settings/users/" + dir.target.admin.ID, nil, []string{"X-CSRF-Token", token}},
				{"revoke token", http.MethodDelete, "/settings/tokens/" + tok.ID, nil, []string{"X-CSRF-Token", token}},
			}
			for _, tc := range tests {
				t.Run(dir.name+"/"+tc.name, func(t *testing.T) {
					r := c.do(tc.method, tc.path, tc.form, tc.header...).want(t, http.StatusNotFound)
					if strings.Contains(r.Body, victim.Email) || strings.Contains(r.Body, tok.Name) {
						t.Errorf("404 leaks the other workspace's object:\n%s", r.Body)
					}
				})
			}
			list := c.get("/settings/users").want(t, http.StatusOK)
			if n := list.Count(t, "[data-testid=user-row]"); n != 2 || strings.Contains(list.Body, dir.target.emailEnd) {
				t.Errorf("%s: users page shows %d rows, or the other workspace's users", dir.name, n)
			}
		}

		for _, tn := range []*tenant{acme, globex} {
			u, err := a.store.UserByID(ctx, tn.editor.WorkspaceID, tn.editor.ID)
			if err != nil {
				t.Fatalf("%s is gone: %v", tn.editor.Email, err)
			}
			if u.Role != models.RoleEditor || !u.UpdatedAt.Equal(tn.editor.UpdatedAt) {
				t.Errorf("%s changed: role %s, updated %v", u.Email, u.Role, u.UpdatedAt)
			}
			if _, err := a.store.UserByID(ctx, tn.admin.WorkspaceID, tn.admin.ID); err != nil {
				t.Errorf("%s is gone: %v", tn.admin.Email, err)
			}
			if _, err := a.store.APITokenByValue(ctx, tn.plain); err != nil {
				t.Errorf("token %s stopped working: %v", tn.token.Name, err)
			}
		}
	})
}

func TestSetupFlow(t *testing.T) {
	t.Parallel()
	a := sqliteApp(t)
	c := a.client(t)

	c.get("/login").want(t, http.StatusSeeOther)
	if loc := c.get("/login").Location(); loc != "/setup" {
		t.Fatalf("GET /login on a new database redirects to %q, want /setup", loc)
	}
	form := c.get("/setup").want(t, http.StatusOK)
	if form.Count(t, "[data-testid=create-admin]") != 1 {
		t.Fatal("no setup form")
	}
	token := c.csrf("/setup")

	t.Run("field errors", func(t *testing.T) {
		tests := []struct {
			name  string
			form  url.Values
			field string
		}{
			{"no workspace", url.Values{"workspace": {" "}, "email": {"ada@example.com"}, "password": {testutil.Password}}, "workspace"},
			{"bad e-mail", url.Values{"workspace": {"Acme"}, "email": {"ada"}, "password": {testutil.Password}}, "email"},
			{"short password", url.Values{"workspace": {"Acme"}, "email": {"ada@example.com"}, "password": {"short"}}, "password"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				tc.form.Set("_csrf", token)
				r := c.post("/setup", tc.form).want(t, http.StatusUnprocessableEntity)
				if r.Count(t, "[data-testid=error-"+tc.field+"]") != 1 {
					t.Errorf("no error beside %s:\n%s", tc.field, r.Body)
				}
				if v, _ := r.Doc(t).Find("input[name=workspace]").Attr("value"); v != tc.form.Get("workspace") {
					t.Errorf("workspace field = %q, want the typed %q kept", v, tc.form.Get("workspace"))
				}
			})
		}
		if need, _ := a.store.NeedsSetup(t.Context()); !need {
			t.Fatal("a refused setup ended setup")
		}
	})

	r := c.post("/setup", url.Values{"_csrf": {token}, "workspace": {"Acme Corp"}, "name": {"Ada"}, "email": {"ada@example.com"}, "password": {testutil.Password}})
	r.want(t, http.StatusSeeOther)
	if r.Location() != "/activations" {
		t.Errorf("after setup: Location %q, want /activations", r.Location())
	}
	home := c.get("/activations").want(t, http.StatusOK)
	if ws := home.Text(t, "[data-testid=workspace-name]"); ws != "Acme Corp" {
		t.Errorf("workspace shown as %q", ws)
	}
	if users, _ := a.store.ListUsers(t.Context(), models.DefaultWorkspaceID); len(users) != 1 || users[0].Role != models.RoleAdmin {
		t.Errorf("users after setup: %+v", users)
	}

	c.get("/setup").want(t, http.StatusNotFound)
	token = c.csrf("/activations")
	c.post("/setup", url.Values{"_csrf": {token}, "workspace": {"Evil"}, "email": {"eve@example.com"}, "password": {testutil.Password}}).want(t, http.StatusNotFound)
	c.post("/setup", url.Values{"_csrf": {token}, "workspace": {""}, "email": {"eve"}}).want(t, http.StatusNotFound) // gone, whatever the input
	stranger := a.client(t)
	stranger.get("/setup").want(t, http.StatusNotFound)
	stranger.get("/login").want(t, http.StatusOK)
	if users, _ := a.store.ListUsers(t.Context(), models.DefaultWorkspaceID); len(users) != 1 {
		t.Errorf("%d users after a second setup attempt, want 1", len(users))
	}
}

func TestSignInAndOut(t *testing.T) {
	t.Parallel()
	a := sqliteApp(t)
	testutil.Admin(t, a.store)

	t.Run("signed out goes to login with next", func(t *testing.T) {
		c := a.client(t)
		r := c.get("/settings/users?x=1").want(t, http.StatusSeeOther)
		if want := "/login?next=%2Fsettings%2Fusers%3Fx%3D1"; r.Location() != want {
			t.Fatalf("Location %q, want %q", r.Location(), want)
		}
		login := c.get(r.Location()).want(t, http.StatusOK)
		if next, _ := login.Doc(t).Find("input[name=next]").Attr("value"); next != "/settings/users?x=1" {
			t.Errorf("login form carries next = %q", next)
		}
	})

	tests := []struct {
		name, next, want string
	}{
		{"next kept", "/settings/users?x=1", "/settings/users?x=1"},
		{"no next", "", "/activations"},
		{"protocol-relative URL", "//evil.example", "/activations"},
		{"protocol-relative with path", "//evil.example/settings", "/activations"},
		{"backslash trick", "/\\evil.example", "/activations"},
		{"absolute URL", "https://evil.example/", "/activations"},
		{"relative path", "settings", "/activations"},
	}
	for _, tc := range tests {
		t.Run("next "+tc.name, func(t *testing.T) {
			c := a.client(t)
			token := c.csrf("/login?next=" + url.QueryEscape(tc.next))
			r := c.post("/login", url.Values{"_csrf": {token}, "email": {"admin@example.com"}, "password": {testutil.Password}, "next": {tc.next}})
			r.want(t, http.StatusSeeOther)
			if r.Location() != tc.want {
				t.Errorf("Location %q, want %q", r.Location(), tc.want)
			}
		})
	}

	t.Run("signed-in visitor of /login goes on, but not off-site", func(t *testing.T) {
		c := a.client(t)
		c.signIn("admin@example.com", testutil.Password)
		if loc := c.get("/login?next=%2F%2Fevil.example").want(t, http.StatusSeeOther).Location(); loc != "/activations" {
			t.Errorf("Location %q", loc)
		}
	})

	failures := []struct{ name, email, password string }{
		{"wrong password", "admin@example.com", "wrong password"},
		{"unknown e-mail", "nobody@example.com", testutil.Password},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			c := a.client(t)
			token := c.csrf("/login")
			r := c.post("/login", url.Values{"_csrf": {token}, "email": {tc.email}, "password": {tc.password}}).want(t, http.StatusUnprocessableEntity)
			if msg := r.Text(t, "[data-testid=login-error]"); msg != "Wrong e-mail or password." {
				t.Errorf("message %q", msg)
			}
			if v, _ := r.Doc(t).Find("input[name=email]").Attr("value"); v != tc.email {
				t.Errorf("e-mail field = %q, want it kept", v)
			}
			if strings.Contains(r.Body, tc.password) {
				t.Error("the password is echoed back")
			}
			if c.signedIn() {
				t.Error("signed in after a failure")
			}
		})
	}

	t.Run("logout", func(t *testing.T) {
		c := a.client(t)
		c.signIn("admin@example.com", testutil.Password)
		token := c.csrf("/activations")
		r := c.post("/logout", url.Values{"_csrf": {token}}).want(t, http.StatusSeeOther)
		if r.Location() != "/login" {
			t.Errorf("logout goes to %q", r.Location())
		}
		r = c.get("/activations").want(t, http.StatusSeeOther)
		if want := "/login?next=%2Factivations"; r.Location() != want {
			t.Errorf("after logout: Location %q, want %q", r.Location(), want)
		}
		// The signed-in session's token is void after logout.
		c.post("/settings/users", url.Values{"_csrf": {token}, "email": {"x@example.com"}, "password": {testutil.Password}, "role": {"admin"}}).want(t, http.StatusForbidden)
	})
}

func TestRoleChangeWithHTMX(t *testing.T) {
	t.Parallel()
	eachApp(t, func(t *testing.T, a *app) {
		ada, c := signedInAdmin(t, a)
		bob, err := a.store.CreateUser(t.Context(), testutil.ActorOf(ada), models.NewUser{Email: "bob@example.com", Password: testutil.Password, Role: models.RoleEditor})
		if err != nil {
			t.Fatal(err)
		}
		token := c.csrf("/settings/users")
		htmx := []string{"HX-Request", "true", "X-CSRF-Token", token}

		tests := []struct {
			name     string
			user     *models.User
			role     string
			want     int
			wantRole models.Role // in the database afterwards
			rowError string      // part of the message in the row, "" for none
		}{
			{"demote bob", bob, "viewer", 200, models.RoleViewer, ""},
			{"promote bob", bob, "operator", 200, models.RoleOperator, ""},
			{"unknown role", bob, "root", 422, models.RoleOperator, "Choose a role"},
			{"demote the last admin", ada, "viewer", 422, models.RoleAdmin, "at least one admin"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := c.post("/settings/users/"+tc.user.ID, url.Values{"role": {tc.role}}, htmx...).want(t, tc.want)
				if !strings.Contains(r.Header.Get("Vary"), "HX-Request") {
					t.Errorf("Vary = %q, want HX-Request", r.Header.Get("Vary"))
				}
				if strings.Contains(r.Body, "<html") {
					t.Error("htmx got a whole page, want the row")
				}
				doc := r.Rows(t)
				row := doc.Find("#user-" + tc.user.ID + "[data-testid=user-row]")
				if row.Length() != 1 || doc.Find("[data-testid=user-row]").Length() != 1 {
					t.Fatalf("want exactly the row of %s:\n%s", tc.user.Email, r.Body)
				}
				if got := strings.TrimSpace(row.Find("[data-testid=row-error]").Text()); !strings.Contains(got, tc.rowError) || (tc.rowError == "") != (got == "") {
					t.Errorf("row error %q, want %q", got, tc.rowError)
				}
				if tc.user.ID != ada.ID {
					if sel, _ := row.Find("select[name=role] option[selected]").Attr("value"); sel != string(tc.wantRole) {
						t.Errorf("row shows role %q, want %q", sel, tc.wantRole)
					}
				}
				u, err := a.store.UserByID(t.Context(), tc.user.WorkspaceID, tc.user.ID)
				if err != nil {
					t.Fatal(err)
				}
				if u.Role != tc.wantRole {
					t.Errorf("role in the database %q, want %q", u.Role, tc.wantRole)
				}
			})
		}
	})
}

func TestTokensPage(t *testing.T) {
	t.Parallel()
	eachApp(t, func(t *testing.T, a *app) {
		_, c := signedInAdmin(t, a)
		page := c.get("/settings/tokens").want(t, http.StatusOK)
		if page.Count(t, "[data-testid=empty-state]") != 1 {
			t.Error("no empty state before any token")
		}
		token := c.csrf("/settings/tokens")

		r := c.post("/settings/tokens", url.Values{"_csrf": {token}, "name": {""}, "role": {"viewer"}}).want(t, http.StatusUnprocessableEntity)
		if r.Count(t, "[data-testid=error-name]") != 1 {
			t.Errorf("no error beside the name:\n%s", r.Body)
		}

		// The answer that made the token shows it: no redirect carries it anywhere.
		shown := c.post("/settings/tokens", url.Values{"_csrf": {token}, "name": {"terraform"}, "role": {"editor"}}).want(t, http.StatusCreated)
		plain := shown.Text(t, "[data-testid=token-value]")
		if !strings.HasPrefix(plain, "slu_") {
			t.Fatalf("token shown as %q", plain)
		}
		if n := shown.Count(t, "[data-testid=token-row]"); n != 1 {
			t.Errorf("%d token rows, want 1", n)
		}
		again := c.get("/settings/tokens").want(t, http.StatusOK)
		if again.Count(t, "[data-testid=token-value]") != 0 || strings.Contains(again.Body, plain) {
			t.Error("a reload shows the token again")
		}
		if again.Count(t, "[data-testid=token-row]") != 1 {
			t.Error("the token row disappeared")
		}

		api := a.client(t)
		if got := api.api("/api/v1/activations", plain).want(t, http.StatusOK).Body; strings.TrimSpace(got) != `{"items":[],"next_cursor":""}` {
			t.Errorf("API answered %s", got)
		}

		// htmx creation answers the form and the list, the new token shown above them.
		r = c.post("/settings/tokens", url.Values{"name": {"etl"}, "role": {"viewer"}}, "HX-Request", "true", "X-CSRF-Token", token).want(t, http.StatusCreated)
		if r.Header.Get("HX-Redirect") != "" {
			t.Errorf("HX-Redirect %q", r.Header.Get("HX-Redirect"))
		}
		second := r.Text(t, "[data-testid=token-value]")
		if !strings.HasPrefix(second, "slu_") || second == plain {
			t.Errorf("second token shown as %q", second)
		}

		// Revoking stops the token at once.
		tok, err := a.store.APITokenByValue(t.Context(), plain)
		if err != nil {
			t.Fatal(err)
		}
		c.do(http.MethodDelete, "/settings/tokens/"+tok.ID, nil, "HX-Request", "true", "X-CSRF-Token", token).want(t, http.StatusOK)
		api.api("/api/v1/activations", plain).want(t, http.StatusUnauthorized)
		api.api("/api/v1/activations", second).want(t, http.StatusOK)
	})
}

func TestAPIAuthAndErrors(t *testing.T) {
	t.Parallel()
	eachApp(t, func(t *testing.T, a *app) {
		_, admin := testutil.Admin(t, a.store)
		if created, err := a.store.EnsureBootstrapToken(t.Context(), "bootstrap-token-1234567890"); err != nil || !created {
			t.Fatalf("EnsureBootstrapToken = %v, %v", created, err)
		}
		_, plain, err := a.store.CreateAPIToken(t.Context(), admin, "ci", models.RoleViewer)
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name          string
			path          string
			authorization string // "" sends none
			want          int
			code, field   string // of the error body, "" on success
			wwwAuth       string // part of WWW-Authenticate, "" for none
		}{
			{"no token", "/api/v1/activations", "", 401, "unauthorized", "", `Bearer realm="sluice"`},
			{"empty bearer", "/api/v1/activations", "Bearer ", 401, "unauthorized", "", `Bearer realm="sluice"`},
			{"basic auth", "/api/v1/activations", "Basic YWRtaW46cGFzcw==", 401, "unauthorized", "", `Bearer`},
			{"wrong token", "/api/v1/activations", "Bearer slu_wrong", 401, "unauthorized", "", `error="invalid_token"`},
			{"token's hash", "/api/v1/activations", "Bearer " + models.HashToken(plain), 401, "unauthorized", "", `error="invalid_token"`},
			{"valid token", "/api/v1/activations", "Bearer " + plain, 200, "", "", ""},
			{"lower-case scheme", "/api/v1/activations", "bearer " + plain, 200, "", "", ""},
			{"bootstrap token", "/api/v1/activations", "Bearer bootstrap-token-1234567890", 200, "", "", ""},
			{"status filter", "/api/v1/activations?status=failed", "Bearer " + plain, 200, "", "", ""},
			{"bogus status", "/api/v1/activations?status=bogus", "Bearer " + plain, 422, "invalid", "status", ""},
		}
		c := a.client(t)
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				var r *response
				if tc.authorization == "" {
					r = c.get(tc.path)
				} else {
					r = c.get(tc.path, "Authorization", tc.authorization)
				}
				r.want(t, tc.want)
				if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("Content-Type %q", ct)
				}
				if got := r.Header.Get("WWW-Authenticate"); !strings.Contains(got, tc.wwwAuth) || (tc.wwwAuth == "") != (got == "") {
					t.Errorf("WWW-Authenticate %q, want %q", got, tc.wwwAuth)
				}
				if tc.code == "" {
					if strings.TrimSpace(r.Body) != `{"items":[],"next_cursor":""}` {
						t.Errorf("body %s", r.Body)
					}
					return
				}
				e := apiErrorOf(t, r)
				if e.Code != tc.code || e.Field != tc.field || e.Message == "" {
					t.Errorf("error %+v, want code %q field %q and a message", e, tc.code, tc.field)
				}
			})
		}
	})
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

// apiErrorOf decodes API.md's error body, refusing any other shape.
func apiErrorOf(t *testing.T, r *response) apiError {
	t.Helper()
	var body map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.Body), &body); err != nil || len(body) != 1 || body["error"] == nil {
		t.Fatalf("body %s, want {\"error\": {…}} (%v)", r.Body, err)
	}
	var e apiError
	if err := json.Unmarshal(body["error"], &e); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestHealthReadyAndMetrics(t *testing.T) {
	t.Parallel()
	a := sqliteApp(t)
	c := a.client(t)
	_, admin := testutil.Admin(t, a.store)
	_, token, err := a.store.CreateAPIToken(t.Context(), admin, "prometheus", models.RoleViewer) // /metrics asks for one
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want string
	}{
		{"/healthz", `{"status":"ok"}`},
		{"/readyz", `{"status":"ready"}`},
	}
	for _, tc := range tests {
		if got := strings.TrimSpace(c.get(tc.path).want(t, http.StatusOK).Body); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.path, got, tc.want)
		}
	}
	c.get("/settings/users")                             // a redirect, counted with its status
	c.do(http.MethodDelete, "/settings/tokens/abc", nil) // labelled by route pattern, not by URL
	m := c.get("/metrics", "Authorization", "Bearer "+token).want(t, http.StatusOK).Body
	for _, want := range []string{
		"sluice_http_requests_total",
		`sluice_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
		`sluice_http_requests_total{method="GET",route="/settings/users",status="303"} 1`,
		`sluice_http_requests_total{method="DELETE",route="/settings/tokens/:id",status="403"} 1`,
		"sluice_http_request_duration_seconds_bucket",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestReadyzBeforeMigrations(t *testing.T) {
	t.Parallel()
	s, err := models.Open(testutil.SQLiteURL(t), testutil.Secrets(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := serve(t, s).client(t)
	c.get("/healthz").want(t, http.StatusOK)
	c.get("/readyz").want(t, http.StatusServiceUnavailable)
}

func TestAuditPageFilters(t *testing.T) {
	t.Parallel()
	a := sqliteApp(t)
	ada, c := signedInAdmin(t, a)
	token := c.csrf("/settings/users")
	c.post("/settings/users", url.Values{"_csrf": {token}, "email": {"bob@example.com"}, "password": {testutil.Password}, "role": {"viewer"}}).want(t, http.StatusSeeOther)
	for _, name := range []string{"ci", "etl"} {
		c.post("/settings/tokens", url.Values{"_csrf": {token}, "name": {name}, "role": {"viewer"}}).want(t, http.StatusCreated)
	}
	toks, err := a.store.ListAPITokens(t.Context(), ada.WorkspaceID)
	if err != nil || len(toks) != 2 {
		t.Fatalf("tokens %v, %v", toks, err)
	}
	c.do(http.MethodDelete, "/settings/tokens/"+toks[0].ID, nil, "X-CSRF-Token", token).want(t, http.StatusSeeOther)

	all, _, err := a.store.ListAuditEntries(t.Context(), ada.WorkspaceID, models.AuditFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	count := func(pred func(models.AuditEntry) bool) int {
		n := 0
		for _, e := range all {
			if pred(e) {
				n++
			}
		}
		return n
	}
	// The day of the entries, as the filter reads dates: whole UTC days.
	day := all[0].At.UTC()
	if !sameDay(day, all[len(all)-1].At.UTC()) {
		t.Skip("the entries straddle midnight UTC; run again")
	}
	today := day.Format(time.DateOnly)
	yesterday := day.AddDate(0, 0, -1).Format(time.DateOnly)
	tests := []struct {
		name     string
		query    string
		want     int    // status
		rows     int    // audit rows shown
		mustShow string // text every row holds
		error    string // part of the alert, for 422
	}{
		{"everything", "", 200, len(all), "", ""},
		{"api tokens", "?resource=api_token", 200, 3, "api_token", ""},
		{"users", "?resource=user", 200, count(func(e models.AuditEntry) bool { return e.ResourceType == "user" }), "user", ""},
		{"actor", "?actor=" + ada.ID, 200, count(func(e models.AuditEntry) bool { return e.ActorID == ada.ID }), "admin@example.com", ""},
		{"unknown actor", "?actor=nobody", 200, 0, "", ""},
		{"from today", "?from=" + today, 200, len(all), "", ""},
		{"to yesterday", "?to=" + yesterday, 200, 0, "", ""},
		{"to today (includes its day)", "?to=" + today, 200, len(all), "", ""},
		{"one day", "?from=" + today + "&to=" + today, 200, len(all), "", ""},
		{"garbage from", "?from=garbage", 422, 0, "", "start date"},
		{"garbage to", "?to=31/12/2030", 422, 0, "", "end date"},
		{"from after to", "?from=" + today + "&to=" + yesterday, 422, 0, "", "on or before"},
	}
	if count(func(e models.AuditEntry) bool { return e.ResourceType == "api_token" }) != 3 {
		t.Fatalf("want 3 api_token entries (2 created, 1 revoked), have %d", len(all))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := c.get("/settings/audit"+tc.query).want(t, tc.want)
			doc := r.Doc(t)
			rows := doc.Find("[data-testid=audit-row]")
			if rows.Length() != tc.rows {
				t.Errorf("%d rows, want %d", rows.Length(), tc.rows)
			}
			for i := range rows.Length() {
				if txt := rows.Eq(i).Text(); !strings.Contains(txt, tc.mustShow) {
					t.Errorf("row %d lacks %q: %s", i, tc.mustShow, strings.Join(strings.Fields(txt), " "))
				}
			}
			if tc.rows == 0 && tc.want == 200 && doc.Find("[data-testid=empty-state]").Length() != 1 {
				t.Error("no empty state")
			}
			if alert := strings.TrimSpace(doc.Find("#audit-results [role=alert]").Text()); !strings.Contains(alert, tc.error) || (tc.error == "") != (alert == "") {
				t.Errorf("alert %q, want %q", alert, tc.error)
			}
		})
	}
	t.Run("no secrets on the page", func(t *testing.T) {
		body := c.get("/settings/audit").Body
		for _, bad := range []string{"password", "$2a$", toks[0].TokenHash, toks[1].TokenHash} {
			if strings.Contains(body, bad) {
				t.Errorf("audit page shows %q", bad)
			}
		}
	})
	c.get("/settings/audit?cursor=garbage").want(t, http.StatusBadRequest)
}

func sameDay(a, b time.Time) bool { return a.Format(time.DateOnly) == b.Format(time.DateOnly) }

func TestNotFound(t *testing.T) {
	t.Parallel()
	a := sqliteApp(t)
	_, c := signedInAdmin(t, a)
	for _, path := range []string{"/nope", "/settings/nope", "/static/nope.css"} {
		t.Run(path, func(t *testing.T) {
			r := c.get(path).want(t, http.StatusNotFound)
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type %q", ct)
			}
			page := r.Doc(t).Find("[data-testid=error-page]")
			if page.Length() != 1 || !strings.Contains(page.Text(), "404") || !strings.Contains(page.Text(), "Page not found") {
				t.Errorf("error page:\n%s", r.Body)
			}
		})
	}

	plain := "bootstrap-token-1234567890"
	if _, err := a.store.EnsureBootstrapToken(t.Context(), plain); err != nil {
		t.Fatal(err)
	}
	api := a.client(t)
	tests := []struct {
		name  string
		token string
		want  int
		code  string
	}{
		{"with a token", plain, 404, "not_found"},
		{"without a token", "", 401, "unauthorized"},
	}
	for _, tc := range tests {
		t.Run("/api/v1/nope "+tc.name, func(t *testing.T) {
			r := api.api("/api/v1/nope", tc.token).want(t, tc.want)
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			if e := apiErrorOf(t, r); e.Code != tc.code {
				t.Errorf("code %q, want %q", e.Code, tc.code)
			}
		})
	}
}
