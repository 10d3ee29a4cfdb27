package handlers_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"sluice/internal/testutil"
	"sluice/models"
)

// /incidents lists the workspace's open and resolved incidents, a page at a time, to
// any signed-in role, and never another workspace's.
func TestIncidentsPage(t *testing.T) {
	eachApp(t, func(t *testing.T, a *app) {
		ctx := t.Context()
		_, admin := testutil.Admin(t, a.store)
		open := func(ws, id, name string) {
			t.Helper()
			ev := models.IncidentEvent{WorkspaceID: ws, ObjectType: models.IncidentActivation, ObjectID: id, ObjectName: name,
				Event: models.EventRunFailed, Category: "rate_limit", Message: "The platform said slow down."}
			if _, err := a.store.OpenIncident(ctx, ev, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 25 {
			open(admin.WorkspaceID, fmt.Sprintf("act%02d", i), fmt.Sprintf("Activation %02d", i))
		}
		open(admin.WorkspaceID, "act00", "Activation 00") // a repeat: one incident, two occurrences
		open(admin.WorkspaceID, "gone", "Recovered one")
		if _, err := a.store.ResolveIncidents(ctx, admin.WorkspaceID, models.IncidentActivation, "gone", models.EventRunFailed, nil, nil); err != nil {
			t.Fatal(err)
		}
		other, err := a.store.CreateWorkspace(ctx, "Globex")
		if err != nil {
			t.Fatal(err)
		}
		open(other.ID, "theirs", "Globex secret")

		viewer := userIn(t, a, admin.WorkspaceID, models.RoleViewer)
		first := viewer.get("/incidents").want(t, http.StatusOK)
		if n := first.Count(t, "[data-testid=incident-row]"); n != 20 {
			t.Errorf("first page shows %d incidents, want 20", n)
		}
		if first.Count(t, "[data-testid=tab-open].active") != 1 || first.Count(t, "[data-testid=nav-incidents]") != 1 {
			t.Errorf("open tab or nav entry missing:\n%s", first.Body)
		}
		next, ok := first.Doc(t).Find("[data-testid=next-page]").Attr("href")
		if !ok || first.Count(t, "[data-testid=first-page]") != 0 || !strings.Contains(first.Text(t, "[data-testid=incidents-pagination]"), "1–20") {
			t.Fatalf("pagination of the first page:\n%s", first.Body)
		}
		second := viewer.get(next).want(t, http.StatusOK)
		if n := second.Count(t, "[data-testid=incident-row]"); n != 5 || second.Count(t, "[data-testid=next-page]") != 0 || second.Count(t, "[data-testid=first-page]") != 1 ||
			!strings.Contains(second.Text(t, "[data-testid=incidents-pagination]"), "21–25") {
			t.Errorf("second page shows %d incidents:\n%s", n, second.Body)
		}
		// Keyset pages: every open incident once, newest first.
		var ids []string
		for _, page := range []*response{first, second} {
			page.Doc(t).Find("[data-testid=incident-row]").Each(func(_ int, row *goquery.Selection) {
				id, _ := row.Attr("id")
				ids = append(ids, strings.TrimPrefix(id, "incident-"))
			})
		}
		want, _, err := a.store.Incidents(ctx, admin.WorkspaceID, models.IncidentFilter{Status: models.IncidentsOpen, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var wantIDs []string
		for _, in := range want {
			wantIDs = append(wantIDs, in.ID)
		}
		if !slices.Equal(ids, wantIDs) {
			t.Errorf("the pages list %v, newest first is %v", ids, wantIDs)
		}
		if first := second.Doc(t).Find("[data-testid=first-page]").AttrOr("href", ""); first != "/incidents?status=open" {
			t.Errorf("first-page link %q", first)
		}
		viewer.get("/incidents?before=garbage").want(t, http.StatusBadRequest)
		all := first.Body + second.Body
		if strings.Contains(all, "Globex secret") || strings.Contains(all, "Recovered one") {
			t.Error("the open tab shows another workspace's or a resolved incident")
		}
		if !strings.Contains(all, `href="/activations/act00"`) || !strings.Contains(all, "Rate Limit") {
			t.Errorf("an incident does not link its object or label its category")
		}
		resolved := viewer.get("/incidents?status=resolved").want(t, http.StatusOK)
		if n := resolved.Count(t, "[data-testid=incident-row]"); n != 1 || !strings.Contains(resolved.Body, "Recovered one") ||
			resolved.Count(t, "[data-testid=incident-resolved]") != 1 || resolved.Count(t, "[data-testid=tab-resolved].active") != 1 {
			t.Errorf("resolved tab:\n%s", resolved.Body)
		}
		theirs := userIn(t, a, other.ID, models.RoleViewer).get("/incidents").want(t, http.StatusOK)
		if n := theirs.Count(t, "[data-testid=incident-row]"); n != 1 || !strings.Contains(theirs.Body, "Globex secret") {
			t.Errorf("the other workspace sees %d incidents", n)
		}
		a.client(t).get("/incidents").want(t, http.StatusSeeOther)
	})
}

// The activation page links its open incident: since when and how many times.
func TestActivationLinksItsOpenIncident(t *testing.T) {
	eachRunFixture(t, func(t *testing.T, f *runFixture) {
		page := f.browser.get("/activations/"+f.act.ID).want(t, http.StatusOK)
		if page.Count(t, "[data-testid=open-incident]") != 0 {
			t.Fatal("an activation without incident shows one")
		}
		ev := models.IncidentEvent{WorkspaceID: models.DefaultWorkspaceID, ObjectType: models.IncidentActivation, ObjectID: f.act.ID,
			ObjectName: f.act.Name, Event: models.EventRunFailed, Category: "timeout", Message: "The platform did not answer."}
		var id string
		for range 3 {
			c, err := f.app.store.OpenIncident(t.Context(), ev, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			id = c.Incident.ID
		}
		page = f.browser.get("/activations/"+f.act.ID).want(t, http.StatusOK)
		line := page.Text(t, "[data-testid=open-incident]")
		href, _ := page.Doc(t).Find("[data-testid=open-incident] a").Attr("href")
		if !strings.Contains(line, "Open incident since") || !strings.Contains(line, "(3 occurrences)") || !strings.HasSuffix(href, "#incident-"+id) {
			t.Fatalf("incident line %q → %q", line, href)
		}
		list := f.browser.get(strings.TrimSuffix(href, "#incident-"+id)).want(t, http.StatusOK)
		if list.Count(t, "#incident-"+id) != 1 || list.Count(t, "[data-testid=incident-object-filter]") != 1 {
			t.Errorf("the link does not list the incident:\n%s", list.Body)
		}
	})
}
