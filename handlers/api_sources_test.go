package handlers_test

import (
	"database/sql"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"sluice/internal/testutil"
	"sluice/models"
)

type check struct {
	Stage   string `json:"stage"`
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

type sourceBody struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Kind        string            `json:"kind"`
	Status      string            `json:"status"`
	Checks      []check           `json:"checks"`
	Config      map[string]string `json:"config"`
	ValidatedAt *time.Time        `json:"validated_at"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
}

func TestAPISourceCreateValidateAndShow(t *testing.T) {
	t.Parallel()
	s := newWHSetup(t, testutil.SQLiteURL(t))
	src := s.source
	if src.ID == "" || src.Name != "Demo warehouse" || src.Kind != "sqlite" || src.Status != models.SourceConnected {
		t.Fatalf("created %+v", src)
	}
	var stages []string
	for _, c := range src.Checks {
		stages = append(stages, c.Stage)
		if !c.OK || c.Message == "" {
			t.Errorf("check %+v", c)
		}
	}
	if want := []string{"connection", "access", "schema", "grants", "lineage"}; !slices.Equal(stages, want) {
		t.Errorf("stages %v, want %v", stages, want)
	}
	if len(src.Config) != 1 || src.Config["path"] != s.path {
		t.Errorf("config %v", src.Config)
	}
	if src.ValidatedAt == nil || src.CreatedAt.IsZero() || src.CreatedAt.Location() != time.UTC {
		t.Errorf("times %v %v", src.ValidatedAt, src.CreatedAt)
	}
	if !strings.Contains(s.admin.get("/sources/"+src.ID).want(t, http.StatusOK).Body, `"created_at":"`+src.CreatedAt.Format(time.RFC3339Nano)) {
		t.Error("created_at is not RFC 3339 UTC")
	}

	got := into[sourceBody](t, s.admin.as(s.viewer).get("/sources/"+src.ID).want(t, http.StatusOK))
	if got.ID != src.ID || got.Status != models.SourceConnected || len(got.Checks) != 5 {
		t.Errorf("GET %+v", got)
	}
	l := into[list[sourceBody]](t, s.admin.get("/sources").want(t, http.StatusOK))
	if len(l.Items) != 1 || l.Items[0].ID != src.ID || l.NextCursor != "" {
		t.Errorf("list %+v", l)
	}

	v := into[struct {
		Status string  `json:"status"`
		Checks []check `json:"checks"`
	}](t, s.admin.post("/sources/"+src.ID+"/validate", nil).want(t, http.StatusOK))
	if v.Status != models.SourceConnected || len(v.Checks) != 5 {
		t.Errorf("validate %+v", v)
	}

	// A path that does not exist is saved, but broken, with the reason in the first check:
	// where SQLite files must be (the words do not say whether the file exists).
	r := s.admin.post("/sources", map[string]any{"name": "Gone", "kind": "sqlite", "config": map[string]any{"path": s.path + ".missing"}})
	broken := into[sourceBody](t, r.want(t, http.StatusCreated))
	if broken.Status != models.SourceBroken || broken.Checks[0].OK || !strings.Contains(broken.Checks[0].Message, "Sluice can only read SQLite database files in") {
		t.Errorf("broken source %+v", broken)
	}
	// Fixing the path through PATCH validates again.
	fixed := into[sourceBody](t, s.admin.patch("/sources/"+broken.ID, map[string]any{"config": map[string]any{"path": s.path}}).want(t, http.StatusOK))
	if fixed.Status != models.SourceConnected || fixed.Name != "Gone" {
		t.Errorf("patched %+v", fixed)
	}

	tests := []struct {
		name        string
		method      string
		path        string
		body        any
		status      int
		code, field string
	}{
		{"no kind", "POST", "/sources", map[string]any{"name": "x", "config": map[string]any{"path": s.path}}, 422, "invalid", "kind"},
		{"unknown kind", "POST", "/sources", map[string]any{"name": "x", "kind": "oracle"}, 422, "invalid", "kind"},
		{"no path", "POST", "/sources", map[string]any{"name": "x", "kind": "sqlite", "config": map[string]any{}}, 422, "invalid", "config.path"},
		{"unknown setting", "POST", "/sources", map[string]any{"name": "x", "kind": "sqlite", "config": map[string]any{"path": s.path, "pth": "typo"}}, 422, "invalid", "config.pth"},
		{"no name", "POST", "/sources", map[string]any{"kind": "sqlite", "config": map[string]any{"path": s.path}}, 422, "invalid", "name"},
		{"same name", "POST", "/sources", map[string]any{"name": "Demo warehouse", "kind": "sqlite", "config": map[string]any{"path": s.path}}, 422, "invalid", "name"},
		{"name of wrong type", "POST", "/sources", map[string]any{"name": 5, "kind": "sqlite"}, 422, "invalid", "name"},
		{"malformed", "POST", "/sources", `{"name": "x",`, 400, "bad_request", ""},
		{"no body", "POST", "/sources", nil, 400, "bad_request", ""},
		{"change kind", "PATCH", "/sources/" + src.ID, map[string]any{"kind": "postgres"}, 422, "invalid", "kind"},
		{"empty name", "PATCH", "/sources/" + src.ID, map[string]any{"name": " "}, 422, "invalid", "name"},
		{"unknown id", "GET", "/sources/nope", nil, 404, "not_found", ""},
		{"unknown id patch", "PATCH", "/sources/nope", map[string]any{"name": "y"}, 404, "not_found", ""},
		{"unknown id validate", "POST", "/sources/nope/validate", nil, 404, "not_found", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, s.admin.call(tc.method, tc.path, tc.body), tc.status, tc.code, tc.field)
		})
	}
}

func TestAPIPostgresSourceNeverEchoesPassword(t *testing.T) {
	t.Parallel()
	pgURL := testutil.PostgresURL(t)
	u, err := url.Parse(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	// A table for a model, so the lineage check and the segment SQL have work to do.
	db, err := sql.Open("pgx", pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE people (id bigint PRIMARY KEY, country text); INSERT INTO people SELECT g, CASE WHEN g % 2 = 0 THEN 'FR' ELSE 'DE' END FROM generate_series(1, 10) g`); err != nil {
		t.Fatal(err)
	}

	a := whApp(t, testutil.SQLiteURL(t))
	c := a.whClient(t, whToken(t, a.store, models.DefaultWorkspaceID, models.RoleAdmin))
	const password = "pw-Never-Echo-7b1c" // trust auth ignores it; the API must still never show it
	cfg := map[string]any{"host": u.Hostname(), "port": u.Port(), "database": strings.TrimPrefix(u.Path, "/"),
		"user": u.User.Username(), "password": password, "sslmode": "disable"}
	created := into[sourceBody](t, c.post("/sources", map[string]any{"name": "Warehouse", "kind": "postgres", "config": cfg}).want(t, http.StatusCreated))
	if created.Status != models.SourceConnected || len(created.Checks) != 5 {
		t.Fatalf("created %+v", created)
	}
	if created.Config["password"] != "********" || created.Config["host"] != u.Hostname() || created.Config["schema"] != "public" {
		t.Errorf("config %v", created.Config)
	}
	path := "/sources/" + created.ID

	// PATCH the name only: the password is kept, and the source still connects.
	renamed := into[sourceBody](t, c.patch(path, map[string]any{"name": "Warehouse (prod)"}).want(t, http.StatusOK))
	if renamed.Name != "Warehouse (prod)" || renamed.Status != models.SourceConnected || renamed.Config["password"] != "********" {
		t.Errorf("renamed %+v", renamed)
	}
	// A GET round-tripped into a PATCH sends the mask back: that keeps the password too.
	again := into[sourceBody](t, c.patch(path, map[string]any{"config": renamed.Config}).want(t, http.StatusOK))
	if again.Status != models.SourceConnected {
		t.Errorf("round trip %+v", again)
	}
	v := c.post(path+"/validate", nil).want(t, http.StatusOK)
	if !strings.Contains(v.Body, `"status":"connected"`) {
		t.Errorf("validate %s", v.Body)
	}
	stored, err := a.store.SourceByID(t.Context(), models.DefaultWorkspaceID, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if full, err := a.store.SourceConfig(stored); err != nil || full["password"] != password {
		t.Errorf("stored password %q, %v", full["password"], err)
	}
	if strings.Contains(stored.ConfigJSON, password) {
		t.Error("the password is in the plain config")
	}

	// A model and a segment on PostgreSQL: its preview uses $n placeholders.
	m := into[modelBody](t, c.post("/models", map[string]any{"source_id": created.ID, "name": "People", "table": "public.people", "primary_key": "id"}).want(t, http.StatusCreated))
	if m.Status != models.ModelValid || *m.Table != "public.people" || len(m.Columns) != 2 || m.Columns[0].Type != "integer" {
		t.Errorf("model %+v", m)
	}
	g := into[segmentBody](t, c.post("/segments", map[string]any{"model_id": m.ID, "name": "French people",
		"conditions": map[string]any{"all": []any{map[string]any{"column": "country", "op": "eq", "value": "FR"}}}}).want(t, http.StatusCreated))
	if g.SQLPreview == nil || !strings.Contains(*g.SQLPreview, "$1") || strings.Contains(*g.SQLPreview, "'FR'") {
		t.Errorf("sql_preview %v", g.SQLPreview)
	}
	if n := into[struct{ Count int64 }](t, c.get("/segments/"+g.ID+"/count").want(t, http.StatusOK)); n.Count != 5 {
		t.Errorf("count %d, want 5", n.Count)
	}
	c.get("/sources").want(t, http.StatusOK)
	c.get(path).want(t, http.StatusOK)

	for i, body := range *c.bodies {
		if strings.Contains(body, password) {
			t.Errorf("answer %d shows the password: %s", i, body)
		}
	}
	entries, _, err := a.store.ListAuditEntries(t.Context(), models.DefaultWorkspaceID, models.AuditFilter{ResourceType: "source", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 3 {
		t.Errorf("%d source audit entries, want create and two updates", len(entries))
	}
	for _, e := range entries {
		for _, snap := range []*string{e.BeforeJSON, e.AfterJSON} {
			if snap != nil && strings.Contains(*snap, password) {
				t.Errorf("audit %s shows the password: %s", e.Action, *snap)
			}
		}
	}
}
