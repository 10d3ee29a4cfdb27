-- +goose Up
-- Sync warnings: what went wrong in a run without failing it (source issues under the
-- threshold, a column whose type changed, duplicate keys under 5%, a run much slower than
-- usual, an audience that dropped by more than half), worked out where every run ends.
-- object_type and object_id name where to look (the run, the model, the segment).
CREATE TABLE run_warnings (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    run_id       TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    message      TEXT NOT NULL,
    object_type  TEXT NOT NULL DEFAULT '',
    object_id    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX run_warnings_run_idx ON run_warnings (run_id, id);

-- +goose Down
DROP TABLE run_warnings;
