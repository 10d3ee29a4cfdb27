-- +goose Up
-- How many sync warnings a run has, kept beside its counts: a page that shows a run's
-- warnings asks run_warnings only when there are some (most runs have none).
ALTER TABLE runs ADD COLUMN warning_count INTEGER NOT NULL DEFAULT 0;
UPDATE runs SET warning_count = (SELECT COUNT(*) FROM run_warnings w WHERE w.run_id = runs.id)
WHERE id IN (SELECT run_id FROM run_warnings);

-- +goose Down
ALTER TABLE runs DROP COLUMN warning_count;
