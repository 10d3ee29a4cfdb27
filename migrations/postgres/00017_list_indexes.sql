-- +goose Up
-- Indexes for the lists' filters and order: the activations list filtered by health or
-- paused, by name; an activation's runs newest first, keyset-paged on (created_at, id),
-- which the new index serves in either direction (it replaces the one without id).
CREATE INDEX activations_workspace_health_idx ON activations (workspace_id, health, name);
CREATE INDEX activations_workspace_status_idx ON activations (workspace_id, status, name);
CREATE INDEX runs_activation_recent_idx ON runs (activation_id, created_at, id);
DROP INDEX runs_activation_created_idx;

-- +goose Down
CREATE INDEX runs_activation_created_idx ON runs (activation_id, created_at);
DROP INDEX runs_activation_recent_idx;
DROP INDEX activations_workspace_status_idx;
DROP INDEX activations_workspace_health_idx;
