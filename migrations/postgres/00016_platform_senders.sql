-- +goose Up
-- The instances of Sluice sending to each platform now, so they split its rate limit:
-- each paces 1/n of it, n the instances seen here lately. An instance keeps its row
-- fresh while one of its runs sends to the platform and deletes it when the last one
-- ends; the row of an instance that died goes stale, is no longer counted, and is
-- pruned. No foreign key to platforms: rows live for seconds, and a beat must not wait
-- on a lock of the platform's row.
CREATE TABLE platform_senders (
    platform_id TEXT NOT NULL,
    owner       TEXT NOT NULL,
    seen_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (platform_id, owner)
);
CREATE INDEX platform_senders_seen_at_idx ON platform_senders (seen_at);

-- +goose Down
DROP TABLE platform_senders;
