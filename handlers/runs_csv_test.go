package handlers_test

import (
	"encoding/csv"
	"net/http"
	"slices"
	"strings"
	"testing"

	"sluice/models"
)

// Keys and messages that a spreadsheet would run as formulas are exported as text: a
// single quote before the cell, embedded quotes doubled.
func TestRunIssuesCSVNeutralisesFormulas(t *testing.T) {
	t.Parallel()
	eachRunFixture(t, func(t *testing.T, f *runFixture) {
		r := f.startRun(t)
		list := []models.RunIssue{
			{RunID: r.ID, PrimaryKey: `=HYPERLINK("http://evil")`, Stage: "destination", Code: "rejected", Field: "email", Message: "@SUM(1)"},
			{RunID: r.ID, PrimaryKey: "-5", Stage: "destination", Code: "rejected", Field: "+phone", Message: "-2+3"},
			{RunID: r.ID, PrimaryKey: "k1", Stage: "destination", Code: "rejected", Field: "email", Message: "\t=cmd|' /C calc'!A0"},
		}
		if err := f.app.store.AddRunIssues(t.Context(), list); err != nil {
			t.Fatal(err)
		}
		f.finish(t, r, models.RunOutcome{Status: models.RunWarnings})

		res := f.browser.get("/runs/"+r.ID+"/issues.csv").want(t, http.StatusOK)
		if !strings.Contains(res.Body, `"'=HYPERLINK(""http://evil"")"`) {
			t.Errorf("the formula key is not quoted and neutralised:\n%s", res.Body)
		}
		rows, err := csv.NewReader(strings.NewReader(res.Body)).ReadAll()
		if err != nil {
			t.Fatalf("CSV does not parse: %v", err)
		}
		byKey := map[string][]string{}
		for _, row := range rows[1:] {
			byKey[row[0]] = row
		}
		for key, want := range map[string][]string{
			`'=HYPERLINK("http://evil")`: {`'=HYPERLINK("http://evil")`, "destination", "rejected", "email", "'@SUM(1)"},
			"'-5":                        {"'-5", "destination", "rejected", "'+phone", "'-2+3"},
			"k1":                         {"k1", "destination", "rejected", "email", "'\t=cmd|' /C calc'!A0"},
		} {
			if !slices.Equal(byKey[key], want) {
				t.Errorf("row %q = %q, want %q", key, byKey[key], want)
			}
		}
		for _, row := range rows {
			for _, cell := range row {
				if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
					t.Errorf("cell %q starts a formula", cell)
				}
			}
		}
	})
}
