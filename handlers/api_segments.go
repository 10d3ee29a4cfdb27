package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"sluice/core"
	"sluice/models"
	"sluice/segments"
)

// This file is the JSON API of segments (API.md, "Resources"). Choices where API.md is
// silent:
//
//   - A segment's sql_preview is its COUNT statement for the model's source, with bind
//     placeholders ("?" or "$1") where the values go; values never appear in it. It is
//     null in lists (it needs the warehouse) and when the warehouse cannot be reached.

// SegmentAPI serves /api/v1/segments.
type SegmentAPI struct{ *Server }

// apiSegmentJSON is API.md's segment.
type apiSegmentJSON struct {
	ID         string          `json:"id"`
	ModelID    string          `json:"model_id"`
	Name       string          `json:"name"`
	Conditions json.RawMessage `json:"conditions"`
	SQLPreview *string         `json:"sql_preview"`
	CreatedAt  apiTimestamp    `json:"created_at"`
	UpdatedAt  apiTimestamp    `json:"updated_at"`
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
	if cond, err := segments.Parse(g.ConditionsJSON); err == nil {
		if est, err := h.core.Count(c.Request().Context(), workspaceID(c), g.ModelID, cond); err == nil {
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
	req := core.SegmentRequest{Conditions: *in.Conditions}
	if in.ModelID != nil {
		req.ModelID = *in.ModelID
	}
	if in.Name != nil {
		req.Name = *in.Name
	}
	g, err := h.core.SaveSegment(c.Request().Context(), actor(c), "", req)
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
	req := core.SegmentRequest{ModelID: g.ModelID, Name: g.Name}
	if in.Conditions != nil {
		req.Conditions = *in.Conditions
	} else if req.Conditions, err = segments.Parse(g.ConditionsJSON); err != nil {
		return fmt.Errorf("update segment: stored conditions: %w", err)
	}
	if in.ModelID != nil {
		req.ModelID = *in.ModelID
	}
	if in.Name != nil {
		req.Name = *in.Name
	}
	if g, err = h.core.SaveSegment(ctx, actor(c), g.ID, req); err != nil {
		return fmt.Errorf("update segment: %w", err)
	}
	return h.answer(c, http.StatusOK, g)
}

// Delete removes a segment.
func (h *SegmentAPI) Delete(c echo.Context) error {
	if err := h.core.DeleteSegment(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return fmt.Errorf("delete segment: %w", err)
	}
	return c.NoContent(http.StatusNoContent)
}

// apiCountJSON is the answer of GET /segments/{id}/count.
type apiCountJSON struct {
	Count int64 `json:"count"`
	// ScanBytes is what a run would read at most, from warehouses that bill by bytes
	// read (BigQuery's dry run); absent elsewhere.
	ScanBytes int64 `json:"scan_bytes,omitempty"`
}

// Count counts the segment's rows in the warehouse, now.
func (h *SegmentAPI) Count(c echo.Context) error {
	ctx, ws := c.Request().Context(), workspaceID(c)
	g, err := h.store.SegmentByID(ctx, ws, c.Param("id"))
	if err != nil {
		return fmt.Errorf("count segment: %w", err)
	}
	cond, err := segments.Parse(g.ConditionsJSON)
	if err != nil {
		return fmt.Errorf("count segment: stored conditions: %w", err)
	}
	est, err := h.core.Count(ctx, ws, g.ModelID, cond)
	if err != nil {
		return fmt.Errorf("count segment: %w", err)
	}
	return c.JSON(http.StatusOK, apiCountJSON{Count: est.Count, ScanBytes: est.ScanBytes})
}
