package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"sluice/core"
	"sluice/models"
)

// This file is the JSON API of "Copy to workspace…". Choices where API.md is silent:
//
//   - A token acts in its own workspace only, so a copy names its target by a second
//     token, of the target workspace, in the Sluice-Target-Token header: both tokens
//     editors or above, their workspaces two of one organization. The header is a
//     secret like Authorization, never echoed; a wrong value counts as a wrong token.
//   - "dry_run": true answers the preview (200) and creates nothing. A preview whose
//     copy cannot be made as mapped says why in "problem", with the choices, so that a
//     client can pick another source_id or platform_id; the same copy made for real is
//     422 with that message and field.

// CopyAPI serves POST /api/v1/copies.
type CopyAPI struct{ *Server }

var errCopyTokensForbidden = echo.NewHTTPError(http.StatusForbidden, "Copying needs tokens of the editor role (or above) in both workspaces.")

// copyTargetHeader carries the target workspace's token.
const copyTargetHeader = "Sluice-Target-Token"

// apiCopyInput is the body of POST /copies.
type apiCopyInput struct {
	Kind       string `json:"kind"`
	ID         string `json:"id"`
	SourceID   string `json:"source_id"`
	PlatformID string `json:"platform_id"`
	DryRun     bool   `json:"dry_run"`
}

// apiCopyRefJSON names a workspace, or a source or platform to map onto, by id and name.
type apiCopyRefJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// apiCopyItemJSON is one object the copy creates; ID is null in a dry run.
type apiCopyItemJSON struct {
	Kind string  `json:"kind"`
	ID   *string `json:"id"`
	Name string  `json:"name"`
	Note string  `json:"note"`
}

type apiCopyMappingJSON struct {
	Kind     string           `json:"kind"`
	From     string           `json:"from"`
	FromKind string           `json:"from_kind"`
	ToID     *string          `json:"to_id"`
	ToName   *string          `json:"to_name"`
	ByName   bool             `json:"by_name"`
	Options  []apiCopyRefJSON `json:"options"`
}

type apiCopyProblemJSON struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// apiCopyJSON is a copy, previewed or made.
type apiCopyJSON struct {
	DryRun          bool                 `json:"dry_run"`
	TargetWorkspace apiCopyRefJSON       `json:"target_workspace"`
	Items           []apiCopyItemJSON    `json:"items"`
	Mappings        []apiCopyMappingJSON `json:"mappings"`
	Problem         *apiCopyProblemJSON  `json:"problem"`
}

func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Create previews (dry_run) or makes a copy of a model, segment or activation of the
// token's workspace into the target token's.
func (h *CopyAPI) Create(c echo.Context) error {
	ctx := c.Request().Context()
	var in apiCopyInput
	if err := apiDecode(c, &in); err != nil {
		return err
	}
	switch in.Kind {
	case "model", "segment", "activation":
	default:
		return &models.FieldError{Field: "kind", Message: "kind must be model, segment or activation."}
	}
	if strings.TrimSpace(in.ID) == "" {
		return &models.FieldError{Field: "id", Message: "Give the id of the " + in.Kind + " to copy."}
	}
	value := strings.TrimSpace(c.Request().Header.Get(copyTargetHeader))
	if value == "" {
		return echo.NewHTTPError(http.StatusUnauthorized, "Send a token of the target workspace in the "+copyTargetHeader+" header (an editor's or above).")
	}
	t, err := h.store.CopyTargetToken(ctx, actor(c), value, c.RealIP())
	if wait, ok := throttleWait(err); ok {
		return tooMany(c, wait, "Too many requests with a wrong API token from your address.")
	}
	switch {
	case errors.Is(err, models.ErrForbidden):
		return errCopyTokensForbidden
	case models.IsNotFound(err):
		return echo.NewHTTPError(http.StatusUnauthorized, "The "+copyTargetHeader+" header holds no token of another workspace of this organization: it may have been revoked, or belong to this same workspace.")
	case err != nil:
		return fmt.Errorf("copy target: %w", err)
	}
	plan, err := h.core.PlanCopy(ctx, actor(c), t, in.Kind, in.ID, core.CopyChoices{SourceID: in.SourceID, PlatformID: in.PlatformID})
	if errors.Is(err, models.ErrForbidden) { // a role lowered since
		return errCopyTokensForbidden
	}
	if err != nil {
		return fmt.Errorf("plan copy: %w", err)
	}
	body := apiCopyJSON{DryRun: in.DryRun, TargetWorkspace: apiCopyRefJSON{plan.Target.ID, plan.Target.Name},
		Items: []apiCopyItemJSON{}, Mappings: []apiCopyMappingJSON{}}
	for _, m := range plan.Mappings {
		jm := apiCopyMappingJSON{Kind: m.Kind, From: m.From, FromKind: m.FromKind, ToID: orNull(m.ToID), ToName: orNull(m.ToName),
			ByName: m.ByName, Options: []apiCopyRefJSON{}}
		for _, o := range m.Options {
			jm.Options = append(jm.Options, apiCopyRefJSON{o.ID, o.Name})
		}
		body.Mappings = append(body.Mappings, jm)
	}
	if in.DryRun {
		for _, it := range plan.Items {
			body.Items = append(body.Items, apiCopyItemJSON{Kind: it.Kind, Name: it.Name, Note: it.Note})
		}
		if pr := plan.Problem(); pr != nil {
			body.Problem = &apiCopyProblemJSON{Field: pr.Field, Message: pr.Message}
		}
		return c.JSON(http.StatusOK, body)
	}
	got, err := h.core.Copy(ctx, actor(c), plan)
	if errors.Is(err, models.ErrForbidden) {
		return errCopyTokensForbidden
	}
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	for _, it := range plan.Items {
		item := apiCopyItemJSON{Kind: it.Kind, Name: it.Name, Note: it.Note}
		switch {
		case it.Kind == "model":
			item.ID, item.Name = &got.Model.ID, got.Model.Name
		case it.Kind == "segment" && got.Segment != nil:
			item.ID, item.Name = &got.Segment.ID, got.Segment.Name
		case it.Kind == "activation" && got.Activation != nil:
			item.ID, item.Name = &got.Activation.ID, got.Activation.Name
		}
		body.Items = append(body.Items, item)
	}
	return c.JSON(http.StatusCreated, body)
}
