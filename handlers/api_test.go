package handlers_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
	header http.Header // sent with every request besides the token
}

func (a *app) whClient(t *testing.T, token string) whClient {
	return whClient{t: t, base: a.url + "/api/v1", token: token, bodies: new([]string)}
}

// as is the same client with another token (sharing the body log).
func (c whClient) as(token string) whClient { c.token = token; return c }

// with is the same client sending one more header.
func (c whClient) with(name, value string) whClient {
	c.header = c.header.Clone()
	if c.header == nil {
		c.header = http.Header{}
	}
	c.header.Set(name, value)
	return c
}

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
	for name, values := range c.header {
		req.Header[name] = values
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

// hook is a webhook endpoint under the test's control: it answers with status and
// remembers every request.
type hook struct {
	srv    *httptest.Server
	status atomic.Int32
	mu     sync.Mutex
	reqs   []hookRequest
}

type hookRequest struct {
	header http.Header
	body   []byte
}

func newHook(t *testing.T, status int) *hook {
	t.Helper()
	h := &hook{}
	h.status.Store(int32(status))
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.reqs = append(h.reqs, hookRequest{header: r.Header.Clone(), body: body})
		h.mu.Unlock()
		w.WriteHeader(int(h.status.Load()))
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) url() string { return h.srv.URL + "/sluice" }

func (h *hook) requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.reqs)
}

// dlSetup is a warehouse setup plus a working webhook platform, a model and a segment.
type dlSetup struct {
	*whSetup
	hook     *hook
	platform platformBody
	model    modelBody
	segment  segmentBody
	operator string
}

func newDLSetup(t *testing.T) *dlSetup {
	t.Helper()
	return newDLSetupOn(t, testutil.SQLiteURL(t))
}

// newDLSetupOn is newDLSetup on the database at dbURL.
func newDLSetupOn(t *testing.T, dbURL string) *dlSetup {
	t.Helper()
	ws := newWHSetup(t, dbURL)
	s := &dlSetup{whSetup: ws, hook: newHook(t, http.StatusOK),
		operator: whToken(t, ws.app.store, models.DefaultWorkspaceID, models.RoleOperator)}
	s.platform = into[platformBody](t, s.admin.post("/platforms", map[string]any{
		"name": "Hook", "kind": "webhook", "config": map[string]any{"url": s.hook.url()},
	}).want(t, http.StatusCreated))
	s.model = s.whSetup.model(t, map[string]any{"name": "Customers", "table": "customers", "primary_key": "id"})
	s.segment = into[segmentBody](t, s.admin.as(s.editor).post("/segments", map[string]any{
		"model_id": s.model.ID, "name": "Everyone", "conditions": map[string]any{"all": []any{}},
	}).want(t, http.StatusCreated))
	return s
}

// activationInput is a valid body for POST /activations.
func (s *dlSetup) activationInput(name string) map[string]any {
	return map[string]any{
		"name": name, "segment_id": s.segment.ID, "platform_id": s.platform.ID, "action": "sync_records",
		"mappings": []map[string]any{{"from": "email", "to": "email", "type": "email"}, {"from": "country", "to": "country"}},
		"schedule": map[string]any{"kind": "interval", "every": "30m"},
		"settings": map[string]any{"default_phone_region": "FR", "source_issue_threshold": 10},
	}
}

func (s *dlSetup) activation(t *testing.T, name string) activationBody {
	t.Helper()
	return into[activationBody](t, s.admin.as(s.editor).post("/activations", s.activationInput(name)).want(t, http.StatusCreated))
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

func TestAPIDeliveryRolesAndWorkspaces(t *testing.T) {
	t.Parallel()
	s := newDLSetup(t)
	act := s.activation(t, "Newsletter")
	run := into[runBody](t, s.admin.as(s.operator).post("/activations/"+act.ID+"/runs", nil).want(t, http.StatusAccepted))

	newPlatform := map[string]any{"name": "Other", "kind": "webhook", "config": map[string]any{"url": s.hook.url()}}
	writes := []struct {
		method, path string
		body         any
		minRole      models.Role
	}{
		{"POST", "/platforms", newPlatform, models.RoleAdmin},
		{"PATCH", "/platforms/" + s.platform.ID, map[string]any{"name": "Renamed"}, models.RoleAdmin},
		{"DELETE", "/platforms/" + s.platform.ID, nil, models.RoleAdmin},
		{"POST", "/activations", s.activationInput("Other"), models.RoleEditor},
		{"PATCH", "/activations/" + act.ID, map[string]any{"name": "Renamed"}, models.RoleEditor},
		{"DELETE", "/activations/" + act.ID, nil, models.RoleEditor},
		{"POST", "/activations/" + act.ID + "/pause", nil, models.RoleOperator},
		{"POST", "/activations/" + act.ID + "/resume", nil, models.RoleOperator},
		{"POST", "/activations/" + act.ID + "/runs", nil, models.RoleOperator},
		{"POST", "/runs/" + run.ID + "/cancel", nil, models.RoleOperator},
	}
	below := map[models.Role][]struct {
		name  string
		token string
	}{
		models.RoleAdmin:    {{"viewer", s.viewer}, {"operator", s.operator}, {"editor", s.editor}},
		models.RoleEditor:   {{"viewer", s.viewer}, {"operator", s.operator}},
		models.RoleOperator: {{"viewer", s.viewer}},
	}
	for _, w := range writes {
		for _, who := range below[w.minRole] {
			t.Run(who.name+" "+w.method+" "+w.path, func(t *testing.T) {
				wantErr(t, s.admin.as(who.token).call(w.method, w.path, w.body), http.StatusForbidden, "forbidden", "")
			})
		}
	}
	// Nothing changed, and reads are open to any token.
	if got := into[platformBody](t, s.admin.as(s.viewer).get("/platforms/"+s.platform.ID).want(t, http.StatusOK)); got.Name != "Hook" {
		t.Errorf("platform renamed to %q", got.Name)
	}
	if got := into[runBody](t, s.admin.as(s.viewer).get("/runs/"+run.ID).want(t, http.StatusOK)); got.Status != models.RunQueued {
		t.Errorf("run %s", got.Status)
	}
	for _, p := range []string{"/platforms", "/activations", "/activations/" + act.ID, "/activations/" + act.ID + "/runs", "/runs/" + run.ID + "/issues", "/runs/" + run.ID + "/logs"} {
		s.admin.as(s.viewer).get(p).want(t, http.StatusOK)
	}

	// Another workspace sees none of it.
	ws, err := s.app.store.CreateWorkspace(t.Context(), "Other Co")
	if err != nil {
		t.Fatal(err)
	}
	other := s.admin.as(whToken(t, s.app.store, ws.ID, models.RoleAdmin))
	for _, r := range []struct{ method, path string }{
		{"GET", "/platforms/" + s.platform.ID}, {"PATCH", "/platforms/" + s.platform.ID}, {"DELETE", "/platforms/" + s.platform.ID},
		{"GET", "/activations/" + act.ID}, {"PATCH", "/activations/" + act.ID}, {"DELETE", "/activations/" + act.ID},
		{"POST", "/activations/" + act.ID + "/pause"}, {"POST", "/activations/" + act.ID + "/resume"},
		{"POST", "/activations/" + act.ID + "/runs"}, {"GET", "/activations/" + act.ID + "/runs"},
		{"GET", "/runs/" + run.ID}, {"GET", "/runs/" + run.ID + "/issues"}, {"GET", "/runs/" + run.ID + "/logs"},
		{"GET", "/runs/" + run.ID + "/samples"}, {"POST", "/runs/" + run.ID + "/cancel"},
	} {
		var body any
		if r.method == "PATCH" {
			body = map[string]any{"name": "Mine now"}
		}
		wantErr(t, other.call(r.method, r.path, body), http.StatusNotFound, "not_found", "")
	}
	for _, p := range []string{"/platforms", "/activations"} {
		if l := into[list[json.RawMessage]](t, other.get(p).want(t, http.StatusOK)); len(l.Items) != 0 {
			t.Errorf("other workspace lists %d on %s", len(l.Items), p)
		}
	}
	// Naming our segment or platform from there is a field error, not a way in.
	theirs := into[platformBody](t, other.post("/platforms", newPlatform).want(t, http.StatusCreated))
	in := s.activationInput("Stolen")
	in["platform_id"] = theirs.ID
	wantErr(t, other.post("/activations", in), 422, "invalid", "segment_id")
	in = s.activationInput("Stolen")
	wantErr(t, other.post("/activations", in), 422, "invalid", "segment_id")
	if got := into[activationBody](t, s.admin.get("/activations/"+act.ID).want(t, http.StatusOK)); got.Name != "Newsletter" || got.Status != models.ActivationActive {
		t.Errorf("activation changed to %+v", got)
	}
	if got := into[runBody](t, s.admin.get("/runs/"+run.ID).want(t, http.StatusOK)); got.Status != models.RunQueued {
		t.Errorf("run changed to %s", got.Status)
	}
}
