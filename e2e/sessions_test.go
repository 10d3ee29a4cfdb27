package e2e

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/chromedp/chromedp"
)

// signInElsewhere signs a user in from a second "browser" (a Go client with a Firefox
// user agent) and returns it, redirects not followed.
func signInElsewhere(t *testing.T, base, email, password string) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path string, form url.Values) *http.Response {
		t.Helper()
		var body *strings.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		} else {
			body = strings.NewReader("")
		}
		req, err := http.NewRequest(method, base+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0")
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := do(http.MethodGet, "/login", nil)
	doc, err := goquery.NewDocumentFromReader(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	csrf := doc.Find("input[name=_csrf]").AttrOr("value", "")
	res = do(http.MethodPost, "/login", url.Values{"_csrf": {csrf}, "email": {email}, "password": {password}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in of %s: status %d", email, res.StatusCode)
	}
	return hc
}

// signedIn reports whether a client's session still opens a page.
func signedIn(t *testing.T, hc *http.Client, base string) bool {
	t.Helper()
	res, err := hc.Get(base + "/activations")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// An admin sees who is signed in where on Settings → Users and ends another user's
// session from the browser; that user's next request finds them signed out.
func TestAdminEndsAnotherUsersSession(t *testing.T) {
	base := startSluice(t)
	ctx := newBrowser(t)
	shots := newScreenshots(t)
	const email, password = "ada@acme.example", "correct horse battery"

	run(t, ctx, "create the first admin", chromedp.Navigate(base+"/setup"), createAdmin(email, password))
	run(t, ctx, "add a user",
		chromedp.Navigate(base+"/settings/users"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=add-user]`)),
		chromedp.SendKeys(chromedp.CSS(`#user-form #f-email`), "grace@acme.example"),
		chromedp.SendKeys(chromedp.CSS(`#user-form #f-name`), "Grace Hopper"),
		chromedp.SendKeys(chromedp.CSS(`#user-form #f-password`), "another good passphrase"),
		chromedp.SetValue(chromedp.CSS(`#user-form #f-role`), "editor"),
		chromedp.Click(chromedp.CSS(`[data-testid=add-user]`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert-success`)),
	)
	laptop := signInElsewhere(t, base, "grace@acme.example", "another good passphrase")
	phone := signInElsewhere(t, base, "grace@acme.example", "another good passphrase")

	run(t, ctx, "see the sessions",
		chromedp.Navigate(base+"/settings/users"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=sessions-table]`)),
		shots.take("users-sessions"),
	)
	if n := read(t, ctx, "count sessions", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=session-row]').length`)); n != 3 {
		t.Fatalf("%d session rows, want 3 (the admin's and two of grace's)", n)
	}
	mine := read(t, ctx, "read this browser", chromedp.Text(chromedp.CSS(`[data-testid=session-row]:has([data-testid=this-browser]) td:nth-child(2)`)))
	if !strings.Contains(mine, "Chrome") {
		t.Errorf("the admin's own session reads %q, want Chrome", mine)
	}

	run(t, ctx, "end one of grace's sessions",
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`), // hx-confirm asks; the admin says yes
		chromedp.Click(chromedp.CSS(`[data-testid=session-row]:not(:has([data-testid=this-browser])) [data-testid=end-session]`)),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-testid=session-row]').length === 2`),
	)
	if a, b := signedIn(t, laptop, base), signedIn(t, phone, base); a == b {
		t.Fatalf("grace's browsers signed in: %v, %v; want exactly one ended", a, b)
	}
	run(t, ctx, "the admin is still here",
		chromedp.Navigate(base+"/settings/users"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=this-browser]`)),
	)
}
