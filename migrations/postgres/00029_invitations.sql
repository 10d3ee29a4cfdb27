-- +goose Up
-- Invitations by e-mail to a workspace, with a role. The link's token is single-use and
-- expires; only its SHA-256 is kept. Resending replaces the token (the old link dies).
CREATE TABLE invitations (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email        TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'operator', 'viewer')),
    token_hash   TEXT NOT NULL,
    invited_by   TEXT NOT NULL DEFAULT '',
    sent_at      TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    accepted_at  TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX invitations_token_hash_key ON invitations (token_hash);
CREATE INDEX invitations_workspace_idx ON invitations (workspace_id, email);

-- +goose Down
DROP TABLE invitations;
