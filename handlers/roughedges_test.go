package handlers_test

import (
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"sluice/models"
)

// "Validate now" on a source page answers the Validation card with its five checks and
// the header's status badge out of band: a warehouse gone since the last check turns
// the badge Broken at once, without a reload.
func TestSourceValidateNowKeepsTheCardAndRefreshesTheBadge(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		s := newDLSetupOn(t, dbURL)
		_, browser := signedInAdmin(t, s.app)
		page := "/sources/" + s.source.ID
		if got := browser.get(page).want(t, http.StatusOK).Text(t, "[data-testid=source-status]"); got != "Connected" {
			t.Fatalf("badge %q before, want Connected", got)
		}
		token := browser.csrf(page)
		if err := os.Remove(s.path); err != nil {
			t.Fatal(err)
		}
		r := browser.post(page+"/validate", url.Values{"_csrf": {token}}, "HX-Request", "true").want(t, http.StatusOK)
		doc := r.Doc(t)
		if n := doc.Find("#validation [data-testid=checks] li").Length(); n != 5 {
			t.Fatalf("the answer's Validation card shows %d checks, want 5:\n%s", n, r.Body)
		}
		badge := doc.Find("#source-status")
		if oob, _ := badge.Attr("hx-swap-oob"); oob != "true" {
			t.Fatalf("the status badge is not swapped out of band:\n%s", r.Body)
		}
		if got := badge.Text(); got != "Broken" {
			t.Fatalf("badge %q after validating a missing warehouse, want Broken", got)
		}
		if n := doc.Find("[data-testid=check-connection][data-ok=false]").Length(); n != 1 {
			t.Fatalf("the connection check should fail:\n%s", r.Body)
		}
		// Without htmx, the whole page comes back.
		full := browser.post(page+"/validate", url.Values{"_csrf": {token}}).want(t, http.StatusOK)
		if full.Count(t, "#validation [data-testid=checks] li") != 5 || full.Text(t, "[data-testid=source-status]") != "Broken" {
			t.Fatalf("the full page after Validate now:\n%s", full.Body)
		}
	})
}

// A name already taken refuses the new model beside the name, and keeps what the editor
// had done: the preview of the query and the key chosen in it.
func TestModelsNewNameTakenKeepsThePreviewAndTheKey(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		s := newDLSetupOn(t, dbURL) // has a model named Customers
		_, browser := signedInAdmin(t, s.app)
		token := browser.csrf("/models/new")
		form := url.Values{"_csrf": {token}, "source_id": {s.source.ID}, "name": {"Customers"}, "mode": {"sql"},
			"sql": {"SELECT id, email, country FROM customers"}, "primary_key": {"email"}}
		for _, htmx := range []bool{true, false} {
			var header []string
			if htmx {
				header = []string{"HX-Request", "true"}
			}
			r := browser.post("/models", form, header...).want(t, http.StatusUnprocessableEntity)
			doc := r.Doc(t)
			if doc.Find(".field.has-error #f-name").Length() != 1 {
				t.Fatalf("htmx %v: no error beside the name:\n%s", htmx, r.Body)
			}
			if n := doc.Find("[data-testid=preview-table] tbody tr").Length(); n == 0 {
				t.Fatalf("htmx %v: the preview is gone:\n%s", htmx, r.Body)
			}
			if key, _ := doc.Find("[data-testid=model-primary-key] option[selected]").Attr("value"); key != "email" {
				t.Fatalf("htmx %v: the chosen key is %q, want email", htmx, key)
			}
			if got := doc.Find("[data-testid=model-sql]").Text(); got != form.Get("sql") {
				t.Fatalf("htmx %v: the SQL is %q", htmx, got)
			}
		}
	})
}

// The wizard's review lists the first records in the order the run sends them, the
// numeric key's text order (1, 10, 11…), and says so; editing an activation, the side
// panel shows the mappings and schedule already chosen, not "—".
func TestWizardReviewOrderAndEditSummary(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		s := newWizardSetupOn(t, dbURL)
		form := s.draft("settings", s.everyone.ID, s.webhook.ID, "sync_records", "email:email:email", "country:country:string")
		review := s.browser.post("/activations", with(form, "go", "next"), "HX-Request", "true").want(t, http.StatusOK)
		var keys []string
		review.Doc(t).Find(".payload-head code").Each(func(_ int, sel *goquery.Selection) { keys = append(keys, sel.Text()) })
		if got := strings.Join(keys, ","); got != "1,10,11,12,13,14,15,16,17,18" {
			t.Fatalf("review keys %s, want the run's order 1,10,11…", got)
		}
		if note := review.Text(t, "[data-testid=key-order-note]"); !strings.Contains(note, "10 comes before 9") {
			t.Fatalf("the review should say why 10 comes before 9, says %q", note)
		}

		act := into[activationBody](t, s.admin.post("/activations", map[string]any{
			"name": "Everyone to the hook", "segment_id": s.everyone.ID, "platform_id": s.webhook.ID, "action": "sync_records",
			"mappings": []map[string]any{{"from": "email", "to": "email", "type": "email"}, {"from": "country", "to": "country"}},
			"schedule": map[string]any{"kind": "interval", "every": "30m"},
		}).want(t, http.StatusCreated))
		edit := s.browser.get("/activations/"+act.ID+"/edit").want(t, http.StatusOK)
		for sel, want := range map[string]string{"[data-testid=summary-mappings]": "2 fields", "[data-testid=summary-schedule]": "Every 30 minutes"} {
			if got := edit.Text(t, "[data-testid=wizard-summary] "+sel); !strings.HasPrefix(got, want) {
				t.Errorf("editing, the side panel's %s says %q, want %q", sel, got, want)
			}
		}
		// A new activation's panel says "—" only for what is not chosen yet.
		fresh := s.browser.get("/activations/new").want(t, http.StatusOK)
		if got := fresh.Text(t, "[data-testid=wizard-summary] [data-testid=summary-schedule]"); got != "—" {
			t.Errorf("a new activation's schedule says %q before its step, want —", got)
		}
	})
}

// A source validated before its models were made (as the demo's is) does not tell of "No
// models to check yet" above them: its page checks the lineage of the models it lists.
func TestSourcePageLineageCoversItsModels(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		s := newDLSetupOn(t, dbURL) // the source is validated when added, its model made after
		_, browser := signedInAdmin(t, s.app)
		r := browser.get("/sources/"+s.source.ID).want(t, http.StatusOK)
		if got := r.Text(t, "[data-testid=check-lineage] .check-message"); got != "The model resolves." {
			t.Fatalf("lineage says %q above the source's model, want it checked", got)
		}
		if r.Count(t, "[data-testid=check-lineage][data-ok=true]") != 1 {
			t.Fatalf("the lineage check should pass:\n%s", r.Body)
		}
	})
}

// The platform page labels an activation's health as the activations list does ("Failed",
// not "failed"), a pause shown beside it as on the list.
func TestPlatformPageActivationStatusAsOnTheList(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		s := newDLSetupOn(t, dbURL)
		act := s.activation(t, "Newsletter")
		ctx := t.Context()
		failed := finishRun(t, s, act.ID, models.RunOutcome{Status: models.RunFailed, ErrorCategory: "connection", ErrorSide: "platform", ErrorMessage: "It broke."})
		if err := s.app.store.SetActivationHealth(ctx, models.DefaultWorkspaceID, act.ID, failed.ID, models.HealthFailed); err != nil {
			t.Fatal(err)
		}
		sys := models.Actor{WorkspaceID: models.DefaultWorkspaceID, Type: models.ActorSystem, Name: "Sluice"}
		if _, err := s.app.store.Pause(ctx, sys, act.ID, models.PauseCauseThreshold, "paused automatically: 40.0% of rows had source issues in the last run (threshold 10.0%). Fix the data, then resume."); err != nil {
			t.Fatal(err)
		}
		_, browser := signedInAdmin(t, s.app)
		list := browser.get("/activations").want(t, http.StatusOK).Doc(t).Find("[data-testid=activation-row]")
		page := browser.get("/settings/platforms/"+s.platform.ID).want(t, http.StatusOK).Doc(t)
		health := page.Find("[data-testid=activation-health]")
		listHealth := list.Find(".badge-dot")
		if health.Text() != "Failed" || health.Text() != listHealth.Text() {
			t.Fatalf("platform page says %q, the list %q, want Failed on both", health.Text(), listHealth.Text())
		}
		if a, b := health.AttrOr("class", ""), listHealth.AttrOr("class", ""); a != b {
			t.Fatalf("badge %q on the platform page, %q on the list", a, b)
		}
		if strings.TrimSpace(page.Find("[data-testid=paused-icon]").Text()) != "Paused" {
			t.Fatal("the platform page should show the pause beside the health")
		}
	})
}

// /sources/new opens on PostgreSQL, then the other kinds by label; an empty sources list
// names only the kinds this build connects to.
func TestSourceKindsOrderAndEmptyState(t *testing.T) {
	t.Parallel()
	eachApp(t, func(t *testing.T, a *app) {
		_, browser := signedInAdmin(t, a)
		r := browser.get("/sources/new").want(t, http.StatusOK)
		var kinds []string
		r.Doc(t).Find("[data-testid=source-kind] option").Each(func(_ int, o *goquery.Selection) { kinds = append(kinds, o.Text()) })
		if len(kinds) == 0 || kinds[0] != "PostgreSQL" || r.Doc(t).Find("[data-testid=source-kind] option[selected]").Length() > 1 {
			t.Fatalf("kinds offered %v, want PostgreSQL first", kinds)
		}
		if !slices.IsSorted(kinds[1:]) {
			t.Fatalf("the other kinds %v are not by label", kinds[1:])
		}
		if r.Count(t, `[name="config.host"]`) != 1 {
			t.Fatal("the form should show PostgreSQL's fields by default")
		}
		empty := browser.get("/sources").want(t, http.StatusOK).Text(t, "[data-testid=empty-state]")
		if !strings.Contains(empty, "PostgreSQL or SQLite (demo warehouse)") || strings.Contains(empty, "Snowflake") {
			t.Fatalf("the empty state should name this build's kinds only: %q", empty)
		}
	})
}
