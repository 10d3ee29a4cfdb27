package models

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Alert channels: where an outbox message goes.
const (
	ChannelEmail = "email"
	ChannelSlack = "slack"
)

// Outbox statuses.
const (
	OutboxPending = "pending"
	OutboxSent    = "sent"
	OutboxFailed  = "failed"
)

// OutboxMessage is one alert to deliver on one channel to one target. Payload is the
// message as JSON (a notify.Message, which jobs marshals: the store does not read it);
// a message holding a secret (an invitation's sign-up link) has it sealed in
// PayloadSealed instead, and Payload is "{}". AlertPayload returns either, opened.
// For Slack, Target holds the webhook URL sealed; AlertTarget returns it opened.
type OutboxMessage struct {
	ID            string `gorm:"primaryKey"`
	WorkspaceID   string
	Channel       string
	Target        string
	TargetLabel   string
	Payload       string
	PayloadSealed string
	Status        string
	Attempts      int
	NextAttemptAt time.Time
	ClaimToken    string
	LastError     string
	CreatedAt     time.Time
	SentAt        *time.Time
}

// TableName is the outbox's table.
func (OutboxMessage) TableName() string { return "alert_outbox" }

func (m *OutboxMessage) sealOwner() string { return "alert:" + m.ID }

func (m *OutboxMessage) bodyOwner() string { return "alert-body:" + m.ID }

// NewAlert is an alert to enqueue: its channel, its target in clear (an e-mail address,
// or a Slack incoming-webhook URL, sealed on the way in) and its payload. Secret says the
// payload holds a secret, such as a live sign-up link: it is sealed on the way in, so
// that nobody reading the database or a backup can use it.
type NewAlert struct {
	WorkspaceID string
	Channel     string
	Target      string
	Payload     []byte
	Secret      bool
}

// AlertRetry is how a failed send is tried again: after Base, then twice as long each
// time up to Max, until MaxAttempts sends have failed; then the message is failed.
type AlertRetry struct {
	MaxAttempts int
	Base, Max   time.Duration
}

// DefaultAlertRetry tries a message 8 times over about an hour and a half (30 s, 1, 2,
// 4, 8, 16, 30, 30 minutes): long enough to ride out an SMTP server's restart or a
// Slack incident, short enough that a stale alert is not sent hours late.
var DefaultAlertRetry = AlertRetry{MaxAttempts: 8, Base: 30 * time.Second, Max: 30 * time.Minute}

// Delay is the wait before the next try after attempts failed ones.
func (p AlertRetry) Delay(attempts int) time.Duration {
	d := p.Base
	for i := 1; i < attempts && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// EnqueueAlerts stores alerts as pending, due now, in one transaction.
func (s *Store) EnqueueAlerts(ctx context.Context, alerts ...NewAlert) ([]OutboxMessage, error) {
	var out []OutboxMessage
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		out, err = s.enqueueAlerts(tx, alerts...)
		return err
	})
	return out, err
}

// enqueueAlerts stores alerts in the caller's transaction, so that an event (an incident
// opened or resolved) and the alerts it sends commit together or not at all.
func (s *Store) enqueueAlerts(tx *gorm.DB, alerts ...NewAlert) ([]OutboxMessage, error) {
	now := s.now()
	out := make([]OutboxMessage, 0, len(alerts))
	for _, a := range alerts {
		m := OutboxMessage{ID: newID(), WorkspaceID: a.WorkspaceID, Channel: a.Channel, Payload: string(a.Payload),
			Status: OutboxPending, NextAttemptAt: now, CreatedAt: now}
		if a.WorkspaceID == "" || len(a.Payload) == 0 {
			return nil, errors.New("models: an alert needs a workspace and a payload")
		}
		switch a.Channel {
		case ChannelEmail:
			addr, err := mail.ParseAddress(a.Target)
			if err != nil {
				return nil, fmt.Errorf("models: alert recipient %q: %w", a.Target, err)
			}
			m.Target, m.TargetLabel = addr.Address, addr.Address
		case ChannelSlack:
			u, err := url.Parse(a.Target)
			if err != nil || u.Host == "" {
				return nil, errors.New("models: the Slack webhook URL is not a URL")
			}
			if m.Target, err = s.seal(m.sealOwner(), map[string]string{"url": a.Target}); err != nil {
				return nil, err
			}
			m.TargetLabel = "Slack webhook on " + u.Host
		default:
			return nil, fmt.Errorf("models: alert channel %q", a.Channel)
		}
		if a.Secret {
			sealed, err := s.seal(m.bodyOwner(), map[string]string{"payload": m.Payload})
			if err != nil {
				return nil, err
			}
			m.Payload, m.PayloadSealed = "{}", sealed
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return out, nil
	}
	return out, translate(tx.Create(&out).Error)
}

// ClaimAlerts takes up to limit due pending messages for this dispatcher: each gets a
// new claim token and is leased until now+lease (its next_attempt_at), so no other
// dispatcher takes it meanwhile, and a dispatcher that dies before sending leaves it to
// be claimed again once the lease is over. On PostgreSQL FOR UPDATE SKIP LOCKED lets
// several instances claim side by side; on SQLite the immediate transaction serialises
// claims.
func (s *Store) ClaimAlerts(ctx context.Context, limit int, lease time.Duration) ([]OutboxMessage, error) {
	var claimed []OutboxMessage
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now := s.now()
		q := tx.Where("status = ? AND next_attempt_at <= ?", OutboxPending, now).Order("next_attempt_at, id").Limit(limit)
		if s.dialect == "postgres" {
			q = q.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
		}
		var due []OutboxMessage
		if err := q.Find(&due).Error; err != nil {
			return translate(err)
		}
		for _, m := range due {
			token := newID()
			res := tx.Model(&OutboxMessage{}).Where("id = ? AND status = ? AND claim_token = ?", m.ID, OutboxPending, m.ClaimToken).
				Updates(map[string]any{"claim_token": token, "next_attempt_at": now.Add(lease)})
			if res.Error != nil {
				return translate(res.Error)
			}
			if res.RowsAffected == 1 {
				m.ClaimToken, m.NextAttemptAt = token, now.Add(lease)
				claimed = append(claimed, m)
			}
		}
		return nil
	})
	return claimed, err
}

// ErrClaimLost means another dispatcher claimed the message since (this one's lease ran
// out): its outcome is that dispatcher's to record.
var ErrClaimLost = errors.New("models: alert claim lost")

// AlertTarget is where a claimed message goes, in clear: the address, or the Slack
// webhook URL opened from its seal.
func (s *Store) AlertTarget(m *OutboxMessage) (string, error) {
	if m.Channel != ChannelSlack {
		return m.Target, nil
	}
	v, err := s.open(m.sealOwner(), m.Target)
	if err != nil {
		return "", err
	}
	return v["url"], nil
}

// sealQueuedInvitations seals the body of invitation e-mails queued in clear by a version
// before bodies were sealed (migration 00034), so their links leave the table too; they
// send as before. It runs after the migrations at every start; each row is rewritten only
// if it still holds what was read, so a dispatcher of a running instance is not upset.
func (s *Store) sealQueuedInvitations(ctx context.Context) error {
	if s.secrets == nil {
		return nil // nothing can be sealed without a key
	}
	db := s.db.WithContext(ctx)
	var rows []OutboxMessage
	if err := db.Where("status = ? AND payload_sealed = '' AND payload LIKE ?", OutboxPending, `{"kind":"invitation",%`).Find(&rows).Error; err != nil {
		return fmt.Errorf("models: read queued invitations: %w", translate(err))
	}
	for _, m := range rows {
		sealed, err := s.seal(m.bodyOwner(), map[string]string{"payload": m.Payload})
		if err != nil {
			return err
		}
		if err := db.Model(&OutboxMessage{}).Where("id = ? AND payload = ? AND payload_sealed = ''", m.ID, m.Payload).
			Updates(map[string]any{"payload": "{}", "payload_sealed": sealed}).Error; err != nil {
			return fmt.Errorf("models: seal a queued invitation: %w", translate(err))
		}
	}
	return nil
}

// AlertPayload is a claimed message's payload in clear, opened from its seal when it
// holds a secret. Only the dispatcher calls it, to send the message.
func (s *Store) AlertPayload(m *OutboxMessage) ([]byte, error) {
	if m.PayloadSealed == "" {
		return []byte(m.Payload), nil
	}
	v, err := s.open(m.bodyOwner(), m.PayloadSealed)
	if err != nil {
		return nil, err
	}
	return []byte(v["payload"]), nil
}

// MarkAlertSent records a claimed message as delivered.
func (s *Store) MarkAlertSent(ctx context.Context, m *OutboxMessage) error {
	now := s.now()
	res := s.db.WithContext(ctx).Model(&OutboxMessage{}).Where("id = ? AND claim_token = ? AND status = ?", m.ID, m.ClaimToken, OutboxPending).
		Updates(map[string]any{"status": OutboxSent, "sent_at": now, "attempts": gorm.Expr("attempts + 1"), "last_error": ""})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrClaimLost
	}
	m.Status, m.SentAt, m.Attempts, m.LastError = OutboxSent, &now, m.Attempts+1, ""
	return nil
}

// MarkAlertFailed records a failed send: pending again after the policy's delay, or
// failed for good once its attempts are spent or when permanent (sending again will not
// help). reason is what the Alerts page shows; it must hold no secret.
func (s *Store) MarkAlertFailed(ctx context.Context, m *OutboxMessage, reason string, permanent bool, p AlertRetry) error {
	attempts := m.Attempts + 1
	status, next := OutboxPending, s.now().Add(p.Delay(attempts))
	if permanent || attempts >= p.MaxAttempts {
		status, next = OutboxFailed, s.now()
	}
	if len(reason) > 1000 {
		reason = strings.ToValidUTF8(reason[:1000], "") + "…"
	}
	res := s.db.WithContext(ctx).Model(&OutboxMessage{}).Where("id = ? AND claim_token = ? AND status = ?", m.ID, m.ClaimToken, OutboxPending).
		Updates(map[string]any{"status": status, "attempts": attempts, "next_attempt_at": next, "last_error": reason})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrClaimLost
	}
	m.Status, m.Attempts, m.NextAttemptAt, m.LastError = status, attempts, next, reason
	return nil
}

// FailedAlerts lists a workspace's messages that could not be delivered, newest first,
// for Settings → Alerts.
func (s *Store) FailedAlerts(ctx context.Context, workspaceID string, limit int) ([]OutboxMessage, error) {
	var out []OutboxMessage
	err := s.db.WithContext(ctx).Where("workspace_id = ? AND status = ?", workspaceID, OutboxFailed).
		Order("created_at DESC, id DESC").Limit(limit).Find(&out).Error
	return out, translate(err)
}

// AlertByID loads one outbox message of a workspace.
func (s *Store) AlertByID(ctx context.Context, workspaceID, id string) (*OutboxMessage, error) {
	return byID[OutboxMessage](ctx, s, workspaceID, id)
}

// PruneSentAlerts deletes delivered messages sent before cutoff (the retention): their
// payload only mattered until it was sent. Pending messages stay whatever their age, and
// failed ones stay for Settings → Alerts, which shows the most recent.
func (s *Store) PruneSentAlerts(ctx context.Context, cutoff time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Where("status = ? AND sent_at < ?", OutboxSent, cutoff.UTC()).Delete(&OutboxMessage{})
	return res.RowsAffected, translate(res.Error)
}
