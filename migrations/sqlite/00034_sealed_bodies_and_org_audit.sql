-- +goose Up
-- An invitation's e-mail holds a live sign-up link: its body is sealed like the other
-- secrets (payload_sealed; payload is then '{}') and opened only by the sender. Rows
-- still queued are sealed at start (models: sealQueuedInvitations, which needs the key)
-- and send as before; those sent or given up already lose the link (their buttons),
-- which only mattered until sending.
ALTER TABLE alert_outbox ADD COLUMN payload_sealed TEXT NOT NULL DEFAULT '';
UPDATE alert_outbox SET payload = json_remove(payload, '$.buttons')
WHERE status <> 'pending' AND payload LIKE '{"kind":"invitation",%';

-- The organization's audit trail outlives its workspaces: entries no longer cascade with
-- their workspace, and organization_id marks those the organization's owners see (the
-- organization's own changes, its workspaces' creation, renaming and deletion, and every
-- entry of a workspace once it is deleted). SQLite cannot drop a foreign key: the table
-- is rebuilt.
CREATE TABLE audit_entries_new (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL,
    organization_id TEXT NOT NULL DEFAULT '',
    at              DATETIME NOT NULL,
    actor_type      TEXT NOT NULL,
    actor_id        TEXT NOT NULL DEFAULT '',
    actor_name      TEXT NOT NULL DEFAULT '',
    action          TEXT NOT NULL,
    resource_type   TEXT NOT NULL,
    resource_id     TEXT NOT NULL DEFAULT '',
    resource_name   TEXT NOT NULL DEFAULT '',
    before_json     TEXT,
    after_json      TEXT
);
INSERT INTO audit_entries_new (id, workspace_id, at, actor_type, actor_id, actor_name, action, resource_type, resource_id, resource_name, before_json, after_json)
SELECT id, workspace_id, at, actor_type, actor_id, actor_name, action, resource_type, resource_id, resource_name, before_json, after_json FROM audit_entries;
DROP TABLE audit_entries;
ALTER TABLE audit_entries_new RENAME TO audit_entries;
CREATE INDEX audit_entries_workspace_at_idx ON audit_entries (workspace_id, at);
CREATE INDEX audit_entries_organization_at_idx ON audit_entries (organization_id, at);
UPDATE audit_entries SET organization_id = COALESCE((SELECT w.organization_id FROM workspaces w WHERE w.id = audit_entries.workspace_id), '')
WHERE resource_type = 'workspace';

-- Who made an API token, so that an admin token made by an owner may manage the
-- organization's workspaces while its maker owns it. Tokens made before are not
-- traced back (created_by holds a name): they stay within their workspace.
ALTER TABLE api_tokens ADD COLUMN created_by_user_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE api_tokens DROP COLUMN created_by_user_id;
DELETE FROM audit_entries WHERE workspace_id NOT IN (SELECT id FROM workspaces);
CREATE TABLE audit_entries_old (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    at            DATETIME NOT NULL,
    actor_type    TEXT NOT NULL,
    actor_id      TEXT NOT NULL DEFAULT '',
    actor_name    TEXT NOT NULL DEFAULT '',
    action        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL DEFAULT '',
    resource_name TEXT NOT NULL DEFAULT '',
    before_json   TEXT,
    after_json    TEXT
);
INSERT INTO audit_entries_old (id, workspace_id, at, actor_type, actor_id, actor_name, action, resource_type, resource_id, resource_name, before_json, after_json)
SELECT id, workspace_id, at, actor_type, actor_id, actor_name, action, resource_type, resource_id, resource_name, before_json, after_json FROM audit_entries;
DROP TABLE audit_entries;
ALTER TABLE audit_entries_old RENAME TO audit_entries;
CREATE INDEX audit_entries_workspace_at_idx ON audit_entries (workspace_id, at);
ALTER TABLE alert_outbox DROP COLUMN payload_sealed;
