package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// Home sends signed-in users to the activations list, the daily view.
func (s *Server) Home(c echo.Context) error {
	return c.Redirect(http.StatusSeeOther, c.Echo().Reverse("activations.index"))
}

// Settings opens the first settings section.
func (s *Server) Settings(c echo.Context) error {
	return c.Redirect(http.StatusSeeOther, c.Echo().Reverse("platforms.index"))
}
