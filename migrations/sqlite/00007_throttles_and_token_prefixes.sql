-- +goose Up
-- Throttling of failed sign-ins and bad API tokens, one row per bucket: a bucket is an
-- (address, e-mail) pair or an address, hashed with what it throttles (never the e-mail
-- in clear). A try takes its bucket's row with a compare-and-set on version, so tries
-- sent together from one address cannot all slip past a count read before any of them
-- was written. The log of every attempt it replaces (login_attempts) could only lock
-- an account for everyone.
CREATE TABLE throttles (
    bucket          TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL,
    version         INTEGER NOT NULL,
    last_failure_at DATETIME NOT NULL,
    blocked_until   DATETIME NOT NULL
);
CREATE INDEX throttles_last_failure_at_idx ON throttles (last_failure_at);
DROP TABLE login_attempts;

-- A token's prefix is shown to tell tokens apart: keep only "slu_" and 4 random
-- characters of generated tokens; a chosen value (SLUICE_BOOTSTRAP_TOKEN) shows none.
-- The audit entries of tokens held the same prefix.
UPDATE api_tokens SET token_prefix = CASE
    WHEN substr(token_prefix, 1, 4) = 'slu_' THEN substr(token_prefix, 1, 8) ELSE '' END;
UPDATE audit_entries SET after_json = json_set(after_json, '$.prefix', CASE
        WHEN substr(json_extract(after_json, '$.prefix'), 1, 4) = 'slu_' THEN substr(json_extract(after_json, '$.prefix'), 1, 8) ELSE '' END)
    WHERE resource_type = 'api_token' AND json_valid(after_json) AND json_type(after_json, '$.prefix') = 'text';
UPDATE audit_entries SET before_json = json_set(before_json, '$.prefix', CASE
        WHEN substr(json_extract(before_json, '$.prefix'), 1, 4) = 'slu_' THEN substr(json_extract(before_json, '$.prefix'), 1, 8) ELSE '' END)
    WHERE resource_type = 'api_token' AND json_valid(before_json) AND json_type(before_json, '$.prefix') = 'text';

-- +goose Down
DROP TABLE throttles;
CREATE TABLE login_attempts (
    id        TEXT PRIMARY KEY,
    email     TEXT NOT NULL,
    ip        TEXT NOT NULL,
    succeeded BOOLEAN NOT NULL,
    at        DATETIME NOT NULL
);
CREATE INDEX login_attempts_email_at_idx ON login_attempts (email, at);
CREATE INDEX login_attempts_ip_at_idx ON login_attempts (ip, at);
