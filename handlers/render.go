package handlers

import (
	"bytes"
	"fmt"
	"strings"
	"sync"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"sluice/views/components"
)

// isHTMX is true for requests htmx makes.
func isHTMX(c echo.Context) bool { return c.Request().Header.Get("HX-Request") == "true" }

// wantsPartial is true when htmx swaps part of a page: not for boosted navigation or a
// history restore, which need the whole page.
func wantsPartial(c echo.Context) bool {
	h := c.Request().Header
	return isHTMX(c) && h.Get("HX-Boosted") != "true" && h.Get("HX-History-Restore-Request") != "true"
}

// render writes page, or partial when htmx asks for a fragment. The output is buffered,
// so a failed render still becomes a proper error answer.
func (s *Server) render(c echo.Context, status int, page, partial templ.Component) error {
	c.Response().Header().Add("Vary", "HX-Request")
	comp, full := page, true
	if partial != nil && wantsPartial(c) {
		comp, full = partial, false
	}
	p, err := s.pageContext(c)
	if err != nil {
		return err
	}
	if full && memberOf(c) > 1 {
		if p.Workspaces, err = s.store.WorkspacesOf(c.Request().Context(), currentUser(c).ID); err != nil {
			return fmt.Errorf("render: %w", err)
		}
	}
	buf := renderBuffers.Get().(*bytes.Buffer)
	defer putRenderBuffer(buf)
	if err := comp.Render(components.WithPage(c.Request().Context(), p), buf); err != nil {
		return fmt.Errorf("render: %w", err)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// renderBuffers keeps the buffers pages are rendered into: a list page is tens of
// kilobytes, and growing a new buffer to that size for every request showed in the
// profiles of a loaded server (growslice, 6% of its CPU on /activations).
var renderBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putRenderBuffer(buf *bytes.Buffer) {
	if buf.Cap() > 1<<20 { // a rare huge page is not kept
		return
	}
	buf.Reset()
	renderBuffers.Put(buf)
}

// pageContext gathers what every view may show, and pops the flashes.
func (s *Server) pageContext(c echo.Context) (*components.Page, error) {
	p := &components.Page{
		User:      currentUser(c),
		Workspace: currentWorkspace(c),
		Path:      c.Request().URL.Path,
		Reverse:   s.paths.Reverse,
	}
	if sess := session(c); sess != nil {
		p.CSRF, _ = sess.Values[sessCSRF].(string)
		if raw := sess.Flashes(); len(raw) > 0 {
			for _, f := range raw {
				kind, msg, _ := strings.Cut(fmt.Sprint(f), "|")
				p.Flashes = append(p.Flashes, components.Flash{Kind: kind, Message: msg})
			}
			if err := saveSession(c); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}
