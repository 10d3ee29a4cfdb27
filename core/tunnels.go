package core

import (
	"context"
	"fmt"

	"sluice/connectors"
	"sluice/models"
	"sluice/sources/sshtunnel"
)

// Audit actions of a source's SSH tunnel.
const (
	AuditTunnelKeyGenerated     = "source.tunnel_key_generate"
	AuditTunnelHostKeyPinned    = "source.tunnel_host_key_pin"
	AuditTunnelHostKeyChanged   = "source.tunnel_host_key_change"
	AuditTunnelHostKeyAccepted  = "source.tunnel_host_key_accept"
	tunnelKeyComment            = "sluice"
	errTunnelHostKeyNotOffered  = "The bastion presents no new host key to accept: validate the source again to see the key it presents now."
	errTunnelHostKeyFingerprint = "The bastion's host key changed again since this page was shown: compare the fingerprint shown now before accepting it."
)

// newTunnelKey is the key pair of a source's SSH tunnel, as generated settings.
func newTunnelKey() (connectors.Config, error) {
	private, public, err := sshtunnel.NewKey(tunnelKeyComment)
	if err != nil {
		return nil, fmt.Errorf("core: %w", err)
	}
	return connectors.Config{sshtunnel.FieldPrivateKey: private, sshtunnel.FieldPublicKey: public}, nil
}

// withTunnelKey checks the tunnel's settings of cfg (the settings the source will have)
// and, when it asks for a tunnel and the source has no key yet, generates its key pair
// into in.Generated.
func withTunnelKey(spec connectors.SourceSpec, cfg connectors.Config, hasKey bool, in *models.SourceInput) error {
	if !sshtunnel.Supports(spec.Fields) {
		return nil
	}
	if err := sshtunnel.CheckSettings(cfg); err != nil {
		return asFieldError(err)
	}
	if !sshtunnel.Enabled(cfg) || hasKey {
		return nil
	}
	key, err := newTunnelKey()
	if err != nil {
		return err
	}
	in.Generated = key
	return nil
}

// RegenerateTunnelKey replaces a source's SSH key pair (audited) and validates the
// source again: until the new public key is installed on the bastion, the bastion
// refuses it, and the checks say so.
func (s *Service) RegenerateTunnelKey(ctx context.Context, a models.Actor, id string) (*models.Source, error) {
	src, err := s.store.SourceByID(ctx, a.WorkspaceID, id)
	if err != nil {
		return nil, err
	}
	spec, err := s.SourceSpec(src.Kind)
	if err != nil {
		return nil, err
	}
	if !sshtunnel.Supports(spec.Fields) {
		return nil, &models.FieldError{Field: "config." + sshtunnel.FieldEnabled, Message: spec.Label + " sources are not reached through an SSH tunnel."}
	}
	key, err := newTunnelKey()
	if err != nil {
		return nil, err
	}
	if _, err := s.store.SetSourceGenerated(ctx, a, id, AuditTunnelKeyGenerated, spec, key); err != nil {
		return nil, err
	}
	return s.ValidateSource(ctx, a.WorkspaceID, id)
}

// AcceptTunnelHostKey pins the host key the bastion presented at the last validation
// in place of the pinned one (audited), then validates the source again. fingerprint is
// the one the admin was shown: if the bastion's offered key is another by now, nothing
// is accepted.
func (s *Service) AcceptTunnelHostKey(ctx context.Context, a models.Actor, id, fingerprint string) (*models.Source, error) {
	src, err := s.store.SourceByID(ctx, a.WorkspaceID, id)
	if err != nil {
		return nil, err
	}
	spec, err := s.SourceSpec(src.Kind)
	if err != nil {
		return nil, err
	}
	offered := src.PublicConfig()[sshtunnel.FieldOfferedHostKey]
	switch {
	case offered == "":
		return nil, &models.FieldError{Field: "fingerprint", Message: errTunnelHostKeyNotOffered}
	case sshtunnel.Fingerprint(offered) != fingerprint:
		return nil, &models.FieldError{Field: "fingerprint", Message: errTunnelHostKeyFingerprint}
	}
	if _, err := s.store.SetSourceGenerated(ctx, a, id, AuditTunnelHostKeyAccepted, spec,
		connectors.Config{sshtunnel.FieldHostKey: offered, sshtunnel.FieldOfferedHostKey: ""}); err != nil {
		return nil, err
	}
	return s.ValidateSource(ctx, a.WorkspaceID, id)
}

// noteHostKey records what the bastion of a saved source presented at a validation:
// the first key is pinned; a different one is kept as offered, for an admin to compare
// and accept (the connection was refused); the pinned one again clears an offer.
// Sluice makes these changes itself: the audit entry's actor is the system.
func (s *Service) noteHostKey(ctx context.Context, src *models.Source, conn connectors.Source) error {
	reporter, ok := conn.(connectors.HostKeyReporter)
	if !ok {
		return nil
	}
	presented := reporter.PresentedHostKey()
	if presented == "" {
		return nil
	}
	spec, err := s.SourceSpec(src.Kind)
	if err != nil {
		return err
	}
	cfg := src.PublicConfig()
	pinned, offered := cfg[sshtunnel.FieldHostKey], cfg[sshtunnel.FieldOfferedHostKey]
	fp := sshtunnel.Fingerprint(presented)
	var action string
	values := connectors.Config{}
	switch {
	case pinned == "":
		action, values[sshtunnel.FieldHostKey] = AuditTunnelHostKeyPinned, presented
	case sshtunnel.Fingerprint(pinned) == fp:
		if offered == "" {
			return nil
		}
		action, values[sshtunnel.FieldOfferedHostKey] = AuditTunnelHostKeyChanged, ""
	case sshtunnel.Fingerprint(offered) == fp:
		return nil
	default:
		action, values[sshtunnel.FieldOfferedHostKey] = AuditTunnelHostKeyChanged, presented
	}
	_, err = s.store.SetSourceGenerated(ctx, systemActor(src.WorkspaceID), src.ID, action, spec, values)
	return err
}
