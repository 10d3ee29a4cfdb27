-- +goose Up
-- Incidents: the first failure of a kind on an object (an activation's run failing with a
-- category, a source or platform broken, an automatic pause…) opens one and alerts;
-- repeats only bump occurrences and last_seen_at (with at most one reminder a day while
-- it stays open); recovery sets resolved_at and sends one resolved notice. At most one
-- incident of a kind is open per object.
-- event is the alert event (run_failed, source_broken…); category the error category,
-- or '' when the event has none.
CREATE TABLE incidents (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    object_type  TEXT NOT NULL,
    object_id    TEXT NOT NULL,
    object_name  TEXT NOT NULL DEFAULT '',
    event        TEXT NOT NULL,
    category     TEXT NOT NULL DEFAULT '',
    message      TEXT NOT NULL DEFAULT '',
    run_id       TEXT NOT NULL DEFAULT '',
    opened_at    TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    occurrences  INTEGER NOT NULL DEFAULT 1,
    reminded_at  TIMESTAMPTZ,
    resolved_at  TIMESTAMPTZ
);
CREATE UNIQUE INDEX incidents_open_idx ON incidents (workspace_id, object_type, object_id, event, category) WHERE resolved_at IS NULL;
CREATE INDEX incidents_workspace_idx ON incidents (workspace_id, opened_at);

-- +goose Down
DROP TABLE incidents;
