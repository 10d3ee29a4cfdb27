package handlers_test

import (
	"net/http"
	"net/url"
	"os"
	"testing"
)

// "Validate now" on a source page answers the Validation card with its five checks and
// the header's status badge out of band: a warehouse gone since the last check turns
// the badge Broken at once, without a reload.
func TestSourceValidateNowKeepsTheCardAndRefreshesTheBadge(t *testing.T) {
	t.Parallel()
	s := newDLSetup(t)
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
}

// A name already taken refuses the new model beside the name, and keeps what the editor
// had done: the preview of the query and the key chosen in it.
func TestModelsNewNameTakenKeepsThePreviewAndTheKey(t *testing.T) {
	t.Parallel()
	s := newDLSetup(t) // has a model named Customers
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
}
