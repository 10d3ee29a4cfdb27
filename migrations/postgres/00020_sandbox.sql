-- +goose Up
-- What the Sandbox platforms' inbox received: one row per record, the newest kept per
-- platform (older ones are pruned as new ones arrive), with the platform's verdict
-- (rejection empty: accepted). batch_id groups the records of one request.
CREATE TABLE sandbox_records (
    id           BIGSERIAL PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    platform_id  TEXT NOT NULL REFERENCES platforms (id) ON DELETE CASCADE,
    batch_id     TEXT NOT NULL,
    run_id       TEXT NOT NULL DEFAULT '',
    received_at  TIMESTAMPTZ NOT NULL,
    op           TEXT NOT NULL,
    record_key   TEXT NOT NULL,
    fields       TEXT NOT NULL DEFAULT '',
    rejection    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sandbox_records_platform_idx ON sandbox_records (platform_id, id);

-- The grants of Sluice's built-in authorization server (Sandbox (OAuth)): the code, the
-- access token and the refresh token are stored hashed; a revoked grant refuses all three.
CREATE TABLE sandbox_grants (
    id                TEXT PRIMARY KEY,
    workspace_id      TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id           TEXT NOT NULL,
    code_hash         TEXT NOT NULL DEFAULT '',
    code_challenge    TEXT NOT NULL DEFAULT '',
    redirect_uri      TEXT NOT NULL DEFAULT '',
    code_expires_at   TIMESTAMPTZ,
    access_hash       TEXT NOT NULL DEFAULT '',
    access_expires_at TIMESTAMPTZ,
    refresh_hash      TEXT NOT NULL DEFAULT '',
    revoked_at        TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX sandbox_grants_code_idx ON sandbox_grants (code_hash);
CREATE INDEX sandbox_grants_access_idx ON sandbox_grants (access_hash);
CREATE INDEX sandbox_grants_refresh_idx ON sandbox_grants (refresh_hash);

-- +goose Down
DROP TABLE sandbox_grants;
DROP TABLE sandbox_records;
