package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"sluice/models"
	"sluice/views/incidentsview"
)

// IncidentHandler lists the workspace's incidents; every signed-in role reads them.
type IncidentHandler struct{ *Server }

// incidentsPage is how many incidents one page shows.
const incidentsPage = 20

// Index shows one page of the open (default) or resolved incidents, newest first, by
// keyset: ?before= is the last incident of the previous page (its opening time and id),
// so every page costs the same whatever the workspace's history; ?from= is how many
// came before, for the "21–40" label only. ?activation=<id> narrows them to one
// activation.
func (h *IncidentHandler) Index(c echo.Context) error {
	ctx := c.Request().Context()
	ws := workspaceID(c)
	status := c.QueryParam("status")
	if status != models.IncidentsResolved {
		status = models.IncidentsOpen
	}
	var cursor *models.IncidentCursor
	if v := c.QueryParam("before"); v != "" {
		var ok bool
		if cursor, ok = parseIncidentCursor(v); !ok {
			return echo.NewHTTPError(http.StatusBadRequest, "This page link is broken: open the incidents from the menu.")
		}
	}
	from, err := strconv.Atoi(c.QueryParam("from"))
	if err != nil || from < 0 || cursor == nil {
		from = 0
	}
	f := models.IncidentFilter{Status: status}
	p := incidentsview.Props{Status: status}
	if id := c.QueryParam("activation"); id != "" {
		act, err := h.store.ActivationByID(ctx, ws, id)
		if err != nil {
			return err
		}
		f.ObjectType, f.ObjectID, p.ObjectName = models.IncidentActivation, act.ID, act.Name
	}
	list, err := h.store.IncidentsBefore(ctx, ws, f, cursor, incidentsPage+1)
	if err != nil {
		return fmt.Errorf("list incidents: %w", err)
	}
	link := func(status string, after *models.Incident, from int) string {
		q := url.Values{"status": {status}}
		if f.ObjectID != "" {
			q.Set("activation", f.ObjectID)
		}
		if after != nil {
			q.Set("before", incidentCursor(after))
			q.Set("from", strconv.Itoa(from))
		}
		return c.Echo().Reverse("incidents.index") + "?" + q.Encode()
	}
	p.OpenURL, p.ResolvedURL = link(models.IncidentsOpen, nil, 0), link(models.IncidentsResolved, nil, 0)
	if cursor != nil {
		p.FirstURL = link(status, nil, 0)
	}
	if len(list) > incidentsPage {
		list = list[:incidentsPage]
		p.NextURL = link(status, &list[len(list)-1], from+len(list))
	}
	p.Incidents = list
	if len(list) > 0 {
		p.From, p.To = from+1, from+len(list)
	}
	return h.render(c, http.StatusOK, incidentsview.Page(p), nil)
}

// incidentCursor is the ?before= of the page after in: its opening time and id.
func incidentCursor(in *models.Incident) string {
	return strconv.FormatInt(in.OpenedAt.UnixNano(), 10) + "." + in.ID
}

// parseIncidentCursor reads incidentCursor's form back.
func parseIncidentCursor(v string) (*models.IncidentCursor, bool) {
	at, id, ok := strings.Cut(v, ".")
	nanos, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || id == "" {
		return nil, false
	}
	return &models.IncidentCursor{OpenedAt: time.Unix(0, nanos).UTC(), ID: id}, true
}
