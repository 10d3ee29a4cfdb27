-- +goose Up
-- The diff state in pages: each row holds up to a few thousand consecutive keys of one
-- activation, in byte order, with their hashes, encoded by models (syncstate.go). A
-- first sync of a million records writes a thousand pages instead of a million rows
-- twice, and a rerun reads a thousand rows. Pages do not overlap; a page is found by
-- the greatest first_key not after the key. The rows of sync_state are moved here by
-- Store.Migrate, which then drops it.
CREATE TABLE sync_state_pages (
    activation_id TEXT NOT NULL REFERENCES activations (id) ON DELETE CASCADE,
    first_key     TEXT COLLATE "C" NOT NULL,
    last_key      TEXT COLLATE "C" NOT NULL,
    entries       INTEGER NOT NULL,
    body          BYTEA NOT NULL,
    PRIMARY KEY (activation_id, first_key)
);
-- Bodies hardly compress (keys are prefix-compressed already): do not try.
ALTER TABLE sync_state_pages ALTER COLUMN body SET STORAGE EXTERNAL;

-- Intents: the keys of a batch about to be sent, with their pending marks, stored
-- whole, one row per batch, before the batch is sent; dropped once its answer is
-- committed to the pages. Rows left by a run that crashed are folded into the pages
-- (as pending marks) by the next scan of the state.
CREATE TABLE sync_state_intents (
    activation_id TEXT NOT NULL REFERENCES activations (id) ON DELETE CASCADE,
    batch_id      TEXT NOT NULL,
    body          BYTEA NOT NULL,
    PRIMARY KEY (activation_id, batch_id)
);
ALTER TABLE sync_state_intents ALTER COLUMN body SET STORAGE EXTERNAL;

-- The record timeline's entries without a reason (added, changed, removed: nearly all
-- of them) in groups: the keys of one run and kind, sorted and prefix-compressed like
-- the state's, up to a few thousand a row. A record lookup reads the groups whose key
-- range holds the key. Entries with a reason (rejected, withheld, not sent) stay a row
-- each in run_changes.
CREATE TABLE run_change_groups (
    id            TEXT PRIMARY KEY,
    run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    activation_id TEXT NOT NULL,
    kind          TEXT NOT NULL,
    first_key     TEXT COLLATE "C" NOT NULL,
    last_key      TEXT COLLATE "C" NOT NULL,
    entries       INTEGER NOT NULL,
    keys          BYTEA NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX run_change_groups_key_idx ON run_change_groups (activation_id, first_key);
CREATE INDEX run_change_groups_run_idx ON run_change_groups (run_id);
ALTER TABLE run_change_groups ALTER COLUMN keys SET STORAGE EXTERNAL;

-- +goose Down
DROP TABLE sync_state_intents;
DROP TABLE run_change_groups;
DROP TABLE sync_state_pages;
