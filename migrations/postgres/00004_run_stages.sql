-- +goose Up
-- When each stage of a run began and ended, written once when the run finishes:
-- JSON [{"stage", "started_at", "finished_at", "processed"}]. NULL for runs that
-- finished before this column existed, or never reached a stage.
ALTER TABLE runs ADD COLUMN stages_json TEXT;
-- The record lookup reads one key's issues in a run.
CREATE INDEX run_issues_key_idx ON run_issues (run_id, primary_key);

-- +goose Down
DROP INDEX run_issues_key_idx;
ALTER TABLE runs DROP COLUMN stages_json;
