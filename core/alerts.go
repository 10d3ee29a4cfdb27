package core

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"

	"sluice/destinations/httpdest"
	"sluice/models"
)

// AlertSettingsInput is a change of the workspace's alert settings. Slack URLs may be
// given as MaskWebhookURL shows them, which keeps the stored ones.
type AlertSettingsInput struct {
	Settings models.AlertSettings
	// SetOverrides replaces the per-activation overrides with Settings.Overrides; without
	// it they are kept.
	SetOverrides bool
	// AllowPrivateNetworks is SLUICE_ALLOW_PRIVATE_NETWORKS: Slack URLs may then point at
	// private and loopback addresses.
	AllowPrivateNetworks bool
}

// UpdateAlertSettings checks and stores a workspace's alert settings. A Slack URL must
// be https, whole, and (unless private networks are allowed) name a host that resolves
// to public addresses only, checked as the webhook destination checks its URL.
func (s *Service) UpdateAlertSettings(ctx context.Context, a models.Actor, in AlertSettingsInput) (*models.AlertSettings, error) {
	current, err := s.store.AlertSettings(ctx, a.WorkspaceID)
	if err != nil {
		return nil, err
	}
	set := in.Settings
	set.SlackWebhookURLs = models.KeepMaskedWebhookURLs(current.SlackWebhookURLs, set.SlackWebhookURLs)
	for i, u := range set.SlackWebhookURLs {
		if u == "" || slices.Contains(current.SlackWebhookURLs, u) {
			continue // kept as stored: checked when it was saved
		}
		if err := checkWebhookHost(ctx, u, in.AllowPrivateNetworks); err != nil {
			return nil, &models.FieldError{Field: fmt.Sprintf("slack.webhook_urls[%d]", i), Message: err.Error()}
		}
	}
	return s.store.PutAlertSettings(ctx, a, set, in.SetOverrides)
}

// UpdateAlertOverride sets one activation's override (mute, extra recipients).
func (s *Service) UpdateAlertOverride(ctx context.Context, a models.Actor, o models.AlertOverride) (*models.AlertOverride, error) {
	return s.store.PutAlertOverride(ctx, a, o)
}

// hostError is a refusal of a webhook URL's host, worded for the user.
type hostError string

func (e hostError) Error() string { return string(e) }

// checkWebhookHost refuses a URL whose shape is wrong, or whose host is, or resolves
// to, a private, loopback or otherwise non-public address (unless allowed).
func checkWebhookHost(ctx context.Context, raw string, allowPrivate bool) error {
	if msg := models.WebhookURLProblem(raw); msg != "" {
		return hostError(msg)
	}
	if allowPrivate {
		return nil
	}
	u, _ := url.Parse(raw) // parsed by WebhookURLProblem
	err := httpdest.CheckHost(ctx, nil, u.Hostname())
	var blocked *httpdest.BlockedError
	var dnsErr *net.DNSError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &blocked):
		return hostError(fmt.Sprintf("Sluice does not send alerts to %s: it is a %s address, not one on the internet.", u.Hostname(), blocked.Reason))
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return hostError(fmt.Sprintf("Sluice could not find the host %s. Check the URL.", u.Hostname()))
	default:
		return hostError(fmt.Sprintf("Sluice could not look up the host %s. Try again in a moment.", u.Hostname()))
	}
}

// Test alert channels.
const (
	ChannelEmail = "email"
	ChannelSlack = "slack"
)

// TestAlertResult says what a "Send test alert" did, in words for the user.
type TestAlertResult struct {
	// Sent is true when a test alert was queued for delivery.
	Sent    bool
	Message string
}

// SendTestAlert is the "Send test alert" of a channel. Alert delivery (package notify and
// its outbox) is not part of Sluice yet, so it queues nothing and says so; once delivery
// exists this is where a test alert is handed to it.
func (s *Service) SendTestAlert(ctx context.Context, a models.Actor, channel string) (TestAlertResult, error) {
	if channel != ChannelEmail && channel != ChannelSlack {
		return TestAlertResult{}, &models.FieldError{Field: "channel", Message: "Choose e-mail or Slack."}
	}
	set, err := s.store.AlertSettings(ctx, a.WorkspaceID)
	if err != nil {
		return TestAlertResult{}, err
	}
	switch {
	case channel == ChannelEmail && len(set.Recipients) == 0:
		return TestAlertResult{Message: "Add an e-mail recipient and save first."}, nil
	case channel == ChannelSlack && len(set.SlackWebhookURLs) == 0:
		return TestAlertResult{Message: "Add a Slack webhook URL and save first."}, nil
	}
	return TestAlertResult{Message: "Test alerts are sent once delivery is set up."}, nil
}
