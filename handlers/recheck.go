package handlers

import (
	"github.com/labstack/echo/v4"
)

// recheckThresholds follows a "Validate now": the activations reading these models that
// were paused for too many source issues are re-checked (rows read, nothing sent), and
// those back under their threshold resume. It answers the names of those resumed.
func (s *Server) recheckThresholds(c echo.Context, modelIDs []string) []string {
	if s.runs == nil || len(modelIDs) == 0 {
		return nil
	}
	var names []string
	for _, a := range s.runs.RecheckThresholdsOnModels(c.Request().Context(), workspaceID(c), modelIDs) {
		names = append(names, a.Name)
	}
	return names
}

// recheckSourceThresholds is recheckThresholds for every model of a source.
func (s *Server) recheckSourceThresholds(c echo.Context, sourceID string) []string {
	dms, err := s.store.ListModels(c.Request().Context(), workspaceID(c), sourceID)
	if err != nil {
		return nil // the validation itself succeeded; the daily job re-checks them too
	}
	ids := make([]string, len(dms))
	for i, m := range dms {
		ids[i] = m.ID
	}
	return s.recheckThresholds(c, ids)
}
