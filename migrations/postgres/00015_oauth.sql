-- +goose Up
-- OAuth platforms keep their grant sealed (access token, refresh token, expiry), when the
-- access token and the grant itself expire where the provider says so, the scopes granted,
-- and who connected them. broken_at is since when a platform is broken.
ALTER TABLE platforms ADD COLUMN oauth_sealed TEXT NOT NULL DEFAULT '';
ALTER TABLE platforms ADD COLUMN token_expires_at TIMESTAMPTZ;
ALTER TABLE platforms ADD COLUMN grant_expires_at TIMESTAMPTZ;
ALTER TABLE platforms ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
ALTER TABLE platforms ADD COLUMN connected_by TEXT NOT NULL DEFAULT '';
ALTER TABLE platforms ADD COLUMN connected_at TIMESTAMPTZ;
ALTER TABLE platforms ADD COLUMN broken_at TIMESTAMPTZ;
UPDATE platforms SET broken_at = checked_at WHERE status = 'broken';

-- A consent under way: the state sent to the provider (stored hashed), who asked for it,
-- and what to do on return (connect a new platform, or re-authorize one), with the PKCE
-- verifier and the settings sealed. Used once, within ten minutes.
CREATE TABLE oauth_states (
    state_hash   TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL,
    platform_id  TEXT NOT NULL DEFAULT '',
    kind         TEXT NOT NULL,
    name         TEXT NOT NULL,
    sealed       TEXT NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX oauth_states_expires_idx ON oauth_states (expires_at);

-- +goose Down
DROP TABLE oauth_states;
ALTER TABLE platforms DROP COLUMN broken_at;
ALTER TABLE platforms DROP COLUMN connected_at;
ALTER TABLE platforms DROP COLUMN connected_by;
ALTER TABLE platforms DROP COLUMN scopes;
ALTER TABLE platforms DROP COLUMN grant_expires_at;
ALTER TABLE platforms DROP COLUMN token_expires_at;
ALTER TABLE platforms DROP COLUMN oauth_sealed;
