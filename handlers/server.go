// Package handlers serves Sluice's pages and its JSON API. Writes go through core, runs
// are queued through jobs, and reads may go straight to the store.
package handlers

import (
	"log/slog"
	"net/http"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"sluice/config"
	"sluice/core"
	"sluice/jobs"
	"sluice/models"
	"sluice/secrets"
)

// Deps is everything the HTTP layer needs, built once in main.
type Deps struct {
	Config   config.Config
	Store    *models.Store
	Secrets  *secrets.Box
	Logger   *slog.Logger
	Registry *prometheus.Registry
	// Core is the one door for writes (and what reads the warehouse on a page's behalf).
	Core *core.Service
	// Runs queues runs and previews draft activations.
	Runs *jobs.Runner
}

// Server holds the handlers' shared dependencies.
type Server struct {
	cfg      config.Config
	store    *models.Store
	sessions *sessions.CookieStore
	log      *slog.Logger
	echo     *echo.Echo
	// paths reverses route names for the views, without echo's search of every route.
	paths routePaths
	core  *core.Service
	runs  *jobs.Runner
}

// New builds the echo instance with every route of Sluice.
func New(d Deps) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	// Cookies are signed with the current key and still read under the keys it replaces,
	// so changing SLUICE_SECRET_KEY (a key ring "NEW,OLD") signs nobody out.
	hashKeys, blockKeys := d.Secrets.DeriveKeys("session-hash", 64), d.Secrets.DeriveKeys("session-block", 32)
	var pairs [][]byte
	for i := range hashKeys {
		pairs = append(pairs, hashKeys[i], blockKeys[i])
	}
	store := sessions.NewCookieStore(pairs...)
	for _, c := range store.Codecs {
		c.(*securecookie.SecureCookie).SetSerializer(sessionSerializer{})
	}
	store.Options = &sessions.Options{
		Path:     "/",
		MaxAge:   int(sessionMaxAge.Seconds()),
		HttpOnly: true,
		Secure:   d.Config.SecureCookies(),
		SameSite: http.SameSiteLaxMode,
	}
	s := &Server{cfg: d.Config, store: d.Store, sessions: store, log: d.Logger, echo: e, core: d.Core, runs: d.Runs}
	e.HTTPErrorHandler = s.handleError
	s.routes(e, newMetrics(d.Registry), d.Registry)
	s.paths = newRoutePaths(e)
	return e
}
