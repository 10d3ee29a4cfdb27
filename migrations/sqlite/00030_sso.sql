-- +goose Up
-- Single sign-on with OpenID Connect, per organization: the provider's issuer URL, the
-- client's id and secret (sealed, never shown back), the role of accounts made at first
-- sign-in and a mapping from the groups claim to roles, and "require SSO", which turns
-- passwords off for everyone but one owner (break_glass_user_id).
CREATE TABLE sso_configs (
    organization_id     TEXT PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    provider_name       TEXT NOT NULL,
    issuer              TEXT NOT NULL,
    client_id           TEXT NOT NULL,
    secret_sealed       TEXT NOT NULL,
    default_role        TEXT NOT NULL CHECK (default_role IN ('admin', 'editor', 'operator', 'viewer')),
    groups_claim        TEXT NOT NULL DEFAULT '',
    group_roles         TEXT NOT NULL DEFAULT '',
    require_sso         BOOLEAN NOT NULL DEFAULT FALSE,
    break_glass_user_id TEXT NOT NULL DEFAULT '',
    created_at          DATETIME NOT NULL,
    updated_at          DATETIME NOT NULL
);

-- Who a provider's account (issuer, subject) is in Sluice.
CREATE TABLE sso_identities (
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at DATETIME NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX sso_identities_user_idx ON sso_identities (user_id);

-- Sign-ins under way at a provider: the state's hash, with the nonce, PKCE verifier and
-- where to go after, sealed.
CREATE TABLE sso_states (
    state_hash      TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    sealed          TEXT NOT NULL,
    expires_at      DATETIME NOT NULL
);
CREATE INDEX sso_states_expires_idx ON sso_states (expires_at);

-- +goose Down
DROP TABLE sso_states;
DROP TABLE sso_identities;
DROP TABLE sso_configs;
