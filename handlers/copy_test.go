package handlers_test

import (
	"database/sql"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"sluice/connectors"
	"sluice/internal/testutil"
	"sluice/models"
	"sluice/sources/sqlite"
)

// TestCopyToWorkspacePages: the preview lists what will be created in Production and
// what it maps to; creating needs the CSRF token, lands on the paused copy in Production;
// an editor who only views Production is refused, and another organization's workspace
// is not found.
func TestCopyToWorkspacePages(t *testing.T) {
	t.Parallel()
	eachApp(t, func(t *testing.T, a *app) {
		ctx := t.Context()
		s := a.store
		ada, browser := signedInAdmin(t, a)
		w := newCopySetup(t, a, ada)
		acme, inProd, prod, srcs, hooks, m, g, act := w.acme, w.inProd, w.prod, w.srcs, w.hooks, w.model, w.segment, w.act

		for _, page := range []string{"/activations/" + act.ID + "?tab=settings", "/models/" + m.ID, "/segments/" + g.ID} {
			if n := browser.get(page).want(t, http.StatusOK).Count(t, "[data-testid=copy-to-workspace]"); n != 1 {
				t.Errorf("%s shows %d Copy to workspace links, want 1", page, n)
			}
		}
		copyPage := "/copy/activation/" + act.ID
		pv := browser.get(copyPage+"?target="+prod.ID).want(t, http.StatusOK)
		items := pv.Text(t, "[data-testid=copy-items]")
		for _, want := range []string{"model Customers — new", "segment French VIPs — new", "activation VIP sync — new, paused"} {
			if !strings.Contains(items, want) {
				t.Errorf("preview %q lacks %q", items, want)
			}
		}
		if got := pv.Text(t, "#copy-source option[selected]"); got != "Warehouse" {
			t.Errorf("source maps to %q, want Warehouse", got)
		}
		// Changing a mapping asks for the preview alone, with the choices kept: another
		// platform, then a source whose table lacks a column, which refuses the copy there.
		hook2, err := s.CreatePlatform(ctx, inProd, connectors.DestinationSpec{Kind: "webhook"}, models.PlatformInput{Name: "Hook 2"})
		if err != nil {
			t.Fatal(err)
		}
		lake := w.lake(t, a)
		frag := browser.get(copyPage+"?target="+prod.ID+"&source_id="+srcs[1].ID+"&platform_id="+hook2.ID, "HX-Request", "true").want(t, http.StatusOK)
		if strings.Contains(frag.Body, "<html") || frag.Count(t, "#copy-preview") != 1 || frag.Count(t, "[data-testid=copy-target-form]") != 0 {
			t.Errorf("a mapping changed answers more than the preview: %s", frag.Body)
		}
		if got := frag.Text(t, "#copy-platform option[selected]"); got != "Hook 2" {
			t.Errorf("platform chosen shows %q, want Hook 2", got)
		}
		if got := frag.Text(t, "#copy-source option[selected]"); got != "Warehouse" {
			t.Errorf("source chosen shows %q, want Warehouse", got)
		}
		if frag.Count(t, "[data-testid=copy-create]") != 1 || frag.Count(t, "[data-testid=copy-error]") != 0 {
			t.Error("a copy that can be made is not offered")
		}
		pf := frag.Doc(t).Find("[data-testid=copy-form]")
		if get, _ := pf.Attr("hx-get"); get != copyPage || pf.AttrOr("hx-trigger", "") != "change" || pf.AttrOr("hx-target", "") != "#copy-preview" {
			t.Errorf("the preview's form does not ask for itself again on change: hx-get=%q", get)
		}
		refused := browser.get(copyPage+"?target="+prod.ID+"&source_id="+lake.ID+"&platform_id="+hook2.ID, "HX-Request", "true").want(t, http.StatusOK)
		if got := refused.Text(t, "[data-testid=copy-error]"); got != "Column country of model Customers is missing from source Lake." {
			t.Errorf("refusal %q", got)
		}
		if refused.Count(t, "[data-testid=copy-create]") != 0 || refused.Text(t, "#copy-source option[selected]") != "Lake" || refused.Text(t, "#copy-platform option[selected]") != "Hook 2" {
			t.Error("a refused preview offers to create, or lost the choices")
		}
		lakeForm := url.Values{"target": {prod.ID}, "source_id": {lake.ID}, "platform_id": {hook2.ID}, "_csrf": {browser.csrf(copyPage)}}
		if got := browser.post(copyPage, lakeForm).want(t, http.StatusUnprocessableEntity).Text(t, "[data-testid=copy-error]"); !strings.Contains(got, "missing from source Lake") {
			t.Errorf("refused creation says %q", got)
		}
		if n := countIn(t, s, prod.ID); n != 0 {
			t.Fatalf("a refused copy created %d activations", n)
		}

		form := url.Values{"target": {prod.ID}, "source_id": {srcs[1].ID}, "platform_id": {hooks[1].ID}}
		browser.post(copyPage, form).want(t, http.StatusForbidden) // no CSRF token
		if n := countIn(t, s, prod.ID); n != 0 {
			t.Fatalf("a post without the CSRF token created %d activations", n)
		}
		form.Set("_csrf", browser.csrf(copyPage))
		r := browser.post(copyPage, form).want(t, http.StatusSeeOther)
		copies, err := s.ListActivations(ctx, prod.ID, models.ActivationFilter{})
		if err != nil || len(copies) != 1 {
			t.Fatalf("Production's activations: %v %v", copies, err)
		}
		if r.Location() != "/activations/"+copies[0].ID || copies[0].Status != models.ActivationPaused {
			t.Errorf("landed on %s; copy %s", r.Location(), copies[0].Status)
		}
		shown := browser.get(r.Location()).want(t, http.StatusOK) // switched to Production
		if !strings.Contains(shown.Body, "VIP sync") {
			t.Error("the copy's page does not show it")
		}

		// Bob edits Acme and only views Production.
		bob, err := s.CreateUser(ctx, acme, models.NewUser{Email: "bob@example.com", Password: testutil.Password, Role: models.RoleEditor})
		if err != nil {
			t.Fatal(err)
		}
		_, token, err := s.InviteUser(ctx, inProd, bob.Email, models.RoleViewer)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AcceptInvitationAs(ctx, token, bob); err != nil {
			t.Fatal(err)
		}
		bb := a.client(t)
		bb.signIn(bob.Email, testutil.Password)
		if n := bb.get("/activations/"+act.ID+"?tab=settings").want(t, http.StatusOK).Count(t, "[data-testid=copy-to-workspace]"); n != 0 {
			t.Error("Copy to workspace shown to a viewer of every other workspace")
		}
		bb.get(copyPage+"?target="+prod.ID).want(t, http.StatusForbidden)
		form.Set("_csrf", bb.csrf(copyPage))
		bb.post(copyPage, form).want(t, http.StatusForbidden)

		other, err := s.CreateWorkspace(ctx, "Globex")
		if err != nil {
			t.Fatal(err)
		}
		browser.get("/copy/activation/"+act.ID+"?target="+other.ID).want(t, http.StatusNotFound)
		if n := countIn(t, s, prod.ID); n != 1 {
			t.Errorf("Production holds %d activations, want the one copy", n)
		}
	})
}

// copySetup is Acme (the admin's first workspace) and Production, of one organization,
// each with a SQLite source "Warehouse" (the same file: customers with id, email,
// country) and a webhook platform "Hook"; Acme has the model Customers, the segment
// French VIPs on it and the activation VIP sync of the segment.
type copySetup struct {
	acme, inProd models.Actor
	prod         *models.Workspace
	srcs         [2]*models.Source
	hooks        [2]*models.Platform
	model        *models.DataModel
	segment      *models.Segment
	act          *models.Activation
	spec         connectors.SourceSpec
}

func newCopySetup(t *testing.T, a *app, ada *models.User) copySetup {
	t.Helper()
	ctx := t.Context()
	s := a.store
	w := copySetup{acme: testutil.ActorOf(ada)}
	var err error
	if w.prod, err = s.AddWorkspace(ctx, w.acme, "Production"); err != nil {
		t.Fatal(err)
	}
	w.inProd = w.acme
	w.inProd.WorkspaceID = w.prod.ID
	path := filepath.Join(t.TempDir(), "warehouse.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, country TEXT)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	w.spec = sqlite.New(t.TempDir()).Spec()
	for i, in := range []models.Actor{w.acme, w.inProd} {
		if w.srcs[i], err = s.CreateSource(ctx, in, w.spec, models.SourceInput{Name: "Warehouse", Config: connectors.Config{"path": path}}); err != nil {
			t.Fatal(err)
		}
		if w.hooks[i], err = s.CreatePlatform(ctx, in, connectors.DestinationSpec{Kind: "webhook"}, models.PlatformInput{Name: "Hook"}); err != nil {
			t.Fatal(err)
		}
	}
	cols := []connectors.Column{{Name: "id", Type: "integer"}, {Name: "email", Type: "string"}, {Name: "country", Type: "string"}}
	if w.model, err = s.CreateModel(ctx, w.acme, models.ModelInput{SourceID: w.srcs[0].ID, Name: "Customers",
		Relation: connectors.Relation{Table: &connectors.Table{Schema: sqlite.Schema, Name: "customers"}}, PrimaryKey: "id", Columns: cols}); err != nil {
		t.Fatal(err)
	}
	if w.segment, err = s.CreateSegment(ctx, w.acme, models.SegmentInput{ModelID: w.model.ID, Name: "French VIPs", ConditionsJSON: `{"all":[{"column":"country","op":"eq","value":"FR"}]}`}); err != nil {
		t.Fatal(err)
	}
	if w.act, err = s.CreateActivation(ctx, w.acme, models.ActivationInput{Name: "VIP sync", SegmentID: w.segment.ID, PlatformID: w.hooks[0].ID, Action: "sync_records",
		Mappings: []models.Mapping{{From: "email", To: "email", Type: "string"}}, Schedule: models.Schedule{Kind: "manual"}}); err != nil {
		t.Fatal(err)
	}
	return w
}

// lake adds to Production a source "Lake" whose customers table has no country.
func (w copySetup) lake(t *testing.T, a *app) *models.Source {
	t.Helper()
	bare := filepath.Join(t.TempDir(), "bare.db")
	db, err := sql.Open("sqlite", bare)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT)`); err != nil {
		t.Fatal(err)
	}
	lake, err := a.store.CreateSource(t.Context(), w.inProd, w.spec, models.SourceInput{Name: "Lake", Config: connectors.Config{"path": bare}})
	if err != nil {
		t.Fatal(err)
	}
	return lake
}

func countIn(t *testing.T, s *models.Store, workspaceID string) int {
	t.Helper()
	as, err := s.ListActivations(t.Context(), workspaceID, models.ActivationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return len(as)
}

// TestCopyPreviewRefusedByThePlatform: an activation that sends country as a date,
// copied onto a source of Production where country is an integer: the preview names the
// platform, the column and the field, keeps the choices and offers no Create. A segment
// comparing country with text is refused there too, by the segment's rules.
func TestCopyPreviewRefusedByThePlatform(t *testing.T) {
	t.Parallel()
	eachApp(t, func(t *testing.T, a *app) {
		ctx := t.Context()
		ada, browser := signedInAdmin(t, a)
		w := newCopySetup(t, a, ada)
		everyone, err := a.store.CreateSegment(ctx, w.acme, models.SegmentInput{ModelID: w.model.ID, Name: "Everyone", ConditionsJSON: `{"all":[]}`})
		if err != nil {
			t.Fatal(err)
		}
		dated, err := a.store.CreateActivation(ctx, w.acme, models.ActivationInput{Name: "Joined", SegmentID: everyone.ID, PlatformID: w.hooks[0].ID, Action: "sync_records",
			Mappings: []models.Mapping{{From: "email", To: "email", Type: "string"}, {From: "country", To: "joined", Type: "datetime"}}, Schedule: models.Schedule{Kind: "manual"}})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "ints.db")
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, country INTEGER)`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		ints, err := a.store.CreateSource(ctx, w.inProd, w.spec, models.SourceInput{Name: "Ints", Config: connectors.Config{"path": path}})
		if err != nil {
			t.Fatal(err)
		}
		page := "/copy/activation/" + dated.ID
		pv := browser.get(page+"?target="+w.prod.ID+"&source_id="+ints.ID).want(t, http.StatusOK)
		want := "Activation Joined cannot be copied onto platform Hook of Production: Column country is integer; joined expects datetime."
		if got := pv.Text(t, "[data-testid=copy-error]"); !strings.HasPrefix(got, want) {
			t.Errorf("refusal %q, want %q", got, want)
		}
		if pv.Count(t, "[data-testid=copy-create]") != 0 || pv.Text(t, "#copy-source option[selected]") != "Ints" || pv.Text(t, "#copy-platform option[selected]") != "Hook" {
			t.Error("the refused preview offers to create, or lost the choices")
		}
		form := url.Values{"target": {w.prod.ID}, "source_id": {ints.ID}, "platform_id": {w.hooks[1].ID}, "_csrf": {browser.csrf(page)}}
		browser.post(page, form).want(t, http.StatusUnprocessableEntity)
		if n := countIn(t, a.store, w.prod.ID); n != 0 {
			t.Errorf("a refused copy created %d activations", n)
		}
		// French VIPs compares country with "FR": its copy onto Ints is refused for it.
		vip := browser.get("/copy/segment/"+w.segment.ID+"?target="+w.prod.ID+"&source_id="+ints.ID).want(t, http.StatusOK)
		if got := vip.Text(t, "[data-testid=copy-error]"); !strings.HasPrefix(got, "Segment French VIPs cannot be copied onto source Ints of Production: ") {
			t.Errorf("segment refusal %q", got)
		}
		// The same activation onto Production's Warehouse (country as text) is fine.
		if n := browser.get(page+"?target="+w.prod.ID).want(t, http.StatusOK).Count(t, "[data-testid=copy-create]"); n != 1 {
			t.Error("the copy onto Warehouse is not offered")
		}
	})
}
