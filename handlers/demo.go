package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sluice/demo"
	"sluice/models"
)

// RemoveDemo deletes the demo's objects and its warehouse (admin; the banner's "Remove
// demo data" confirms first), leaving what users made.
func (s *Server) RemoveDemo(c echo.Context) error {
	// While the story is being made, its platforms and activations are not all recorded
	// as the demo's yet: removing now would leave some behind.
	ws, err := s.store.WorkspaceByID(c.Request().Context(), actor(c).WorkspaceID)
	if err != nil {
		return err
	}
	if ws.HoldsDemo() && ws.DemoStory == models.DemoStoryPreparing {
		if err := flash(c, "warning", "The demo is still being prepared: remove it once the banner says it is ready, in a few seconds."); err != nil {
			return err
		}
		return redirect(c, c.Echo().Reverse("activations.index"))
	}
	if err := demo.Remove(c.Request().Context(), s.store, s.core, actor(c), s.cfg.DataDir); err != nil {
		return err
	}
	if err := flash(c, "success", "The demo data was removed: its activations, runs, platforms, segments, models, source and warehouse."); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("activations.index"))
}

// DemoStory answers the banner's poll while the demo is being prepared: nothing while it
// is, and a reload of the page once it is done, so its activations appear by themselves.
func (s *Server) DemoStory(c echo.Context) error {
	ws, err := s.store.WorkspaceByID(c.Request().Context(), actor(c).WorkspaceID)
	if err != nil {
		return err
	}
	if ws.PreparingDemo() {
		return c.NoContent(http.StatusNoContent)
	}
	c.Response().Header().Set("HX-Refresh", "true")
	return c.NoContent(http.StatusOK)
}
