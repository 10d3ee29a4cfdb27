-- +goose Up
-- alerted_at: when a failed or interrupted run's incident (and its alerts) was recorded.
-- A run whose end was stored but whose incident was not (the process died in between)
-- has none, and a sweep records it later: no failure goes unalerted.
ALTER TABLE runs ADD COLUMN alerted_at TIMESTAMPTZ;
UPDATE runs SET alerted_at = finished_at WHERE finished_at IS NOT NULL;
CREATE INDEX runs_unalerted_idx ON runs (finished_at) WHERE alerted_at IS NULL AND status IN ('failed', 'interrupted');

-- +goose Down
DROP INDEX runs_unalerted_idx;
ALTER TABLE runs DROP COLUMN alerted_at;
