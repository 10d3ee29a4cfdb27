-- +goose Up
-- An organization holds workspaces; a user belongs to one organization and has a role
-- per workspace (memberships). Each workspace that exists today becomes an organization
-- of its own, under the workspace's id and name; each user keeps their role in their
-- workspace as a membership, and the first admin of each workspace owns its organization.
-- users.workspace_id stays: it now names the workspace a sign-in opens (the last one the
-- user worked in).
CREATE TABLE organizations (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
INSERT INTO organizations (id, name, created_at) SELECT id, name, created_at FROM workspaces;

ALTER TABLE workspaces ADD COLUMN organization_id TEXT REFERENCES organizations (id) ON DELETE CASCADE;
UPDATE workspaces SET organization_id = id;
ALTER TABLE workspaces ALTER COLUMN organization_id SET NOT NULL;
CREATE INDEX workspaces_organization_idx ON workspaces (organization_id);

ALTER TABLE users ADD COLUMN organization_id TEXT REFERENCES organizations (id) ON DELETE CASCADE;
ALTER TABLE users ADD COLUMN owner BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE users SET organization_id = workspace_id;
ALTER TABLE users ALTER COLUMN organization_id SET NOT NULL;
CREATE INDEX users_organization_idx ON users (organization_id);

CREATE TABLE memberships (
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'operator', 'viewer')),
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, workspace_id)
);
CREATE INDEX memberships_workspace_idx ON memberships (workspace_id, role);
INSERT INTO memberships (user_id, workspace_id, role, created_at, updated_at)
SELECT id, workspace_id, role, created_at, updated_at FROM users;

UPDATE users SET owner = TRUE WHERE id IN (
    SELECT (SELECT u.id FROM users u WHERE u.workspace_id = w.id AND u.role = 'admin' ORDER BY u.created_at, u.id LIMIT 1)
    FROM workspaces w);

ALTER TABLE users DROP COLUMN role;

-- +goose Down
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'viewer' CHECK (role IN ('admin', 'editor', 'operator', 'viewer'));
UPDATE users SET role = COALESCE((SELECT m.role FROM memberships m WHERE m.user_id = users.id AND m.workspace_id = users.workspace_id), 'viewer');
DROP TABLE memberships;
ALTER TABLE users DROP COLUMN owner;
ALTER TABLE users DROP COLUMN organization_id;
ALTER TABLE workspaces DROP COLUMN organization_id;
DROP TABLE organizations;
