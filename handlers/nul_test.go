package handlers_test

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// nulRefused checks an API answer: 400 in API.md's shape, naming the field.
func nulRefused(t *testing.T, r *response, field string) {
	t.Helper()
	r.want(t, http.StatusBadRequest)
	e := into[apiErr](t, r)
	if e.Error.Code != "bad_request" || e.Error.Field != field || !strings.Contains(e.Error.Message, `"`+field+`"`) ||
		!strings.Contains(e.Error.Message, "NUL") {
		t.Errorf("error %+v, want one naming %s", e.Error, field)
	}
}

// pageRefused checks a page answer: 400, a friendly page or (htmx) toast naming the field.
func pageRefused(t *testing.T, r *response, field string) {
	t.Helper()
	r.want(t, http.StatusBadRequest)
	if text := r.Doc(t).Text(); !strings.Contains(text, `The field "`+field+`" contains a NUL character`) {
		t.Errorf("the answer does not name %s:\n%s", field, r.Body)
	}
}

// A NUL character is refused in every input — JSON strings and keys (escaped or raw),
// form fields (url-encoded and multipart), query values and path ids, the login e-mail
// — with 400 naming the field, on both databases: PostgreSQL text cannot hold NUL, and
// such input once ended as a 500.
func TestNULIsRefusedNamingTheField(t *testing.T) {
	t.Parallel()
	eachRunFixture(t, func(t *testing.T, f *runFixture) {
		admin, editor := f.admin, f.admin.as(f.editor)

		// API bodies, escaped \u0000 and raw.
		nulRefused(t, admin.post("/sources", `{"name": "Ware\u0000house", "kind": "sqlite", "config": {"path": "x"}}`), "name")
		nulRefused(t, admin.post("/sources", map[string]any{"name": "Warehouse", "kind": "sqlite", "config": map[string]any{"path": "a\x00b"}}), "config.path")
		nulRefused(t, admin.patch("/sources/"+f.source.ID, map[string]any{"name": "\x00"}), "name")
		nulRefused(t, editor.post("/models", map[string]any{"source_id": f.source.ID, "name": "Cust\x00omers", "table": "customers", "primary_key": "id"}), "name")
		nulRefused(t, editor.patch("/models/"+f.model.ID, map[string]any{"name": "x\x00"}), "name")
		nulRefused(t, editor.post("/segments", map[string]any{"model_id": f.model.ID, "name": "Every\x00one", "conditions": map[string]any{"all": []any{}}}), "name")
		nulRefused(t, editor.post("/segments", map[string]any{"model_id": f.model.ID, "name": "Some",
			"conditions": map[string]any{"all": []any{map[string]any{"column": "country", "op": "eq", "value": "F\x00R"}}}}), "conditions.all[0].value")
		nulRefused(t, admin.post("/platforms", map[string]any{"name": "Ho\x00ok", "kind": "webhook", "config": map[string]any{"url": "http://127.0.0.1:1"}}), "name")
		nulRefused(t, admin.patch("/platforms/"+f.platform.ID, map[string]any{"config": map[string]any{"headers": map[string]string{"X-A": "b\x00"}}}), "config.headers.X-A")
		in := f.activationInput("Nul")
		in["mappings"] = []map[string]any{{"from": "email", "to": "email"}, {"from": "coun\x00try", "to": "country"}}
		nulRefused(t, editor.post("/activations", in), "mappings[1].from")
		nulRefused(t, editor.post("/activations", `{"na\u0000me": "x"}`), `na\u0000me`)
		nulRefused(t, editor.post("/activations", "{\"name\": \"raw\x00nul\"}"), "name")
		nulRefused(t, editor.post("/activations", "\x00"), "body")

		// Query values and path ids.
		nulRefused(t, admin.get("/activations?q=%00"), "q")
		nulRefused(t, admin.get("/activations?status=active%00"), "status")
		nulRefused(t, admin.get("/runs/%00abc"), "id")
		nulRefused(t, admin.get("/activations/%00"), "id")
		nulRefused(t, admin.del("/segments/"+f.segment.ID+"%00"), "id")

		// Text that only looks like an escape is text, and is kept as sent.
		src := into[sourceBody](t, admin.post("/sources", `{"name": "Back\\u0000slash", "kind": "sqlite", "config": {"path": "`+f.path+`"}}`).want(t, http.StatusCreated))
		if src.Name != `Back\u0000slash` {
			t.Errorf("name %q", src.Name)
		}

		// Pages: forms, htmx forms, multipart, query, path, sign-in.
		b := f.browser
		token := b.csrf("/sources/new")
		pageRefused(t, b.post("/sources", url.Values{"_csrf": {token}, "name": {"Ware\x00house"}, "kind": {"sqlite"}, "config.path": {f.path}}), "name")
		pageRefused(t, b.post("/models", url.Values{"_csrf": {token}, "source_id": {f.source.ID}, "name": {"C\x00"}, "mode": {"table"}, "table": {"customers"}, "primary_key": {"id"}}), "name")
		pageRefused(t, b.post("/segments", url.Values{"_csrf": {token}, "model_id": {f.model.ID}, "name": {"S\x00"}}), "name")
		pageRefused(t, b.post("/settings/platforms", url.Values{"_csrf": {token}, "name": {"P\x00"}, "kind": {"webhook"}, "config.url": {"http://127.0.0.1:1"}}), "name")
		pageRefused(t, b.post("/settings/platforms/"+f.platform.ID, url.Values{"_csrf": {token}, "name": {"Hook"}, "config.url\x00": {"x"}}), `config.url\u0000`)
		r := b.post("/sources", url.Values{"_csrf": {token}, "name": {"\x00"}, "kind": {"sqlite"}}, "HX-Request", "true", csrfHeader, token)
		pageRefused(t, r, "name")
		if r.Header.Get("HX-Retarget") != "#flash" {
			t.Errorf("the htmx answer is not a toast: HX-Retarget %q", r.Header.Get("HX-Retarget"))
		}
		pageRefused(t, b.multipart("/segments", map[string]string{"_csrf": token, "model_id": f.model.ID, "name": "M\x00"}), "name")
		pageRefused(t, b.get("/activations?q=%00"), "q")
		pageRefused(t, b.get("/activations/%00"), "id")
		pageRefused(t, b.get("/runs/%00abc/issues.csv"), "id")

		guest := f.app.client(t)
		login := guest.csrf("/login")
		pageRefused(t, guest.post("/login", url.Values{"_csrf": {login}, "email": {"admin@example.com\x00"}, "password": {"x"}}), "email")
		pageRefused(t, guest.post("/login", url.Values{"_csrf": {login}, "email": {"admin@example.com"}, "password": {"x"}, "next": {"/\x00"}}), "next")

		// Nothing was stored on the way.
		if list := into[listAnswerOf[sourceBody]](t, admin.get("/sources")); len(list.Items) != 2 {
			t.Errorf("%d sources, want the fixture's and the backslash one", len(list.Items))
		}
	})
}

// Reading the body to look for NUL keeps the 2 MB limit: a larger body gets 413,
// whether its length is announced or not, on the API and on pages.
func TestNULCheckKeepsTheBodyLimit(t *testing.T) {
	t.Parallel()
	s := newDLSetup(t)
	big := `{"name": "` + strings.Repeat("a", 3<<20) + `"}`
	s.admin.post("/sources", big).want(t, http.StatusRequestEntityTooLarge)
	// An io.Reader without a length is sent chunked.
	api := &client{t: t, base: s.app.url, hc: http.DefaultClient}
	api.postChunked("/api/v1/sources", strings.NewReader(big), "application/json", "Authorization", "Bearer "+s.adminTk).
		want(t, http.StatusRequestEntityTooLarge)

	_, b := signedInAdmin(t, s.app)
	token := b.csrf("/sources/new")
	form := url.Values{"_csrf": {token}, "name": {strings.Repeat("a", 3<<20)}}
	b.post("/sources", form).want(t, http.StatusRequestEntityTooLarge)
	b.postChunked("/sources", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded").want(t, http.StatusRequestEntityTooLarge)

	// Under the limit the handler still reads the whole body.
	r := s.admin.post("/sources", map[string]any{"name": strings.Repeat("b", 101), "kind": "sqlite", "config": map[string]any{"path": s.path}})
	if into[apiErr](t, r.want(t, http.StatusUnprocessableEntity)).Error.Field != "name" { // the handler saw the whole name
		t.Errorf("a 101-character name: %s", r.Body)
	}
	s.admin.post("/sources", map[string]any{"name": strings.Repeat("b", 100), "kind": "sqlite", "config": map[string]any{"path": s.path}}).
		want(t, http.StatusCreated)
}

const csrfHeader = "X-CSRF-Token"

// listAnswerOf is API.md's list shape.
type listAnswerOf[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// multipart posts fields as multipart/form-data.
func (c *client) multipart(path string, fields map[string]string) *response {
	c.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			c.t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		c.t.Fatal(err)
	}
	return c.send(http.MethodPost, path, &body, w.FormDataContentType())
}

// postChunked posts body without announcing its length.
func (c *client) postChunked(path string, body io.Reader, contentType string, header ...string) *response {
	c.t.Helper()
	return c.send(http.MethodPost, path, io.MultiReader(body), contentType, header...)
}

// send sends body as is; header holds name, value pairs.
func (c *client) send(method, path string, body io.Reader, contentType string, header ...string) *response {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return &response{Status: res.StatusCode, Header: res.Header, Body: string(raw)}
}
