package handlers_test

import (
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"sluice/models"
)

// recordIssues opens validation issues on an object, as a validation would.
func recordIssues(t *testing.T, s *models.Store, objectType, objectID string, in ...models.IssueInput) {
	t.Helper()
	if _, err := s.RecordIssues(t.Context(), models.DefaultWorkspaceID, objectType, objectID, in, nil); err != nil {
		t.Fatal(err)
	}
}

// The open issues of a model and its source show on the lists (a count and the first
// issue's words), beside each affected column with when it was first and last seen, and
// on the segment and the activation that use the column, with a link to the model.
func TestIssueWarningsWhereTheyMatter(t *testing.T) {
	eachRunFixture(t, func(t *testing.T, f *runFixture) {
		st := f.app.store
		recordIssues(t, st, models.IssueObjectModel, f.model.ID,
			models.IssueInput{Column: "country", Kind: models.IssueAltered, Message: "Column country is missing from model Customers (renamed or dropped)."},
			models.IssueInput{Column: "age", Kind: models.IssueWrongType, Message: "Column age of model Customers changed type."})

		// Lists: one warning per listed object with issues, none on the others.
		r := f.browser.get("/models").want(t, 200)
		row := r.Doc(t).Find(`[data-testid=model-row]`).First()
		if got := strings.TrimSpace(row.Find(`[data-testid=issue-count]`).Text()); got != "2 issues" {
			t.Errorf("models list count %q", got)
		}
		if got := row.Find(`[data-testid=issue-first]`).Text(); !strings.Contains(got, "Altered") || !strings.Contains(got, "country") {
			t.Errorf("models list first issue %q", got)
		}
		if n := f.browser.get("/sources").want(t, 200).Count(t, `[data-testid=issue-warning]`); n != 0 {
			t.Errorf("a source without issues shows %d warnings", n)
		}
		recordIssues(t, st, models.IssueObjectSource, f.source.ID,
			models.IssueInput{Kind: "grants", Message: "Source Demo warehouse fails its grants check: SELECT is not granted."})
		r = f.browser.get("/sources").want(t, 200)
		if got := strings.TrimSpace(r.Text(t, `[data-testid=source-row] [data-testid=issue-count]`)); got != "1 issue" {
			t.Errorf("sources list count %q", got)
		}
		if got := r.Text(t, `[data-testid=source-row] [data-testid=issue-first]`); !strings.Contains(got, "SELECT is not granted") {
			t.Errorf("sources list first issue %q", got)
		}

		// The model page: kind, first and last seen beside each affected column only.
		doc := f.browser.get("/models/"+f.model.ID).want(t, 200).Doc(t)
		seen := map[string]string{}
		doc.Find(`[data-testid=column-row]`).Each(func(_ int, s *goquery.Selection) {
			col := strings.Fields(s.Find("td").First().Text())[0]
			seen[col] = s.Find(`[data-testid=column-issue-seen]`).Text()
		})
		for col, kind := range map[string]string{"country": "Altered", "age": "Wrong Type"} {
			if !strings.Contains(seen[col], kind) || !strings.Contains(seen[col], "first seen") || !strings.Contains(seen[col], "last seen") {
				t.Errorf("column %s: seen %q", col, seen[col])
			}
		}
		for _, col := range []string{"id", "email"} {
			if strings.TrimSpace(seen[col]) != "" {
				t.Errorf("column %s without issue shows %q", col, seen[col])
			}
		}

		// The activation maps country (not age): its page says so, with the way to the model.
		doc = f.browser.get("/activations/"+f.act.ID).want(t, 200).Doc(t)
		var texts []string
		doc.Find(`[data-testid=dependency-warning]`).Each(func(_ int, s *goquery.Selection) { texts = append(texts, strings.Join(strings.Fields(s.Text()), " ")) })
		joined := strings.Join(texts, "\n")
		for _, want := range []string{
			"Column country of model Customers is missing (renamed or dropped): this activation's mapping uses it.",
			"SELECT is not granted",
		} {
			if !strings.Contains(joined, want) {
				t.Errorf("activation warnings lack %q:\n%s", want, joined)
			}
		}
		if strings.Contains(joined, "age") {
			t.Errorf("activation warned about a column it does not use:\n%s", joined)
		}
		links := map[string]bool{}
		doc.Find(`[data-testid=dependency-warning-link]`).Each(func(_ int, s *goquery.Selection) { links[s.AttrOr("href", "")] = true })
		if !links["/models/"+f.model.ID] || !links["/sources/"+f.source.ID] {
			t.Errorf("links %v", links)
		}

		// The segment reads every column through its activation's mapping.
		r = f.browser.get("/segments/"+f.segment.ID).want(t, 200)
		if got := r.Text(t, `[data-testid=dependency-warnings]`); !strings.Contains(strings.Join(strings.Fields(got), " "),
			"Column country of model Customers is missing (renamed or dropped): the mapping of activation Newsletter uses it.") {
			t.Errorf("segment warnings %q", got)
		}

		// Once resolved, the warnings go.
		recordIssues(t, st, models.IssueObjectModel, f.model.ID)
		recordIssues(t, st, models.IssueObjectSource, f.source.ID)
		for _, p := range []string{"/models", "/sources", "/activations/" + f.act.ID, "/segments/" + f.segment.ID} {
			r := f.browser.get(p).want(t, 200)
			if n := r.Count(t, `[data-testid=issue-warning], [data-testid=dependency-warning]`); n != 0 {
				t.Errorf("%s: %d warnings after the issues were resolved", p, n)
			}
		}
	})
}

// A run's sync warnings show on the run page and, for the latest run, on the activation's
// page, each with the page where to look; the run stays a success.
func TestSyncWarningsOnRunAndActivation(t *testing.T) {
	eachRunFixture(t, func(t *testing.T, f *runFixture) {
		r := f.startRun(t)
		f.finish(t, r, models.RunOutcome{Status: models.RunSucceeded, Counts: models.RunCounts{Queried: 20, Added: 20, Sent: 20}})
		if n := f.browser.get("/runs/"+r.ID).want(t, 200).Count(t, `[data-testid=sync-warning]`); n != 0 {
			t.Errorf("a run without warnings shows %d", n)
		}
		if err := f.app.store.AddRunWarnings(t.Context(), []models.RunWarning{
			{WorkspaceID: models.DefaultWorkspaceID, RunID: r.ID, Kind: models.WarnAudienceDrop, Message: "The audience dropped from 42 rows to 20 rows since the last run (52% fewer).",
				ObjectType: models.WarnObjectSegment, ObjectID: f.segment.ID},
			{WorkspaceID: models.DefaultWorkspaceID, RunID: r.ID, Kind: models.WarnDuplicateKeys, Message: "2 rows of model Customers shared their primary key id with another row.",
				ObjectType: models.WarnObjectModel, ObjectID: f.model.ID},
		}); err != nil {
			t.Fatal(err)
		}
		for _, page := range []string{"/runs/" + r.ID, "/activations/" + f.act.ID} {
			doc := f.browser.get(page).want(t, 200).Doc(t)
			got := map[string]string{}
			doc.Find(`[data-testid=sync-warning]`).Each(func(_ int, s *goquery.Selection) {
				got[s.AttrOr("data-kind", "")] = s.Find(`[data-testid=sync-warning-link]`).AttrOr("href", "") + " " + strings.Join(strings.Fields(s.Text()), " ")
			})
			if w := got[models.WarnAudienceDrop]; !strings.HasPrefix(w, "/segments/"+f.segment.ID+" ") || !strings.Contains(w, "Audience dropped. The audience dropped from 42 rows to 20 rows") {
				t.Errorf("%s: audience warning %q", page, w)
			}
			if w := got[models.WarnDuplicateKeys]; !strings.HasPrefix(w, "/models/"+f.model.ID+" ") {
				t.Errorf("%s: duplicate keys warning %q", page, w)
			}
			if len(got) != 2 {
				t.Errorf("%s: warnings %v", page, got)
			}
		}
		if s := f.browser.get("/runs/"+r.ID).want(t, 200).Text(t, `[data-testid=run-status]`); s != "Succeeded" {
			t.Errorf("run status %q", s)
		}
	})
}
