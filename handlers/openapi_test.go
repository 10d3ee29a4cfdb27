package handlers_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"sluice/config"
	"sluice/connectors"
	"sluice/internal/testutil"
	"sluice/models"
	"sluice/secrets"
)

// apiPrefix is the base path of the JSON API: the document's server URL.
const apiPrefix = "/api/v1"

// openAPIDoc fetches the document as a client would: without a token.
func openAPIDoc(t *testing.T, a *app) []byte {
	t.Helper()
	res, err := http.Get(a.url + apiPrefix + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET %s/openapi.json: %d %s", apiPrefix, res.StatusCode, res.Header.Get("Content-Type"))
	}
	return raw
}

// apiEcho builds the HTTP layer as main does, to read its routes.
func apiEcho(t *testing.T) *echo.Echo {
	t.Helper()
	box, err := secrets.New(make([]byte, secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := handlersFor(testutil.Store(t, testutil.SQLiteURL(t)), box, config.Default(), connectors.NewRegistry())
	e, ok := h.(*echo.Echo)
	if !ok {
		t.Fatalf("handlers.New gave %T, not *echo.Echo", h)
	}
	return e
}

var echoParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// apiOperations is every "METHOD /api/v1/path" echo serves under the API, with echo's
// :param written as OpenAPI's {param}. echo's catch-all routes (RouteNotFound, for the
// group's middleware) are not operations.
func apiOperations(e *echo.Echo) []string {
	var ops []string
	for _, r := range e.Routes() {
		if !strings.HasPrefix(r.Path, apiPrefix+"/") || !slices.Contains(httpMethods, r.Method) || strings.HasSuffix(r.Path, "*") {
			continue
		}
		ops = append(ops, r.Method+" "+echoParam.ReplaceAllString(r.Path, "{$1}"))
	}
	slices.Sort(ops)
	return slices.Compact(ops)
}

var httpMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions}

// documentedOperations is every "METHOD /api/v1/path" of the document's paths.
func documentedOperations(t *testing.T, raw []byte) []string {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("the OpenAPI document is not JSON: %v", err)
	}
	var ops []string
	for path, item := range doc.Paths {
		for method := range item {
			if m := strings.ToUpper(method); slices.Contains(httpMethods, m) {
				ops = append(ops, m+" "+apiPrefix+path)
			}
		}
	}
	slices.Sort(ops)
	return ops
}

// missing is what of want is not in have.
func missing(want, have []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			out = append(out, w)
		}
	}
	return out
}

// TestOpenAPIDocumentsEveryRoute keeps the document and routes.go in step: a route
// added without its operation, or an operation left after its route went, fails here.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	e := apiEcho(t)
	doc := documentedOperations(t, openAPIDoc(t, sqliteApp(t)))
	routes := apiOperations(e)
	if len(routes) < 40 {
		t.Fatalf("only %d API routes found: %v", len(routes), routes)
	}
	for _, op := range missing(routes, doc) {
		t.Errorf("%s is served but not in handlers/openapi.json: document it", op)
	}
	for _, op := range missing(doc, routes) {
		t.Errorf("%s is in handlers/openapi.json but no route serves it", op)
	}

	// The check itself: a route added without documenting it is named.
	e.POST(apiPrefix+"/activations/:id/frobnicate", func(echo.Context) error { return nil })
	if got := missing(apiOperations(e), doc); !slices.Equal(got, []string{"POST /api/v1/activations/{id}/frobnicate"}) {
		t.Errorf("an undocumented route is reported as %v", got)
	}
}

// TestOpenAPIDocumentIsValid checks the served document against the OpenAPI 3.1
// schema, resolves every $ref, and finds each path parameter declared.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	t.Parallel()
	raw := openAPIDoc(t, sqliteApp(t))
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		t.Fatal(err)
	}
	if v := doc.GetVersion(); v != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", v)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatalf("build the document (unresolved $ref?): %v", err)
	}
	m := model.Model
	if m.Info == nil || m.Info.Title == "" || !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(m.Info.Version) {
		t.Errorf("info %+v: want a title and a semantic version", m.Info)
	}
	if len(m.Servers) != 1 || m.Servers[0].URL != apiPrefix {
		t.Errorf("servers %+v, want one: %s", m.Servers, apiPrefix)
	}
	if m.Components == nil || m.Components.SecuritySchemes.GetOrZero("bearer") == nil {
		t.Error("no bearer security scheme")
	}
	for _, name := range []string{"Activation", "Run", "RunCounts", "Source", "Model", "Segment", "Platform", "Incident", "Error", "Cursor"} {
		if m.Components.Schemas.GetOrZero(name) == nil {
			t.Errorf("no %s schema", name)
		}
	}

	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("not valid OpenAPI 3.1: %s: %s", e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  at %s (%s): %s", se.FieldPath, se.KeywordLocation, se.Reason)
			}
		}
	}

	paramInPath := regexp.MustCompile(`\{([^}]+)\}`)
	for path, item := range m.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			declared := map[string]bool{}
			for _, p := range slices.Concat(item.Parameters, op.Parameters) {
				if p.In == "path" {
					declared[p.Name] = true
				}
			}
			for _, want := range paramInPath.FindAllStringSubmatch(path, -1) {
				if !declared[want[1]] {
					t.Errorf("%s %s does not declare its path parameter %q", strings.ToUpper(method), path, want[1])
				}
			}
			if op.OperationId == "" {
				t.Errorf("%s %s has no operationId", strings.ToUpper(method), path)
			}
		}
	}
}

// TestOpenAPIAnswersMatchTheDocument validates real answers, successes and errors,
// against the response schemas the document gives for them.
func TestOpenAPIAnswersMatchTheDocument(t *testing.T) {
	t.Parallel()
	s := newDLSetup(t)
	doc, err := libopenapi.NewDocument(openAPIDoc(t, s.app))
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	act := s.activation(t, "Newsletter")
	op := s.admin.as(s.operator)
	queued := into[runBody](t, op.post("/activations/"+act.ID+"/runs", nil).want(t, http.StatusAccepted))
	if !s.app.runner.RunOne(t.Context()) {
		t.Fatal("no run was run")
	}
	paused := s.activation(t, "Paused one")
	op.post("/activations/"+paused.ID+"/pause", map[string]any{"reason": "holidays"}).want(t, http.StatusOK)
	s.admin.call(http.MethodPut, "/alerts", map[string]any{"email": map[string]any{"recipients": []string{"ops@example.com"}}}).want(t, http.StatusOK)

	as := s.admin
	check := func(method, path string, want int, body any) {
		t.Helper()
		r := as.call(method, path, body)
		if r.Status != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, r.Status, want, r.Body)
		}
		sent := ""
		switch b := body.(type) {
		case nil:
		case string:
			sent = b
		default:
			raw, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			sent = string(raw)
		}
		req := httptest.NewRequest(method, "http://sluice.test"+apiPrefix+path, strings.NewReader(sent))
		req.Header.Set("Authorization", "Bearer "+s.adminTk)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		// A request the API accepted must be one the document accepts.
		if r.Status < 300 {
			if ok, verrs := v.ValidateHttpRequestSync(req); !ok {
				for _, e := range verrs {
					t.Errorf("%s %s: the document refuses this accepted request: %s: %s", method, path, e.Message, e.Reason)
				}
			}
		}
		res := &http.Response{StatusCode: r.Status, Header: r.Header, Body: io.NopCloser(strings.NewReader(r.Body)), Request: req}
		if ok, verrs := v.ValidateHttpResponse(req, res); !ok {
			for _, e := range verrs {
				t.Errorf("%s %s (%d) does not match the document: %s: %s", method, path, r.Status, e.Message, e.Reason)
				for _, se := range e.SchemaValidationErrors {
					t.Errorf("  at %s (%s): %s", se.FieldPath, se.KeywordLocation, se.Reason)
				}
			}
		}
	}
	for _, p := range []string{
		"/activations", "/activations?status=paused", "/activations/" + act.ID, "/activations/" + paused.ID, "/activations/" + act.ID + "/runs",
		"/runs/" + queued.ID, "/runs/" + queued.ID + "/logs", "/runs/" + queued.ID + "/issues", "/runs/" + queued.ID + "/samples",
		"/sources", "/sources/" + s.source.ID, "/models", "/models/" + s.model.ID, "/issues",
		"/segments", "/segments/" + s.segment.ID, "/segments/" + s.segment.ID + "/count",
		"/platforms", "/platforms/" + s.platform.ID, "/incidents", "/alerts", "/connectors",
	} {
		check(http.MethodGet, p, http.StatusOK, nil)
	}
	// The connectors list says which fields are secret, as the forms do.
	kinds := into[struct {
		Destinations []struct {
			Kind   string
			Config []struct {
				Name   string
				Secret bool
			}
		}
	}](t, s.admin.get("/connectors"))
	secret := map[string]bool{}
	for _, d := range kinds.Destinations {
		for _, f := range d.Config {
			secret[d.Kind+"."+f.Name] = f.Secret
		}
	}
	if !secret["webhook.signing_secret"] || secret["webhook.url"] {
		t.Errorf("GET /connectors: the webhook's secret fields are %v", secret)
	}
	// A failed run carries its error and the link to its fix.
	failing := s.activation(t, "Failing")
	s.hook.status.Store(http.StatusUnauthorized)
	failed := into[runBody](t, op.post("/activations/"+failing.ID+"/runs", map[string]any{"full_resync": true}).want(t, http.StatusAccepted))
	if !s.app.runner.RunOne(t.Context()) {
		t.Fatal("no run was run")
	}
	check(http.MethodGet, "/runs/"+failed.ID, http.StatusOK, nil)
	// A running run says what it waits for.
	s.hook.status.Store(http.StatusOK)
	slow := s.activation(t, "Slow one")
	waiting := into[runBody](t, op.post("/activations/"+slow.ID+"/runs", nil).want(t, http.StatusAccepted))
	if r, err := s.app.store.ClaimRun(t.Context(), "test-worker", time.Minute); err != nil || r.ID != waiting.ID {
		t.Fatalf("claim %v, %v", r, err)
	}
	since := time.Now().Add(-3 * time.Second)
	if err := s.app.store.SetRunWait(t.Context(), waiting.ID, "test-worker", &models.RunWait{Kind: models.WaitBackoff, Object: "Hook",
		Since: since, Until: since.Add(10 * time.Second), Attempt: 2, MaxAttempts: 5, LastAnswer: "429 Too Many Requests"}); err != nil {
		t.Fatal(err)
	}
	check(http.MethodGet, "/runs/"+waiting.ID, http.StatusOK, nil)
	check(http.MethodGet, "/activations/"+slow.ID+"/runs", http.StatusOK, nil)
	check(http.MethodGet, "/activations/"+failing.ID, http.StatusOK, nil)
	if got := into[runBody](t, s.admin.get("/runs/"+failed.ID)); got.Error == nil {
		t.Errorf("run against a 401 webhook has no error: %+v", got)
	}

	// Writes: what they take and what they answer.
	seg := into[segmentBody](t, s.admin.call(http.MethodGet, "/segments/"+s.segment.ID, nil))
	check(http.MethodPost, "/segments", http.StatusCreated, map[string]any{"model_id": s.model.ID, "name": "French adults",
		"conditions": map[string]any{"all": []any{map[string]any{"column": "country", "op": "eq", "value": "FR"}, map[string]any{"any": []any{map[string]any{"column": "age", "op": "gte", "value": 18}}}}}})
	check(http.MethodPatch, "/segments/"+seg.ID, http.StatusOK, map[string]any{"name": "Everyone, renamed"})
	check(http.MethodPost, "/activations", http.StatusCreated, s.activationInput("Created here"))
	check(http.MethodPatch, "/activations/"+act.ID, http.StatusOK, map[string]any{"schedule": map[string]any{"kind": "daily", "at": "06:00", "timezone": "Europe/Paris"}})
	check(http.MethodPost, "/activations/"+act.ID+"/pause", http.StatusOK, map[string]any{"reason": "checking"})
	check(http.MethodPost, "/activations/"+act.ID+"/resume", http.StatusOK, nil)
	check(http.MethodPost, "/platforms", http.StatusCreated, map[string]any{"name": "Hook 2", "kind": "webhook",
		"config": map[string]any{"url": s.hook.url(), "batch_size": 100, "headers": map[string]any{"X-Team": "growth"}}, "credentials": map[string]any{"signing_secret": "shh"}})
	check(http.MethodPatch, "/sources/"+s.source.ID, http.StatusOK, map[string]any{"name": "Warehouse"})
	check(http.MethodPut, "/alerts", http.StatusOK, map[string]any{"events": []string{"run_failed"}, "thresholds": map[string]any{"slow_run_factor": 3},
		"routing": map[string]any{"credentials": []string{"admins"}}})
	// Invitations (an admin token), and workspaces: listed by any token, managed by an
	// owner's token only.
	check(http.MethodGet, "/workspaces", http.StatusOK, nil)
	check(http.MethodPost, "/workspaces", http.StatusForbidden, map[string]any{"name": "Staging"})
	check(http.MethodPost, "/invitations", http.StatusCreated, map[string]any{"email": "grace@example.com", "role": "editor"})
	check(http.MethodGet, "/invitations", http.StatusOK, nil)
	invitation := into[list[struct{ ID string }]](t, s.admin.get("/invitations")).Items[0].ID
	check(http.MethodPost, "/invitations/"+invitation+"/resend", http.StatusOK, nil)
	check(http.MethodDelete, "/invitations/"+invitation, http.StatusNoContent, nil)
	owner, _ := testutil.Admin(t, s.app.store)
	_, ownerTk, err := s.app.store.CreateAPIToken(t.Context(), testutil.ActorOf(owner), "owner", models.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	as = s.admin.as(ownerTk)
	check(http.MethodPost, "/workspaces", http.StatusCreated, map[string]any{"name": "Staging"})
	staging := ""
	for _, w := range into[list[struct{ ID, Name string }]](t, as.get("/workspaces")).Items {
		if w.Name == "Staging" {
			staging = w.ID
		}
	}
	check(http.MethodPatch, "/workspaces/"+staging, http.StatusOK, map[string]any{"name": "Staging EU"})
	check(http.MethodDelete, "/workspaces/"+staging+"?confirm=Staging", http.StatusUnprocessableEntity, nil)
	check(http.MethodDelete, "/workspaces/"+staging+"?confirm=Staging%20EU", http.StatusNoContent, nil)
	// Single sign-on, an owner's token only. This app may not reach loopback providers:
	// the OpenID Connect provider is stored as the page would, past its discovery.
	check(http.MethodGet, "/sso", http.StatusOK, nil)
	check(http.MethodPut, "/sso/oidc", http.StatusUnprocessableEntity, map[string]any{"provider_name": "Example ID", "issuer": "http://127.0.0.1:9/",
		"client_id": "sluice", "client_secret": "shh", "default_role": "viewer"})
	if _, err := s.app.store.SaveSSOConfig(t.Context(), testutil.ActorOf(owner), models.SSOInput{ProviderName: "Example ID", Issuer: "https://id.example.com",
		ClientID: "sluice", ClientSecret: "shh", DefaultRole: models.RoleViewer, GroupsClaim: "groups",
		GroupRoles: []models.GroupRole{{Group: "data-team", Role: models.RoleEditor}}}); err != nil {
		t.Fatal(err)
	}
	check(http.MethodPut, "/sso/saml", http.StatusOK, map[string]any{"provider_name": "Campus IdP", "metadata_xml": newSAMLIdP(t).MetadataXML(t),
		"default_role": "viewer", "groups_attribute": "groups", "group_roles": []map[string]any{{"group": "data-team", "role": "editor", "workspace_id": models.DefaultWorkspaceID}}})
	check(http.MethodGet, "/sso", http.StatusOK, nil)
	check(http.MethodPatch, "/sso", http.StatusUnprocessableEntity, map[string]any{"require_sso": true})
	check(http.MethodPatch, "/sso", http.StatusOK, map[string]any{"require_sso": false})
	check(http.MethodDelete, "/sso/oidc", http.StatusNoContent, nil)
	check(http.MethodDelete, "/sso/oidc", http.StatusNotFound, nil)
	check(http.MethodDelete, "/sso/saml", http.StatusNoContent, nil)
	as = s.admin
	check(http.MethodGet, "/sso", http.StatusForbidden, nil)
	check(http.MethodPost, "/sources/"+s.source.ID+"/validate", http.StatusOK, nil)
	check(http.MethodPost, "/models/"+s.model.ID+"/validate", http.StatusOK, nil)
	check(http.MethodGet, "/runs/nope", http.StatusNotFound, nil)
	check(http.MethodGet, "/activations?status=sleepy", http.StatusUnprocessableEntity, nil)
	check(http.MethodPost, "/activations", http.StatusBadRequest, "{")
	check(http.MethodDelete, "/models/"+s.model.ID, http.StatusConflict, nil)
	check(http.MethodDelete, "/activations/"+paused.ID, http.StatusNoContent, nil)
	as = s.admin.as("slu_not-a-token")
	check(http.MethodGet, "/activations", http.StatusUnauthorized, nil)
	as = s.admin.as(s.viewer)
	check(http.MethodDelete, "/activations/"+act.ID, http.StatusForbidden, nil)
}
