package core_test

import (
	"strings"
	"testing"

	"sluice/connectors"
	"sluice/models"
)

// lineageWorld is a customers model with four activations using different columns:
// emails (mapping email), phones (mapping phone), adults (condition on age, mapping
// email) and manual (mapping phone, paused by a person).
type lineageWorld struct {
	w                              *wh
	model                          *models.DataModel
	emails, phones, adults, manual string
}

func newLineageWorld(t *testing.T, w *wh) *lineageWorld {
	t.Helper()
	ctx := t.Context()
	w.exec(t, `CREATE TABLE customers (id INTEGER, email TEXT, phone TEXT, age INTEGER)`)
	w.insert(t, "customers", []string{"id", "email", "phone", "age"}, [][]any{
		{1, "a@example.com", "+33612345678", 30}, {2, "b@example.com", "+33612345679", 15}})
	lw := &lineageWorld{w: w, model: w.createModel(t, "Customers", "customers", "id")}
	all, err := w.store.CreateSegment(ctx, w.actor, models.SegmentInput{ModelID: lw.model.ID, Name: "Everyone", ConditionsJSON: `{"all":[]}`})
	if err != nil {
		t.Fatal(err)
	}
	adults, err := w.store.CreateSegment(ctx, w.actor, models.SegmentInput{ModelID: lw.model.ID, Name: "Adults",
		ConditionsJSON: `{"all":[{"column":"age","op":"gte","value":18}]}`})
	if err != nil {
		t.Fatal(err)
	}
	p, err := w.store.CreatePlatform(ctx, w.actor, connectors.DestinationSpec{Kind: "webhook"}, models.PlatformInput{Name: "Hook"})
	if err != nil {
		t.Fatal(err)
	}
	act := func(name, segment, from string) string {
		a, err := w.store.CreateActivation(ctx, w.actor, models.ActivationInput{Name: name, SegmentID: segment, PlatformID: p.ID, Action: "sync_records",
			Mappings: []models.Mapping{{From: from, To: from, Type: "string"}}, Schedule: models.Schedule{Kind: "manual"}})
		if err != nil {
			t.Fatal(err)
		}
		return a.ID
	}
	lw.emails, lw.phones, lw.adults, lw.manual = act("Emails", all.ID, "email"), act("Phones", all.ID, "phone"), act("Adults", adults.ID, "email"), act("Manual", all.ID, "phone")
	if _, err := w.svc.Pause(ctx, w.actor, lw.manual, "holiday freeze"); err != nil {
		t.Fatal(err)
	}
	return lw
}

// validate runs model validation and checks which activations are paused automatically
// (with a reason containing want[id]) and which are active; manual stays manual.
func (lw *lineageWorld) validate(t *testing.T, issues []issueKey, paused map[string]string) {
	t.Helper()
	ctx := t.Context()
	w := lw.w
	if _, err := w.svc.ValidateModel(ctx, w.ws(), lw.model.ID); err != nil {
		t.Fatalf("validate: %v", err)
	}
	lw.check(t, issues, paused)
}

func (lw *lineageWorld) check(t *testing.T, issues []issueKey, paused map[string]string) {
	t.Helper()
	ctx := t.Context()
	w := lw.w
	open, err := w.store.OpenIssues(ctx, w.ws(), models.IssueFilterOf(lw.model.ID, ""))
	if err != nil {
		t.Fatal(err)
	}
	got := []issueKey{}
	for _, is := range open {
		if is.Kind == models.IssueDuplicateKeys {
			continue
		}
		got = append(got, issueKey{is.Column, is.Kind})
		if !strings.Contains(is.Message, "Customers") || (is.Column != "" && !strings.Contains(is.Message, is.Column)) {
			t.Errorf("issue message %q does not name the model and column", is.Message)
		}
	}
	if len(got) != len(issues) {
		t.Errorf("open issues = %v, want %v", got, issues)
	} else {
		for _, want := range issues {
			found := false
			for _, g := range got {
				found = found || g == want
			}
			if !found {
				t.Errorf("open issues = %v, want %v", got, issues)
			}
		}
	}
	for _, id := range []string{lw.emails, lw.phones, lw.adults} {
		a, err := w.store.ActivationByID(ctx, w.ws(), id)
		if err != nil {
			t.Fatal(err)
		}
		want, shouldPause := paused[id]
		switch {
		case shouldPause && (a.Status != models.ActivationPaused || !a.PauseAutomatic || !strings.Contains(a.PauseReason, want)):
			t.Errorf("%s: status %s automatic %v reason %q, want paused automatically with %q", a.Name, a.Status, a.PauseAutomatic, a.PauseReason, want)
		case !shouldPause && a.Status != models.ActivationActive:
			t.Errorf("%s: status %s (%q), want active", a.Name, a.Status, a.PauseReason)
		}
	}
	m, err := w.store.ActivationByID(ctx, w.ws(), lw.manual)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != models.ActivationPaused || m.PauseAutomatic || m.PauseReason != "holiday freeze" {
		t.Errorf("manual pause became %s automatic %v %q", m.Status, m.PauseAutomatic, m.PauseReason)
	}
}

// Acceptance 1: each schema change gives its kind on exactly that column or model,
// pauses exactly the activations using it with a reason naming it, and restoring or
// remapping resumes them; a manual pause stays.
func TestSchemaIssuesPauseExactlyTheActivationsUsingThem(t *testing.T) {
	eachWarehouse(t, func(t *testing.T, w *wh) {
		lw := newLineageWorld(t, w)
		none := map[string]string{}
		lw.validate(t, nil, none)

		t.Run("renamed mapping column", func(t *testing.T) {
			w.exec(t, `ALTER TABLE customers RENAME COLUMN phone TO phone_number`)
			lw.validate(t, []issueKey{{"phone", models.IssueAltered}}, map[string]string{lw.phones: "column phone is missing from model Customers"})
			w.exec(t, `ALTER TABLE customers RENAME COLUMN phone_number TO phone`)
			lw.validate(t, nil, none)
		})
		t.Run("dropped column used by two", func(t *testing.T) {
			w.exec(t, `ALTER TABLE customers DROP COLUMN email`)
			lw.validate(t, []issueKey{{"email", models.IssueAltered}}, map[string]string{
				lw.emails: "column email is missing from model Customers", lw.adults: "column email is missing from model Customers"})
			w.exec(t, `ALTER TABLE customers ADD COLUMN email TEXT`)
			lw.validate(t, nil, none)
		})
		t.Run("retyped condition column", func(t *testing.T) {
			w.setType(t, "customers", "age", "TEXT")
			lw.validate(t, []issueKey{{"age", models.IssueWrongType}}, map[string]string{lw.adults: "column age of model Customers changed type"})
			w.setType(t, "customers", "age", "INTEGER")
			lw.validate(t, nil, none)
		})
		everyone := func(why string) map[string]string {
			return map[string]string{lw.emails: why, lw.phones: why, lw.adults: why}
		}
		t.Run("primary key lost", func(t *testing.T) {
			w.exec(t, `ALTER TABLE customers RENAME COLUMN id TO customer_id`)
			lw.validate(t, []issueKey{{"id", models.IssueMissing}}, everyone("primary key id is missing from model Customers"))
			w.exec(t, `ALTER TABLE customers RENAME COLUMN customer_id TO id`)
			lw.validate(t, nil, none)
		})
		t.Run("table lost", func(t *testing.T) {
			w.exec(t, `ALTER TABLE customers RENAME TO customers_old`)
			lw.validate(t, []issueKey{{"", models.IssueMissing}}, everyone("the table or query of model Customers no longer resolves"))
			w.exec(t, `ALTER TABLE customers_old RENAME TO customers`)
			lw.validate(t, nil, none)
		})
		t.Run("remap resumes", func(t *testing.T) {
			w.exec(t, `ALTER TABLE customers RENAME COLUMN age TO age_years`)
			lw.validate(t, []issueKey{{"age", models.IssueAltered}}, map[string]string{lw.adults: "column age is missing from model Customers"})
			if _, err := w.svc.RemapColumn(t.Context(), w.actor, lw.model.ID, "age", "age_years"); err != nil {
				t.Fatal(err)
			}
			lw.check(t, nil, none)
			lw.validate(t, nil, none)
		})
		t.Run("every pause and resume is an event by Sluice", func(t *testing.T) {
			evs, err := w.store.ActivationEvents(t.Context(), w.ws(), lw.adults, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 10 {
				t.Errorf("adults has %d events, want 10 (5 pauses, 5 resumes)", len(evs))
			}
			for _, e := range evs {
				if e.Actor != "Sluice" || !e.Automatic || e.Reason == "" {
					t.Errorf("event %+v, want an automatic one by Sluice with its reason", e)
				}
			}
		})
	})
}

// A warehouse that cannot be reached breaks its source and pauses every activation
// reading it; validating it once it is back resumes them, but never a manual pause.
func TestBrokenSourcePausesAndResumes(t *testing.T) {
	eachWarehouse(t, func(t *testing.T, w *wh) {
		ctx := t.Context()
		lw := newLineageWorld(t, w)
		spec, err := w.svc.SourceSpec(w.kind)
		if err != nil {
			t.Fatal(err)
		}
		good := w.src.PublicConfig()
		bad := connectors.Config{}
		for k, v := range good {
			bad[k] = v
		}
		if w.kind == "postgres" {
			bad["port"] = "1" // nothing listens there
		} else {
			bad["path"] = strings.TrimSuffix(good["path"], "warehouse.db") + "gone.db"
		}
		update := func(cfg connectors.Config) {
			t.Helper()
			if _, err := w.store.UpdateSource(ctx, w.actor, w.src.ID, spec, models.SourceInput{Config: cfg}); err != nil {
				t.Fatal(err)
			}
		}
		update(bad)
		src, err := w.svc.ValidateSource(ctx, w.ws(), w.src.ID)
		if err != nil {
			t.Fatal(err)
		}
		if src.Status != models.SourceBroken {
			t.Fatalf("status = %s, want broken", src.Status)
		}
		why := "source Warehouse is broken"
		lw.check(t, nil, map[string]string{lw.emails: why, lw.phones: why, lw.adults: why})
		open, err := w.store.OpenIssues(ctx, w.ws(), models.IssueFilterOf(w.src.ID, ""))
		if err != nil {
			t.Fatal(err)
		}
		if len(open) != 1 || open[0].ObjectType != models.IssueObjectSource || open[0].Kind != string(connectors.StageConnection) ||
			!strings.Contains(open[0].Message, "Warehouse") {
			t.Errorf("source issues = %+v, want one connection issue naming the source", open)
		}

		update(good)
		if src, err = w.svc.ValidateSource(ctx, w.ws(), w.src.ID); err != nil {
			t.Fatal(err)
		}
		if src.Status != models.SourceConnected {
			t.Fatalf("status = %s, want connected: %+v", src.Status, src.Checks())
		}
		lw.check(t, nil, map[string]string{})
		if open, _ = w.store.OpenIssues(ctx, w.ws(), models.IssueFilterOf(w.src.ID, "")); len(open) != 0 {
			t.Errorf("source issues after recovery = %+v", open)
		}
	})
}

// The whole workspace validates in one call (the daily job's body).
func TestValidateWorkspace(t *testing.T) {
	eachWarehouse(t, func(t *testing.T, w *wh) {
		lw := newLineageWorld(t, w)
		w.exec(t, `ALTER TABLE customers DROP COLUMN phone`)
		if err := w.svc.ValidateWorkspace(t.Context(), w.ws()); err != nil {
			t.Fatal(err)
		}
		lw.check(t, []issueKey{{"phone", models.IssueAltered}}, map[string]string{lw.phones: "column phone is missing"})
	})
}
