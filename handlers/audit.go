package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"sluice/models"
	"sluice/views/settings"
)

// AuditHandler serves Settings → Audit log (admins only).
type AuditHandler struct{ *Server }

// Index lists audit entries, filtered by user, resource type and date range.
func (h *AuditHandler) Index(c echo.Context) error {
	ctx := c.Request().Context()
	ws := workspaceID(c)
	v := settings.AuditFilterValues{Actor: c.QueryParam("actor"), Resource: c.QueryParam("resource"), From: c.QueryParam("from"), To: c.QueryParam("to")}
	props := settings.AuditProps{Filter: v}
	var err error
	if props.Actors, err = h.store.AuditActors(ctx, ws); err != nil {
		return fmt.Errorf("audit actors: %w", err)
	}
	if props.ResourceTypes, err = h.store.AuditResourceTypes(ctx, ws); err != nil {
		return fmt.Errorf("audit resource types: %w", err)
	}
	f, problem := parseAuditFilter(v)
	if problem != "" {
		props.Error = problem
		return h.render(c, http.StatusUnprocessableEntity, settings.AuditPage(props), settings.AuditResults(props))
	}
	f.Cursor = c.QueryParam("cursor")
	var next string
	props.Entries, next, err = h.store.ListAuditEntries(ctx, ws, f)
	if errors.Is(err, models.ErrBadCursor) {
		return echo.NewHTTPError(http.StatusBadRequest, "This page link is not valid any more. Start again from the first page.")
	}
	if err != nil {
		return fmt.Errorf("audit entries: %w", err)
	}
	if next != "" {
		q := c.QueryParams()
		q.Set("cursor", next)
		props.NextURL = c.Echo().Reverse("audit.index") + "?" + url.Values(q).Encode()
	}
	return h.render(c, http.StatusOK, settings.AuditPage(props), settings.AuditPage(props))
}

// parseAuditFilter reads the dates as whole UTC days; "to" includes its day. A date that
// cannot be used comes back as the sentence to show beside the filter.
func parseAuditFilter(v settings.AuditFilterValues) (f models.AuditFilter, problem string) {
	f = models.AuditFilter{ActorID: v.Actor, ResourceType: v.Resource, Limit: 50}
	if v.From != "" {
		t, err := time.Parse(time.DateOnly, v.From)
		if err != nil {
			return f, "The start date is not a date (YYYY-MM-DD)."
		}
		f.From = t
	}
	if v.To != "" {
		t, err := time.Parse(time.DateOnly, v.To)
		if err != nil {
			return f, "The end date is not a date (YYYY-MM-DD)."
		}
		f.To = t.AddDate(0, 0, 1)
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, "The start date must be on or before the end date."
	}
	return f, ""
}
