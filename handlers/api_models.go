package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"sluice/connectors"
	"sluice/core"
	"sluice/models"
)

// This file is the JSON API of models (API.md, "Resources"). Choices where API.md is
// silent:
//
//   - A model's table is written "schema.name" (or "name" where the source has no
//     schema); on input it may also be {"schema": …, "name": …}, which is the only way
//     to name a table with a dot in its name. table and sql are both always present,
//     one of them null.

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
	ValidatedAt *apiTimestamp       `json:"validated_at"`
	CreatedAt   apiTimestamp        `json:"created_at"`
	UpdatedAt   apiTimestamp        `json:"updated_at"`
	// OpenIssues are the model's validation issues kept over time (GET /issues' shape),
	// on answers about one model.
	OpenIssues []apiValidationIssueJSON `json:"open_issues,omitempty"`
}

// apiDuplicatesJSON is the last duplicate-key count of a model.
type apiDuplicatesJSON struct {
	Rows          int64        `json:"rows"`
	DuplicateKeys int64        `json:"duplicate_keys"`
	DuplicateRows int64        `json:"duplicate_rows"`
	NullKeys      int64        `json:"null_keys"`
	Percent       float64      `json:"percent"`
	Samples       []string     `json:"samples"`
	CheckedAt     apiTimestamp `json:"checked_at"`
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
			Percent: math.Round(d.Percent()*100) / 100, Samples: d.Samples, CheckedAt: apiTime(d.CheckedAt)}
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
func (in apiModelInput) apply(req *core.ModelRequest) error {
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
	if body.OpenIssues, err = openIssuesOf(c, h.store, m.ID); err != nil {
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
	var req core.ModelRequest
	if err := in.apply(&req); err != nil {
		return err
	}
	m, err := h.core.CreateModel(c.Request().Context(), actor(c), req)
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
	req := core.ModelRequest{SourceID: m.SourceID, Name: m.Name, PrimaryKey: m.PrimaryKey, SQL: m.SQLText}
	if m.SQLText == "" {
		req.Table = &connectors.Table{Schema: m.TableSchema, Name: m.TableName}
	}
	if err := in.apply(&req); err != nil {
		return err
	}
	if m, err = h.core.UpdateModel(ctx, actor(c), m.ID, req); err != nil {
		return fmt.Errorf("update model: %w", err)
	}
	return h.answer(c, http.StatusOK, m)
}

// Delete removes a model no segment uses; otherwise 409 lists the segments.
func (h *ModelAPI) Delete(c echo.Context) error {
	if err := h.core.DeleteModel(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return fmt.Errorf("delete model: %w", err)
	}
	return c.NoContent(http.StatusNoContent)
}

// Validate compares the model with the warehouse (schema issues, duplicate keys).
func (h *ModelAPI) Validate(c echo.Context) error {
	m, err := h.core.ValidateModel(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return fmt.Errorf("validate model: %w", err)
	}
	h.recheckThresholds(c, []string{m.ID})
	return h.answer(c, http.StatusOK, m)
}

// DetectDuplicates counts the model's duplicate primary keys again.
func (h *ModelAPI) DetectDuplicates(c echo.Context) error {
	m, err := h.core.DetectDuplicates(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return fmt.Errorf("detect duplicates: %w", err)
	}
	return h.answer(c, http.StatusOK, m)
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
	m, err := h.core.RemapColumn(c.Request().Context(), actor(c), c.Param("id"), in.From, in.To)
	if err != nil {
		return fmt.Errorf("remap model: %w", err)
	}
	return h.answer(c, http.StatusOK, m)
}
