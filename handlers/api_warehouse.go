package handlers

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"sluice/connectors"
	"sluice/models"
	"sluice/segments"
	"sluice/warehouse"
)

// This file is the JSON API of the warehouse side: sources, models and segments
// (API.md, "Resources"). Choices where API.md is silent:
//
//   - Times are RFC 3339 in UTC; a time that has not happened yet (validated_at) is null.
//   - A source's config shows its public settings as strings. A secret setting that is
//     set shows as "********" (apiSecretMask), one that is not set is left out: clients can
//     tell a password is there, never what it is. Sending "********" back for a secret
//     (a GET round-tripped into a PATCH) keeps the stored secret, like leaving it out.
//     Config values may be JSON strings, numbers or booleans ("port": 5432); a setting
//     the kind does not have is refused (422, field "config.<name>") so a typo does not
//     pass silently.
//   - A model's table is written "schema.name" (or "name" where the source has no
//     schema); on input it may also be {"schema": …, "name": …}, which is the only way
//     to name a table with a dot in its name. table and sql are both always present,
//     one of them null.
//   - A segment's sql_preview is its COUNT statement for the model's source, with bind
//     placeholders ("?" or "$1") where the values go; values never appear in it. It is
//     null in lists (it needs the warehouse) and when the warehouse cannot be reached.
//   - Lists are ordered by name. next_cursor is opaque (base64url of the last item's id
//     and name) and "" on the last page; a cursor whose item was deleted meanwhile goes
//     on from the next name.

// apiSecretMask stands for a secret setting that is set.
const apiSecretMask = "********"

// Page sizes of API.md: ?limit= defaults to 50 and is capped at 500.
const (
	apiDefaultLimit = 50
	apiMaxLimit     = 500
)

// apiTime is a time as the API writes it: UTC.
func apiTime(t time.Time) time.Time { return t.UTC() }

func apiTimeOrNull(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// apiDecode reads the request body, one JSON object, into v. Broken JSON is 400; a
// value of the wrong type, or a condition tree that is not one, is 422 naming the field.
func apiDecode(c echo.Context, v any) error {
	dec := json.NewDecoder(c.Request().Body)
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			return echo.NewHTTPError(http.StatusBadRequest, "Send one JSON object as the body.")
		}
		return nil
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var cond *segments.FieldError
	switch {
	case errors.Is(err, io.EOF):
		return echo.NewHTTPError(http.StatusBadRequest, "Send a JSON object as the body.")
	case errors.As(err, &cond):
		return &models.FieldError{Field: cond.Path, Message: cond.Message}
	case errors.As(err, &typ) && typ.Field != "":
		return &models.FieldError{Field: typ.Field, Message: fmt.Sprintf("%s must be %s, not a JSON %s.", typ.Field, apiJSONKind(typ.Type.Kind().String()), typ.Value)}
	case errors.As(err, &typ):
		return echo.NewHTTPError(http.StatusBadRequest, "The body must be a JSON object.")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return echo.NewHTTPError(http.StatusBadRequest, "The body is not valid JSON.")
	}
	return echo.NewHTTPError(http.StatusBadRequest, "The body could not be read as JSON.")
}

// apiJSONKind names a Go kind the way a JSON client thinks of it.
func apiJSONKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "a list"
	case "bool":
		return "true or false"
	}
	return "a " + kind
}

// apiPage cuts one page out of a list the store returned whole, in its order (by name).
func apiPage[T any](c echo.Context, items []T, key func(T) (id, name string)) ([]T, string, error) {
	limit := apiDefaultLimit
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, "", &models.FieldError{Field: "limit", Message: fmt.Sprintf("limit must be a whole number from 1 to %d.", apiMaxLimit)}
		}
		limit = min(n, apiMaxLimit)
	}
	start := 0
	if cur := c.QueryParam("cursor"); cur != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cur)
		lastID, lastName, ok := strings.Cut(string(raw), "\n")
		if err != nil || !ok || lastID == "" {
			return nil, "", echo.NewHTTPError(http.StatusBadRequest, "This cursor is not valid. Start again from the first page, without one.")
		}
		start = len(items)
		if i := slices.IndexFunc(items, func(it T) bool { id, _ := key(it); return id == lastID }); i >= 0 {
			start = i + 1
		} else if i := slices.IndexFunc(items, func(it T) bool { _, name := key(it); return name > lastName }); i >= 0 {
			start = i // the last item is gone: go on from the next name
		}
	}
	end := min(start+limit, len(items))
	next := ""
	if end < len(items) {
		id, name := key(items[end-1])
		next = base64.RawURLEncoding.EncodeToString([]byte(id + "\n" + name))
	}
	return items[start:end], next, nil
}

// apiMapList turns a page of store rows into their JSON.
func apiMapList[T, J any](rows []T, fn func(*T) (J, error)) ([]J, error) {
	out := make([]J, 0, len(rows))
	for i := range rows {
		j, err := fn(&rows[i])
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

// ---- sources ----

// SourceAPI serves /api/v1/sources.
type SourceAPI struct{ *Server }

// apiSourceJSON is API.md's source.
type apiSourceJSON struct {
	ID          string             `json:"id"`
	Name        string             `json:"name"`
	Kind        string             `json:"kind"`
	Status      string             `json:"status"`
	Checks      []connectors.Check `json:"checks"`
	Config      map[string]string  `json:"config"`
	ValidatedAt *time.Time         `json:"validated_at"`
	CreatedAt   time.Time          `json:"created_at"`
	UpdatedAt   time.Time          `json:"updated_at"`
}

// apiSourceValidationJSON is the answer of POST /sources/{id}/validate.
type apiSourceValidationJSON struct {
	Status      string             `json:"status"`
	Checks      []connectors.Check `json:"checks"`
	ValidatedAt *time.Time         `json:"validated_at"`
}

func apiChecks(src *models.Source) []connectors.Check {
	checks := src.Checks()
	if checks == nil {
		checks = []connectors.Check{}
	}
	return checks
}

// toJSON shows a source: public settings as they are, secrets that are set masked.
func (h *SourceAPI) toJSON(src *models.Source) (apiSourceJSON, error) {
	cfg := src.PublicConfig()
	full, err := h.store.SourceConfig(src)
	if err != nil {
		return apiSourceJSON{}, fmt.Errorf("source config: %w", err)
	}
	for k, v := range full {
		if _, public := cfg[k]; !public && v != "" {
			cfg[k] = apiSecretMask
		}
	}
	return apiSourceJSON{
		ID: src.ID, Name: src.Name, Kind: src.Kind, Status: src.Status, Checks: apiChecks(src), Config: cfg,
		ValidatedAt: apiTimeOrNull(src.ValidatedAt), CreatedAt: apiTime(src.CreatedAt), UpdatedAt: apiTime(src.UpdatedAt),
	}, nil
}

// apiSourceInput is the body of POST and PATCH /sources.
type apiSourceInput struct {
	Name   *string                    `json:"name"`
	Kind   *string                    `json:"kind"`
	Config map[string]json.RawMessage `json:"config"`
}

// apiConfig reads a config object of JSON strings, numbers and booleans as the
// connector's settings. A masked secret is left out, so the stored one is kept.
func apiConfig(raw map[string]json.RawMessage, kind string, specFields []connectors.FieldSpec) (connectors.Config, error) {
	fields := map[string]connectors.FieldSpec{}
	names := make([]string, len(specFields))
	for i, f := range specFields {
		fields[f.Name], names[i] = f, f.Name
	}
	cfg := connectors.Config{}
	for k, v := range raw {
		f, ok := fields[k]
		if !ok {
			return nil, &models.FieldError{Field: "config." + k, Message: fmt.Sprintf("A %s has no setting %q; its settings are %s.", kind, k, strings.Join(names, ", "))}
		}
		var val any
		d := json.NewDecoder(bytes.NewReader(v))
		d.UseNumber()
		if err := d.Decode(&val); err != nil {
			return nil, &models.FieldError{Field: "config." + k, Message: "This value is not valid JSON."}
		}
		var s string
		switch x := val.(type) {
		case nil:
		case string:
			s = x
		case json.Number:
			s = x.String()
		case bool:
			s = strconv.FormatBool(x)
		default:
			return nil, &models.FieldError{Field: "config." + k, Message: f.Label + " must be a string, a number or true/false."}
		}
		if f.Secret && s == apiSecretMask {
			continue
		}
		cfg[k] = s
	}
	return cfg, nil
}

// apiConfigError gives a connector's config refusal the API's field path.
func apiConfigError(err error) error {
	if ce, ok := connectors.AsError(err); ok && ce.Field != "" {
		return &models.FieldError{Field: "config." + ce.Field, Message: ce.Message}
	}
	return err
}

// Index lists the workspace's sources.
func (h *SourceAPI) Index(c echo.Context) error {
	list, err := h.store.ListSources(c.Request().Context(), workspaceID(c))
	if err != nil {
		return fmt.Errorf("list sources: %w", err)
	}
	page, next, err := apiPage(c, list, func(s models.Source) (string, string) { return s.ID, s.Name })
	if err != nil {
		return err
	}
	items, err := apiMapList(page, h.toJSON)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listAnswer[apiSourceJSON]{Items: items, NextCursor: next})
}

// Show answers one source.
func (h *SourceAPI) Show(c echo.Context) error {
	src, err := h.store.SourceByID(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return fmt.Errorf("show source: %w", err)
	}
	return h.answer(c, http.StatusOK, src)
}

func (h *SourceAPI) answer(c echo.Context, status int, src *models.Source) error {
	body, err := h.toJSON(src)
	if err != nil {
		return err
	}
	return c.JSON(status, body)
}

// Create saves a source and validates it at once, so the answer says whether it works.
func (h *SourceAPI) Create(c echo.Context) error {
	var in apiSourceInput
	if err := apiDecode(c, &in); err != nil {
		return err
	}
	if in.Kind == nil || strings.TrimSpace(*in.Kind) == "" {
		kinds := []string{}
		for _, sp := range h.wh.Registry().SourceSpecs() {
			kinds = append(kinds, sp.Kind)
		}
		return &models.FieldError{Field: "kind", Message: "Choose the kind of source: " + strings.Join(kinds, ", ") + "."}
	}
	spec, err := h.wh.Spec(strings.TrimSpace(*in.Kind))
	if err != nil {
		return err
	}
	cfg, err := apiConfig(in.Config, spec.Kind+" source", spec.Fields)
	if err != nil {
		return err
	}
	if err := cfg.Validate(spec.Fields); err != nil {
		return apiConfigError(err)
	}
	name := ""
	if in.Name != nil {
		name = *in.Name
	}
	ctx := c.Request().Context()
	src, err := h.store.CreateSource(ctx, actor(c), spec, models.SourceInput{Name: name, Config: cfg})
	if err != nil {
		return fmt.Errorf("create source: %w", err)
	}
	if src, err = h.wh.ValidateSource(ctx, workspaceID(c), src.ID); err != nil {
		return fmt.Errorf("validate new source: %w", err)
	}
	return h.answer(c, http.StatusCreated, src)
}

// Update changes a source's name or settings; changed settings are validated again.
func (h *SourceAPI) Update(c echo.Context) error {
	var in apiSourceInput
	if err := apiDecode(c, &in); err != nil {
		return err
	}
	ctx, ws := c.Request().Context(), workspaceID(c)
	src, err := h.store.SourceByID(ctx, ws, c.Param("id"))
	if err != nil {
		return fmt.Errorf("update source: %w", err)
	}
	if in.Kind != nil && *in.Kind != src.Kind {
		return &models.FieldError{Field: "kind", Message: "A source's kind cannot change. Create a new source instead."}
	}
	patch := models.SourceInput{}
	if in.Name != nil {
		if strings.TrimSpace(*in.Name) == "" {
			return &models.FieldError{Field: "name", Message: "Give it a name."}
		}
		patch.Name = *in.Name
	}
	// The store reads the spec only when settings change: a renamed source whose kind
	// this build no longer has can still be renamed.
	spec, specErr := h.wh.Spec(src.Kind)
	if in.Config != nil {
		if specErr != nil {
			return specErr
		}
		if patch.Config, err = apiConfig(in.Config, spec.Kind+" source", spec.Fields); err != nil {
			return err
		}
	}
	if src, err = h.store.UpdateSource(ctx, actor(c), src.ID, spec, patch); err != nil {
		return fmt.Errorf("update source: %w", err)
	}
	if in.Config != nil {
		if src, err = h.wh.ValidateSource(ctx, ws, src.ID); err != nil {
			return fmt.Errorf("validate changed source: %w", err)
		}
	}
	return h.answer(c, http.StatusOK, src)
}

// Delete removes a source no model uses; otherwise 409 lists the models.
func (h *SourceAPI) Delete(c echo.Context) error {
	if err := h.store.DeleteSource(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return fmt.Errorf("delete source: %w", err)
	}
	return c.NoContent(http.StatusNoContent)
}

// Validate runs the five checks again and answers their outcome.
func (h *SourceAPI) Validate(c echo.Context) error {
	src, err := h.wh.ValidateSource(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return fmt.Errorf("validate source: %w", err)
	}
	return c.JSON(http.StatusOK, apiSourceValidationJSON{Status: src.Status, Checks: apiChecks(src), ValidatedAt: apiTimeOrNull(src.ValidatedAt)})
}

// ---- models ----

// ModelAPI serves /api/v1/models.
type ModelAPI struct{ *Server }

// apiModelJSON is API.md's model.
type apiModelJSON struct {
	ID          string              `json:"id"`
	SourceID    string              `json:"source_id"`
	Name        string              `json:"name"`
	Table       *string             `json:"table"`
	SQL         *string             `json:"sql"`
	PrimaryKey  string              `json:"primary_key"`
	Columns     []connectors.Column `json:"columns"`
	Status      string              `json:"status"`
	Issues      []models.ModelIssue `json:"issues"`
	Duplicates  *apiDuplicatesJSON  `json:"duplicates"`
	ValidatedAt *time.Time          `json:"validated_at"`
	CreatedAt   time.Time           `json:"created_at"`
	UpdatedAt   time.Time           `json:"updated_at"`
}

// apiDuplicatesJSON is the last duplicate-key count of a model.
type apiDuplicatesJSON struct {
	Rows          int64     `json:"rows"`
	DuplicateKeys int64     `json:"duplicate_keys"`
	DuplicateRows int64     `json:"duplicate_rows"`
	NullKeys      int64     `json:"null_keys"`
	Percent       float64   `json:"percent"`
	Samples       []string  `json:"samples"`
	CheckedAt     time.Time `json:"checked_at"`
}

func apiModel(m *models.DataModel) (apiModelJSON, error) {
	j := apiModelJSON{
		ID: m.ID, SourceID: m.SourceID, Name: m.Name, PrimaryKey: m.PrimaryKey, Status: m.Status,
		Columns: m.Columns(), Issues: m.Issues(),
		ValidatedAt: apiTimeOrNull(m.ValidatedAt), CreatedAt: apiTime(m.CreatedAt), UpdatedAt: apiTime(m.UpdatedAt),
	}
	if m.SQLText != "" {
		j.SQL = &m.SQLText
	} else {
		t := m.TableName
		if m.TableSchema != "" {
			t = m.TableSchema + "." + m.TableName
		}
		j.Table = &t
	}
	if j.Columns == nil {
		j.Columns = []connectors.Column{}
	}
	if j.Issues == nil {
		j.Issues = []models.ModelIssue{}
	}
	if d := m.Duplicates(); d != nil {
		r := &apiDuplicatesJSON{Rows: d.Rows, DuplicateKeys: d.DuplicateKeys, DuplicateRows: d.DuplicateRows, NullKeys: d.NullKeys,
			Percent: math.Round(d.Percent()*100) / 100, Samples: d.Samples, CheckedAt: d.CheckedAt.UTC()}
		if r.Samples == nil {
			r.Samples = []string{}
		}
		j.Duplicates = r
	}
	return j, nil
}

// apiModelInput is the body of POST and PATCH /models. Table is "schema.name", "name" or
// {"schema", "name"}.
type apiModelInput struct {
	SourceID   *string         `json:"source_id"`
	Name       *string         `json:"name"`
	PrimaryKey *string         `json:"primary_key"`
	Table      json.RawMessage `json:"table"`
	SQL        *string         `json:"sql"`
}

// apiTable reads the table of a model body; given is false when there is none.
func apiTable(raw json.RawMessage) (t *connectors.Table, given bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, false, nil
	}
	bad := &models.FieldError{Field: "table", Message: `Name the table as "schema.name", "name", or {"schema": "…", "name": "…"}.`}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, false, nil
		}
		schema, name, dotted := strings.Cut(s, ".")
		if !dotted {
			return &connectors.Table{Name: s}, true, nil
		}
		if schema == "" || name == "" {
			return nil, false, bad
		}
		return &connectors.Table{Schema: schema, Name: name}, true, nil
	}
	var obj connectors.Table
	if json.Unmarshal(raw, &obj) != nil || strings.TrimSpace(obj.Name) == "" {
		return nil, false, bad
	}
	return &obj, true, nil
}

// apply lays the body over req: what the body gives replaces, the rest is kept. A table
// given replaces a SQL query and the other way round.
func (in apiModelInput) apply(req *warehouse.ModelRequest) error {
	if in.SourceID != nil {
		req.SourceID = *in.SourceID
	}
	if in.Name != nil {
		req.Name = *in.Name
	}
	if in.PrimaryKey != nil {
		req.PrimaryKey = *in.PrimaryKey
	}
	table, tableGiven, err := apiTable(in.Table)
	if err != nil {
		return err
	}
	sqlGiven := in.SQL != nil && strings.TrimSpace(*in.SQL) != ""
	if tableGiven {
		req.Table = table
		if !sqlGiven {
			req.SQL = ""
		}
	}
	if sqlGiven {
		req.SQL = *in.SQL
		if !tableGiven {
			req.Table = nil
		}
	}
	return nil
}

func (h *ModelAPI) answer(c echo.Context, status int, m *models.DataModel) error {
	body, err := apiModel(m)
	if err != nil {
		return err
	}
	return c.JSON(status, body)
}

// Index lists the workspace's models; ?source_id= narrows to one source.
func (h *ModelAPI) Index(c echo.Context) error {
	list, err := h.store.ListModels(c.Request().Context(), workspaceID(c), c.QueryParam("source_id"))
	if err != nil {
		return fmt.Errorf("list models: %w", err)
	}
	page, next, err := apiPage(c, list, func(m models.DataModel) (string, string) { return m.ID, m.Name })
	if err != nil {
		return err
	}
	items, err := apiMapList(page, apiModel)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listAnswer[apiModelJSON]{Items: items, NextCursor: next})
}

// Show answers one model.
func (h *ModelAPI) Show(c echo.Context) error {
	m, err := h.store.ModelByID(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return fmt.Errorf("show model: %w", err)
	}
	return h.answer(c, http.StatusOK, m)
}

// Create describes the table or query in the warehouse and saves the model; too many
// duplicate keys refuse it (422 on primary_key).
func (h *ModelAPI) Create(c echo.Context) error {
	var in apiModelInput
	if err := apiDecode(c, &in); err != nil {
		return err
	}
	var req warehouse.ModelRequest
	if err := in.apply(&req); err != nil {
		return err
	}
	m, err := h.wh.CreateModel(c.Request().Context(), actor(c), req)
	if err != nil {
		return fmt.Errorf("create model: %w", err)
	}
	return h.answer(c, http.StatusCreated, m)
}

// Update changes any of a model's fields; the others keep their values, and the whole
// model is described in the warehouse again.
func (h *ModelAPI) Update(c echo.Context) error {
	var in apiModelInput
	if err := apiDecode(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	m, err := h.store.ModelByID(ctx, workspaceID(c), c.Param("id"))
	if err != nil {
		return fmt.Errorf("update model: %w", err)
	}
	req := warehouse.ModelRequest{SourceID: m.SourceID, Name: m.Name, PrimaryKey: m.PrimaryKey, SQL: m.SQLText}
	if m.SQLText == "" {
		req.Table = &connectors.Table{Schema: m.TableSchema, Name: m.TableName}
	}
	if err := in.apply(&req); err != nil {
		return err
	}
	if m, err = h.wh.UpdateModel(ctx, actor(c), m.ID, req); err != nil {
		return fmt.Errorf("update model: %w", err)
	}
	return h.answer(c, http.StatusOK, m)
}

// Delete removes a model no segment uses; otherwise 409 lists the segments.
func (h *ModelAPI) Delete(c echo.Context) error {
	if err := h.store.DeleteModel(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return fmt.Errorf("delete model: %w", err)
	}
	return c.NoContent(http.StatusNoContent)
}

// Validate compares the model with the warehouse (schema issues, duplicate keys).
func (h *ModelAPI) Validate(c echo.Context) error {
	m, err := h.wh.ValidateModel(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return fmt.Errorf("validate model: %w", err)
	}
	return h.answer(c, http.StatusOK, m)
}

// DetectDuplicates counts the model's duplicate primary keys again.
func (h *ModelAPI) DetectDuplicates(c echo.Context) error {
	m, err := h.wh.DetectDuplicates(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return fmt.Errorf("detect duplicates: %w", err)
	}
	return h.answer(c, http.StatusOK, m)
}

// ---- segments ----

// SegmentAPI serves /api/v1/segments.
type SegmentAPI struct{ *Server }

// apiSegmentJSON is API.md's segment.
type apiSegmentJSON struct {
	ID         string          `json:"id"`
	ModelID    string          `json:"model_id"`
	Name       string          `json:"name"`
	Conditions json.RawMessage `json:"conditions"`
	SQLPreview *string         `json:"sql_preview"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
}

// apiSegmentInput is the body of POST and PATCH /segments.
type apiSegmentInput struct {
	ModelID    *string             `json:"model_id"`
	Name       *string             `json:"name"`
	Conditions *segments.Condition `json:"conditions"`
}

func apiSegment(g *models.Segment) (apiSegmentJSON, error) {
	cond := json.RawMessage(g.ConditionsJSON)
	if !json.Valid(cond) {
		cond = json.RawMessage("null")
	}
	return apiSegmentJSON{ID: g.ID, ModelID: g.ModelID, Name: g.Name, Conditions: cond,
		CreatedAt: apiTime(g.CreatedAt), UpdatedAt: apiTime(g.UpdatedAt)}, nil
}

// answer shows one segment with its SQL. The warehouse has no way yet to compile without
// counting, so the preview comes from a count; if the warehouse cannot answer, the
// segment is still shown, without its preview.
func (h *SegmentAPI) answer(c echo.Context, status int, g *models.Segment) error {
	body, err := apiSegment(g)
	if err != nil {
		return err
	}
	if cond, err := warehouse.Conditions(g); err == nil {
		if est, err := h.wh.Count(c.Request().Context(), workspaceID(c), g.ModelID, cond); err == nil {
			body.SQLPreview = &est.SQL
		}
	}
	return c.JSON(status, body)
}

// Index lists the workspace's segments; ?model_id= narrows to one model.
func (h *SegmentAPI) Index(c echo.Context) error {
	list, err := h.store.ListSegments(c.Request().Context(), workspaceID(c), c.QueryParam("model_id"))
	if err != nil {
		return fmt.Errorf("list segments: %w", err)
	}
	page, next, err := apiPage(c, list, func(g models.Segment) (string, string) { return g.ID, g.Name })
	if err != nil {
		return err
	}
	items, err := apiMapList(page, apiSegment)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listAnswer[apiSegmentJSON]{Items: items, NextCursor: next})
}

// Show answers one segment.
func (h *SegmentAPI) Show(c echo.Context) error {
	g, err := h.store.SegmentByID(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return fmt.Errorf("show segment: %w", err)
	}
	return h.answer(c, http.StatusOK, g)
}

// Create checks the conditions against the model's columns and saves the segment.
func (h *SegmentAPI) Create(c echo.Context) error {
	var in apiSegmentInput
	if err := apiDecode(c, &in); err != nil {
		return err
	}
	if in.Conditions == nil {
		return &models.FieldError{Field: segments.RootPath, Message: `Give the segment's conditions, e.g. {"all": []} for every row.`}
	}
	req := warehouse.SegmentRequest{Conditions: *in.Conditions}
	if in.ModelID != nil {
		req.ModelID = *in.ModelID
	}
	if in.Name != nil {
		req.Name = *in.Name
	}
	g, err := h.wh.SaveSegment(c.Request().Context(), actor(c), "", req)
	if err != nil {
		return fmt.Errorf("create segment: %w", err)
	}
	return h.answer(c, http.StatusCreated, g)
}

// Update changes any of a segment's fields; the others keep their values.
func (h *SegmentAPI) Update(c echo.Context) error {
	var in apiSegmentInput
	if err := apiDecode(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	g, err := h.store.SegmentByID(ctx, workspaceID(c), c.Param("id"))
	if err != nil {
		return fmt.Errorf("update segment: %w", err)
	}
	req := warehouse.SegmentRequest{ModelID: g.ModelID, Name: g.Name}
	if in.Conditions != nil {
		req.Conditions = *in.Conditions
	} else if req.Conditions, err = warehouse.Conditions(g); err != nil {
		return fmt.Errorf("update segment: stored conditions: %w", err)
	}
	if in.ModelID != nil {
		req.ModelID = *in.ModelID
	}
	if in.Name != nil {
		req.Name = *in.Name
	}
	if g, err = h.wh.SaveSegment(ctx, actor(c), g.ID, req); err != nil {
		return fmt.Errorf("update segment: %w", err)
	}
	return h.answer(c, http.StatusOK, g)
}

// Delete removes a segment.
func (h *SegmentAPI) Delete(c echo.Context) error {
	if err := h.store.DeleteSegment(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return fmt.Errorf("delete segment: %w", err)
	}
	return c.NoContent(http.StatusNoContent)
}

// apiCountJSON is the answer of GET /segments/{id}/count.
type apiCountJSON struct {
	Count int64 `json:"count"`
}

// Count counts the segment's rows in the warehouse, now.
func (h *SegmentAPI) Count(c echo.Context) error {
	ctx, ws := c.Request().Context(), workspaceID(c)
	g, err := h.store.SegmentByID(ctx, ws, c.Param("id"))
	if err != nil {
		return fmt.Errorf("count segment: %w", err)
	}
	cond, err := warehouse.Conditions(g)
	if err != nil {
		return fmt.Errorf("count segment: stored conditions: %w", err)
	}
	est, err := h.wh.Count(ctx, ws, g.ModelID, cond)
	if err != nil {
		return fmt.Errorf("count segment: %w", err)
	}
	return c.JSON(http.StatusOK, apiCountJSON{Count: est.Count})
}

// apiRemapInput is the body of POST /models/{id}/remap.
type apiRemapInput struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Remap associates a new column with an old one: the model's snapshot, key and every
// segment that used `from` now use `to`.
func (h *ModelAPI) Remap(c echo.Context) error {
	var in apiRemapInput
	if err := apiDecode(c, &in); err != nil {
		return err
	}
	m, err := h.wh.RemapColumn(c.Request().Context(), actor(c), c.Param("id"), in.From, in.To)
	if err != nil {
		return fmt.Errorf("remap model: %w", err)
	}
	return h.answer(c, http.StatusOK, m)
}
