-- +goose Up
-- "Require SSO" belongs to the organization, whichever of its providers (OpenID Connect,
-- SAML) people sign in with: it moves from sso_configs to organizations, with the
-- break-glass owner who keeps password sign-in.
ALTER TABLE organizations ADD COLUMN require_sso BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE organizations ADD COLUMN break_glass_user_id TEXT NOT NULL DEFAULT '';
UPDATE organizations SET
    require_sso = COALESCE((SELECT c.require_sso FROM sso_configs c WHERE c.organization_id = organizations.id), FALSE),
    break_glass_user_id = COALESCE((SELECT c.break_glass_user_id FROM sso_configs c WHERE c.organization_id = organizations.id), '');
ALTER TABLE sso_configs DROP COLUMN require_sso;
ALTER TABLE sso_configs DROP COLUMN break_glass_user_id;

-- +goose Down
ALTER TABLE sso_configs ADD COLUMN require_sso BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE sso_configs ADD COLUMN break_glass_user_id TEXT NOT NULL DEFAULT '';
UPDATE sso_configs SET
    require_sso = (SELECT o.require_sso FROM organizations o WHERE o.id = sso_configs.organization_id),
    break_glass_user_id = (SELECT o.break_glass_user_id FROM organizations o WHERE o.id = sso_configs.organization_id);
ALTER TABLE organizations DROP COLUMN break_glass_user_id;
ALTER TABLE organizations DROP COLUMN require_sso;
