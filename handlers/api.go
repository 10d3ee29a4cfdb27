package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"sluice/models"
)

// listAnswer is API.md's list shape.
type listAnswer[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// apiAuth admits requests bearing a valid token; the token's workspace and role then
// scope the request exactly as a signed-in user's would.
func (s *Server) apiAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		scheme, value, ok := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(value) == "" {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="sluice"`)
			return echo.NewHTTPError(http.StatusUnauthorized, "Send an API token: Authorization: Bearer <token>.")
		}
		// A valid token is served; an address that sent too many bad ones waits.
		t, err := s.store.APITokenFrom(c.Request().Context(), strings.TrimSpace(value), c.RealIP())
		if wait, ok := throttleWait(err); ok {
			return tooMany(c, wait, "Too many requests with a wrong API token from your address.")
		}
		if errors.Is(err, models.ErrNotFound) {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="sluice", error="invalid_token"`)
			return echo.NewHTTPError(http.StatusUnauthorized, "This API token is not valid. It may have been revoked.")
		}
		if err != nil {
			return fmt.Errorf("api auth: %w", err)
		}
		c.Set(keyActor, t.Actor())
		return next(c)
	}
}
