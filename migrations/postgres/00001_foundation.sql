-- +goose Up
CREATE TABLE workspaces (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    setup_completed_at TIMESTAMPTZ,
    created_at         TIMESTAMPTZ NOT NULL
);

-- The first workspace exists from the start, so /setup, the bootstrap token and
-- `sluice user create` all have one place to attach to, whichever comes first.
INSERT INTO workspaces (id, name, created_at)
VALUES ('00000000-0000-7000-8000-000000000001', 'My workspace', CURRENT_TIMESTAMP);

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    name            TEXT NOT NULL DEFAULT '',
    password_hash   TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'operator', 'viewer')),
    last_sign_in_at TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE INDEX users_workspace_idx ON users (workspace_id);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL,
    token_prefix TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'operator', 'viewer')),
    created_by   TEXT NOT NULL DEFAULT '',
    last_used_at TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX api_tokens_hash_key ON api_tokens (token_hash);
CREATE INDEX api_tokens_workspace_idx ON api_tokens (workspace_id);

CREATE TABLE audit_entries (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    at            TIMESTAMPTZ NOT NULL,
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
CREATE INDEX audit_entries_workspace_at_idx ON audit_entries (workspace_id, at);

CREATE TABLE login_attempts (
    id        TEXT PRIMARY KEY,
    email     TEXT NOT NULL,
    ip        TEXT NOT NULL,
    succeeded BOOLEAN NOT NULL,
    at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_attempts_email_at_idx ON login_attempts (email, at);
CREATE INDEX login_attempts_ip_at_idx ON login_attempts (ip, at);

-- +goose Down
DROP TABLE login_attempts;
DROP TABLE audit_entries;
DROP TABLE api_tokens;
DROP TABLE users;
DROP TABLE workspaces;
