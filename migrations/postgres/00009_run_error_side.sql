-- +goose Up
-- Which end a run's error came from (source, destination, activation, sluice), so its fix
-- points there: a permission error reading the warehouse is the source's to fix, not the
-- platform's. Empty for runs that ended before it was kept.
ALTER TABLE runs ADD COLUMN error_side TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE runs DROP COLUMN error_side;
