package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"sluice/internal/testutil"
	"sluice/models"
)

func TestAlertsPage(t *testing.T) {
	eachApp(t, func(t *testing.T, a *app) {
		admin, c := signedInAdmin(t, a)
		token := c.csrf("/settings/alerts")
		form := url.Values{"_csrf": {token}, "recipient_user": {admin.ID}, "addresses": {"oncall@example.com"},
			"slack_url": {publicHook, ""}, "event": {"run_failed", "platform_broken"}, "slow_run_factor": {"3"},
			"route_credentials": {"admins"}}

		// Without the CSRF token nothing is saved.
		noCSRF := url.Values{}
		for k, v := range form {
			if k != "_csrf" {
				noCSRF[k] = v
			}
		}
		c.post("/settings/alerts", noCSRF).want(t, http.StatusForbidden)
		if set, _ := a.store.AlertSettings(t.Context(), admin.WorkspaceID); set.Saved {
			t.Fatal("a post without CSRF token saved settings")
		}

		c.post("/settings/alerts", form).want(t, http.StatusSeeOther)
		set, err := a.store.AlertSettings(t.Context(), admin.WorkspaceID)
		if err != nil {
			t.Fatal(err)
		}
		if len(set.Recipients) != 2 || len(set.SlackWebhookURLs) != 1 || set.Thresholds.SlowRunFactor != 3 || set.Routing["credentials"][0] != "admins" {
			t.Fatalf("saved = %+v", set)
		}

		// The page shows the URL masked; posting it back as shown keeps it.
		page := c.get("/settings/alerts").want(t, http.StatusOK)
		if strings.Contains(page.Body, "hookS3cret") || !strings.Contains(page.Body, publicHookMasked) {
			t.Fatalf("page shows the Slack URL unmasked or not at all")
		}
		form.Set("slack_url", publicHookMasked)
		c.post("/settings/alerts", form).want(t, http.StatusSeeOther)
		if set, _ = a.store.AlertSettings(t.Context(), admin.WorkspaceID); len(set.SlackWebhookURLs) != 1 || set.SlackWebhookURLs[0] != publicHook {
			t.Fatalf("after posting the masked URL: %v", set.SlackWebhookURLs)
		}
		for _, row := range auditRows(t, a, admin.WorkspaceID) {
			if strings.Contains(row, "hookS3cret") {
				t.Fatalf("the audit log holds the Slack URL: %s", row)
			}
		}

		// Errors come back beside their field, in plain words.
		bad := url.Values{"_csrf": {token}, "addresses": {"ok@example.com, not-an-address"}}
		r := c.post("/settings/alerts", bad).want(t, http.StatusUnprocessableEntity)
		if msg := r.Text(t, "[data-testid=error-addresses]"); !strings.Contains(msg, "not-an-address") || !strings.Contains(msg, "not an e-mail address") {
			t.Errorf("address error = %q", msg)
		}
		r = c.post("/settings/alerts", url.Values{"_csrf": {token}, "slack_url": {"https://127.0.0.1/services/a/b"}}).want(t, http.StatusUnprocessableEntity)
		if msg := r.Text(t, "[data-testid=error-slack-0]"); !strings.Contains(msg, "loopback") {
			t.Errorf("private Slack URL error = %q", msg)
		}

		// "Send test alert" answers in plain words, naming the target without its secret
		// (delivery itself: TestSendTestAlertDelivers).
		r = c.post("/settings/alerts/test", url.Values{"_csrf": {token}, "channel": {"slack"}}).want(t, http.StatusOK)
		if msg := r.Text(t, "[data-testid=test-result-slack]"); msg != "A test alert is on its way to Slack webhook on 1.1.1.1." {
			t.Errorf("test alert answer = %q", msg)
		}

		// A viewer reads the page (URL masked) but changes nothing.
		viewer, err := a.store.CreateUser(t.Context(), testutil.ActorOf(admin), models.NewUser{Email: "vera@example.com", Password: testutil.Password, Role: models.RoleViewer})
		if err != nil {
			t.Fatal(err)
		}
		v := a.client(t)
		v.signIn(viewer.Email, testutil.Password)
		vp := v.get("/settings/alerts").want(t, http.StatusOK)
		if strings.Contains(vp.Body, "hookS3cret") || vp.Count(t, "[data-testid=save-alerts]") != 0 {
			t.Error("a viewer sees the Slack URL or a save button")
		}
		vtoken := v.csrf("/settings/alerts")
		v.post("/settings/alerts", url.Values{"_csrf": {vtoken}}).want(t, http.StatusForbidden)
		v.post("/settings/alerts/test", url.Values{"_csrf": {vtoken}, "channel": {"email"}}).want(t, http.StatusForbidden)
	})
}

func TestAlertOverridesOnThePage(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		s := newDLSetup(t)
		a := s.app
		admin, c := signedInAdmin(t, a)
		act := s.activation(t, "Newsletter")
		token := c.csrf("/settings/alerts")
		path := "/settings/alerts/activations/" + act.ID
		r := c.post(path, url.Values{"_csrf": {token}, "muted": {"true"}, "extra_recipients": {"x@example.com, nope"}}, "HX-Request", "true").want(t, http.StatusUnprocessableEntity)
		if msg := r.Rows(t).Find("[data-testid=row-error]").Text(); !strings.Contains(msg, "nope") {
			t.Errorf("row error = %q", msg)
		}
		c.post(path, url.Values{"_csrf": {token}, "muted": {"true"}}, "HX-Request", "true").want(t, http.StatusOK)
		set, _ := a.store.AlertSettings(t.Context(), admin.WorkspaceID)
		if len(set.Overrides) != 1 || !set.Overrides[0].Muted {
			t.Fatalf("overrides = %+v", set.Overrides)
		}
		if page := c.get("/settings/alerts?q=newsl"); page.Count(t, "[data-testid=override-row]") != 1 {
			t.Error("search does not find the activation")
		}
	})
}
