-- +goose Up
-- What validation found wrong with a source (its failing stage) or a model (a column
-- missing, altered or retyped, duplicate keys), kept over time: an issue seen again only
-- moves last_seen_at; one no longer seen gets resolved_at; a new one opens a new row.
-- column_name is '' for the whole object (a source's stage, a model's table).
CREATE TABLE validation_issues (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    object_type   TEXT NOT NULL CHECK (object_type IN ('source', 'model')),
    object_id     TEXT NOT NULL,
    column_name   TEXT NOT NULL DEFAULT '',
    kind          TEXT NOT NULL,
    message       TEXT NOT NULL DEFAULT '',
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL,
    resolved_at   TIMESTAMPTZ
);
CREATE INDEX validation_issues_object_idx ON validation_issues (workspace_id, object_type, object_id);
-- One open issue per object, column and kind: two validations racing cannot open twins.
CREATE UNIQUE INDEX validation_issues_open_key ON validation_issues (workspace_id, object_type, object_id, column_name, kind) WHERE resolved_at IS NULL;

-- The daily validation of a workspace claims its day here first, so however many
-- instances run the cron, each workspace is validated once a day.
CREATE TABLE validation_days (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    day          TEXT NOT NULL,
    claimed_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workspace_id, day)
);

-- Every pause and resume of an activation, by a person or by Sluice, for its Run
-- History (the audit log keeps the same with before and after).
CREATE TABLE activation_events (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    activation_id TEXT NOT NULL REFERENCES activations (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('paused', 'resumed')),
    automatic     BOOLEAN NOT NULL DEFAULT FALSE,
    cause         TEXT NOT NULL DEFAULT '',
    reason        TEXT NOT NULL DEFAULT '',
    actor         TEXT NOT NULL DEFAULT '',
    at            TIMESTAMPTZ NOT NULL
);
CREATE INDEX activation_events_activation_idx ON activation_events (activation_id, at);

-- +goose Down
DROP TABLE activation_events;
DROP TABLE validation_days;
DROP TABLE validation_issues;
