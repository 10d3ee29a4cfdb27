package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"sluice/connectors"
	"sluice/models"
)

// This file is the JSON API of sources (API.md, "Resources"). Choices where API.md is
// silent:
//
//   - A source's config shows its public settings as strings. A secret setting that is
//     set shows as "********" (apiSecretMask), one that is not set is left out: clients can
//     tell a password is there, never what it is. Sending "********" back for a secret
//     (a GET round-tripped into a PATCH) keeps the stored secret, like leaving it out.
//     Config values may be JSON strings, numbers or booleans ("port": 5432); a setting
//     the kind does not have is refused (422, field "config.<name>") so a typo does not
//     pass silently.

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
	ValidatedAt *apiTimestamp      `json:"validated_at"`
	CreatedAt   apiTimestamp       `json:"created_at"`
	UpdatedAt   apiTimestamp       `json:"updated_at"`
	// OpenIssues are the source's failing stages kept over time (GET /issues' shape), on
	// answers about one source.
	OpenIssues []apiValidationIssueJSON `json:"open_issues,omitempty"`
}

// apiSourceValidationJSON is the answer of POST /sources/{id}/validate.
type apiSourceValidationJSON struct {
	Status      string             `json:"status"`
	Checks      []connectors.Check `json:"checks"`
	ValidatedAt *apiTimestamp      `json:"validated_at"`
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
	maskSecrets(cfg, full)
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
	if body.OpenIssues, err = openIssuesOf(c, h.store, src.ID); err != nil {
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
		for _, sp := range h.core.Registry().SourceSpecs() {
			kinds = append(kinds, sp.Kind)
		}
		return &models.FieldError{Field: "kind", Message: "Choose the kind of source: " + strings.Join(kinds, ", ") + "."}
	}
	spec, err := h.core.SourceSpec(strings.TrimSpace(*in.Kind))
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
	src, err := h.core.CreateSource(ctx, actor(c), spec, models.SourceInput{Name: name, Config: cfg})
	if err != nil {
		return fmt.Errorf("create source: %w", err)
	}
	if src, err = h.core.ValidateSource(ctx, workspaceID(c), src.ID); err != nil {
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
	spec, specErr := h.core.SourceSpec(src.Kind)
	if in.Config != nil {
		if specErr != nil {
			return specErr
		}
		if patch.Config, err = apiConfig(in.Config, spec.Kind+" source", spec.Fields); err != nil {
			return err
		}
	}
	if src, err = h.core.UpdateSource(ctx, actor(c), src.ID, spec, patch); err != nil {
		return fmt.Errorf("update source: %w", err)
	}
	if in.Config != nil {
		if src, err = h.core.ValidateSource(ctx, ws, src.ID); err != nil {
			return fmt.Errorf("validate changed source: %w", err)
		}
	}
	return h.answer(c, http.StatusOK, src)
}

// Delete removes a source no model uses; otherwise 409 lists the models.
func (h *SourceAPI) Delete(c echo.Context) error {
	if err := h.core.DeleteSource(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return fmt.Errorf("delete source: %w", err)
	}
	return c.NoContent(http.StatusNoContent)
}

// Validate runs the five checks again and answers their outcome.
func (h *SourceAPI) Validate(c echo.Context) error {
	src, err := h.core.ValidateSource(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return fmt.Errorf("validate source: %w", err)
	}
	h.recheckSourceThresholds(c, src.ID)
	return c.JSON(http.StatusOK, apiSourceValidationJSON{Status: src.Status, Checks: apiChecks(src), ValidatedAt: apiTimeOrNull(src.ValidatedAt)})
}
