-- +goose Up
-- A workspace's alert settings (Settings → Alerts, GET/PUT /api/v1/alerts): who hears,
-- through which channels, of which events, past which thresholds. E-mail recipients are
-- user ids of the workspace or addresses (JSON list); Slack incoming-webhook URLs are
-- secrets, sealed together in slack_sealed. Routing maps an error category to its
-- targets (JSON object). A workspace without a row has the defaults.
CREATE TABLE alert_settings (
    workspace_id          TEXT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    recipients_json       TEXT NOT NULL DEFAULT '[]',
    slack_sealed          TEXT NOT NULL DEFAULT '',
    slack_count           INTEGER NOT NULL DEFAULT 0,
    events_json           TEXT NOT NULL DEFAULT '[]',
    routing_json          TEXT NOT NULL DEFAULT '{}',
    source_issues_percent INTEGER NOT NULL DEFAULT 0,
    slow_run_factor       INTEGER NOT NULL DEFAULT 0,
    audience_drop_percent INTEGER NOT NULL DEFAULT 0,
    updated_at            TIMESTAMPTZ NOT NULL
);

-- Per-activation overrides: mute its alerts, or tell more people than the workspace's
-- recipients. Gone with the activation.
CREATE TABLE alert_overrides (
    workspace_id          TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    activation_id         TEXT NOT NULL REFERENCES activations (id) ON DELETE CASCADE,
    muted                 BOOLEAN NOT NULL DEFAULT FALSE,
    extra_recipients_json TEXT NOT NULL DEFAULT '[]',
    updated_at            TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workspace_id, activation_id)
);
CREATE INDEX alert_overrides_activation_idx ON alert_overrides (activation_id);

-- +goose Down
DROP TABLE alert_overrides;
DROP TABLE alert_settings;
