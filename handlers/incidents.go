package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"sluice/models"
	"sluice/views/incidentsview"
)

// IncidentHandler lists the workspace's incidents; every signed-in role reads them.
type IncidentHandler struct{ *Server }

// incidentsPage is how many incidents one page shows.
const incidentsPage = 20

// Index shows one page of the open (default) or resolved incidents, newest first;
// ?activation=<id> narrows them to one activation.
func (h *IncidentHandler) Index(c echo.Context) error {
	ctx := c.Request().Context()
	ws := workspaceID(c)
	status := c.QueryParam("status")
	if status != models.IncidentsResolved {
		status = models.IncidentsOpen
	}
	page, err := strconv.Atoi(c.QueryParam("page"))
	if err != nil || page < 1 {
		page = 1
	}
	f := models.IncidentFilter{Status: status, Offset: (page - 1) * incidentsPage, Limit: incidentsPage}
	p := incidentsview.Props{Status: status}
	if id := c.QueryParam("activation"); id != "" {
		act, err := h.store.ActivationByID(ctx, ws, id)
		if err != nil {
			return err
		}
		f.ObjectType, f.ObjectID, p.ObjectName = models.IncidentActivation, act.ID, act.Name
	}
	p.Incidents, p.Total, err = h.store.Incidents(ctx, ws, f)
	if err != nil {
		return fmt.Errorf("list incidents: %w", err)
	}
	link := func(status string, page int) string {
		q := url.Values{"status": {status}}
		if f.ObjectID != "" {
			q.Set("activation", f.ObjectID)
		}
		if page > 1 {
			q.Set("page", strconv.Itoa(page))
		}
		return c.Echo().Reverse("incidents.index") + "?" + q.Encode()
	}
	p.OpenURL, p.ResolvedURL = link(models.IncidentsOpen, 1), link(models.IncidentsResolved, 1)
	if page > 1 {
		p.PrevURL = link(status, page-1)
	}
	if int64(f.Offset+len(p.Incidents)) < p.Total {
		p.NextURL = link(status, page+1)
	}
	if len(p.Incidents) > 0 {
		p.From, p.To = f.Offset+1, f.Offset+len(p.Incidents)
	}
	return h.render(c, http.StatusOK, incidentsview.Page(p), nil)
}
