-- +goose Up
-- When the identity provider's metadata URL was last asked for fresh metadata, answered
-- or not: after a failed read it is not asked again for some minutes, so a provider
-- that is down does not make every sign-in wait for it.
ALTER TABLE saml_configs ADD COLUMN metadata_tried_at TIMESTAMPTZ;

-- +goose Down
ALTER TABLE saml_configs DROP COLUMN metadata_tried_at;
