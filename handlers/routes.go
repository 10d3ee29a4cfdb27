package handlers

import (
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"sluice/models"
	"sluice/static"
)

// routes is every route of Sluice, in one place. Names are reversed by views and
// redirects; no URL is built by hand.
func (s *Server) routes(e *echo.Echo, m *metrics, reg *prometheus.Registry) {
	// Client addresses come from the connection: X-Forwarded-For is not trusted by default.
	e.IPExtractor = echo.ExtractIPDirect()
	e.Use(middleware.RequestID(), s.logRequests(), m.middleware, middleware.Recover(),
		middleware.BodyLimit("2M"), middleware.SecureWithConfig(middleware.SecureConfig{
			XSSProtection: "0", ContentTypeNosniff: "nosniff", XFrameOptions: "DENY",
			ReferrerPolicy:        "same-origin",
			ContentSecurityPolicy: "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
		}))

	e.GET("/healthz", s.Healthz).Name = "healthz"
	e.GET("/readyz", s.Readyz).Name = "readyz"
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))).Name = "metrics"
	e.GET("/static/*", echo.StaticDirectoryHandler(static.FS, false), cacheFor(3600)).Name = "static"

	api := e.Group("/api/v1", s.apiAuth)
	api.GET("/activations", s.APIListActivations).Name = "api.activations.index"

	web := e.Group("", s.loadSession, s.checkCSRF)
	web.GET("/setup", s.SetupForm).Name = "auth.setup"
	web.POST("/setup", s.Setup)
	web.GET("/login", s.LoginForm).Name = "auth.login"
	web.POST("/login", s.Login)
	web.POST("/logout", s.Logout).Name = "auth.logout"

	app := web.Group("", s.requireUser)
	app.GET("/", s.Home).Name = "home"
	app.GET("/activations", s.Activations).Name = "activations.index"
	app.GET("/segments", s.Segments).Name = "segments.index"
	app.GET("/models", s.Models).Name = "models.index"
	app.GET("/sources", s.Sources).Name = "sources.index"
	app.GET("/settings", s.Settings).Name = "settings"
	app.GET("/settings/platforms", s.Platforms).Name = "platforms.index"
	app.GET("/settings/alerts", s.Alerts).Name = "alerts.index"

	admin := app.Group("/settings", requireRole(models.RoleAdmin))
	users := &UserHandler{s}
	admin.GET("/users", users.Index).Name = "users.index"
	admin.POST("/users", users.Create).Name = "users.create"
	admin.POST("/users/:id", users.Update).Name = "users.update"
	admin.DELETE("/users/:id", users.Delete).Name = "users.delete"
	tokens := &TokenHandler{s}
	admin.GET("/tokens", tokens.Index).Name = "tokens.index"
	admin.POST("/tokens", tokens.Create).Name = "tokens.create"
	admin.DELETE("/tokens/:id", tokens.Delete).Name = "tokens.delete"
	admin.GET("/audit", (&AuditHandler{s}).Index).Name = "audit.index"
}

// cacheFor lets browsers keep static files for a while.
func cacheFor(seconds int) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(seconds))
			return next(c)
		}
	}
}
