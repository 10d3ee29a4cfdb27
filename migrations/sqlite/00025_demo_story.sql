-- +goose Up
-- Where the demo's story stands: '' (none), 'preparing' (its platforms, activations and
-- runs are being made, after Sluice listens), 'ready', or 'stopped' (it stopped part way
-- and is taken up again at the next start).
ALTER TABLE workspaces ADD COLUMN demo_story TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE workspaces DROP COLUMN demo_story;
