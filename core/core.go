// Package core is the one door for writes. Every create, update, delete, pause, resume,
// cancel, remap and validate of the app goes through it: it checks the request, talks to
// warehouses and platforms through the connector registry, and writes through the store,
// which records the audit entry in the same transaction. Reads may go straight to the
// store. Handlers and jobs call it; it knows neither HTTP nor the run queue.
package core

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"sluice/connectors"
	"sluice/models"
)

// Service holds the store and the registry of connector kinds.
type Service struct {
	store    *models.Store
	registry *connectors.Registry
	now      func() time.Time
	// baseURL and log serve incidents' alerts (SetAlerts).
	baseURL string
	log     *slog.Logger
	// oauthBase and oauthClients serve OAuth platforms (SetOAuth).
	oauthBase    string
	oauthClients map[string]OAuthClient
	// sandboxRate counts the Sandbox inbox's requests per platform and minute.
	sandboxRate minuteWindows
	// ssoHTTP sends requests to identity providers (SetSSOClient).
	ssoHTTP *http.Client
}

// New returns the write door.
func New(store *models.Store, registry *connectors.Registry) *Service {
	return &Service{store: store, registry: registry, now: func() time.Time { return time.Now().UTC() }}
}

// Registry lists the source and destination kinds, for forms.
func (s *Service) Registry() *connectors.Registry { return s.registry }

// SourceSpec returns a source kind's spec; an unknown kind is a field error.
func (s *Service) SourceSpec(kind string) (connectors.SourceSpec, error) {
	spec, err := s.registry.SourceSpec(kind)
	return spec, asFieldError(err)
}

// DestinationSpec returns a destination kind's spec; an unknown kind is a field error.
func (s *Service) DestinationSpec(kind string) (connectors.DestinationSpec, error) {
	spec, err := s.registry.DestinationSpec(kind)
	return spec, asFieldError(err)
}

// OpenSource connects to a saved source, its secrets unsealed in memory only. Runs,
// previews, counts and validation all open sources here.
func (s *Service) OpenSource(ctx context.Context, src *models.Source) (connectors.Source, error) {
	cfg, err := s.store.SourceConfig(src)
	if err != nil {
		return nil, err
	}
	return s.registry.OpenSource(ctx, src.Kind, cfg)
}

// OpenPlatform connects to a saved platform, its secrets unsealed in memory only.
func (s *Service) OpenPlatform(ctx context.Context, p *models.Platform) (connectors.Destination, connectors.DestinationSpec, error) {
	spec, err := s.registry.DestinationSpec(p.Kind)
	if err != nil {
		return nil, spec, err
	}
	cfg, err := s.store.PlatformConfig(p)
	if err != nil {
		return nil, spec, err
	}
	d, err := s.registry.OpenDestination(ctx, p.Kind, cfg, s.tokensOf(p, spec))
	return d, spec, err
}

// asFieldError turns a connector's error about one input into a form field error: the
// kind itself, or a field of the config.
func asFieldError(err error) error {
	ce, ok := connectors.AsError(err)
	switch {
	case !ok || ce.Field == "":
		return err
	case ce.Field == "kind":
		return &models.FieldError{Field: "kind", Message: ce.Message}
	}
	return &models.FieldError{Field: "config." + ce.Field, Message: ce.Message}
}

// systemActor is who Sluice itself acts as (automatic pauses, platform status).
func systemActor(workspaceID string) models.Actor {
	return models.Actor{WorkspaceID: workspaceID, Type: models.ActorSystem, Name: "Sluice", Role: models.RoleAdmin}
}
