package core_test

import (
	"slices"
	"testing"

	"sluice/connectors"
	"sluice/core"
	"sluice/models"
)

// The wizard's suggestions: a column of the same type first, then the closest name.
func TestSuggestColumnsRanksTheRenamedColumnFirst(t *testing.T) {
	lost := connectors.Column{Name: "email", Type: connectors.TypeString}
	snapshot := []connectors.Column{{Name: "id", Type: connectors.TypeInteger}, lost, {Name: "country", Type: connectors.TypeString}}
	current := []connectors.Column{{Name: "id", Type: connectors.TypeInteger}, {Name: "country", Type: connectors.TypeString},
		{Name: "notes", Type: connectors.TypeString}, {Name: "email_count", Type: connectors.TypeInteger},
		{Name: "EmailAddress", Type: connectors.TypeString}, {Name: "zip", Type: connectors.TypeString}}
	got := core.SuggestColumns(lost, snapshot, current)
	var names []string
	for _, s := range got {
		names = append(names, s.Column.Name)
	}
	// email_count shares a word but not the type: after every string.
	if want := []string{"EmailAddress", "zip", "notes", "email_count"}; !slices.Equal(names, want) {
		t.Errorf("suggestions %v, want %v", names, want)
	}
	if !got[0].SameType || got[0].Similarity < 0.5 {
		t.Errorf("first suggestion %+v: want the same type and a similar name", got[0])
	}
	for _, c := range []struct {
		a, b string
		want float64
	}{{"email", "email", 1}, {"email", "EMAIL", 1}, {"first_name", "firstName", 1}, {"phone", "zip", 0}} {
		if got := core.NameSimilarity(c.a, c.b); got != c.want {
			t.Errorf("NameSimilarity(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// The wizard's dry run lists exactly what the remap then writes: the segments whose
// conditions read the column, the activations whose mappings do, the primary key; and
// the remap resumes the activations the lost column paused, never a manual pause.
func TestRemapPlanIsWhatRemapColumnChanges(t *testing.T) {
	eachWarehouse(t, func(t *testing.T, w *wh) {
		ctx := t.Context()
		lw := newLineageWorld(t, w)
		known, err := w.store.CreateSegment(ctx, w.actor, models.SegmentInput{ModelID: lw.model.ID, Name: "Known address",
			ConditionsJSON: `{"all":[{"column":"email","op":"eq","value":"a@example.com"}]}`})
		if err != nil {
			t.Fatal(err)
		}
		segsBefore, err := w.store.ListSegments(ctx, w.ws(), lw.model.ID)
		if err != nil {
			t.Fatal(err)
		}
		w.exec(t, `ALTER TABLE customers RENAME COLUMN email TO email_address`)
		lw.validate(t, []issueKey{{"email", models.IssueAltered}}, map[string]string{
			lw.emails: "column email is missing", lw.adults: "column email is missing"})

		if _, err := w.svc.RemapPlan(ctx, w.ws(), lw.model.ID, "email", "nope"); err == nil {
			t.Error("a plan to a column the warehouse lacks should be refused")
		}
		plan, err := w.svc.RemapPlan(ctx, w.ws(), lw.model.ID, "email", "email_address")
		if err != nil {
			t.Fatal(err)
		}
		if plan.PrimaryKey || len(plan.Segments) != 1 || plan.Segments[0].ID != known.ID {
			t.Errorf("plan key %v segments %+v, want the segment %s only", plan.PrimaryKey, plan.Segments, known.ID)
		}
		var acts []string
		for _, a := range plan.Activations {
			acts = append(acts, a.Name)
			if !slices.Equal(a.Fields, []string{"email"}) {
				t.Errorf("%s feeds %v, want [email]", a.Name, a.Fields)
			}
		}
		if !slices.Equal(acts, []string{"Adults", "Emails"}) {
			t.Errorf("plan activations %v, want Adults and Emails", acts)
		}
		// Nothing was written by the dry run.
		if m, _ := w.store.ModelByID(ctx, w.ws(), lw.model.ID); m.Status != models.ModelBroken {
			t.Errorf("after the dry run the model is %s", m.Status)
		}

		res, err := w.svc.Remap(ctx, w.actor, lw.model.ID, "email", "email_address")
		if err != nil {
			t.Fatal(err)
		}
		var resumed []string
		for _, a := range res.Resumed {
			resumed = append(resumed, a.Name)
		}
		slices.Sort(resumed)
		if !slices.Equal(resumed, []string{"Adults", "Emails"}) {
			t.Errorf("resumed %v, want Adults and Emails (not the manual pause)", resumed)
		}
		lw.check(t, nil, map[string]string{})

		// Every segment and activation is as the plan said: rewritten where it is listed,
		// untouched elsewhere.
		segsAfter, err := w.store.ListSegments(ctx, w.ws(), lw.model.ID)
		if err != nil {
			t.Fatal(err)
		}
		before := map[string]string{}
		for _, g := range segsBefore {
			before[g.ID] = g.ConditionsJSON
		}
		for _, g := range segsAfter {
			want, planned := plan.Input.Segments[g.ID]
			if !planned {
				want = before[g.ID]
			}
			if g.ConditionsJSON != want {
				t.Errorf("segment %s: %s, want %s", g.Name, g.ConditionsJSON, want)
			}
		}
		for _, id := range []string{lw.emails, lw.phones, lw.adults, lw.manual} {
			a, err := w.store.ActivationByID(ctx, w.ws(), id)
			if err != nil {
				t.Fatal(err)
			}
			want, planned := plan.Input.Mappings[id]
			if planned && a.MappingsJSON != want {
				t.Errorf("%s mappings %s, want the plan's %s", a.Name, a.MappingsJSON, want)
			}
			if !planned && slices.ContainsFunc(a.Mappings(), func(m models.Mapping) bool { return m.From == "email_address" }) {
				t.Errorf("%s was not in the plan but its mappings changed: %s", a.Name, a.MappingsJSON)
			}
		}

		// The primary key moves with a renamed key column, as planned.
		w.exec(t, `ALTER TABLE customers RENAME COLUMN id TO customer_id`)
		plan, err = w.svc.RemapPlan(ctx, w.ws(), lw.model.ID, "id", "customer_id")
		if err != nil {
			t.Fatal(err)
		}
		if !plan.PrimaryKey || len(plan.Segments) != 0 || len(plan.Activations) != 0 {
			t.Errorf("key plan %+v, want the primary key only", plan)
		}
		m, err := w.svc.RemapColumn(ctx, w.actor, lw.model.ID, "id", "customer_id")
		if err != nil {
			t.Fatal(err)
		}
		if m.PrimaryKey != plan.Input.PrimaryKey || m.PrimaryKey != "customer_id" {
			t.Errorf("primary key %q, want the plan's %q", m.PrimaryKey, plan.Input.PrimaryKey)
		}
	})
}
