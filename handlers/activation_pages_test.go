package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"sluice/models"
)

// The activations list says each schedule and when it runs next; the activation page
// has its tabs; Duplicate makes a paused copy under a free name.
func TestActivationPages(t *testing.T) {
	t.Parallel()
	s := newDLSetup(t)
	act := s.activation(t, "Newsletter")
	_, browser := signedInAdmin(t, s.app)

	list := browser.get("/activations").want(t, http.StatusOK)
	if !strings.Contains(list.Body, "Every 30m") {
		t.Errorf("the list does not show the schedule:\n%s", list.Body)
	}
	if next := list.Text(t, "[data-testid=next-run]"); next == "" || next == "—" {
		t.Errorf("the list does not show the next run: %q", next)
	}
	if n := browser.get("/activations?q=newsl").Count(t, "[data-testid=activation-row]"); n != 1 {
		t.Errorf("search found %d activations, want 1", n)
	}
	if n := browser.get("/activations?q=zzz").Count(t, "[data-testid=activation-row]"); n != 0 {
		t.Errorf("search for zzz found %d activations", n)
	}

	overview := browser.get("/activations/"+act.ID).want(t, http.StatusOK)
	if got := overview.Text(t, "[data-testid=schedule]"); got != "Every 30m" {
		t.Errorf("overview schedule %q", got)
	}
	settings := browser.get("/activations/"+act.ID+"?tab=settings").want(t, http.StatusOK)
	if settings.Count(t, "[data-testid=settings-tab]") != 1 || !strings.Contains(settings.Body, "country") {
		t.Errorf("settings tab:\n%s", settings.Body)
	}

	token := browser.csrf("/activations/" + act.ID + "?tab=settings")
	for _, want := range []string{"Newsletter (copy)", "Newsletter (copy 2)"} {
		r := browser.post("/activations/"+act.ID+"/duplicate", url.Values{"_csrf": {token}}).want(t, http.StatusSeeOther)
		id := strings.TrimSuffix(strings.TrimPrefix(r.Location(), "/activations/"), "?tab=settings")
		dup, err := s.app.store.ActivationByID(t.Context(), models.DefaultWorkspaceID, id)
		if err != nil {
			t.Fatal(err)
		}
		if dup.Name != want || dup.Status != models.ActivationPaused || dup.PauseAutomatic || dup.SegmentID != act.SegmentID {
			t.Errorf("duplicate %+v, want %q paused by hand", dup, want)
		}
	}
}

// The wizard edits a saved activation: it opens prefilled (the Edit mapping fix opens
// the mappings step), and saving updates the activation instead of creating another.
func TestWizardEditsAnActivation(t *testing.T) {
	t.Parallel()
	s := newDLSetup(t)
	act := s.activation(t, "Newsletter")
	_, browser := signedInAdmin(t, s.app)

	page := browser.get("/activations/"+act.ID+"/edit?step=mappings").want(t, http.StatusOK)
	if !strings.Contains(page.Body, "Edit Newsletter") || !strings.Contains(page.Body, `value="country"`) {
		t.Fatalf("the edit wizard is not prefilled:\n%s", page.Body)
	}
	token := browser.csrf("/activations/" + act.ID + "/edit")
	form := url.Values{"_csrf": {token}, "go": {"create"}, "activation_id": {act.ID}, "step": {"review"}, "reached": {"6"},
		"name": {"Newsletter FR"}, "segment_id": {s.segment.ID}, "platform_id": {s.platform.ID}, "action": {"sync_records"},
		"m.0.from": {"email"}, "m.0.to": {"email"}, "m.0.type": {"email"},
		"schedule_kind": {"daily"}, "at": {"07:30"}, "timezone": {"Europe/Paris"}, "source_issue_threshold": {"5"}}
	browser.post("/activations", form).want(t, http.StatusSeeOther)
	got, err := s.app.store.ActivationByID(t.Context(), models.DefaultWorkspaceID, act.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Newsletter FR" || len(got.Mappings()) != 1 || got.Schedule().Kind != "daily" || got.Schedule().At != "07:30" {
		t.Fatalf("after saving: %+v %+v %+v", got.Name, got.Mappings(), got.Schedule())
	}
	all, _ := s.app.store.ListActivations(t.Context(), models.DefaultWorkspaceID, models.ActivationFilter{})
	if len(all) != 1 {
		t.Fatalf("editing created another activation: %d activations", len(all))
	}
}
