package handlers_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"sluice/models"
)

// The activations list is paged by name, 50 a page: Next page goes on after the last
// name shown, keeps the filter, and the pages together show every activation once; each
// row's last run is shown whichever page it is on.
func TestActivationsListPages(t *testing.T) {
	t.Parallel()
	s := newDLSetup(t)
	first := s.activation(t, "A00")
	ctx := t.Context()
	actor := models.Actor{WorkspaceID: models.DefaultWorkspaceID, Type: models.ActorSystem, Name: "test"}
	base, err := s.app.store.ActivationByID(ctx, models.DefaultWorkspaceID, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	var last *models.Activation
	for i := 1; i < 55; i++ {
		if last, err = s.app.store.CreateActivation(ctx, actor, models.ActivationInput{Name: fmt.Sprintf("A%02d", i),
			SegmentID: base.SegmentID, PlatformID: base.PlatformID, Action: base.Action, Mappings: base.Mappings(), Schedule: base.Schedule()}); err != nil {
			t.Fatal(err)
		}
	}
	// The last activation (on page two) has a last run.
	run, err := s.app.store.EnqueueRun(ctx, models.DefaultWorkspaceID, last.ID, models.TriggerManual, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.app.store.DB().Exec("UPDATE activations SET last_run_id = ? WHERE id = ?", run.ID, last.ID).Error; err != nil {
		t.Fatal(err)
	}
	_, browser := signedInAdmin(t, s.app)

	page1 := browser.get("/activations").want(t, http.StatusOK)
	if n := page1.Count(t, "[data-testid=activation-row]"); n != 50 {
		t.Fatalf("page one shows %d activations, want 50", n)
	}
	if page1.Count(t, "[data-testid=first-page]") != 0 {
		t.Error("page one links to the first page")
	}
	next, ok := page1.Doc(t).Find("[data-testid=next-page]").Attr("href")
	if !ok || !strings.Contains(next, "after=A49") {
		t.Fatalf("page one's next link = %q, want after=A49", next)
	}
	page2 := browser.get(next).want(t, http.StatusOK)
	if n := page2.Count(t, "[data-testid=activation-row]"); n != 5 {
		t.Fatalf("page two shows %d activations, want 5", n)
	}
	if page2.Count(t, "[data-testid=next-page]") != 0 || page2.Count(t, "[data-testid=first-page]") != 1 {
		t.Error("page two, the last, should link to the first page and to no next one")
	}
	if !strings.Contains(page2.Body, "/runs/"+run.ID) {
		t.Errorf("page two does not link %s's last run %s", last.Name, run.ID)
	}
	seen := map[string]bool{}
	for _, p := range []*response{page1, page2} {
		p.Doc(t).Find("[data-testid=activation-row] strong").Each(func(_ int, sel *goquery.Selection) {
			if seen[sel.Text()] {
				t.Errorf("%s is on two pages", sel.Text())
			}
			seen[sel.Text()] = true
		})
	}
	if len(seen) != 55 {
		t.Errorf("the pages show %d activations, want 55", len(seen))
	}

	// A filter is kept from page to page.
	if err := s.app.store.DB().Exec("UPDATE activations SET status = 'paused'").Error; err != nil {
		t.Fatal(err)
	}
	paused := browser.get("/activations?status=paused").want(t, http.StatusOK)
	next, _ = paused.Doc(t).Find("[data-testid=next-page]").Attr("href")
	if !strings.Contains(next, "status=paused") {
		t.Errorf("the paused list's next link %q drops the filter", next)
	}
}
