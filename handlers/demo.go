package handlers

import (
	"github.com/labstack/echo/v4"

	"sluice/demo"
)

// RemoveDemo deletes the demo's objects and its warehouse (admin; the banner's "Remove
// demo data" confirms first), leaving what users made.
func (s *Server) RemoveDemo(c echo.Context) error {
	if err := demo.Remove(c.Request().Context(), s.store, s.core, actor(c), s.cfg.DataDir); err != nil {
		return err
	}
	if err := flash(c, "success", "The demo data was removed: its activations, runs, platforms, segments, models, source and warehouse."); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("activations.index"))
}
