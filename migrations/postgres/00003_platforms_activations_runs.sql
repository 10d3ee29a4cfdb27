-- +goose Up
CREATE TABLE platforms (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL,
    config_json    TEXT NOT NULL DEFAULT '{}',
    secrets_sealed TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL DEFAULT 'connected' CHECK (status IN ('connected', 'broken')),
    status_message TEXT NOT NULL DEFAULT '',
    checked_at     TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX platforms_workspace_name_key ON platforms (workspace_id, name);

CREATE TABLE activations (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    segment_id      TEXT NOT NULL REFERENCES segments (id),
    platform_id     TEXT NOT NULL REFERENCES platforms (id),
    action          TEXT NOT NULL,
    mappings_json   TEXT NOT NULL DEFAULT '[]',
    schedule_json   TEXT NOT NULL DEFAULT '{"kind":"manual"}',
    settings_json   TEXT NOT NULL DEFAULT '{}',
    status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    pause_automatic BOOLEAN NOT NULL DEFAULT FALSE,
    pause_cause     TEXT NOT NULL DEFAULT '',
    pause_reason    TEXT NOT NULL DEFAULT '',
    paused_at       TIMESTAMPTZ,
    health          TEXT NOT NULL DEFAULT 'never_run',
    last_run_id     TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX activations_workspace_name_key ON activations (workspace_id, name);
CREATE INDEX activations_segment_idx ON activations (segment_id);
CREATE INDEX activations_platform_idx ON activations (platform_id);

CREATE TABLE runs (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    activation_id    TEXT NOT NULL REFERENCES activations (id) ON DELETE CASCADE,
    status           TEXT NOT NULL,
    trigger          TEXT NOT NULL,
    scheduled_for    TIMESTAMPTZ,
    full_resync      BOOLEAN NOT NULL DEFAULT FALSE,
    stage            TEXT NOT NULL DEFAULT '',
    processed        BIGINT NOT NULL DEFAULT 0,
    queried          BIGINT NOT NULL DEFAULT 0,
    added            BIGINT NOT NULL DEFAULT 0,
    changed          BIGINT NOT NULL DEFAULT 0,
    removed          BIGINT NOT NULL DEFAULT 0,
    unchanged        BIGINT NOT NULL DEFAULT 0,
    sent             BIGINT NOT NULL DEFAULT 0,
    rejected         BIGINT NOT NULL DEFAULT 0,
    unsent           BIGINT NOT NULL DEFAULT 0,
    source_issues    BIGINT NOT NULL DEFAULT 0,
    error_category   TEXT NOT NULL DEFAULT '',
    error_message    TEXT NOT NULL DEFAULT '',
    error_detail     TEXT NOT NULL DEFAULT '',
    lease_owner      TEXT NOT NULL DEFAULT '',
    lease_expires_at TIMESTAMPTZ,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       TIMESTAMPTZ NOT NULL,
    started_at       TIMESTAMPTZ,
    finished_at      TIMESTAMPTZ
);
-- A schedule tick inserts under this key, so duplicate ticks of several instances collapse.
CREATE UNIQUE INDEX runs_activation_scheduled_key ON runs (activation_id, scheduled_for);
CREATE INDEX runs_activation_created_idx ON runs (activation_id, created_at);
CREATE INDEX runs_status_idx ON runs (status, created_at);

CREATE TABLE run_issues (
    id           TEXT PRIMARY KEY,
    run_id       TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    primary_key  TEXT NOT NULL,
    stage        TEXT NOT NULL,
    code         TEXT NOT NULL,
    field        TEXT NOT NULL DEFAULT '',
    message      TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX run_issues_run_idx ON run_issues (run_id, stage, id);

CREATE TABLE run_logs (
    id      TEXT PRIMARY KEY,
    run_id  TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    at      TIMESTAMPTZ NOT NULL,
    level   TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX run_logs_run_idx ON run_logs (run_id, at, id);

CREATE TABLE run_changes (
    id            TEXT PRIMARY KEY,
    run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    activation_id TEXT NOT NULL,
    primary_key   TEXT NOT NULL,
    kind          TEXT NOT NULL,
    detail        TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX run_changes_key_idx ON run_changes (activation_id, primary_key, created_at);
CREATE INDEX run_changes_run_idx ON run_changes (run_id);

CREATE TABLE run_samples (
    id            TEXT PRIMARY KEY,
    run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    exchange_json TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX run_samples_run_idx ON run_samples (run_id, created_at);

-- What each activation's platform has acknowledged: the diff state. Keys sort by bytes
-- (COLLATE "C"), the order the engine merges them in; SQLite's default is the same.
CREATE TABLE sync_state (
    activation_id TEXT NOT NULL REFERENCES activations (id) ON DELETE CASCADE,
    primary_key   TEXT COLLATE "C" NOT NULL,
    payload_hash  BIGINT NOT NULL,
    PRIMARY KEY (activation_id, primary_key)
);

-- +goose Down
DROP TABLE sync_state;
DROP TABLE run_samples;
DROP TABLE run_changes;
DROP TABLE run_logs;
DROP TABLE run_issues;
DROP TABLE runs;
DROP TABLE activations;
DROP TABLE platforms;
