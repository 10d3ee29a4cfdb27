package handlers

import (
	"testing"

	"github.com/labstack/echo/v4"
)

// routePaths reverses every named route as echo does, with and without parameters.
func TestRoutePathsReverseAsEcho(t *testing.T) {
	e := echo.New()
	h := func(echo.Context) error { return nil }
	for name, path := range map[string]string{"home": "/", "list": "/activations", "show": "/activations/:id",
		"two": "/runs/:id/issues/:stage", "static": "/static/*", "colon": "/a\\:b/:id"} {
		e.GET(path, h).Name = name
	}
	e.POST("/activations/:id", h).Name = "show" // a second route of the same name and path
	paths := newRoutePaths(e)
	for _, name := range []string{"home", "list", "show", "two", "static", "colon", "unknown"} {
		for _, params := range [][]any{nil, {"a-1"}, {"a-1", "source"}, {42}} {
			if got, want := paths.Reverse(name, params...), e.Reverse(name, params...); got != want {
				t.Errorf("Reverse(%q, %v) = %q, echo says %q", name, params, got, want)
			}
		}
	}
}
