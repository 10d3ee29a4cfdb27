-- +goose Up
-- Single sign-on with SAML 2.0, per organization: the identity provider's metadata (the
-- URL it was read from, if any, and the XML), its entity ID, Sluice's own key (sealed,
-- never shown back) and self-signed certificate for this organization, and the same
-- role mapping as OpenID Connect. Sign-ins under way keep their request ID in sso_states.
CREATE TABLE saml_configs (
    organization_id  TEXT PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    provider_name    TEXT NOT NULL,
    metadata_url     TEXT NOT NULL DEFAULT '',
    metadata_xml     TEXT NOT NULL,
    idp_entity_id    TEXT NOT NULL,
    sp_key_sealed    TEXT NOT NULL,
    sp_cert_pem      TEXT NOT NULL,
    default_role     TEXT NOT NULL CHECK (default_role IN ('admin', 'editor', 'operator', 'viewer')),
    groups_attribute TEXT NOT NULL DEFAULT '',
    group_roles      TEXT NOT NULL DEFAULT '',
    created_at       DATETIME NOT NULL,
    updated_at       DATETIME NOT NULL
);

-- +goose Down
DROP TABLE saml_configs;
