-- +goose Up
-- The alert outbox: every e-mail and Slack message an alert sends is a row here first,
-- written in the same transaction as the event that caused it, then sent by a dispatcher
-- of any instance. A claim moves next_attempt_at forward (the lease) and sets
-- claim_token, so a message is sent by one instance at a time and found again if that
-- instance dies before sending. target is the recipient's address, or the Slack webhook
-- URL sealed (a secret); target_label is what the Alerts page may show of it.
-- status: pending, sent, failed (attempts spent, or refused for good: kept for the
-- Alerts page).
CREATE TABLE alert_outbox (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    channel         TEXT NOT NULL,
    target          TEXT NOT NULL,
    target_label    TEXT NOT NULL DEFAULT '',
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    claim_token     TEXT NOT NULL DEFAULT '',
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ
);
CREATE INDEX alert_outbox_due_idx ON alert_outbox (status, next_attempt_at);
CREATE INDEX alert_outbox_workspace_idx ON alert_outbox (workspace_id, status, created_at);

-- +goose Down
DROP TABLE alert_outbox;
