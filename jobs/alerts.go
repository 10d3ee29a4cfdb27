package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"sluice/config"
	"sluice/destinations/httpdest"
	"sluice/models"
	"sluice/notify"
)

// AlertDispatcher sends what the alert outbox holds: it claims due messages (a lease
// per message, so several instances never send one twice at the same time, and one that
// dies mid-way leaves it to the others), sends each through notify, and records the
// outcome: sent, retried later with backoff, or failed and shown in Settings → Alerts.
type AlertDispatcher struct {
	store  *models.Store
	log    *slog.Logger
	mailer *notify.Mailer
	slack  *notify.SlackPoster
	o      AlertOptions
}

// AlertOptions tune the dispatcher; zero values take the defaults.
type AlertOptions struct {
	// Mailer sends e-mail; nil when no SMTP server is configured (e-mails then wait and
	// fail after their retries, saying so).
	Mailer *notify.Mailer
	// Slack posts to webhooks (notify.NewSlackPoster over a client that refuses private
	// addresses unless allowed).
	Slack *notify.SlackPoster
	// Retry is the backoff (models.DefaultAlertRetry).
	Retry models.AlertRetry
	// Lease is how long a claimed message is this dispatcher's (2 minutes: longer than a
	// send's timeouts, so a slow send is not taken over).
	Lease time.Duration
	// Batch is how many messages one claim takes (20).
	Batch int
}

// NewAlertDispatcher returns a dispatcher over store.
func NewAlertDispatcher(store *models.Store, log *slog.Logger, o AlertOptions) *AlertDispatcher {
	if o.Retry.MaxAttempts == 0 {
		o.Retry = models.DefaultAlertRetry
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.Batch <= 0 {
		o.Batch = 20
	}
	if o.Slack == nil {
		o.Slack = notify.NewSlackPoster(nil)
	}
	return &AlertDispatcher{store: store, log: log, mailer: o.Mailer, slack: o.Slack, o: o}
}

// AlertInterval is how often each instance looks for due alerts.
const AlertInterval = 5 * time.Second

// StartAlerts builds the dispatcher from the configuration (SLUICE_SMTP_URL and its
// sender; Slack through a client that refuses private addresses unless
// SLUICE_ALLOW_PRIVATE_NETWORKS) and runs it every AlertInterval until ctx ends.
func StartAlerts(ctx context.Context, cfg config.Config, store *models.Store, log *slog.Logger) (*sync.WaitGroup, error) {
	var o AlertOptions
	if cfg.SMTPURL != "" {
		m, err := notify.NewMailer(cfg.SMTPURL, notify.MailerOptions{From: cfg.MailFrom()})
		if err != nil {
			return nil, fmt.Errorf("jobs: alerts: %w", err)
		}
		o.Mailer = m
	}
	client := httpdest.NewClient(httpdest.Options{Name: "Slack", AllowPrivate: cfg.AllowPrivateNetworks})
	o.Slack = notify.NewSlackPoster(client.HTTPClient())
	d := NewAlertDispatcher(store, log, o)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer client.Close()
		d.Loop(ctx, AlertInterval)
	})
	return &wg, nil
}

// Loop sends due alerts every interval until ctx ends.
func (d *AlertDispatcher) Loop(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := d.DispatchDue(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("send alerts", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// DispatchDue claims and sends due messages until none is left, and answers how many
// were sent.
func (d *AlertDispatcher) DispatchDue(ctx context.Context) (int, error) {
	sent := 0
	for ctx.Err() == nil {
		batch, err := d.store.ClaimAlerts(ctx, d.o.Batch, d.o.Lease)
		if err != nil {
			return sent, err
		}
		if len(batch) == 0 {
			return sent, nil
		}
		for i := range batch {
			ok, err := d.send(ctx, &batch[i])
			if err != nil {
				return sent, err
			}
			if ok {
				sent++
			}
		}
	}
	return sent, ctx.Err()
}

// send delivers one claimed message and records the outcome; the error is the store's.
func (d *AlertDispatcher) send(ctx context.Context, m *models.OutboxMessage) (bool, error) {
	err := d.deliver(ctx, m)
	if ctx.Err() != nil {
		// Shutting down: the lease runs out and another dispatcher (or this one after a
		// restart) sends it.
		return false, nil
	}
	log := d.log.With(slog.String("alert_id", m.ID), slog.String("channel", m.Channel), slog.String("workspace_id", m.WorkspaceID))
	if err == nil {
		if err := d.store.MarkAlertSent(ctx, m); err != nil && !errors.Is(err, models.ErrClaimLost) {
			return false, err
		}
		log.Debug("alert sent")
		return true, nil
	}
	// Errors are written without secrets: notify masks the webhook URL, and go-mail
	// never repeats the SMTP password.
	if err := d.store.MarkAlertFailed(ctx, m, err.Error(), notify.IsPermanent(err), d.o.Retry); err != nil && !errors.Is(err, models.ErrClaimLost) {
		return false, err
	}
	if m.Status == models.OutboxFailed {
		log.Warn("alert not delivered: giving up", slog.Int("attempts", m.Attempts), slog.Any("error", err))
	} else {
		log.Info("alert not delivered: will retry", slog.Int("attempts", m.Attempts), slog.Time("next_attempt_at", m.NextAttemptAt), slog.Any("error", err))
	}
	return false, nil
}

func (d *AlertDispatcher) deliver(ctx context.Context, m *models.OutboxMessage) error {
	payload, err := d.store.AlertPayload(m)
	if err != nil {
		return fmt.Errorf("%w: cannot open the stored message: %v", notify.ErrPermanent, err)
	}
	var msg notify.Message
	if err := json.Unmarshal(payload, &msg); err != nil {
		return fmt.Errorf("%w: stored payload: %v", notify.ErrPermanent, err)
	}
	target, err := d.store.AlertTarget(m)
	if err != nil {
		return fmt.Errorf("%w: cannot open the stored target: %v", notify.ErrPermanent, err)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	switch m.Channel {
	case models.ChannelEmail:
		if d.mailer == nil {
			return errors.New("no SMTP server is configured (SLUICE_SMTP_URL)")
		}
		return d.mailer.Send(ctx, target, msg)
	case models.ChannelSlack:
		return d.slack.Post(ctx, target, msg)
	}
	return fmt.Errorf("%w: unknown channel %q", notify.ErrPermanent, m.Channel)
}

// EnqueueAlert stores msg for each target of a channel, to be sent by a dispatcher.
func EnqueueAlert(ctx context.Context, store *models.Store, workspaceID, channel string, msg notify.Message, targets ...string) ([]models.OutboxMessage, error) {
	if err := msg.Validate(); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	alerts := make([]models.NewAlert, 0, len(targets))
	for _, t := range targets {
		alerts = append(alerts, models.NewAlert{WorkspaceID: workspaceID, Channel: channel, Target: t, Payload: payload})
	}
	return store.EnqueueAlerts(ctx, alerts...)
}
