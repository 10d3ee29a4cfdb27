-- +goose Up
-- What a run in flight is waiting for (a slow request to the platform, a retry's pause,
-- the warehouse's first rows), as JSON: written by the worker about once a second while
-- it waits, and emptied when the wait ends and when the run ends.
ALTER TABLE runs ADD COLUMN wait_json TEXT;

-- +goose Down
ALTER TABLE runs DROP COLUMN wait_json;
