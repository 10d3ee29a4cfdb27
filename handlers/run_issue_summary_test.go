package handlers_test

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"sluice/models"
)

// reasonIssues adds n issues of one reason to a run, keyed prefix0000, prefix0001…
func reasonIssues(t *testing.T, s *models.Store, runID, stage, code, field, message, prefix string, n int) {
	t.Helper()
	list := make([]models.RunIssue, n)
	for i := range list {
		msg := message
		if msg == "" { // a source issue's message quotes its value: it is not its reason
			msg = fmt.Sprintf("The value %d of column %s is wrong.", i, field)
		}
		list[i] = models.RunIssue{RunID: runID, PrimaryKey: fmt.Sprintf("%s%04d", prefix, i), Stage: stage, Code: code, Field: field, Message: msg}
	}
	if err := s.AddRunIssues(t.Context(), list); err != nil {
		t.Fatal(err)
	}
}

// The run page sums each kind of issue up by reason, the largest first (at most 20
// lines, the rest counted together); each line links to the run page with the list
// narrowed to it, and the list's next pages, its CSV and the API take the same filter.
func TestRunPageSumsIssuesUpByReason(t *testing.T) {
	t.Parallel()
	eachRunFixture(t, func(t *testing.T, f *runFixture) {
		r := f.startRun(t)
		st := f.app.store
		reasonIssues(t, st, r.ID, "source", "invalid_phone", "phone", "", "p", 120)
		reasonIssues(t, st, r.ID, "source", "invalid_email", "email", "", "e", 30)
		for i := range 22 { // 22 reasons of one record each: 18 fit in 20 lines
			reasonIssues(t, st, r.ID, "source", "wrong_type", fmt.Sprintf("f%02d", i), "", fmt.Sprintf("w%02d-", i), 1)
		}
		reasonIssues(t, st, r.ID, "destination", "rejected", "", "Invalid email address", "r", 4)
		reasonIssues(t, st, r.ID, "destination", "rejected", "", "Unknown list", "u", 2)
		f.finish(t, r, models.RunOutcome{Status: models.RunWarnings})

		doc := f.browser.get("/runs/"+r.ID).want(t, http.StatusOK).Doc(t)
		lines := summaryLines(doc.Find("[data-testid=source-issues-summary]"))
		if len(lines) != 20 || lines[0] != "Invalid phone|phone|120" || lines[1] != "Invalid e-mail|email|30" || lines[2] != "Wrong type|f00|1" {
			t.Fatalf("source summary %q", lines)
		}
		if got := doc.Find("#source-issues-card [data-testid=reason-rest] td.num").Text(); got != "4" {
			t.Errorf("the reasons left out count %q, want 4 records", got)
		}
		if got := summaryLines(doc.Find("[data-testid=rejections-summary]")); strings.Join(got, ";") != "Invalid email address|—|4;Unknown list|—|2" {
			t.Errorf("rejections summary %q", got)
		}
		if got := strings.TrimSpace(doc.Find("[data-testid=source-issues-total]").Text()); got != "172" {
			t.Errorf("source issues total %q, want 172", got)
		}

		// The first line narrows the source list to invalid phones; the rejections stay whole.
		href, _ := doc.Find("[data-testid=source-issues-summary] [data-testid=reason-link]").First().Attr("href")
		u, err := url.Parse(href)
		if err != nil || u.Path != "/runs/"+r.ID || u.Query().Get("code") != "invalid_phone" || u.Query().Get("field") != "phone" || u.Fragment != "source-issues-card" {
			t.Fatalf("reason link %q", href)
		}
		doc = f.browser.get(href).want(t, http.StatusOK).Doc(t)
		src := doc.Find("#source-issues-card")
		if got := strings.TrimSpace(src.Find("[data-testid=source-issues-total]").Text()); got != "120" {
			t.Errorf("narrowed total %q, want 120", got)
		}
		if !onlyCode(src, "invalid_phone") || src.Find("[data-testid=issue-row]").Length() != 100 {
			t.Errorf("the narrowed list has %d rows, not all invalid phones", src.Find("[data-testid=issue-row]").Length())
		}
		if note := src.Find("[data-testid=source-issues-filter]").Text(); !strings.Contains(note, "Invalid phone") || !strings.Contains(note, "Show all 172") {
			t.Errorf("filter note %q", note)
		}
		if !src.Find("[data-testid=reason-row]").First().HasClass("active") {
			t.Error("the chosen reason is not marked in the summary")
		}
		if got := doc.Find("#rejections-card [data-testid=issue-row]").Length(); got != 6 {
			t.Errorf("rejections while sources are narrowed: %d rows, want 6", got)
		}
		next, _ := src.Find("[data-testid=load-more] a").Attr("hx-get")
		rows := f.browser.get(next, "HX-Request", "true").want(t, http.StatusOK).Rows(t)
		if rows.Find("[data-testid=issue-row]").Length() != 20 || !onlyCode(rows.Selection, "invalid_phone") || rows.Find("[data-testid=load-more]").Length() != 0 {
			t.Errorf("the next page of invalid phones: %d rows", rows.Find("[data-testid=issue-row]").Length())
		}
		csvHref, _ := src.Find("[data-testid=source-issues-csv]").Attr("href")
		res := f.browser.get(csvHref).want(t, http.StatusOK)
		all, err := csv.NewReader(strings.NewReader(res.Body)).ReadAll()
		if err != nil || len(all) != 121 {
			t.Fatalf("the narrowed CSV has %d lines (%v), want a header and 120", len(all), err)
		}
		for _, row := range all[1:] {
			if row[2] != "invalid_phone" || row[3] != "phone" {
				t.Fatalf("narrowed CSV row %q", row)
			}
		}

		// A rejection's reason is the platform's words.
		href, _ = doc.Find("[data-testid=rejections-summary] [data-testid=reason-link]").Last().Attr("href")
		doc = f.browser.get(href).want(t, http.StatusOK).Doc(t)
		if got := doc.Find("#rejections-card [data-testid=issue-row]").Length(); got != 2 || !strings.Contains(doc.Find("#rejections-card [data-testid=issue-row]").Text(), "Unknown list") {
			t.Errorf("rejections narrowed to Unknown list: %d rows", got)
		}
		if got := doc.Find("#source-issues-card [data-testid=issue-row]").Length(); got != 100 {
			t.Errorf("source issues while rejections are narrowed: %d rows, want the first 100", got)
		}

		// The API takes the same filter.
		type issueBody struct{ Code string }
		api := into[list[issueBody]](t, f.admin.get("/runs/"+r.ID+"/issues?stage=source&code=invalid_email&field=email&limit=500").want(t, http.StatusOK))
		if len(api.Items) != 30 || api.Items[0].Code != "invalid_email" || api.NextCursor != "" {
			t.Errorf("API narrowed to invalid e-mails: %d items", len(api.Items))
		}
		api = into[list[issueBody]](t, f.admin.get("/runs/"+r.ID+"/issues?stage=destination&code=rejected&field=&message="+url.QueryEscape("Invalid email address")).want(t, http.StatusOK))
		if len(api.Items) != 4 {
			t.Errorf("API narrowed to one rejection message: %d items", len(api.Items))
		}
		wantErr(t, f.admin.get("/runs/"+r.ID+"/issues?code=invalid_email"), 422, "invalid", "stage")

		// A reason is of one stage.
		f.browser.get("/runs/"+r.ID+"?code=invalid_phone").want(t, http.StatusBadRequest)
		f.browser.get("/runs/"+r.ID+"/issues.csv?code=invalid_phone").want(t, http.StatusBadRequest)
	})
}

// A run without issues shows no summary.
func TestRunPageWithoutIssuesHasNoSummary(t *testing.T) {
	t.Parallel()
	eachRunFixture(t, func(t *testing.T, f *runFixture) {
		r := f.startRun(t)
		f.finish(t, r, models.RunOutcome{Status: models.RunSucceeded})
		page := f.browser.get("/runs/"+r.ID).want(t, http.StatusOK)
		if n := page.Count(t, "[data-testid=source-issues-summary], [data-testid=rejections-summary]"); n != 0 {
			t.Errorf("%d summaries on a run without issues", n)
		}
	})
}

// summaryLines reads a summary table as "reason|field|count" lines.
func summaryLines(table *goquery.Selection) []string {
	var out []string
	table.Find("[data-testid=reason-row]").Each(func(_ int, row *goquery.Selection) {
		var cells []string
		row.Find("td").Each(func(_ int, td *goquery.Selection) { cells = append(cells, strings.TrimSpace(td.Text())) })
		out = append(out, strings.Join(cells, "|"))
	})
	return out
}

// onlyCode reports whether every issue row of sel has the code.
func onlyCode(sel *goquery.Selection, code string) bool {
	ok := true
	sel.Find("[data-testid=issue-row] td:nth-child(3)").Each(func(_ int, td *goquery.Selection) { ok = ok && strings.TrimSpace(td.Text()) == code })
	return ok
}
