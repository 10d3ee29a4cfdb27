package handlers_test

import (
	"net/http"
	"net/url"
	"testing"

	"sluice/internal/testutil"
)

// TestLoginRedirectStaysOnSite replays the open redirect: /login?next=/%09/evil.example
// answered Location "/\t/evil.example", which a browser follows to //evil.example. Every
// hostile next, through GET /login and POST /login, now ends on /activations.
func TestLoginRedirectStaysOnSite(t *testing.T) {
	t.Parallel()
	a := sqliteApp(t)
	testutil.Admin(t, a.store)
	signedIn := a.client(t)
	signedIn.signIn("admin@example.com", testutil.Password)

	// Each is the raw query value, as an attacker would put it in a link.
	hostile := []string{
		"/%09/evil.example",
		"/%0A/evil.example",
		"/%0D%0A/evil.example",
		"%09//evil.example",
		"/%5Cevil.example",
		"%5C%5Cevil.example",
		"/%5C%09%5Cevil.example",
		"//evil.example",
		"%2F%2Fevil.example",
		"%20%20//evil.example",
		"%00//evil.example",
		"https://evil.example",
		"https:evil.example",
		"javascript:alert(1)",
		"java%09script:alert(1)",
		"/.//evil.example",
		"/%252e//evil.example",
		"/%2e//evil.example",
		"/..//evil.example",
	}
	for _, raw := range hostile {
		t.Run(raw, func(t *testing.T) {
			// Signed in: GET /login goes straight on, to Sluice.
			if loc := signedIn.get("/login?next="+raw).want(t, http.StatusSeeOther).Location(); loc != "/activations" {
				t.Errorf("signed-in GET /login: Location %q, want /activations", loc)
			}
			// Signed out: the form does not carry the hostile next on ...
			c := a.client(t)
			page := c.get("/login?next="+raw).want(t, http.StatusOK)
			if next, _ := page.Doc(t).Find("input[name=next]").Attr("value"); next != "" && next[0] != '/' {
				t.Errorf("login form carries next = %q", next)
			}
			token, _ := page.Doc(t).Find("input[name=_csrf]").Attr("value")
			// ... and a POST with it, forged or not, lands on Sluice.
			next, err := url.QueryUnescape(raw)
			if err != nil {
				t.Fatal(err)
			}
			r := c.post("/login", url.Values{"_csrf": {token}, "email": {"admin@example.com"}, "password": {testutil.Password}, "next": {next}})
			if loc := r.want(t, http.StatusSeeOther).Location(); loc != "/activations" {
				t.Errorf("POST /login: Location %q, want /activations", loc)
			}
		})
	}

	// Paths of Sluice still bring the visitor back, even ones that look odd.
	kept := []struct{ raw, want string }{
		{"%2Fsettings%2Fusers%3Fx%3D1", "/settings/users?x=1"},
		{"/%252F%252Fevil.example", "/%2F%2Fevil.example"},
	}
	for _, tc := range kept {
		t.Run("kept "+tc.raw, func(t *testing.T) {
			if loc := signedIn.get("/login?next="+tc.raw).want(t, http.StatusSeeOther).Location(); loc != tc.want {
				t.Errorf("Location %q, want %q", loc, tc.want)
			}
		})
	}
}
