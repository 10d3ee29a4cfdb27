package handlers

import (
	"log/slog"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"sluice/core"
	"sluice/destinations/sandbox"
	"sluice/models"
	"sluice/static"
)

// routes is every route of Sluice, in one place. Names are reversed by views and
// redirects; no URL is built by hand.
func (s *Server) routes(e *echo.Echo, m *metrics, reg *prometheus.Registry) {
	e.IPExtractor = s.clientIP()
	e.Use(middleware.RequestID(), s.logRequests(), m.middleware, middleware.Recover(),
		bodyLimit(maxBody), middleware.SecureWithConfig(middleware.SecureConfig{
			XSSProtection: "0", ContentTypeNosniff: "nosniff", XFrameOptions: "DENY",
			ReferrerPolicy:        "same-origin",
			ContentSecurityPolicy: "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
		}))
	if s.cfg.SecureCookies() {
		e.Use(hsts)
	}

	e.GET("/healthz", s.Healthz).Name = "healthz"
	e.GET("/readyz", s.Readyz).Name = "readyz"
	// Any API token may read the metrics here; metrics_listen serves them without one.
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})), s.apiAuth).Name = "metrics"
	e.GET("/static/*", echo.StaticDirectoryHandler(static.FS, false), cacheFor(3600)).Name = "static"
	e.GET("/api/v1/openapi.json", s.OpenAPI).Name = "api.openapi" // public: see OpenAPI

	editorOnly, adminOnly := requireRole(models.RoleEditor), requireRole(models.RoleAdmin)
	operatorOnly := requireRole(models.RoleOperator)

	// refuseNUL runs after routing (path parameters are known) and, on pages, before the
	// CSRF check reads the form: it buffers the body under the global limit.
	api := e.Group("/api/v1", s.apiAuth, refuseNUL)
	apiSources := &SourceAPI{s}
	api.GET("/connectors", (&ConnectorAPI{s}).Index)
	api.GET("/sources", apiSources.Index)
	api.POST("/sources", apiSources.Create, adminOnly)
	api.GET("/sources/:id", apiSources.Show)
	api.PATCH("/sources/:id", apiSources.Update, adminOnly)
	api.DELETE("/sources/:id", apiSources.Delete, adminOnly)
	api.POST("/sources/:id/validate", apiSources.Validate, adminOnly)
	apiModels := &ModelAPI{s}
	api.GET("/models", apiModels.Index)
	api.POST("/models", apiModels.Create, editorOnly)
	api.GET("/models/:id", apiModels.Show)
	api.PATCH("/models/:id", apiModels.Update, editorOnly)
	api.DELETE("/models/:id", apiModels.Delete, editorOnly)
	api.POST("/models/:id/validate", apiModels.Validate, editorOnly)
	api.POST("/models/:id/duplicates", apiModels.DetectDuplicates, editorOnly)
	api.POST("/models/:id/remap", apiModels.Remap, editorOnly)
	api.GET("/issues", (&IssueAPI{s}).Index)
	apiSegments := &SegmentAPI{s}
	api.GET("/segments", apiSegments.Index)
	api.POST("/segments", apiSegments.Create, editorOnly)
	api.GET("/segments/:id", apiSegments.Show)
	api.PATCH("/segments/:id", apiSegments.Update, editorOnly)
	api.DELETE("/segments/:id", apiSegments.Delete, editorOnly)
	api.GET("/segments/:id/count", apiSegments.Count)
	apiPlatforms := &PlatformAPI{s}
	api.GET("/platforms", apiPlatforms.Index)
	api.POST("/platforms", apiPlatforms.Create, adminOnly)
	api.GET("/platforms/:id", apiPlatforms.Show)
	api.PATCH("/platforms/:id", apiPlatforms.Update, adminOnly)
	api.DELETE("/platforms/:id", apiPlatforms.Delete, adminOnly)
	apiActivations := &ActivationAPI{s}
	api.GET("/activations", apiActivations.Index).Name = "api.activations.index"
	api.POST("/activations", apiActivations.Create, editorOnly)
	api.GET("/activations/:id", apiActivations.Show)
	api.PATCH("/activations/:id", apiActivations.Update, editorOnly)
	api.DELETE("/activations/:id", apiActivations.Delete, editorOnly)
	api.POST("/activations/:id/pause", apiActivations.Pause, operatorOnly)
	api.POST("/activations/:id/resume", apiActivations.Resume, operatorOnly)
	api.POST("/activations/:id/runs", apiActivations.RunNow, operatorOnly)
	api.GET("/activations/:id/runs", apiActivations.Runs)
	apiRuns := &RunAPI{s}
	api.GET("/runs/:id", apiRuns.Show)
	api.GET("/runs/:id/issues", apiRuns.Issues)
	api.GET("/runs/:id/logs", apiRuns.Logs)
	api.GET("/runs/:id/samples", apiRuns.Samples)
	api.POST("/runs/:id/cancel", apiRuns.Cancel, operatorOnly)
	api.GET("/incidents", (&IncidentAPI{s}).List)
	api.POST("/copies", (&CopyAPI{s}).Create, editorOnly)
	apiAlerts := &AlertAPI{s}
	api.GET("/alerts", apiAlerts.Show)
	api.PUT("/alerts", apiAlerts.Update, adminOnly)
	apiWorkspaces := &WorkspaceAPI{s}
	api.GET("/workspaces", apiWorkspaces.Index)
	api.POST("/workspaces", apiWorkspaces.Create, adminOnly)
	api.PATCH("/workspaces/:id", apiWorkspaces.Update, adminOnly)
	api.DELETE("/workspaces/:id", apiWorkspaces.Delete, adminOnly)
	apiSSO := &SSOAPI{s} // an owner's token only: the store checks it
	api.GET("/sso", apiSSO.Show, adminOnly)
	api.PATCH("/sso", apiSSO.Update, adminOnly)
	api.PUT("/sso/oidc", apiSSO.SaveOIDC, adminOnly)
	api.DELETE("/sso/oidc", apiSSO.RemoveOIDC, adminOnly)
	api.PUT("/sso/saml", apiSSO.SaveSAML, adminOnly)
	api.DELETE("/sso/saml", apiSSO.RemoveSAML, adminOnly)
	apiInvitations := &InvitationAPI{s}
	api.GET("/invitations", apiInvitations.Index, adminOnly)
	api.POST("/invitations", apiInvitations.Create, adminOnly)
	api.POST("/invitations/:id/resend", apiInvitations.Resend, adminOnly)
	api.DELETE("/invitations/:id", apiInvitations.Delete, adminOnly)

	// The Sandbox platforms' inbox and token endpoint are called by Sluice's own senders,
	// which prove themselves with an inbox key or a client secret, not a session.
	sb := &SandboxHandler{s}
	e.POST(sandbox.InboxPath, sb.Receive).Name = "sandbox.inbox"
	e.POST(sandbox.TokenPath, sb.Token).Name = "sandbox.token"

	web := e.Group("", s.loadSession, refuseNUL, s.checkCSRF)
	web.GET("/setup", s.SetupForm).Name = "auth.setup"
	web.POST("/setup", s.Setup)
	web.GET("/login", s.LoginForm).Name = "auth.login"
	web.POST("/login", s.Login)
	web.POST("/login/email", s.LoginEmail).Name = "auth.email"
	web.POST("/logout", s.Logout).Name = "auth.logout"
	sso := &SSOHandler{s}
	web.GET("/sso/start", sso.Start).Name = "sso.start"
	web.GET(core.SSOCallbackPath, sso.Callback).Name = "sso.callback"
	e.GET(core.SAMLMetadataPath+":org", sso.SAMLMetadata).Name = "saml.metadata"
	// The identity provider's form posts here from its own page: no CSRF token, and no
	// session (the browser sends no cookie with a cross-site post; a new one would
	// replace it). The sign-in finishes at saml.finish, in the browser's session.
	e.POST(core.SAMLACSPath+":org", sso.SAMLACS, refuseNUL).Name = "saml.acs"
	web.GET(core.SAMLFinishPath, sso.SAMLFinish).Name = "saml.finish"
	invs := &InvitationHandler{s}
	web.GET("/invitation", invs.Show).Name = "invitations.show"
	web.POST("/invitation", invs.Accept).Name = "invitations.accept"

	app := web.Group("", s.requireUser)
	app.GET("/", s.Home).Name = "home"
	acts := &ActivationHandler{s}
	app.GET("/activations", acts.Index).Name = "activations.index"
	app.GET("/activations/new", acts.New, editorOnly).Name = "activations.new"
	app.POST("/activations", acts.Create, editorOnly).Name = "activations.create"
	app.GET("/activations/:id", acts.Show, s.followLink("activations")).Name = "activations.show"
	app.POST("/activations/:id/runs", acts.RunNow, operatorOnly).Name = "activations.run"
	app.POST("/activations/:id/pause", acts.Pause, operatorOnly).Name = "activations.pause"
	app.POST("/activations/:id/resume", acts.Resume, operatorOnly).Name = "activations.resume"
	app.POST("/activations/:id/duplicate", acts.Duplicate, editorOnly).Name = "activations.duplicate"
	app.GET("/activations/:id/edit", acts.Edit, editorOnly).Name = "activations.edit"
	app.POST("/activations/:id/settings", acts.UpdateSettings, editorOnly).Name = "activations.settings"
	app.DELETE("/activations/:id", acts.Delete, editorOnly).Name = "activations.delete"
	runs := &RunHandler{s}
	app.GET("/runs/:id", runs.Show, s.followLink("runs")).Name = "runs.show"
	app.GET("/runs/:id/issues", runs.Issues).Name = "runs.issues"
	app.GET("/runs/:id/issues.csv", runs.IssuesCSV).Name = "runs.issues_csv"
	app.GET("/runs/:id/progress", runs.Progress).Name = "runs.progress"
	app.POST("/runs/:id/cancel", runs.Cancel, operatorOnly).Name = "runs.cancel"
	app.GET("/activations/:id/records", runs.Records).Name = "activations.records"
	segs := &SegmentHandler{s}
	app.GET("/segments", segs.Index).Name = "segments.index"
	app.GET("/segments/new", segs.New, editorOnly).Name = "segments.new"
	app.POST("/segments", segs.Create, editorOnly).Name = "segments.create"
	app.POST("/segments/builder", segs.Refresh, editorOnly).Name = "segments.builder"
	app.GET("/segments/:id", segs.Show).Name = "segments.show"
	app.POST("/segments/:id", segs.Update, editorOnly).Name = "segments.update"
	app.DELETE("/segments/:id", segs.Delete, editorOnly).Name = "segments.delete"
	dms := &ModelHandler{s}
	app.GET("/models", dms.Index).Name = "models.index"
	app.GET("/models/new", dms.New, editorOnly).Name = "models.new"
	app.POST("/models", dms.Create, editorOnly).Name = "models.create"
	app.POST("/models/preview", dms.Preview, editorOnly).Name = "models.preview"
	app.GET("/models/:id", dms.Show).Name = "models.show"
	app.POST("/models/:id/validate", dms.Validate, editorOnly).Name = "models.validate"
	app.POST("/models/:id/duplicates", dms.Duplicates, editorOnly).Name = "models.duplicates"
	app.GET("/models/:id/remap", dms.RemapWizard, editorOnly).Name = "models.remap.wizard"
	app.POST("/models/:id/remap", dms.Remap, editorOnly).Name = "models.remap"
	app.DELETE("/models/:id", dms.Delete, editorOnly).Name = "models.delete"
	srcs := &SourceHandler{s}
	app.GET("/sources", srcs.Index).Name = "sources.index"
	app.GET("/sources/new", srcs.New, adminOnly).Name = "sources.new"
	app.POST("/sources", srcs.Create, adminOnly).Name = "sources.create"
	app.POST("/sources/test", srcs.Test, adminOnly).Name = "sources.test"
	app.GET("/sources/:id", srcs.Show).Name = "sources.show"
	app.POST("/sources/:id", srcs.Update, adminOnly).Name = "sources.update"
	app.POST("/sources/:id/test", srcs.Retest, adminOnly).Name = "sources.retest"
	app.POST("/sources/:id/validate", srcs.Validate, adminOnly).Name = "sources.validate"
	app.POST("/sources/:id/tunnel-key", srcs.GenerateTunnelKey, adminOnly).Name = "sources.tunnel_key"
	app.POST("/sources/:id/host-key", srcs.AcceptHostKey, adminOnly).Name = "sources.accept_host_key"
	app.DELETE("/sources/:id", srcs.Delete, adminOnly).Name = "sources.delete"
	app.GET("/settings", s.Settings).Name = "settings"
	plats := &PlatformHandler{s}
	app.GET("/settings/platforms", plats.Index).Name = "platforms.index"
	app.GET("/settings/platforms/new", plats.New, adminOnly).Name = "platforms.new"
	app.POST("/settings/platforms", plats.Create, adminOnly).Name = "platforms.create"
	app.POST("/settings/platforms/oauth", plats.ConnectOAuth, adminOnly).Name = "platforms.oauth"
	app.POST("/settings/platforms/:id/oauth", plats.ReauthorizeOAuth, adminOnly).Name = "platforms.oauth.reauthorize"
	app.POST("/settings/platforms/:id/catch-up", plats.CatchUp, adminOnly).Name = "platforms.catchup"
	// Providers send the user back here after consent (the redirect URL registered with them).
	app.GET("/oauth/callback", plats.OAuthCallback, adminOnly).Name = "oauth.callback"
	app.GET("/settings/platforms/:id", plats.Show).Name = "platforms.show"
	app.GET("/settings/platforms/:id/inbox", sb.Inbox).Name = "platforms.inbox"
	app.POST("/settings/platforms/:id/sandbox/revoke", sb.Revoke, adminOnly).Name = "platforms.sandbox.revoke"
	app.GET(sandbox.AuthorizePath, sb.Consent, adminOnly).Name = "sandbox.consent"
	app.POST(sandbox.AuthorizePath, sb.Answer, adminOnly).Name = "sandbox.authorize"
	app.GET("/settings/platforms/:id/reauthorize", plats.Reauthorize, adminOnly).Name = "platforms.reauthorize"
	app.POST("/settings/platforms/:id", plats.Update, adminOnly).Name = "platforms.update"
	app.DELETE("/settings/platforms/:id", plats.Delete, adminOnly).Name = "platforms.delete"
	alerts := &AlertHandler{s}
	app.GET("/settings/alerts", alerts.Index).Name = "alerts.index"
	app.POST("/settings/alerts", alerts.Update, adminOnly).Name = "alerts.update"
	app.POST("/settings/alerts/test", alerts.SendTest, adminOnly).Name = "alerts.test"
	app.POST("/settings/alerts/activations/:id", alerts.UpdateOverride, adminOnly).Name = "alerts.override"
	app.DELETE("/settings/demo", s.RemoveDemo, adminOnly).Name = "demo.remove"
	app.GET("/settings/demo/story", s.DemoStory).Name = "demo.story"
	incidents := &IncidentHandler{s}
	app.GET("/incidents", incidents.Index).Name = "incidents.index"

	wss := &WorkspaceHandler{s}
	app.POST("/workspaces/switch", wss.Switch).Name = "workspaces.switch"
	app.GET("/settings/workspaces", wss.Index, requireOwner).Name = "workspaces.index"
	app.POST("/settings/workspaces", wss.Create, requireOwner).Name = "workspaces.create"
	app.POST("/settings/workspaces/:id", wss.Update, requireOwner).Name = "workspaces.update"
	app.POST("/settings/workspaces/:id/delete", wss.Delete, requireOwner).Name = "workspaces.delete"
	app.POST("/settings/organization", wss.RenameOrganization, requireOwner).Name = "organization.update"
	app.POST("/settings/organization/owners/:id", wss.MakeOwner, requireOwner).Name = "organization.owner_add"
	app.POST("/settings/organization/step-down", wss.StepDown, requireOwner).Name = "organization.step_down"
	cps := &CopyHandler{s}
	app.GET("/copy/:kind/:id", cps.Show, editorOnly).Name = "copy.show"
	app.POST("/copy/:kind/:id", cps.Create, editorOnly).Name = "copy.create"

	app.GET("/settings/sso", sso.Index, requireOwner).Name = "sso.index"
	app.POST("/settings/sso", sso.Save, requireOwner).Name = "sso.save"
	app.POST("/settings/sso/require", sso.Require, requireOwner).Name = "sso.require"
	app.POST("/settings/sso/saml", sso.SaveSAML, requireOwner).Name = "saml.save"
	app.POST("/settings/sso/remove", sso.Remove, requireOwner).Name = "sso.remove"
	app.POST("/settings/sso/saml/remove", sso.RemoveSAML, requireOwner).Name = "saml.remove"

	admin := app.Group("/settings", adminOnly)
	users := &UserHandler{s}
	admin.GET("/users", users.Index).Name = "users.index"
	admin.POST("/users", users.Create).Name = "users.create"
	admin.POST("/users/:id", users.Update).Name = "users.update"
	admin.DELETE("/users/:id", users.Delete).Name = "users.delete"
	admin.POST("/invitations", invs.Create).Name = "invitations.create"
	admin.POST("/invitations/:id/resend", invs.Resend).Name = "invitations.resend"
	admin.POST("/invitations/:id/revoke", invs.Revoke).Name = "invitations.revoke"
	sessions := &SessionHandler{s}
	admin.GET("/sessions", sessions.Index).Name = "sessions.index"
	admin.DELETE("/sessions/:id", sessions.Delete).Name = "sessions.delete"
	admin.DELETE("/users/:id/sessions", sessions.DeleteForUser).Name = "users.sessions.delete"
	tokens := &TokenHandler{s}
	admin.GET("/tokens", tokens.Index).Name = "tokens.index"
	admin.POST("/tokens", tokens.Create).Name = "tokens.create"
	admin.DELETE("/tokens/:id", tokens.Delete).Name = "tokens.delete"
	admin.GET("/audit", (&AuditHandler{s}).Index).Name = "audit.index"
}

// clientIP reads the client's address from the connection, or from X-Forwarded-For
// when the connection comes from a configured trusted proxy (and only then: loopback
// and private addresses are not trusted unless listed). Throttling counts by it.
func (s *Server) clientIP() echo.IPExtractor {
	ranges, err := s.cfg.TrustedProxyRanges()
	if err != nil {
		s.log.Error("trusted_proxies ignored", slog.Any("error", err))
	}
	if len(ranges) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, r := range ranges {
		opts = append(opts, echo.TrustIPRange(r))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
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
