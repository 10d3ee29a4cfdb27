package handlers

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"sluice/models"
)

// IncidentAPI lists the workspace's incidents.
type IncidentAPI struct{ *Server }

type apiIncidentJSON struct {
	ID          string        `json:"id"`
	ObjectType  string        `json:"object_type"`
	ObjectID    string        `json:"object_id"`
	Category    string        `json:"category"`
	Message     string        `json:"message"`
	OpenedAt    apiTimestamp  `json:"opened_at"`
	ResolvedAt  *apiTimestamp `json:"resolved_at"`
	Occurrences int           `json:"occurrences"`
}

// List answers GET /api/v1/incidents?status=open|resolved, newest first; next_cursor
// pages on.
func (h *IncidentAPI) List(c echo.Context) error {
	status := c.QueryParam("status")
	switch status {
	case "", models.IncidentsOpen, models.IncidentsResolved:
	default:
		return &models.FieldError{Field: "status", Message: "status must be open or resolved."}
	}
	limit, err := apiLimit(c)
	if err != nil {
		return err
	}
	offset := 0
	if v := c.QueryParam("cursor"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			return apiBadCursor()
		}
	}
	list, total, err := h.store.Incidents(c.Request().Context(), workspaceID(c), models.IncidentFilter{Status: status, Offset: offset, Limit: limit})
	if err != nil {
		return fmt.Errorf("list incidents: %w", err)
	}
	items := make([]apiIncidentJSON, len(list))
	for i, in := range list {
		cat := in.Category
		if cat == "" {
			cat = in.Event
		}
		items[i] = apiIncidentJSON{ID: in.ID, ObjectType: in.ObjectType, ObjectID: in.ObjectID, Category: cat, Message: in.Message,
			OpenedAt: apiTime(in.OpenedAt), ResolvedAt: apiTimeOrNull(in.ResolvedAt), Occurrences: in.Occurrences}
	}
	next := ""
	if int64(offset+len(list)) < total {
		next = strconv.Itoa(offset + len(list))
	}
	return c.JSON(http.StatusOK, listAnswer[apiIncidentJSON]{Items: items, NextCursor: next})
}
