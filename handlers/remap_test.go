package handlers_test

import (
	"database/sql"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"sluice/internal/testutil"
	"sluice/models"
)

// The remap wizard after two columns were renamed in the warehouse: it suggests the
// renamed column first with its values, lists the segment, the mapping and the primary
// key it will change, and accepting remaps one column at a time — the activation stays
// paused while the other is still lost, and resumes with the flash saying so.
func TestRemapWizard(t *testing.T) {
	t.Parallel()
	for _, d := range testutil.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			s := newWHSetup(t, d.URL(t))
			editor := s.admin.as(s.editor)
			hook := newHook(t, http.StatusOK)
			platform := into[platformBody](t, s.admin.post("/platforms", map[string]any{
				"name": "Hook", "kind": "webhook", "config": map[string]any{"url": hook.url()}}).want(t, http.StatusCreated))
			m := s.model(t, map[string]any{"name": "Customers", "table": "customers", "primary_key": "id"})
			seg := into[segmentBody](t, editor.post("/segments", map[string]any{"model_id": m.ID, "name": "Example addresses",
				"conditions": map[string]any{"all": []any{map[string]any{"column": "email", "op": "neq", "value": "nobody@example.com"}}}}).want(t, http.StatusCreated))
			act := into[activationBody](t, editor.post("/activations", map[string]any{
				"name": "Newsletter", "segment_id": seg.ID, "platform_id": platform.ID, "action": "sync_records",
				"mappings": []map[string]any{{"from": "email", "to": "email", "type": "email"}, {"from": "country", "to": "country"}},
				"schedule": map[string]any{"kind": "manual"},
			}).want(t, http.StatusCreated))

			db, err := sql.Open("sqlite", s.path)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{`ALTER TABLE customers RENAME COLUMN email TO email_address`,
				`ALTER TABLE customers RENAME COLUMN id TO customer_id`, `ALTER TABLE customers ADD COLUMN notes TEXT`} {
				if _, err := db.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			db.Close()
			editor.post("/models/"+m.ID+"/validate", nil).want(t, http.StatusOK)
			status := func() *models.Activation {
				t.Helper()
				a, err := s.app.store.ActivationByID(t.Context(), models.DefaultWorkspaceID, act.ID)
				if err != nil {
					t.Fatal(err)
				}
				return a
			}
			if a := status(); a.Status != models.ActivationPaused || !a.PauseAutomatic {
				t.Fatalf("after the renames the activation is %s (%q), want paused automatically", a.Status, a.PauseReason)
			}

			_, browser := signedInAdmin(t, s.app)
			page := browser.get("/models/"+m.ID).want(t, http.StatusOK)
			if n := page.Count(t, "[data-testid=remap-column]"); n != 2 {
				t.Fatalf("model page offers %d Remap buttons, want 2 (id and email):\n%s", n, page.Body)
			}
			href, _ := page.Doc(t).Find("[data-testid=remap-column]").First().Attr("href")
			if !strings.HasPrefix(href, "/models/"+m.ID+"/remap?column=") {
				t.Errorf("Remap button leads to %q", href)
			}

			// "Edit mapping" marks the mapped column the warehouse lost and leads to the wizard.
			edit := browser.get("/activations/"+act.ID+"/edit?step=mappings").want(t, http.StatusOK)
			if got := edit.Text(t, "[data-testid=map-from-lost]"); !strings.Contains(got, "email is no longer in the warehouse") {
				t.Errorf("mapping step marks %q, want email lost", got)
			}
			if link, _ := edit.Doc(t).Find("[data-testid=map-from-remap]").Attr("href"); link != "/models/"+m.ID+"/remap?column=email" {
				t.Errorf("mapping step's remap link %q", link)
			}
			if n := edit.Count(t, "[data-testid=lost-columns] a"); n != 2 {
				t.Errorf("mapping step offers %d remaps, want 2 (id and email)", n)
			}

			wiz := browser.get("/models/"+m.ID+"/remap?column=email").want(t, http.StatusOK)
			doc := wiz.Doc(t)
			if first, _ := doc.Find("[data-testid=remap-candidate]").First().Attr("data-column"); first != "email_address" {
				t.Errorf("first suggestion %q, want email_address", first)
			}
			if v, _ := doc.Find("[data-testid=remap-candidate] input:checked").Attr("value"); v != "email_address" {
				t.Errorf("preselected %q, want email_address", v)
			}
			if samples := wiz.Text(t, "[data-testid=remap-sample-new]"); !strings.Contains(samples, "@example.com") {
				t.Errorf("sample values %q, want the new column's e-mails", samples)
			}
			if got := wiz.Text(t, "[data-testid=plan-segment]"); !strings.Contains(got, "Example addresses") {
				t.Errorf("plan segments %q", got)
			}
			if got := wiz.Text(t, "[data-testid=plan-mapping]"); !strings.Contains(got, "Newsletter") || !strings.Contains(got, "email_address") {
				t.Errorf("plan mappings %q", got)
			}
			if got := wiz.Text(t, "[data-testid=plan-key]"); !strings.Contains(got, "unchanged") {
				t.Errorf("plan key %q, want unchanged", got)
			}
			if got := wiz.Text(t, "[data-testid=remap-paused]"); !strings.Contains(got, "Newsletter") {
				t.Errorf("paused activations %q, want Newsletter", got)
			}

			key := browser.get("/models/"+m.ID+"/remap?column=id").want(t, http.StatusOK)
			if first, _ := key.Doc(t).Find("[data-testid=remap-candidate]").First().Attr("data-column"); first != "customer_id" {
				t.Errorf("first suggestion for id %q, want customer_id", first)
			}
			if got := key.Text(t, "[data-testid=plan-key]"); !strings.Contains(got, "customer_id") {
				t.Errorf("plan key %q, want id → customer_id", got)
			}
			if key.Count(t, "[data-testid=plan-mapping]")+key.Count(t, "[data-testid=plan-segment]") != 0 {
				t.Errorf("the key remap lists segments or mappings:\n%s", key.Text(t, "[data-testid=remap-plan]"))
			}

			token := browser.csrf("/models/" + m.ID + "/remap?column=id")
			accept := func(from, to string) string {
				t.Helper()
				r := browser.post("/models/"+m.ID+"/remap", url.Values{"_csrf": {token}, "from": {from}, "to": {to}}).want(t, http.StatusSeeOther)
				if r.Location() != "/models/"+m.ID {
					t.Errorf("accepting leads to %q", r.Location())
				}
				return browser.get(r.Location()).want(t, http.StatusOK).Text(t, "#flash")
			}
			flash := accept("id", "customer_id")
			if !strings.Contains(flash, "primary key") || strings.Contains(flash, "Resumed") {
				t.Errorf("flash after the key remap %q", flash)
			}
			if a := status(); a.Status != models.ActivationPaused || !a.PauseAutomatic {
				t.Errorf("with email still lost the activation is %s (%q), want paused", a.Status, a.PauseReason)
			}
			if n := browser.get("/models/"+m.ID).Count(t, "[data-testid=remap-column]"); n != 1 {
				t.Errorf("after the key remap %d Remap buttons, want 1 (email)", n)
			}

			flash = accept("email", "email_address")
			for _, want := range []string{"email_address now replaces email", "1 segment (Example addresses)", "1 activation (Newsletter)", "Resumed: Newsletter"} {
				if !strings.Contains(flash, want) {
					t.Errorf("flash %q, want %q", flash, want)
				}
			}
			if a := status(); a.Status != models.ActivationActive {
				t.Errorf("after both remaps the activation is %s (%q), want active", a.Status, a.PauseReason)
			}
			if got := status().Mappings()[0].From; got != "email_address" {
				t.Errorf("the mapping reads %q, want email_address", got)
			}
			edit = browser.get("/activations/"+act.ID+"/edit?step=mappings").want(t, http.StatusOK)
			if n := edit.Count(t, "[data-testid=map-from-lost]") + edit.Count(t, "[data-testid=lost-columns]"); n != 0 {
				t.Errorf("after the remaps the mapping step still marks lost columns:\n%s", edit.Text(t, "[data-testid=mappings]"))
			}
		})
	}
}
