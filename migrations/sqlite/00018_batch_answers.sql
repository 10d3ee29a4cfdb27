-- +goose Up
-- A batch's answer is stored with its intents the moment the platform gives it, before
-- the next batch is sent (one small row update), and folded into the pages later with
-- the other answers. A process killed before the fold leaves the answer here: the next
-- scan folds it as acknowledged, so only the batch in flight at the kill is sent again.
-- planned is what acknowledging every record stores, written with the intents, so that
-- the answer of such a batch (nearly all of them) is one byte.
ALTER TABLE sync_state_intents ADD COLUMN answer BLOB;
ALTER TABLE sync_state_intents ADD COLUMN planned BLOB;

-- +goose Down
ALTER TABLE sync_state_intents DROP COLUMN planned;
ALTER TABLE sync_state_intents DROP COLUMN answer;
