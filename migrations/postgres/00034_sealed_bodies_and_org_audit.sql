-- +goose Up
-- An invitation's e-mail holds a live sign-up link: its body is sealed like the other
-- secrets (payload_sealed; payload is then '{}') and opened only by the sender. Rows
-- still queued are sealed at start (models: sealQueuedInvitations, which needs the key)
-- and send as before; those sent or given up already lose the link (their buttons),
-- which only mattered until sending.
ALTER TABLE alert_outbox ADD COLUMN payload_sealed TEXT NOT NULL DEFAULT '';
UPDATE alert_outbox SET payload = (payload::jsonb - 'buttons')::text
WHERE status <> 'pending' AND payload LIKE '{"kind":"invitation",%';

-- The organization's audit trail outlives its workspaces: entries no longer cascade with
-- their workspace, and organization_id marks those the organization's owners see (the
-- organization's own changes, its workspaces' creation, renaming and deletion, and every
-- entry of a workspace once it is deleted).
ALTER TABLE audit_entries DROP CONSTRAINT audit_entries_workspace_id_fkey;
ALTER TABLE audit_entries ADD COLUMN organization_id TEXT NOT NULL DEFAULT '';
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
DROP INDEX audit_entries_organization_at_idx;
ALTER TABLE audit_entries DROP COLUMN organization_id;
ALTER TABLE audit_entries ADD CONSTRAINT audit_entries_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE;
ALTER TABLE alert_outbox DROP COLUMN payload_sealed;
