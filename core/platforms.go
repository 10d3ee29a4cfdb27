package core

import (
	"context"
	"fmt"

	"sluice/connectors"
	"sluice/models"
)

// CreatePlatform saves a destination account and checks it at once: the answer's status
// says whether its credentials work.
func (s *Service) CreatePlatform(ctx context.Context, a models.Actor, kind string, in models.PlatformInput) (*models.Platform, error) {
	spec, err := s.DestinationSpec(kind)
	if err != nil {
		return nil, err
	}
	if spec.Auth == connectors.AuthOAuth && in.Grant == nil {
		return nil, &models.FieldError{Field: "kind", Message: spec.Label + " is connected through its consent page: use “Continue to " + spec.Label + "”."}
	}
	if in.Config != nil {
		// Open refuses bad settings (e.g. a webhook URL on a private network) before saving.
		d, err := s.registry.OpenDestination(ctx, kind, withDefaults(spec, in.Config), staticGrant(in.Grant))
		if err != nil {
			return nil, asFieldError(err)
		}
		d.Close()
	}
	p, err := s.store.CreatePlatform(ctx, a, spec, in)
	if err != nil {
		return nil, err
	}
	return s.CheckPlatform(ctx, a.WorkspaceID, p.ID)
}

func withDefaults(spec connectors.DestinationSpec, cfg connectors.Config) connectors.Config {
	out := connectors.Config{}
	for k, v := range cfg {
		out[k] = v
	}
	for _, f := range spec.Config {
		if out[f.Name] == "" && f.Default != "" {
			out[f.Name] = f.Default
		}
	}
	return out
}

// UpdatePlatform changes a platform (e.g. new credentials: re-authorize) and checks it
// again; when it passes, activations it had paused resume.
func (s *Service) UpdatePlatform(ctx context.Context, a models.Actor, id string, in models.PlatformInput) (*models.Platform, error) {
	p, err := s.store.PlatformByID(ctx, a.WorkspaceID, id)
	if err != nil {
		return nil, err
	}
	spec, err := s.DestinationSpec(p.Kind)
	if err != nil {
		return nil, err
	}
	if in.Config != nil {
		// The connector must accept the settings as they will be, before they are saved:
		// merged as the store merges them (secrets left empty, or a URL sent back masked,
		// are kept).
		patched, err := s.store.PatchedPlatformConfig(p, spec.Config, in.Config)
		if err != nil {
			return nil, err
		}
		d, err := s.registry.OpenDestination(ctx, p.Kind, withDefaults(spec, patched), s.tokensOf(p, spec))
		if err != nil {
			return nil, asFieldError(err)
		}
		d.Close()
	}
	if _, err := s.store.UpdatePlatform(ctx, a, id, spec, in); err != nil {
		return nil, err
	}
	return s.CheckPlatform(ctx, a.WorkspaceID, id)
}

// CheckPlatform verifies a platform's credentials and records connected or broken.
func (s *Service) CheckPlatform(ctx context.Context, workspaceID, id string) (*models.Platform, error) {
	p, err := s.store.PlatformByID(ctx, workspaceID, id)
	if err != nil {
		return nil, err
	}
	d, _, err := s.OpenPlatform(ctx, p)
	if err == nil {
		err = d.Check(ctx)
		d.Close()
	}
	if err == nil {
		return s.platformRecovered(ctx, p)
	}
	ce, ok := connectors.AsError(err)
	if ok && ce.Category == connectors.CategoryCredentials {
		return s.PlatformBroken(ctx, p, ce.Message)
	}
	// Unreachable or misconfigured says nothing about the credentials: keep the status,
	// but say what happened.
	msg := connectors.UserMessage(err, "Sluice could not check the platform.")
	if _, err := s.store.SetPlatformStatus(ctx, systemActor(workspaceID), id, p.Status, msg); err != nil {
		return nil, err
	}
	return s.store.PlatformByID(ctx, workspaceID, id)
}

// PlatformBroken marks a platform broken and pauses its activations automatically.
func (s *Service) PlatformBroken(ctx context.Context, p *models.Platform, message string) (*models.Platform, error) {
	sys := systemActor(p.WorkspaceID)
	if _, err := s.store.SetPlatformStatus(ctx, sys, p.ID, models.PlatformBroken, message); err != nil {
		return nil, err
	}
	acts, err := s.store.ActivationsUsingPlatform(ctx, p.WorkspaceID, p.ID)
	if err != nil {
		return nil, err
	}
	s.platformChecked(ctx, p, true, message) // the platform's incident
	reason := fmt.Sprintf("paused automatically: platform %s is broken (%s). Re-authorize it in Settings → Platforms.", p.Name, message)
	for _, act := range acts {
		if _, err := s.pauseAuto(ctx, p.WorkspaceID, act.ID, models.PauseCausePlatform, reason); err != nil {
			return nil, err
		}
	}
	return s.store.PlatformByID(ctx, p.WorkspaceID, p.ID)
}

// platformRecovered marks a platform connected and resumes what its breakage paused.
func (s *Service) platformRecovered(ctx context.Context, p *models.Platform) (*models.Platform, error) {
	sys := systemActor(p.WorkspaceID)
	if _, err := s.store.SetPlatformStatus(ctx, sys, p.ID, models.PlatformConnected, ""); err != nil {
		return nil, err
	}
	acts, err := s.store.ActivationsUsingPlatform(ctx, p.WorkspaceID, p.ID)
	if err != nil {
		return nil, err
	}
	s.platformChecked(ctx, p, false, "") // resolves the platform's incident
	for _, act := range acts {
		if _, err := s.resumeAuto(ctx, p.WorkspaceID, act.ID, models.PauseCausePlatform); err != nil {
			return nil, err
		}
	}
	return s.store.PlatformByID(ctx, p.WorkspaceID, p.ID)
}

// DeletePlatform removes a platform no activation uses.
func (s *Service) DeletePlatform(ctx context.Context, a models.Actor, id string) error {
	return s.store.DeletePlatform(ctx, a, id)
}
