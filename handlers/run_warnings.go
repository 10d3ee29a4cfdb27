package handlers

import (
	"context"

	"github.com/labstack/echo/v4"

	"sluice/models"
	"sluice/views/runsview"
)

// syncWarnings are the stored sync warnings of r, a run read from the request's
// workspace, each with the page where to look.
func (s *Server) syncWarnings(ctx context.Context, c echo.Context, r *models.Run) ([]runsview.SyncWarning, error) {
	ws, err := s.store.RunWarnings(ctx, r)
	if err != nil {
		return nil, err
	}
	out := make([]runsview.SyncWarning, len(ws))
	for i, w := range ws {
		out[i] = runsview.SyncWarning{Kind: w.Kind, Text: w.Message}
		switch w.ObjectType {
		case models.WarnObjectModel:
			out[i].Href, out[i].LinkText = c.Echo().Reverse("models.show", w.ObjectID), "Open the model"
		case models.WarnObjectSegment:
			out[i].Href, out[i].LinkText = c.Echo().Reverse("segments.show", w.ObjectID), "Open the segment"
		case models.WarnObjectRun:
			anchor, label := "#run-timing", "See the run's stages"
			if w.Kind == models.WarnSourceIssues {
				anchor, label = "#source-issues-card", "See the source issues"
			}
			out[i].Href, out[i].LinkText = c.Echo().Reverse("runs.show", w.ObjectID)+anchor, label
		}
	}
	return out, nil
}
