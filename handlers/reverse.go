package handlers

import (
	"fmt"
	"strings"

	"github.com/labstack/echo/v4"
)

// routePaths reverses route names to paths as echo's Reverse does, from the paths of
// the named routes gathered once: echo looks the name up among every route on each
// call, and the pages reverse a link or two per row of a list.
type routePaths map[string]string

// newRoutePaths gathers the named routes of e, once they are all registered.
func newRoutePaths(e *echo.Echo) routePaths {
	m := routePaths{}
	for _, r := range e.Routes() {
		if _, seen := m[r.Name]; r.Name != "" && !seen {
			m[r.Name] = r.Path
		}
	}
	return m
}

// Reverse is the path of the route called name, each ":param" (or "*") replaced by the
// next of params; "" for an unknown name, as with echo.
func (m routePaths) Reverse(name string, params ...any) string {
	path, ok := m[name]
	if !ok {
		return ""
	}
	if !strings.ContainsAny(path, ":*") {
		return path
	}
	var b strings.Builder
	b.Grow(len(path) + 40) // a parameter is most often an id of 36 characters
	n := 0
	for i := 0; i < len(path); i++ {
		escaped := path[i] == '\\'
		if escaped && i+1 < len(path) && path[i+1] == ':' {
			i++ // "\:" is a colon, not a parameter
		}
		if n < len(params) && (path[i] == '*' || (!escaped && path[i] == ':')) {
			for i < len(path) && path[i] != '/' {
				i++
			}
			if s, ok := params[n].(string); ok {
				b.WriteString(s)
			} else {
				fmt.Fprint(&b, params[n])
			}
			n++
		}
		if i < len(path) {
			b.WriteByte(path[i])
		}
	}
	return b.String()
}
