package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"sluice/destinations/httpdest"
	"sluice/models"
	"sluice/notify"
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

// TestAlertInput is a "Send test alert": the channel, and the absolute URL of Settings →
// Alerts (SLUICE_BASE_URL and the route), which the test message links to.
type TestAlertInput struct {
	Channel     string
	SettingsURL string
}

// TestAlertResult says what a "Send test alert" did, in words for the user.
type TestAlertResult struct {
	// Sent is true when a test alert was queued for delivery.
	Sent    bool
	Message string
	// Queued are the outbox messages stored, one per target.
	Queued []models.OutboxMessage
}

// SendTestAlert is the "Send test alert" of a channel: a test message to every e-mail
// recipient (users of the workspace resolved to their addresses), or to every Slack
// webhook, stored in the outbox in one transaction. The dispatcher sends it as it sends
// any alert, so a test that arrives proves the whole path, and one that fails shows
// among the failed deliveries.
func (s *Service) SendTestAlert(ctx context.Context, a models.Actor, in TestAlertInput) (TestAlertResult, error) {
	if in.Channel != ChannelEmail && in.Channel != ChannelSlack {
		return TestAlertResult{}, &models.FieldError{Field: "channel", Message: "Choose e-mail or Slack."}
	}
	set, err := s.store.AlertSettings(ctx, a.WorkspaceID)
	if err != nil {
		return TestAlertResult{}, err
	}
	targets := set.SlackWebhookURLs
	if in.Channel == ChannelEmail {
		if targets, err = s.recipientAddresses(ctx, a.WorkspaceID, set.Recipients); err != nil {
			return TestAlertResult{}, err
		}
	}
	if len(targets) == 0 {
		if in.Channel == ChannelEmail {
			return TestAlertResult{Message: "Add an e-mail recipient and save first."}, nil
		}
		return TestAlertResult{Message: "Add a Slack webhook URL and save first."}, nil
	}
	ws, err := s.store.WorkspaceByID(ctx, a.WorkspaceID)
	if err != nil {
		return TestAlertResult{}, err
	}
	msg := notify.Message{
		Kind:       notify.KindTest,
		Title:      "Alerts of " + ws.Name + " reach you",
		Workspace:  ws.Name,
		Reason:     "This is a test sent from Settings → Alerts. When a run fails, an alert like this one says what failed, why, and links straight to the run and to the fix.",
		OccurredAt: s.now(),
	}
	if in.SettingsURL != "" {
		msg.Buttons = []notify.Button{{Label: "Open alert settings", URL: in.SettingsURL}}
	}
	if err := msg.Validate(); err != nil {
		return TestAlertResult{}, err
	}
	payload, err := json.Marshal(msg)
	if err != nil {
		return TestAlertResult{}, err
	}
	alerts := make([]models.NewAlert, 0, len(targets))
	for _, t := range targets {
		alerts = append(alerts, models.NewAlert{WorkspaceID: a.WorkspaceID, Channel: in.Channel, Target: t, Payload: payload})
	}
	queued, err := s.store.EnqueueAlerts(ctx, alerts...)
	if err != nil {
		return TestAlertResult{}, fmt.Errorf("core: queue test alert: %w", err)
	}
	var labels []string
	for _, m := range queued {
		if !slices.Contains(labels, m.TargetLabel) {
			labels = append(labels, m.TargetLabel)
		}
	}
	return TestAlertResult{Sent: true, Queued: queued, Message: "A test alert is on its way to " + strings.Join(labels, ", ") + "."}, nil
}

// recipientAddresses turns recipients (user ids of the workspace, or addresses) into
// addresses, each once; a user removed since the settings were saved is skipped.
func (s *Service) recipientAddresses(ctx context.Context, workspaceID string, recipients []string) ([]string, error) {
	users, err := s.store.ListUsers(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]string, len(users))
	for _, u := range users {
		byID[u.ID] = strings.ToLower(u.Email)
	}
	var out []string
	for _, r := range recipients {
		addr := r
		if !strings.Contains(r, "@") {
			if addr = byID[r]; addr == "" {
				continue
			}
		}
		if !slices.Contains(out, addr) {
			out = append(out, addr)
		}
	}
	return out, nil
}
