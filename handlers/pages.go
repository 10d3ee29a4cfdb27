package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sluice/views/pages"
)

// Home sends signed-in users to the activations list, the daily view.
func (s *Server) Home(c echo.Context) error {
	return c.Redirect(http.StatusSeeOther, c.Echo().Reverse("activations.index"))
}

// Settings opens the first settings section.
func (s *Server) Settings(c echo.Context) error {
	return c.Redirect(http.StatusSeeOther, c.Echo().Reverse("platforms.index"))
}

// Alerts shows the alert settings.
func (s *Server) Alerts(c echo.Context) error {
	return s.render(c, http.StatusOK, pages.AlertsPage(), nil)
}
