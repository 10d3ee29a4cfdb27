-- +goose Up
-- When the identity provider's metadata was last read: a metadata URL is read again when
-- older than a day (or the metadata's own validUntil/cacheDuration), since providers
-- rotate their signing certificates. Existing settings were read when last saved.
ALTER TABLE saml_configs ADD COLUMN metadata_read_at TIMESTAMPTZ;
UPDATE saml_configs SET metadata_read_at = updated_at;

-- +goose Down
ALTER TABLE saml_configs DROP COLUMN metadata_read_at;
