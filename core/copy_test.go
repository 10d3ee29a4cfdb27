package core_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"sluice/connectors"
	"sluice/core"
	"sluice/destinations/webhook"
	"sluice/internal/testutil"
	"sluice/models"
	"sluice/segments"
	"sluice/sources/sqlite"
)

// copyWorld is an organization with two workspaces, Acme (staging) and Production, each
// with a SQLite warehouse source and a webhook platform; Acme has a model, a segment on
// it and an activation of the segment.
type copyWorld struct {
	store             *models.Store
	svc               *core.Service
	ada               models.Actor // owner, admin of both
	prod              *models.Workspace
	prodSrc, prodHook string
	model, seg, act   string
	prodWarehouse     string
}

// warehouse makes a SQLite file holding customers with the given columns.
func warehouse(t *testing.T, cols string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "warehouse.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE customers (` + cols + `)`); err != nil {
		t.Fatal(err)
	}
	return path
}

func newCopyWorld(t *testing.T, s *models.Store, prodSourceName, prodCols string) *copyWorld {
	t.Helper()
	ctx := t.Context()
	reg := connectors.NewRegistry()
	reg.RegisterSource(sqlite.New(t.TempDir() + "/.."))
	reg.RegisterDestination(webhook.New(true))
	cw := &copyWorld{store: s, svc: core.New(s, reg)}
	_, cw.ada = testutil.Admin(t, s)
	var err error
	if cw.prod, err = s.AddWorkspace(ctx, cw.ada, "Production"); err != nil {
		t.Fatal(err)
	}
	spec, err := cw.svc.SourceSpec(sqlite.Kind)
	if err != nil {
		t.Fatal(err)
	}
	hook := connectors.DestinationSpec{Kind: "webhook"}
	src, err := s.CreateSource(ctx, cw.ada, spec, models.SourceInput{Name: "Warehouse",
		Config: connectors.Config{"path": warehouse(t, "id INTEGER PRIMARY KEY, email TEXT, country TEXT")}})
	if err != nil {
		t.Fatal(err)
	}
	inProd := cw.ada
	inProd.WorkspaceID = cw.prod.ID
	cw.prodWarehouse = warehouse(t, prodCols)
	psrc, err := s.CreateSource(ctx, inProd, spec, models.SourceInput{Name: prodSourceName, Config: connectors.Config{"path": cw.prodWarehouse}})
	if err != nil {
		t.Fatal(err)
	}
	cw.prodSrc = psrc.ID
	if _, err := s.CreatePlatform(ctx, inProd, hook, models.PlatformInput{Name: "Hook"}); err != nil {
		t.Fatal(err)
	}
	ph, err := s.ListPlatforms(ctx, cw.prod.ID)
	if err != nil || len(ph) != 1 {
		t.Fatal(ph, err)
	}
	cw.prodHook = ph[0].ID
	p, err := s.CreatePlatform(ctx, cw.ada, hook, models.PlatformInput{Name: "Hook"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := cw.svc.CreateModel(ctx, cw.ada, core.ModelRequest{SourceID: src.ID, Name: "Customers",
		Table: &connectors.Table{Schema: sqlite.Schema, Name: "customers"}, PrimaryKey: "id"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := s.CreateSegment(ctx, cw.ada, models.SegmentInput{ModelID: m.ID, Name: "French VIPs",
		ConditionsJSON: `{"all":[{"column":"country","op":"eq","value":"FR"}]}`})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.CreateActivation(ctx, cw.ada, models.ActivationInput{Name: "VIP sync", SegmentID: g.ID, PlatformID: p.ID, Action: "sync_records",
		Mappings: []models.Mapping{{From: "email", To: "email", Type: "string"}}, Schedule: models.Schedule{Kind: "manual"}})
	if err != nil {
		t.Fatal(err)
	}
	cw.model, cw.seg, cw.act = m.ID, g.ID, a.ID
	return cw
}

// to is ada as the actor in Production.
func (cw *copyWorld) to(t *testing.T) models.Actor {
	t.Helper()
	in, err := cw.store.CopyTargetActor(t.Context(), cw.ada, cw.prod.ID)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// copy plans the copy by ada into Production, then makes it.
func (cw *copyWorld) copy(t *testing.T, kind, id string, ch core.CopyChoices) (*models.Copied, error) {
	t.Helper()
	plan, err := cw.svc.PlanCopy(t.Context(), cw.ada, cw.to(t), kind, id, ch)
	if err != nil {
		return nil, err
	}
	return cw.svc.Copy(t.Context(), cw.ada, plan)
}

// names lists the names of the target's models, segments and activations.
func (cw *copyWorld) names(t *testing.T) string {
	t.Helper()
	ctx := t.Context()
	var out []string
	ms, err := cw.store.ListModels(ctx, cw.prod.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		out = append(out, "model "+m.Name)
	}
	gs, err := cw.store.ListSegments(ctx, cw.prod.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		out = append(out, "segment "+g.Name)
	}
	as, err := cw.store.ListActivations(ctx, cw.prod.ID, models.ActivationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		out = append(out, "activation "+a.Name)
	}
	return strings.Join(out, ", ")
}

func auditActions(t *testing.T, s *models.Store, workspaceID string) string {
	t.Helper()
	es, _, err := s.ListAuditEntries(t.Context(), workspaceID, models.AuditFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Action+" "+e.ResourceName)
	}
	return strings.Join(out, ", ")
}

// TestCopyActivationWithDependencies: an activation copied to Production brings its
// segment and model, mapped to Production's source and platform by name, paused; a second
// copy takes "… (copy)" names; both workspaces have audit entries.
func TestCopyActivationWithDependencies(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		cw := newCopyWorld(t, s, "Warehouse", "id INTEGER PRIMARY KEY, email TEXT, country TEXT, extra TEXT")
		plan, err := cw.svc.PlanCopy(ctx, cw.ada, cw.to(t), "activation", cw.act, core.CopyChoices{})
		if err != nil {
			t.Fatal(err)
		}
		if plan.Problem() != nil || len(plan.Mappings) != 2 || !plan.Mappings[0].ByName || plan.Mappings[1].ToID != cw.prodHook {
			t.Errorf("mappings %+v, want source and platform matched by name", plan.Mappings)
		}
		var items []string
		for _, it := range plan.Items {
			items = append(items, it.Kind+" "+it.Name+" — "+it.Note)
		}
		want := "model Customers — new, segment French VIPs — new, activation VIP sync — new, paused until someone resumes it"
		if got := strings.Join(items, ", "); got != want {
			t.Errorf("preview %q, want %q", got, want)
		}
		got, err := cw.copy(t, "activation", cw.act, core.CopyChoices{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Model.WorkspaceID != cw.prod.ID || got.Model.SourceID != cw.prodSrc || got.Segment.ModelID != got.Model.ID ||
			got.Activation.SegmentID != got.Segment.ID || got.Activation.PlatformID != cw.prodHook {
			t.Errorf("copy not wired in Production: %+v %+v %+v", got.Model, got.Segment, got.Activation)
		}
		if got.Activation.Status != models.ActivationPaused || got.Activation.PauseReason != models.CopyPausedReason {
			t.Errorf("copied activation %s (%q), want paused", got.Activation.Status, got.Activation.PauseReason)
		}
		if _, ok := got.Model.Column("extra"); !ok {
			t.Error("copied model's columns are not read from Production's source")
		}
		if _, err := cw.copy(t, "activation", cw.act, core.CopyChoices{}); err != nil {
			t.Fatal(err)
		}
		want = "model Customers, model Customers (copy), segment French VIPs, segment French VIPs (copy), activation VIP sync, activation VIP sync (copy)"
		if got := cw.names(t); got != want {
			t.Errorf("Production holds %q, want %q", got, want)
		}
		if a := auditActions(t, s, cw.prod.ID); !strings.Contains(a, "activation.create VIP sync (copy)") || !strings.Contains(a, "model.create Customers") {
			t.Errorf("Production's audit: %s", a)
		}
		if a := auditActions(t, s, cw.ada.WorkspaceID); strings.Count(a, "activation.copy VIP sync") != 2 {
			t.Errorf("Acme's audit: %s", a)
		}
	})
}

// TestCopyChosenMapping: no source of the same name in Production: the preview asks for
// one, the copy refuses without it and uses the one chosen.
func TestCopyChosenMapping(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		cw := newCopyWorld(t, s, "Production DWH", "id INTEGER PRIMARY KEY, email TEXT, country TEXT")
		plan, err := cw.svc.PlanCopy(ctx, cw.ada, cw.to(t), "segment", cw.seg, core.CopyChoices{})
		if err != nil {
			t.Fatal(err)
		}
		if p := plan.Problem(); p == nil || p.Field != "source_id" || len(plan.Mappings[0].Options) != 1 || plan.Mappings[0].Options[0].Name != "Production DWH" {
			t.Errorf("mappings %+v, want a choice of Production DWH", plan.Mappings)
		}
		var fe *models.FieldError
		if _, err := cw.copy(t, "segment", cw.seg, core.CopyChoices{}); !errors.As(err, &fe) || fe.Field != "source_id" {
			t.Errorf("copy without a source: %v", err)
		}
		got, err := cw.copy(t, "segment", cw.seg, core.CopyChoices{SourceID: cw.prodSrc})
		if err != nil {
			t.Fatal(err)
		}
		if got.Model.SourceID != cw.prodSrc || got.Activation != nil {
			t.Errorf("copied %+v", got)
		}
		if n := cw.names(t); n != "model Customers, segment French VIPs" {
			t.Errorf("Production holds %q", n)
		}
	})
}

// TestCopyRefused: a column missing from the target's source, a missing role on either
// side, another organization's workspace: nothing is created.
func TestCopyRefused(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		cw := newCopyWorld(t, s, "Warehouse", "id INTEGER PRIMARY KEY, email TEXT")
		plan, err := cw.svc.PlanCopy(ctx, cw.ada, cw.to(t), "model", cw.model, core.CopyChoices{})
		if err != nil {
			t.Fatal(err)
		}
		if plan.Refused == nil || plan.Refused.Message != "Column country of model Customers is missing from source Warehouse." {
			t.Errorf("missing column: %v", plan.Refused)
		}
		if _, err := cw.copy(t, "model", cw.model, core.CopyChoices{}); err == nil {
			t.Error("copied a model whose column is missing")
		}
		// An editor of Acme who only views Production, and a viewer of Acme who edits it.
		for _, roles := range [][2]models.Role{{models.RoleEditor, models.RoleViewer}, {models.RoleViewer, models.RoleEditor}} {
			u, err := s.CreateUser(ctx, cw.ada, models.NewUser{Email: string(roles[0]) + "@example.com", Password: testutil.Password, Role: roles[0]})
			if err != nil {
				t.Fatal(err)
			}
			inProd := cw.ada
			inProd.WorkspaceID = cw.prod.ID
			_, token, err := s.InviteUser(ctx, inProd, u.Email, roles[1])
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.AcceptInvitationAs(ctx, token, u); err != nil {
				t.Fatal(err)
			}
			if _, err := s.CopyTargetActor(ctx, testutil.ActorOf(u), cw.prod.ID); !errors.Is(err, models.ErrForbidden) {
				t.Errorf("%s in Acme, %s in Production: %v, want forbidden", roles[0], roles[1], err)
			}
			// The same person as the target's actor, made by hand, is checked again.
			there := testutil.ActorOf(u)
			there.WorkspaceID, there.Role = cw.prod.ID, models.RoleAdmin
			if _, err := cw.svc.PlanCopy(ctx, testutil.ActorOf(u), there, "segment", cw.seg, core.CopyChoices{}); !errors.Is(err, models.ErrForbidden) {
				t.Errorf("%s in Acme, %s in Production, plan: %v, want forbidden", roles[0], roles[1], err)
			}
			if _, err := s.CopyInto(ctx, testutil.ActorOf(u), there, "model", cw.model, models.CopyInput{}); !errors.Is(err, models.ErrForbidden) {
				t.Errorf("%s in Acme, %s in Production, store: %v, want forbidden", roles[0], roles[1], err)
			}
		}
		other, err := s.CreateWorkspace(ctx, "Globex")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CopyTargetActor(ctx, cw.ada, other.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("another organization's workspace: %v, want not found", err)
		}
		globex := cw.ada
		globex.WorkspaceID = other.ID
		if _, err := cw.svc.PlanCopy(ctx, cw.ada, globex, "model", cw.model, core.CopyChoices{}); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("another organization's workspace, plan: %v, want not found", err)
		}
		// The activation fails last (a platform that is not Production's): the model and
		// segment made before it in the same transaction are gone too.
		m, err := s.ModelByID(ctx, cw.ada.WorkspaceID, cw.model)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.CopyInto(ctx, cw.ada, cw.to(t), "activation", cw.act, models.CopyInput{From: "VIP sync",
			Model:      models.ModelInput{Name: "Customers", SourceID: cw.prodSrc, Relation: m.Relation(), PrimaryKey: "id", Columns: m.Columns()},
			Segment:    &models.SegmentInput{Name: "French VIPs", ConditionsJSON: `{"all":[]}`},
			Activation: &models.ActivationInput{Name: "VIP sync", PlatformID: "not-a-platform", Action: "sync_records", Schedule: models.Schedule{Kind: "manual"}}})
		if err == nil {
			t.Error("copied an activation onto a platform of no workspace")
		}
		if n := cw.names(t); n != "" {
			t.Errorf("half a copy in Production: %s", n)
		}
	})
}

// TestCopyActivationCheckedOnTargetPlatform: the activation sends column country as a
// date, which Acme's warehouse holds as text and Production's as an integer. The copy is
// checked by CreateActivation's rules against Production's platform and the model as
// Production's source reads it: the preview says why, naming the platform and the
// column, and nothing is created.
func TestCopyActivationCheckedOnTargetPlatform(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		cw := newCopyWorld(t, s, "Warehouse", "id INTEGER PRIMARY KEY, email TEXT, country INTEGER")
		act, err := s.ActivationByID(ctx, cw.ada.WorkspaceID, cw.act)
		if err != nil {
			t.Fatal(err)
		}
		// French VIPs compares country with "FR", which Production's integer column cannot
		// take: that segment is refused first, by SaveSegment's rules.
		plan, err := cw.svc.PlanCopy(ctx, cw.ada, cw.to(t), "segment", cw.seg, core.CopyChoices{})
		if err != nil {
			t.Fatal(err)
		}
		if plan.Refused == nil || plan.Refused.Message != "Segment French VIPs cannot be copied onto source Warehouse of Production: its condition on column country (integer there): must be a whole number." {
			t.Errorf("segment refused %+v", plan.Refused)
		}
		everyone, err := cw.svc.SaveSegment(ctx, cw.ada, "", core.SegmentRequest{ModelID: cw.model, Name: "Everyone", Conditions: segments.All()})
		if err != nil {
			t.Fatal(err)
		}
		in := models.ActivationInput{Name: "Country as a date", SegmentID: everyone.ID, PlatformID: act.PlatformID, Action: "sync_records",
			Mappings: []models.Mapping{{From: "email", To: "email", Type: "string"}, {From: "country", To: "joined", Type: "datetime"}},
			Schedule: models.Schedule{Kind: "manual"}}
		dated, err := cw.svc.CreateActivation(ctx, cw.ada, in)
		if err != nil {
			t.Fatal(err)
		}
		plan, err = cw.svc.PlanCopy(ctx, cw.ada, cw.to(t), "activation", dated.ID, core.CopyChoices{})
		if err != nil {
			t.Fatal(err)
		}
		want := "Activation Country as a date cannot be copied onto platform Hook of Production: Column country is integer; joined expects datetime."
		if plan.Refused == nil || !strings.HasPrefix(plan.Refused.Message, want) || plan.Refused.Field != "platform_id" {
			t.Errorf("refused %+v, want %q", plan.Refused, want)
		}
		var fe *models.FieldError
		if _, err := cw.copy(t, "activation", dated.ID, core.CopyChoices{}); !errors.As(err, &fe) || fe.Message != plan.Refused.Message {
			t.Errorf("copy: %v, want the preview's refusal", err)
		}
		if n := cw.names(t); n != "" {
			t.Errorf("Production holds %q after a refused copy", n)
		}
		// An activation of Everyone that maps email only passes the same rules.
		in.Name, in.Mappings = "Emails", in.Mappings[:1]
		emails, err := cw.svc.CreateActivation(ctx, cw.ada, in)
		if err != nil {
			t.Fatal(err)
		}
		plan, err = cw.svc.PlanCopy(ctx, cw.ada, cw.to(t), "activation", emails.ID, core.CopyChoices{})
		if err != nil || plan.Refused != nil {
			t.Errorf("Emails: %v %v", err, plan.Refused)
		}
	})
}
