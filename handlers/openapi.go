package handlers

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPIDocument is the OpenAPI 3.1 description of every /api/v1 route. It is written
// by hand beside the handlers it describes; TestOpenAPIDocumentsEveryRoute fails when a
// route is added without it, or when it documents an operation no route serves.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI serves the API's OpenAPI document. It needs no token, as GitHub's, Stripe's
// and most public APIs' descriptions do not: it holds no data of any workspace, only
// what docs/api.md already says, and clients and code generators fetch it before they
// have a token. Browsers may cache it for a few minutes.
func (s *Server) OpenAPI(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPIDocument)
}
