package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"sluice/internal/testutil"
	"sluice/models"
)

// publicHook is a Slack-like webhook URL on a public address literal: no DNS needed.
const (
	publicHook       = "https://1.1.1.1/services/T0001/B0002/hookS3cret"
	publicHookMasked = "https://1.1.1.1/services/***"
)

type alertsBody struct {
	Email struct {
		Recipients []string `json:"recipients"`
	} `json:"email"`
	Slack struct {
		WebhookURL  string   `json:"webhook_url"`
		WebhookURLs []string `json:"webhook_urls"`
	} `json:"slack"`
	Events     []string               `json:"events"`
	Thresholds models.AlertThresholds `json:"thresholds"`
	Routing    map[string][]string    `json:"routing"`
	Overrides  []models.AlertOverride `json:"overrides"`
}

func TestAPIAlerts(t *testing.T) {
	eachApp(t, func(t *testing.T, a *app) {
		admin, _ := testutil.Admin(t, a.store)
		adminTok := whToken(t, a.store, admin.WorkspaceID, models.RoleAdmin)
		viewerTok := whToken(t, a.store, admin.WorkspaceID, models.RoleViewer)
		c := a.whClient(t, adminTok)

		// Defaults: every event, nobody, no Slack.
		got := into[alertsBody](t, c.get("/alerts").want(t, http.StatusOK))
		if len(got.Events) != len(models.AlertEvents) || len(got.Email.Recipients) != 0 || got.Slack.WebhookURL != "" {
			t.Fatalf("defaults = %+v", got)
		}

		put := map[string]any{
			"email":      map[string]any{"recipients": []string{admin.ID, "ops@example.com"}},
			"slack":      map[string]any{"webhook_url": publicHook},
			"events":     []string{"run_failed", "platform_broken"},
			"thresholds": map[string]any{"source_issues_percent": 10, "slow_run_factor": 3},
			"routing":    map[string]any{"credentials": []string{"admins"}, "all": []string{"slack"}},
		}
		got = into[alertsBody](t, c.call(http.MethodPut, "/alerts", put).want(t, http.StatusOK))
		if got.Slack.WebhookURL != publicHookMasked || len(got.Email.Recipients) != 2 || got.Thresholds.SlowRunFactor != 3 {
			t.Fatalf("after PUT = %+v", got)
		}

		// The masked URL sent back keeps the stored one; a field left out is kept.
		c.call(http.MethodPut, "/alerts", map[string]any{"slack": map[string]any{"webhook_url": publicHookMasked}, "events": []string{"run_failed"}}).want(t, http.StatusOK)
		set, err := a.store.AlertSettings(t.Context(), admin.WorkspaceID)
		if err != nil {
			t.Fatal(err)
		}
		if len(set.SlackWebhookURLs) != 1 || set.SlackWebhookURLs[0] != publicHook || len(set.Recipients) != 2 || len(set.Events) != 1 {
			t.Fatalf("stored after a masked PUT = %+v", set)
		}

		// Viewers read, and only admins write.
		v := c.as(viewerTok)
		v.get("/alerts").want(t, http.StatusOK)
		wantErr(t, v.call(http.MethodPut, "/alerts", put), http.StatusForbidden, "forbidden", "")

		// Bad input names the field.
		wantErr(t, c.call(http.MethodPut, "/alerts", map[string]any{"email": map[string]any{"recipients": []string{"a@example.com", "b@example.com", "nope"}}}),
			http.StatusUnprocessableEntity, "invalid", "email.recipients[2]")
		for _, private := range []string{"https://127.0.0.1/services/a/b", "https://10.1.2.3/services/a/b", "https://[::1]/x/y", "https://169.254.169.254/latest/meta-data"} {
			e := wantErr(t, c.call(http.MethodPut, "/alerts", map[string]any{"slack": map[string]any{"webhook_url": private}}),
				http.StatusUnprocessableEntity, "invalid", "slack.webhook_url")
			if !strings.Contains(e.Error.Message, "not one on the internet") {
				t.Errorf("%s refused with %q", private, e.Error.Message)
			}
		}
		wantErr(t, c.call(http.MethodPut, "/alerts", map[string]any{"slack": map[string]any{"webhook_urls": []string{publicHookMasked, "http://1.1.1.1/x/y"}}}),
			http.StatusUnprocessableEntity, "invalid", "slack.webhook_urls[1]")

		// Another workspace sees its own settings and cannot use this one's users.
		_, otherTok := otherWorkspaceToken(t, a)
		o := c.as(otherTok)
		theirs := into[alertsBody](t, o.get("/alerts").want(t, http.StatusOK))
		if theirs.Slack.WebhookURL != "" || len(theirs.Email.Recipients) != 0 {
			t.Fatalf("another workspace sees %+v", theirs)
		}
		wantErr(t, o.call(http.MethodPut, "/alerts", map[string]any{"email": map[string]any{"recipients": []string{admin.ID}}}),
			http.StatusUnprocessableEntity, "invalid", "email.recipients[0]")

		// The whole URL never appeared in an answer, nor in the audit log.
		for _, b := range *c.bodies {
			if strings.Contains(b, "hookS3cret") {
				t.Fatalf("an answer holds the Slack URL: %s", b)
			}
		}
		for _, row := range auditRows(t, a, admin.WorkspaceID) {
			if strings.Contains(row, "hookS3cret") {
				t.Fatalf("the audit log holds the Slack URL: %s", row)
			}
		}
	})
}

// otherWorkspaceToken makes a second workspace with an admin token.
func otherWorkspaceToken(t *testing.T, a *app) (string, string) {
	t.Helper()
	w, err := a.store.CreateWorkspace(t.Context(), "Globex")
	if err != nil {
		t.Fatal(err)
	}
	return w.ID, whToken(t, a.store, w.ID, models.RoleAdmin)
}

// auditRows is the before and after of every audit entry of a workspace.
func auditRows(t *testing.T, a *app, workspaceID string) []string {
	t.Helper()
	entries, _, err := a.store.ListAuditEntries(t.Context(), workspaceID, models.AuditFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		for _, p := range []*string{e.BeforeJSON, e.AfterJSON} {
			if p != nil {
				out = append(out, *p)
			}
		}
	}
	return out
}
