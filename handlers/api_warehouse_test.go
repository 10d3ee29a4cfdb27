package handlers_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sluice/internal/testutil"
	"sluice/models"
)

// whApp is the app with the warehouse service wired in, as main wires it.
func whApp(t *testing.T, dbURL string) *app {
	t.Helper()
	return newApp(t, dbURL)
}

// whToken makes an API token of a role in a workspace.
func whToken(t *testing.T, s *models.Store, workspaceID string, role models.Role) string {
	t.Helper()
	a := models.Actor{WorkspaceID: workspaceID, Type: models.ActorSystem, Name: "test setup", Role: models.RoleAdmin}
	_, plain, err := s.CreateAPIToken(t.Context(), a, "test "+string(role), role)
	if err != nil {
		t.Fatal(err)
	}
	return plain
}

// whClient calls the JSON API with one token and keeps every answer's body, so a test
// can check that a secret never appeared in any of them.
type whClient struct {
	t      *testing.T
	base   string
	token  string
	bodies *[]string
}

func (a *app) whClient(t *testing.T, token string) whClient {
	return whClient{t: t, base: a.url + "/api/v1", token: token, bodies: new([]string)}
}

// as is the same client with another token (sharing the body log).
func (c whClient) as(token string) whClient { c.token = token; return c }

func (c whClient) call(method, path string, body any) *response {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if r != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	*c.bodies = append(*c.bodies, string(raw))
	return &response{Status: res.StatusCode, Header: res.Header, Body: string(raw)}
}

func (c whClient) get(path string) *response { c.t.Helper(); return c.call(http.MethodGet, path, nil) }
func (c whClient) post(path string, body any) *response {
	c.t.Helper()
	return c.call(http.MethodPost, path, body)
}
func (c whClient) patch(path string, body any) *response {
	c.t.Helper()
	return c.call(http.MethodPatch, path, body)
}
func (c whClient) del(path string) *response {
	c.t.Helper()
	return c.call(http.MethodDelete, path, nil)
}

// into decodes a JSON answer.
func into[T any](t *testing.T, r *response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.Body), &v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
	return v
}

// apiErr is the error body of API.md (with the dependents of a 409).
type apiErr struct {
	Error struct {
		Code       string             `json:"code"`
		Message    string             `json:"message"`
		Field      string             `json:"field"`
		Dependents []models.Dependent `json:"dependents"`
	} `json:"error"`
}

// wantErr checks status, code and field of an error answer and returns it.
func wantErr(t *testing.T, r *response, status int, code, field string) apiErr {
	t.Helper()
	r.want(t, status)
	e := into[apiErr](t, r)
	if e.Error.Code != code || e.Error.Field != field {
		t.Fatalf("error code %q field %q, want %q %q: %s", e.Error.Code, e.Error.Field, code, field, r.Body)
	}
	return e
}

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

type duplicatesBody struct {
	Rows          int64     `json:"rows"`
	DuplicateKeys int64     `json:"duplicate_keys"`
	DuplicateRows int64     `json:"duplicate_rows"`
	NullKeys      int64     `json:"null_keys"`
	Percent       float64   `json:"percent"`
	Samples       []string  `json:"samples"`
	CheckedAt     time.Time `json:"checked_at"`
}

type column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

type modelBody struct {
	ID         string          `json:"id"`
	SourceID   string          `json:"source_id"`
	Name       string          `json:"name"`
	Table      *string         `json:"table"`
	SQL        *string         `json:"sql"`
	PrimaryKey string          `json:"primary_key"`
	Columns    []column        `json:"columns"`
	Status     string          `json:"status"`
	Issues     []any           `json:"issues"`
	Duplicates *duplicatesBody `json:"duplicates"`
	CreatedAt  time.Time       `json:"created_at"`
}

type segmentBody struct {
	ID         string          `json:"id"`
	ModelID    string          `json:"model_id"`
	Name       string          `json:"name"`
	Conditions json.RawMessage `json:"conditions"`
	SQLPreview *string         `json:"sql_preview"`
	CreatedAt  time.Time       `json:"created_at"`
}

type list[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// customer is a row of the demo warehouse's customers table.
type customer struct {
	id      int
	email   string
	country string
	age     *int
}

// demoWarehouse writes a SQLite warehouse: customers (50 rows), dupes (100 rows, two of
// which share key 50) and bad (100 rows, 20 of which share 10 keys, 2 each).
func demoWarehouse(t *testing.T) (path string, rows []customer) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "warehouse.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL, country TEXT, age INTEGER, signed_up_at TIMESTAMP)`)
	countries := []string{"FR", "DE", "US", "GB", "ES"}
	start := time.Date(2024, 1, 1, 9, 30, 0, 0, time.UTC)
	for i := 1; i <= 50; i++ {
		c := customer{id: i, email: fmt.Sprintf("user%02d@example.com", i), country: countries[i%len(countries)]}
		var age any
		if i%10 != 0 { // every tenth customer has no age
			a := 18 + (i*7)%50
			c.age, age = &a, a
		}
		exec(`INSERT INTO customers VALUES (?, ?, ?, ?, ?)`, c.id, c.email, c.country, age, start.AddDate(0, 0, i).Format("2006-01-02 15:04:05"))
		rows = append(rows, c)
	}
	exec(`CREATE TABLE dupes (id INTEGER, label TEXT)`)
	for i := 1; i <= 99; i++ {
		exec(`INSERT INTO dupes VALUES (?, ?)`, i, fmt.Sprint("row ", i))
	}
	exec(`INSERT INTO dupes VALUES (50, 'again')`)
	exec(`CREATE TABLE bad (id INTEGER, label TEXT)`)
	for i := 0; i < 80; i++ {
		exec(`INSERT INTO bad VALUES (?, 'unique')`, i)
	}
	for i := 80; i < 100; i++ {
		exec(`INSERT INTO bad VALUES (?, 'shared')`, 1000+(i-80)/2)
	}
	return path, rows
}

// whSetup is an app on a SQLite store, a demo warehouse, an admin client and a source on it.
type whSetup struct {
	app     *app
	path    string
	rows    []customer
	admin   whClient
	source  sourceBody
	editor  string
	viewer  string
	adminTk string
}

func newWHSetup(t *testing.T, dbURL string) *whSetup {
	t.Helper()
	a := whApp(t, dbURL)
	path, rows := demoWarehouse(t)
	adminTk := whToken(t, a.store, models.DefaultWorkspaceID, models.RoleAdmin)
	s := &whSetup{app: a, path: path, rows: rows, adminTk: adminTk, admin: a.whClient(t, adminTk),
		editor: whToken(t, a.store, models.DefaultWorkspaceID, models.RoleEditor),
		viewer: whToken(t, a.store, models.DefaultWorkspaceID, models.RoleViewer)}
	r := s.admin.post("/sources", map[string]any{"name": "Demo warehouse", "kind": "sqlite", "config": map[string]any{"path": path}})
	s.source = into[sourceBody](t, r.want(t, http.StatusCreated))
	return s
}

func (s *whSetup) model(t *testing.T, body map[string]any) modelBody {
	t.Helper()
	body["source_id"] = s.source.ID
	return into[modelBody](t, s.admin.as(s.editor).post("/models", body).want(t, http.StatusCreated))
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

func TestAPIModels(t *testing.T) {
	t.Parallel()
	for _, d := range testutil.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			s := newWHSetup(t, d.URL(t))
			editor := s.admin.as(s.editor)

			customers := s.model(t, map[string]any{"name": "Customers", "table": "customers", "primary_key": "id"})
			wantCols := []column{{"id", "integer"}, {"email", "string"}, {"country", "string"}, {"age", "integer"}, {"signed_up_at", "timestamp"}}
			if !slices.Equal(customers.Columns, wantCols) {
				t.Errorf("columns %+v, want %+v", customers.Columns, wantCols)
			}
			if customers.Status != models.ModelValid || customers.Table == nil || *customers.Table != "customers" || customers.SQL != nil ||
				customers.SourceID != s.source.ID || customers.PrimaryKey != "id" || len(customers.Issues) != 0 {
				t.Errorf("customers %+v", customers)
			}
			if d := customers.Duplicates; d == nil || d.Rows != 50 || d.DuplicateKeys != 0 || d.Percent != 0 || d.CheckedAt.IsZero() {
				t.Errorf("duplicates %+v", d)
			}

			bySQL := s.model(t, map[string]any{"name": "Adults", "sql": "SELECT id, email, age FROM customers WHERE age >= 18;", "primary_key": "id"})
			if bySQL.Table != nil || bySQL.SQL == nil || !slices.Equal(bySQL.Columns, []column{{"id", "integer"}, {"email", "string"}, {"age", "integer"}}) {
				t.Errorf("sql model %+v", bySQL)
			}
			byObject := s.model(t, map[string]any{"name": "Main customers", "table": map[string]any{"schema": "main", "name": "customers"}, "primary_key": "email"})
			if *byObject.Table != "main.customers" || len(byObject.Columns) != 5 {
				t.Errorf("object table %+v", byObject)
			}

			dupes := s.model(t, map[string]any{"name": "Dupes", "table": "dupes", "primary_key": "id"})
			want := duplicatesBody{Rows: 100, DuplicateKeys: 1, DuplicateRows: 2, NullKeys: 0, Percent: 2, Samples: []string{"50 (2 rows)"}}
			if got := dupes.Duplicates; dupes.Status != models.ModelWarning || got == nil || got.Rows != want.Rows || got.DuplicateKeys != want.DuplicateKeys ||
				got.DuplicateRows != want.DuplicateRows || got.NullKeys != 0 || got.Percent != want.Percent || !slices.Equal(got.Samples, want.Samples) {
				t.Errorf("dupes %s %+v, want warning %+v", dupes.Status, got, want)
			}

			e := wantErr(t, editor.post("/models", map[string]any{"source_id": s.source.ID, "name": "Bad", "table": "bad", "primary_key": "id"}),
				http.StatusUnprocessableEntity, "invalid", "primary_key")
			for _, part := range []string{"20.0%", "20 of 100", "1000 (2 rows)", "1009 (2 rows)"} {
				if !strings.Contains(e.Error.Message, part) {
					t.Errorf("message %q lacks %q", e.Error.Message, part)
				}
			}

			// Show, list and the source filter.
			got := into[modelBody](t, s.admin.as(s.viewer).get("/models/"+dupes.ID).want(t, http.StatusOK))
			if got.ID != dupes.ID || got.Duplicates == nil || got.Duplicates.DuplicateKeys != 1 {
				t.Errorf("GET %+v", got)
			}
			l := into[list[modelBody]](t, s.admin.get("/models?source_id="+s.source.ID).want(t, http.StatusOK))
			var names []string
			for _, m := range l.Items {
				names = append(names, m.Name)
			}
			if !slices.Equal(names, []string{"Adults", "Customers", "Dupes", "Main customers"}) {
				t.Errorf("listed %v", names)
			}
			if l := into[list[modelBody]](t, s.admin.get("/models?source_id=other").want(t, http.StatusOK)); len(l.Items) != 0 {
				t.Errorf("other source lists %d models", len(l.Items))
			}

			// PATCH keeps what is not given; a table replaces the SQL.
			renamed := into[modelBody](t, editor.patch("/models/"+customers.ID, map[string]any{"name": "All customers"}).want(t, http.StatusOK))
			if renamed.Name != "All customers" || *renamed.Table != "customers" || renamed.PrimaryKey != "id" || len(renamed.Columns) != 5 {
				t.Errorf("renamed %+v", renamed)
			}
			toTable := into[modelBody](t, editor.patch("/models/"+bySQL.ID, map[string]any{"table": "customers"}).want(t, http.StatusOK))
			if toTable.SQL != nil || *toTable.Table != "customers" || len(toTable.Columns) != 5 || toTable.Name != "Adults" {
				t.Errorf("to table %+v", toTable)
			}
			wantErr(t, editor.patch("/models/"+customers.ID, map[string]any{"primary_key": "nope"}), 422, "invalid", "primary_key")
			wantErr(t, editor.patch("/models/"+customers.ID, map[string]any{"table": "bad", "primary_key": "id"}), 422, "invalid", "primary_key")
			wantErr(t, editor.post("/models", map[string]any{"source_id": s.source.ID, "name": "X", "table": "no_such_table", "primary_key": "id"}), 422, "invalid", "table")
			wantErr(t, editor.post("/models", map[string]any{"source_id": s.source.ID, "name": "X", "table": "customers", "sql": "SELECT 1", "primary_key": "id"}), 422, "invalid", "sql")
			wantErr(t, editor.post("/models", map[string]any{"source_id": s.source.ID, "name": "X", "primary_key": "id"}), 422, "invalid", "table")
			wantErr(t, editor.post("/models", map[string]any{"source_id": s.source.ID, "name": "X", "table": 7, "primary_key": "id"}), 422, "invalid", "table")
			wantErr(t, editor.post("/models", map[string]any{"source_id": "nope", "name": "X", "table": "customers", "primary_key": "id"}), 422, "invalid", "source_id")
			wantErr(t, editor.post("/models", map[string]any{"source_id": s.source.ID, "name": "Dupes", "table": "customers", "primary_key": "id"}), 422, "invalid", "name")

			// Validate and detect duplicates answer the model.
			val := into[modelBody](t, editor.post("/models/"+dupes.ID+"/validate", nil).want(t, http.StatusOK))
			if val.Status != models.ModelWarning || len(val.Issues) != 0 || val.Duplicates.DuplicateRows != 2 {
				t.Errorf("validated %+v", val)
			}
			dd := into[modelBody](t, editor.post("/models/"+customers.ID+"/duplicates", nil).want(t, http.StatusOK))
			if dd.Status != models.ModelValid || dd.Duplicates == nil || dd.Duplicates.Rows != 50 {
				t.Errorf("duplicates %+v", dd)
			}
			wantErr(t, s.admin.get("/models/nope"), 404, "not_found", "")
		})
	}
}

// matches is the test's own reading of the segment below, over the rows inserted.
func matches(c customer) bool {
	if c.country != "FR" && c.country != "DE" {
		return false
	}
	return (c.age != nil && *c.age >= 40) || strings.Contains(c.email, "7")
}

func TestAPISegments(t *testing.T) {
	t.Parallel()
	s := newWHSetup(t, testutil.SQLiteURL(t))
	editor := s.admin.as(s.editor)
	m := s.model(t, map[string]any{"name": "Customers", "table": "customers", "primary_key": "id"})

	conditions := map[string]any{"all": []any{
		map[string]any{"column": "country", "op": "in", "value": []string{"FR", "DE"}},
		map[string]any{"any": []any{
			map[string]any{"column": "age", "op": "gte", "value": 40},
			map[string]any{"column": "email", "op": "contains", "value": "7"},
		}},
	}}
	g := into[segmentBody](t, editor.post("/segments", map[string]any{"model_id": m.ID, "name": "Core markets", "conditions": conditions}).want(t, http.StatusCreated))
	if g.ID == "" || g.ModelID != m.ID || g.Name != "Core markets" || g.CreatedAt.IsZero() {
		t.Errorf("segment %+v", g)
	}
	if g.SQLPreview == nil || !strings.HasPrefix(*g.SQLPreview, "SELECT COUNT(*) FROM") || !strings.Contains(*g.SQLPreview, "?") ||
		strings.Contains(*g.SQLPreview, "'FR'") {
		t.Errorf("sql_preview %v", g.SQLPreview)
	}
	var back map[string]any
	if err := json.Unmarshal(g.Conditions, &back); err != nil || back["all"] == nil {
		t.Errorf("conditions %s", g.Conditions)
	}

	want := 0
	for _, c := range s.rows {
		if matches(c) {
			want++
		}
	}
	if want == 0 || want == len(s.rows) {
		t.Fatalf("the fixture should split the rows, %d of %d match", want, len(s.rows))
	}
	n := into[struct {
		Count int64 `json:"count"`
	}](t, s.admin.as(s.viewer).get("/segments/"+g.ID+"/count").want(t, http.StatusOK))
	if n.Count != int64(want) {
		t.Errorf("count %d, want %d", n.Count, want)
	}

	// Show, list by model, PATCH name and conditions.
	shown := into[segmentBody](t, s.admin.get("/segments/"+g.ID).want(t, http.StatusOK))
	if shown.SQLPreview == nil || *shown.SQLPreview != *g.SQLPreview {
		t.Errorf("shown %+v", shown)
	}
	l := into[list[segmentBody]](t, s.admin.get("/segments?model_id="+m.ID).want(t, http.StatusOK))
	if len(l.Items) != 1 || l.Items[0].ID != g.ID {
		t.Errorf("list %+v", l)
	}
	renamed := into[segmentBody](t, editor.patch("/segments/"+g.ID, map[string]any{"name": "Core"}).want(t, http.StatusOK))
	if renamed.Name != "Core" || string(renamed.Conditions) != string(g.Conditions) {
		t.Errorf("renamed %+v", renamed)
	}
	editor.patch("/segments/"+g.ID, map[string]any{"conditions": map[string]any{"all": []any{}}}).want(t, http.StatusOK)
	if n := into[struct{ Count int64 }](t, s.admin.get("/segments/"+g.ID+"/count").want(t, http.StatusOK)); n.Count != 50 {
		t.Errorf("empty all counts %d, want 50", n.Count)
	}

	leaf := func(col, op string, v any) map[string]any { return map[string]any{"column": col, "op": op, "value": v} }
	tests := []struct {
		name       string
		conditions any
		field      string
	}{
		{"unknown column", map[string]any{"all": []any{leaf("nope", "eq", "x")}}, "conditions.all[0].column"},
		{"unknown nested column", map[string]any{"all": []any{leaf("country", "eq", "FR"), map[string]any{"any": []any{leaf("zip", "eq", "1")}}}}, "conditions.all[1].any[0].column"},
		{"unknown op", map[string]any{"any": []any{leaf("country", "like", "FR")}}, "conditions.any[0].op"},
		{"value of wrong type", map[string]any{"all": []any{leaf("age", "gt", "old")}}, "conditions.all[0].value"},
		{"not a condition", []any{1}, "conditions"},
		{"missing", nil, "conditions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{"model_id": m.ID, "name": "Bad " + tc.name}
			if tc.conditions != nil {
				body["conditions"] = tc.conditions
			}
			wantErr(t, editor.post("/segments", body), 422, "invalid", tc.field)
		})
	}
	wantErr(t, editor.patch("/segments/"+g.ID, map[string]any{"conditions": map[string]any{"all": []any{leaf("nope", "eq", 1)}}}), 422, "invalid", "conditions.all[0].column")
	wantErr(t, editor.post("/segments", map[string]any{"model_id": "nope", "name": "X", "conditions": map[string]any{"all": []any{}}}), 422, "invalid", "model_id")
	wantErr(t, s.admin.get("/segments/nope/count"), 404, "not_found", "")
}

func TestAPIDeleteWithDependents(t *testing.T) {
	t.Parallel()
	s := newWHSetup(t, testutil.SQLiteURL(t))
	m := s.model(t, map[string]any{"name": "Customers", "table": "customers", "primary_key": "id"})
	editor := s.admin.as(s.editor)
	g := into[segmentBody](t, editor.post("/segments", map[string]any{"model_id": m.ID, "name": "Everyone", "conditions": map[string]any{"all": []any{}}}).want(t, http.StatusCreated))

	e := wantErr(t, s.admin.del("/sources/"+s.source.ID), http.StatusConflict, "conflict", "")
	if want := []models.Dependent{{Type: "model", ID: m.ID, Name: "Customers"}}; !slices.Equal(e.Error.Dependents, want) {
		t.Errorf("dependents %+v, want %+v", e.Error.Dependents, want)
	}
	if !strings.Contains(e.Error.Message, `model "Customers"`) {
		t.Errorf("message %q", e.Error.Message)
	}
	e = wantErr(t, editor.del("/models/"+m.ID), http.StatusConflict, "conflict", "")
	if want := []models.Dependent{{Type: "segment", ID: g.ID, Name: "Everyone"}}; !slices.Equal(e.Error.Dependents, want) {
		t.Errorf("dependents %+v, want %+v", e.Error.Dependents, want)
	}

	editor.del("/segments/"+g.ID).want(t, http.StatusNoContent)
	editor.del("/models/"+m.ID).want(t, http.StatusNoContent)
	s.admin.del("/sources/"+s.source.ID).want(t, http.StatusNoContent)
	for _, p := range []string{"/segments/" + g.ID, "/models/" + m.ID, "/sources/" + s.source.ID} {
		wantErr(t, s.admin.get(p), http.StatusNotFound, "not_found", "")
		wantErr(t, s.admin.del(p), http.StatusNotFound, "not_found", "")
	}
}

func TestAPIWarehouseRolesAndWorkspaces(t *testing.T) {
	t.Parallel()
	s := newWHSetup(t, testutil.SQLiteURL(t))
	m := s.model(t, map[string]any{"name": "Customers", "table": "customers", "primary_key": "id"})
	g := into[segmentBody](t, s.admin.as(s.editor).post("/segments", map[string]any{"model_id": m.ID, "name": "Everyone", "conditions": map[string]any{"all": []any{}}}).want(t, http.StatusCreated))

	srcBody := map[string]any{"name": "Another", "kind": "sqlite", "config": map[string]any{"path": s.path}}
	mBody := map[string]any{"source_id": s.source.ID, "name": "Other", "table": "customers", "primary_key": "id"}
	segBody := map[string]any{"model_id": m.ID, "name": "Other", "conditions": map[string]any{"all": []any{}}}
	writes := []struct {
		method, path string
		body         any
		minRole      models.Role
	}{
		{"POST", "/sources", srcBody, models.RoleAdmin},
		{"PATCH", "/sources/" + s.source.ID, map[string]any{"name": "Renamed"}, models.RoleAdmin},
		{"POST", "/sources/" + s.source.ID + "/validate", nil, models.RoleAdmin},
		{"DELETE", "/sources/" + s.source.ID, nil, models.RoleAdmin},
		{"POST", "/models", mBody, models.RoleEditor},
		{"PATCH", "/models/" + m.ID, map[string]any{"name": "Renamed"}, models.RoleEditor},
		{"POST", "/models/" + m.ID + "/validate", nil, models.RoleEditor},
		{"POST", "/models/" + m.ID + "/duplicates", nil, models.RoleEditor},
		{"DELETE", "/models/" + m.ID, nil, models.RoleEditor},
		{"POST", "/segments", segBody, models.RoleEditor},
		{"PATCH", "/segments/" + g.ID, map[string]any{"name": "Renamed"}, models.RoleEditor},
		{"DELETE", "/segments/" + g.ID, nil, models.RoleEditor},
	}
	for _, w := range writes {
		t.Run("viewer "+w.method+" "+w.path, func(t *testing.T) {
			wantErr(t, s.admin.as(s.viewer).call(w.method, w.path, w.body), http.StatusForbidden, "forbidden", "")
		})
		if w.minRole == models.RoleAdmin {
			t.Run("editor "+w.method+" "+w.path, func(t *testing.T) {
				wantErr(t, s.admin.as(s.editor).call(w.method, w.path, w.body), http.StatusForbidden, "forbidden", "")
			})
		}
	}
	// Nothing changed.
	if got := into[sourceBody](t, s.admin.get("/sources/"+s.source.ID).want(t, http.StatusOK)); got.Name != "Demo warehouse" {
		t.Errorf("source renamed to %q", got.Name)
	}
	if l := into[list[sourceBody]](t, s.admin.get("/sources").want(t, http.StatusOK)); len(l.Items) != 1 {
		t.Errorf("%d sources", len(l.Items))
	}
	// Reads are open to any token.
	for _, p := range []string{"/sources", "/sources/" + s.source.ID, "/models", "/models/" + m.ID, "/segments", "/segments/" + g.ID, "/segments/" + g.ID + "/count"} {
		s.admin.as(s.viewer).get(p).want(t, http.StatusOK)
	}
	wantErr(t, s.admin.as("slu_not_a_token").get("/sources"), http.StatusUnauthorized, "unauthorized", "")

	// Another workspace sees none of it: 404 by id, empty lists, and a field error when
	// it names our source in a model.
	ws, err := s.app.store.CreateWorkspace(t.Context(), "Other Co")
	if err != nil {
		t.Fatal(err)
	}
	other := s.admin.as(whToken(t, s.app.store, ws.ID, models.RoleAdmin))
	for _, r := range []struct{ method, path string }{
		{"GET", "/sources/" + s.source.ID}, {"PATCH", "/sources/" + s.source.ID}, {"DELETE", "/sources/" + s.source.ID},
		{"POST", "/sources/" + s.source.ID + "/validate"},
		{"GET", "/models/" + m.ID}, {"PATCH", "/models/" + m.ID}, {"DELETE", "/models/" + m.ID},
		{"POST", "/models/" + m.ID + "/validate"}, {"POST", "/models/" + m.ID + "/duplicates"},
		{"GET", "/segments/" + g.ID}, {"PATCH", "/segments/" + g.ID}, {"DELETE", "/segments/" + g.ID}, {"GET", "/segments/" + g.ID + "/count"},
	} {
		var body any
		if r.method == "PATCH" {
			body = map[string]any{"name": "Mine now"}
		}
		wantErr(t, other.call(r.method, r.path, body), http.StatusNotFound, "not_found", "")
	}
	for _, p := range []string{"/sources", "/models", "/segments", "/models?source_id=" + s.source.ID} {
		if l := into[list[json.RawMessage]](t, other.get(p).want(t, http.StatusOK)); len(l.Items) != 0 {
			t.Errorf("other workspace lists %d on %s", len(l.Items), p)
		}
	}
	wantErr(t, other.post("/models", mBody), 422, "invalid", "source_id")
	wantErr(t, other.post("/segments", segBody), 422, "invalid", "model_id")
	if got := into[modelBody](t, s.admin.get("/models/"+m.ID).want(t, http.StatusOK)); got.Name != "Customers" {
		t.Errorf("model renamed to %q", got.Name)
	}
}

func TestAPIListPagination(t *testing.T) {
	t.Parallel()
	s := newWHSetup(t, testutil.SQLiteURL(t))
	for _, name := range []string{"B", "C", "D", "E"} {
		s.admin.post("/sources", map[string]any{"name": name, "kind": "sqlite", "config": map[string]any{"path": s.path}}).want(t, http.StatusCreated)
	}
	// Five sources by name: B, C, D, Demo warehouse, E.
	var seen []string
	cursor := ""
	for page := 0; ; page++ {
		l := into[list[sourceBody]](t, s.admin.get("/sources?limit=2&cursor="+url.QueryEscape(cursor)).want(t, http.StatusOK))
		if len(l.Items) > 2 || page > 3 {
			t.Fatalf("page %d has %d items", page, len(l.Items))
		}
		for _, it := range l.Items {
			seen = append(seen, it.Name)
		}
		if l.NextCursor == "" {
			break
		}
		cursor = l.NextCursor
		if page == 0 {
			// The last item of the page goes away: the next page goes on after its name.
			id := l.Items[1].ID
			s.admin.del("/sources/"+id).want(t, http.StatusNoContent)
		}
	}
	if want := []string{"B", "C", "D", "Demo warehouse", "E"}; !slices.Equal(seen, want) {
		t.Errorf("pages gave %v, want %v", seen, want)
	}
	if l := into[list[sourceBody]](t, s.admin.get("/sources?limit=1000").want(t, http.StatusOK)); len(l.Items) != 4 || l.NextCursor != "" {
		t.Errorf("limit above the maximum: %d items, next %q", len(l.Items), l.NextCursor)
	}
	wantErr(t, s.admin.get("/sources?limit=0"), 422, "invalid", "limit")
	wantErr(t, s.admin.get("/sources?limit=ten"), 422, "invalid", "limit")
	wantErr(t, s.admin.get("/sources?cursor=%21%21"), 400, "bad_request", "")
}
