-- +goose Up
-- What the demo seed made, so a workspace can say it holds demo data and "Remove demo
-- data" deletes exactly those objects and nothing a user made beside them. The seed runs
-- once: a workspace whose demo was removed is not seeded again.
ALTER TABLE workspaces ADD COLUMN demo_seeded_at DATETIME;
ALTER TABLE workspaces ADD COLUMN demo_removed_at DATETIME;
CREATE TABLE demo_objects (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    object_type  TEXT NOT NULL,
    object_id    TEXT NOT NULL,
    PRIMARY KEY (workspace_id, object_type, object_id)
);

-- +goose Down
DROP TABLE demo_objects;
ALTER TABLE workspaces DROP COLUMN demo_removed_at;
ALTER TABLE workspaces DROP COLUMN demo_seeded_at;
