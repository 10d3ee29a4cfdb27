// Package handlers serves Sluice's pages and its JSON API from the same stores.
package handlers

import (
	"log/slog"
	"net/http"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"sluice/config"
	"sluice/delivery"
	"sluice/models"
	"sluice/secrets"
	"sluice/warehouse"
)

// Deps is everything the HTTP layer needs, built once in main.
type Deps struct {
	Config   config.Config
	Store    *models.Store
	Secrets  *secrets.Box
	Logger   *slog.Logger
	Registry *prometheus.Registry
	// Warehouse validates sources, describes models and counts segments.
	Warehouse *warehouse.Service
	// Delivery owns platforms, activations and runs.
	Delivery *delivery.Service
}

// Server holds the handlers' shared dependencies.
type Server struct {
	cfg      config.Config
	store    *models.Store
	sessions *sessions.CookieStore
	log      *slog.Logger
	echo     *echo.Echo
	wh       *warehouse.Service
	dl       *delivery.Service
}

// New builds the echo instance with every route of Sluice.
func New(d Deps) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	store := sessions.NewCookieStore(d.Secrets.DeriveKey("session-hash", 64), d.Secrets.DeriveKey("session-block", 32))
	store.Options = &sessions.Options{
		Path:     "/",
		MaxAge:   int(sessionMaxAge.Seconds()),
		HttpOnly: true,
		Secure:   d.Config.SecureCookies(),
		SameSite: http.SameSiteLaxMode,
	}
	s := &Server{cfg: d.Config, store: d.Store, sessions: store, log: d.Logger, echo: e, wh: d.Warehouse, dl: d.Delivery}
	e.HTTPErrorHandler = s.handleError
	s.routes(e, newMetrics(d.Registry), d.Registry)
	return e
}
