-- +goose Up
CREATE TABLE sources (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL,
    -- Non-secret settings as JSON; secret ones sealed with AES-256-GCM, bound to the row.
    config_json    TEXT NOT NULL DEFAULT '{}',
    secrets_sealed TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL DEFAULT 'unknown' CHECK (status IN ('unknown', 'connected', 'broken')),
    checks_json    TEXT NOT NULL DEFAULT '[]',
    validated_at   TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX sources_workspace_name_key ON sources (workspace_id, name);

CREATE TABLE data_models (
    id                TEXT PRIMARY KEY,
    workspace_id      TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    source_id         TEXT NOT NULL REFERENCES sources (id),
    name              TEXT NOT NULL,
    table_schema      TEXT NOT NULL DEFAULT '',
    table_name        TEXT NOT NULL DEFAULT '',
    sql_text          TEXT NOT NULL DEFAULT '',
    primary_key       TEXT NOT NULL,
    columns_json      TEXT NOT NULL DEFAULT '[]',
    status            TEXT NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'warning', 'broken')),
    issues_json       TEXT NOT NULL DEFAULT '[]',
    duplicates_json   TEXT NOT NULL DEFAULT '',
    validated_at      TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX data_models_workspace_name_key ON data_models (workspace_id, name);
CREATE INDEX data_models_source_idx ON data_models (source_id);

CREATE TABLE segments (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    model_id        TEXT NOT NULL REFERENCES data_models (id),
    name            TEXT NOT NULL,
    conditions_json TEXT NOT NULL DEFAULT '{"all":[]}',
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX segments_workspace_name_key ON segments (workspace_id, name);
CREATE INDEX segments_model_idx ON segments (model_id);

-- +goose Down
DROP TABLE segments;
DROP TABLE data_models;
DROP TABLE sources;
