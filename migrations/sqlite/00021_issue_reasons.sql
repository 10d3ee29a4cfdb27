-- +goose Up
-- A run's issues by reason: the run page's summary groups them by (stage, code, field)
-- and its list filters by the same, paged by id, from this index alone.
CREATE INDEX run_issues_reason_idx ON run_issues (run_id, stage, code, field, id);

-- +goose Down
DROP INDEX run_issues_reason_idx;
