package handlers_test

import (
	"database/sql"
	"net/http"
	"testing"

	"sluice/internal/testutil"
)

type validationIssueBody struct {
	ID          string `json:"id"`
	ObjectType  string `json:"object_type"`
	ObjectID    string `json:"object_id"`
	Column      string `json:"column"`
	Kind        string `json:"kind"`
	Message     string `json:"message"`
	FirstSeenAt string `json:"first_seen_at"`
	LastSeenAt  string `json:"last_seen_at"`
}

type issuesPage struct {
	Items      []validationIssueBody `json:"items"`
	NextCursor string                `json:"next_cursor"`
}

// GET /issues lists the open validation issues, filtered by object and kind and paged;
// a model's and a source's answers carry their own.
func TestAPIIssuesFilters(t *testing.T) {
	for _, d := range testutil.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			s := newWHSetup(t, d.URL(t))
			m := s.model(t, map[string]any{"name": "Customers", "table": "customers", "primary_key": "id"})
			dupes := s.model(t, map[string]any{"name": "Dupes", "table": "dupes", "primary_key": "id"})
			db, err := sql.Open("sqlite", s.path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, q := range []string{`ALTER TABLE customers DROP COLUMN country`, `ALTER TABLE customers RENAME COLUMN age TO age_years`, `DROP TABLE dupes`} {
				if _, err := db.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			editor := s.admin.as(s.editor)
			editor.post("/models/"+m.ID+"/validate", nil).want(t, http.StatusOK)
			editor.post("/models/"+dupes.ID+"/validate", nil).want(t, http.StatusOK)

			viewer := s.admin.as(s.viewer)
			all := into[issuesPage](t, viewer.get("/issues").want(t, http.StatusOK))
			if len(all.Items) != 3 || all.NextCursor != "" {
				t.Fatalf("issues = %+v, want 3 on one page", all)
			}
			for _, is := range all.Items {
				if is.ID == "" || is.ObjectType != "model" || is.Message == "" || is.FirstSeenAt == "" || is.LastSeenAt == "" {
					t.Errorf("issue %+v", is)
				}
			}
			byModel := into[issuesPage](t, viewer.get("/issues?object_id="+m.ID).want(t, http.StatusOK))
			if len(byModel.Items) != 2 {
				t.Errorf("issues of Customers = %+v, want country and age", byModel.Items)
			}
			missing := into[issuesPage](t, viewer.get("/issues?kind=missing").want(t, http.StatusOK))
			if len(missing.Items) != 1 || missing.Items[0].ObjectID != dupes.ID || missing.Items[0].Column != "" {
				t.Errorf("missing issues = %+v, want the Dupes table", missing.Items)
			}
			none := into[issuesPage](t, viewer.get("/issues?object_id="+dupes.ID+"&kind=altered").want(t, http.StatusOK))
			if len(none.Items) != 0 {
				t.Errorf("altered issues of Dupes = %+v, want none", none.Items)
			}
			p1 := into[issuesPage](t, viewer.get("/issues?limit=2").want(t, http.StatusOK))
			if len(p1.Items) != 2 || p1.NextCursor == "" {
				t.Fatalf("first page = %+v", p1)
			}
			p2 := into[issuesPage](t, viewer.get("/issues?limit=2&cursor="+p1.NextCursor).want(t, http.StatusOK))
			if len(p2.Items) != 1 || p2.NextCursor != "" || p2.Items[0].ID == p1.Items[0].ID || p2.Items[0].ID == p1.Items[1].ID {
				t.Errorf("second page = %+v", p2)
			}
			viewer.get("/issues?cursor=!!").want(t, http.StatusBadRequest)

			shown := into[struct {
				OpenIssues []validationIssueBody `json:"open_issues"`
			}](t, viewer.get("/models/"+m.ID).want(t, http.StatusOK))
			if len(shown.OpenIssues) != 2 {
				t.Errorf("GET /models/{id} open_issues = %+v, want 2", shown.OpenIssues)
			}
			if _, err := db.Exec(`ALTER TABLE customers ADD COLUMN country TEXT`); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(`ALTER TABLE customers RENAME COLUMN age_years TO age`); err != nil {
				t.Fatal(err)
			}
			editor.post("/models/"+m.ID+"/validate", nil).want(t, http.StatusOK)
			if left := into[issuesPage](t, viewer.get("/issues").want(t, http.StatusOK)); len(left.Items) != 1 {
				t.Errorf("after the fix, issues = %+v, want only Dupes", left.Items)
			}
			s.admin.post("/sources/"+s.source.ID+"/validate", nil).want(t, http.StatusOK)
			srcShown := into[struct {
				OpenIssues []validationIssueBody `json:"open_issues"`
			}](t, viewer.get("/sources/"+s.source.ID).want(t, http.StatusOK))
			if len(srcShown.OpenIssues) != 1 || srcShown.OpenIssues[0].Kind != "lineage" || srcShown.OpenIssues[0].ObjectType != "source" {
				t.Errorf("GET /sources/{id} open_issues = %+v, want the lineage check naming Dupes", srcShown.OpenIssues)
			}
		})
	}
}
