-- +goose Up
-- The diff state in pages: each row holds up to a few thousand consecutive keys of one
-- activation, in byte order, with their hashes, encoded by models (syncstate.go). A
-- first sync of a million records writes a thousand pages instead of a million rows
-- twice, and a rerun reads a thousand rows. Pages do not overlap; a page is found by
-- the greatest first_key not after the key. The rows of sync_state are moved here by
-- Store.Migrate, which then drops it.
CREATE TABLE sync_state_pages (
    activation_id TEXT NOT NULL REFERENCES activations (id) ON DELETE CASCADE,
    first_key     TEXT NOT NULL,
    last_key      TEXT NOT NULL,
    entries       INTEGER NOT NULL,
    body          BLOB NOT NULL,
    PRIMARY KEY (activation_id, first_key)
);

-- +goose Down
DROP TABLE sync_state_pages;
