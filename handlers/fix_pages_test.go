package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"sluice/internal/testutil"
	"sluice/models"
)

// A failed run's fix button opens the page of the end that failed: a revoked warehouse
// grant the source (not Re-authorize), a 429 the platform's settings (its rate), a 500
// the platform's settings (never the source's).
func TestRunFixButtonOpensTheFailingEnd(t *testing.T) {
	t.Parallel()
	f := newRunFixture(t, testutil.SQLiteURL(t))
	platformSettings := "/settings/platforms/" + f.platform.ID + "#platform-settings"
	for _, tc := range []struct {
		side, category, label, href string
	}{
		{models.RunSideSource, "credentials", "Fix the source's permissions", "/sources/" + f.source.ID},
		{models.RunSideSource, "configuration", "Check the model", "/models/" + f.model.ID},
		{models.RunSideDestination, "credentials", "Re-authorize", "/settings/platforms/" + f.platform.ID + "/reauthorize"},
		{models.RunSideDestination, "rate_limit", "Adjust the platform's rate", platformSettings},
		{models.RunSideDestination, "connection", "Check the platform settings", platformSettings},
		{models.RunSideDestination, "not_found", "Check the platform settings", platformSettings},
		{models.RunSideDestination, "timeout", "Check the platform settings", platformSettings},
		{models.RunSideActivation, "configuration", "Edit the activation", "/activations/" + f.act.ID + "/edit?step=settings"},
		{models.RunSideActivation, "not_found", "Choose the activation's settings", "/activations/" + f.act.ID + "?tab=settings#action-settings"},
		{models.RunSideActivation, "credentials", "Choose the activation's settings", "/activations/" + f.act.ID + "?tab=settings#action-settings"},
	} {
		r := f.startRun(t)
		f.finish(t, r, models.RunOutcome{Status: models.RunFailed, ErrorCategory: tc.category, ErrorSide: tc.side, ErrorMessage: "It broke."})
		for _, page := range []string{"/runs/" + r.ID, "/activations/" + f.act.ID} {
			doc := f.browser.get(page).want(t, http.StatusOK).Doc(t)
			btn := doc.Find("[data-testid=fix-button]").First()
			href, _ := btn.Attr("href")
			if strings.TrimSpace(btn.Text()) != tc.label || href != tc.href {
				t.Errorf("%s/%s on %s: fix %q → %q, want %q → %q", tc.side, tc.category, page, strings.TrimSpace(btn.Text()), href, tc.label, tc.href)
			}
		}
	}
}

// The platform page is where its settings are edited: an admin changes the rate and
// the URL there (no Re-authorize needed), a viewer reads them.
func TestPlatformSettingsAreEditableOnItsPage(t *testing.T) {
	t.Parallel()
	f := newRunFixture(t, testutil.SQLiteURL(t))
	page := "/settings/platforms/" + f.platform.ID
	doc := f.browser.get(page).want(t, http.StatusOK).Doc(t)
	settings := doc.Find("#platform-settings")
	if settings.Find("form input[name='config.url']").Length() != 1 || settings.Find("form input[name='config.requests_per_second']").Length() != 1 {
		html, _ := settings.Html()
		t.Fatalf("the platform page has no settings form: %s", html)
	}
	action, _ := settings.Find("form").Attr("action")
	res := f.browser.post(action, url.Values{"_csrf": {f.browser.csrf(page)}, "name": {"Hook"}, "kind": {"webhook"},
		"config.url": {f.hook.url() + "/v2"}, "config.requests_per_second": {"3"}, "config.batch_size": {"100"}}).want(t, http.StatusSeeOther)
	if res.Location() != page {
		t.Errorf("saving the settings redirects to %q", res.Location())
	}
	p, err := f.app.store.PlatformByID(t.Context(), models.DefaultWorkspaceID, f.platform.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := p.PublicConfig(); cfg["requests_per_second"] != "3" || cfg["url"] != f.hook.url()+"/v2" {
		t.Errorf("saved settings %v", cfg)
	}

	viewer := f.user(t, models.RoleViewer)
	read := viewer.get(page).want(t, http.StatusOK)
	if read.Count(t, "#platform-settings form") != 0 || !strings.Contains(read.Text(t, "#platform-settings"), "/v2") {
		t.Errorf("a viewer's settings card: %q", read.Text(t, "#platform-settings"))
	}
}

// The model page's "Used by" counts the activations' mappings, not only segments: a
// column an activation sends is not free to drop.
func TestModelPageUsedByCountsMappings(t *testing.T) {
	t.Parallel()
	f := newRunFixture(t, testutil.SQLiteURL(t))
	doc := f.browser.get("/models/"+f.model.ID).want(t, http.StatusOK).Doc(t)
	found := false
	doc.Find("[data-testid=column-row]").Each(func(_ int, row *goquery.Selection) {
		if strings.HasPrefix(strings.TrimSpace(row.Find("td").First().Text()), "email") &&
			strings.Contains(row.Find("td").Last().Text(), "Mapping of Newsletter → email") {
			found = true
		}
	})
	if !found {
		t.Errorf("the email column is not used by the Newsletter mapping: %q", doc.Find("[data-testid=columns-table]").Text())
	}
}

// A paused activation's page offers the page that fixes the pause's cause; Sluice then
// resumes it by itself. A manual pause offers none: resuming it is the fix.
func TestPauseReasonLeadsToItsFix(t *testing.T) {
	t.Parallel()
	eachRunFixture(t, func(t *testing.T, f *runFixture) {
		r := f.startRun(t)
		f.finish(t, r, models.RunOutcome{Status: models.RunWarnings, Counts: models.RunCounts{Queried: 10, Unchanged: 5, SourceIssues: 5}})
		// As the runner does when a run ends: the activation's last run is this one.
		if err := f.app.store.SetActivationHealth(t.Context(), models.DefaultWorkspaceID, f.act.ID, r.ID, models.HealthWarning); err != nil {
			t.Fatal(err)
		}
		sys := models.Actor{WorkspaceID: models.DefaultWorkspaceID, Type: models.ActorSystem, Name: "Sluice", Role: models.RoleAdmin}
		person := models.Actor{WorkspaceID: models.DefaultWorkspaceID, Type: models.ActorUser, ID: "someone", Name: "someone@example.com", Role: models.RoleAdmin}
		for _, tc := range []struct {
			cause, label, href string
		}{
			{models.PauseCausePlatform, "Re-authorize", "/settings/platforms/" + f.platform.ID + "/reauthorize"},
			{models.PauseCauseSource, "Fix the source", "/sources/" + f.source.ID},
			{models.PauseCauseSchema, "Fix the model's columns", "/models/" + f.model.ID},
			{models.PauseCauseThreshold, "See the source issues", "/runs/" + r.ID + "#source-issues-card"},
			{"", "", ""}, // by hand
		} {
			actor := sys
			if tc.cause == "" {
				actor = person
			}
			if _, err := f.app.store.Pause(t.Context(), actor, f.act.ID, tc.cause, "paused for the test"); err != nil {
				t.Fatal(err)
			}
			doc := f.browser.get("/activations/"+f.act.ID).want(t, http.StatusOK).Doc(t)
			btn := doc.Find("[data-testid=pause-reason] [data-testid=pause-fix]")
			href, _ := btn.Attr("href")
			if strings.TrimSpace(btn.Text()) != tc.label || href != tc.href {
				t.Errorf("pause cause %q: fix %q → %q, want %q → %q", tc.cause, strings.TrimSpace(btn.Text()), href, tc.label, tc.href)
			}
			if _, err := f.app.store.Resume(t.Context(), actor, f.act.ID, tc.cause); err != nil {
				t.Fatal(err)
			}
		}
	})
}
