package handlers

import (
	"github.com/labstack/echo/v4"

	"sluice/models"
)

// Context keys are private to this package; handlers use the typed helpers below.
const (
	keyUser      = "sluice.user"
	keyWorkspace = "sluice.workspace"
	keyActor     = "sluice.actor"
	keySession   = "sluice.session"
	keySessionID = "sluice.session_id"
	keyMemberOf  = "sluice.member_of"
)

// currentUser is the signed-in user, nil for API calls and signed-out visitors.
func currentUser(c echo.Context) *models.User {
	u, _ := c.Get(keyUser).(*models.User)
	return u
}

// currentWorkspace is the workspace of the signed-in user, nil when signed out.
func currentWorkspace(c echo.Context) *models.Workspace {
	w, _ := c.Get(keyWorkspace).(*models.Workspace)
	return w
}

// actor is who acts in this request: the signed-in user or the API token.
func actor(c echo.Context) models.Actor {
	a, _ := c.Get(keyActor).(models.Actor)
	return a
}

// currentSessionID is the id of the signed-in browser's server-side session, "" for API
// calls and signed-out visitors.
func currentSessionID(c echo.Context) string {
	id, _ := c.Get(keySessionID).(string)
	return id
}

// workspaceID scopes every store call of the request.
func workspaceID(c echo.Context) string { return actor(c).WorkspaceID }

// memberOf is how many workspaces the signed-in user is a member of, 0 when signed out.
func memberOf(c echo.Context) int {
	n, _ := c.Get(keyMemberOf).(int)
	return n
}
