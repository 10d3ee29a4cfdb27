package handlers

import (
	"encoding/base64"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"sluice/models"
)

// IssueAPI serves /api/v1/issues: the open validation issues of sources and models.
type IssueAPI struct{ *Server }

// apiValidationIssueJSON is API.md's validation issue.
type apiValidationIssueJSON struct {
	ID          string       `json:"id"`
	ObjectType  string       `json:"object_type"`
	ObjectID    string       `json:"object_id"`
	Column      string       `json:"column"`
	Kind        string       `json:"kind"`
	Message     string       `json:"message"`
	FirstSeenAt apiTimestamp `json:"first_seen_at"`
	LastSeenAt  apiTimestamp `json:"last_seen_at"`
}

func apiValidationIssue(is *models.ValidationIssue) apiValidationIssueJSON {
	return apiValidationIssueJSON{ID: is.ID, ObjectType: is.ObjectType, ObjectID: is.ObjectID, Column: is.Column, Kind: is.Kind,
		Message: is.Message, FirstSeenAt: apiTime(is.FirstSeenAt), LastSeenAt: apiTime(is.LastSeenAt)}
}

// Index lists the workspace's open validation issues, oldest first; ?object_id= and
// ?kind= narrow them.
func (h *IssueAPI) Index(c echo.Context) error {
	limit, err := apiLimit(c)
	if err != nil {
		return err
	}
	f := models.IssuesFilter{ObjectID: c.QueryParam("object_id"), Kind: c.QueryParam("kind"), Limit: limit + 1}
	if cur := c.QueryParam("cursor"); cur != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cur)
		if err != nil || len(raw) == 0 {
			return apiBadCursor()
		}
		f.After = string(raw)
	}
	list, err := h.store.OpenIssues(c.Request().Context(), workspaceID(c), f)
	if err != nil {
		return fmt.Errorf("list issues: %w", err)
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(list[limit-1].ID))
	}
	items := make([]apiValidationIssueJSON, len(list))
	for i := range list {
		items[i] = apiValidationIssue(&list[i])
	}
	return c.JSON(http.StatusOK, listAnswer[apiValidationIssueJSON]{Items: items, NextCursor: next})
}

// openIssuesOf is the open validation issues of one source or model, for its answer.
func openIssuesOf(c echo.Context, store *models.Store, objectID string) ([]apiValidationIssueJSON, error) {
	list, err := store.OpenIssues(c.Request().Context(), workspaceID(c), models.IssueFilterOf(objectID, ""))
	if err != nil {
		return nil, fmt.Errorf("open issues: %w", err)
	}
	out := make([]apiValidationIssueJSON, len(list))
	for i := range list {
		out[i] = apiValidationIssue(&list[i])
	}
	return out, nil
}
