-- The outbox publisher and relay (pkg/outbox) send a row only when no older
-- row of its partition key is unpublished. Without this index that check
-- walks every older unpublished row (idx_outbox_unpublished is ordered by seq
-- alone), so during a sink outage each publish costs O(backlog) and a relay
-- run O(backlog²): with 10,000 waiting events one relay run took 50 s with
-- the sink down and 65 s to drain once it was back; with the index 2.1 s and
-- 1.3 s. Partial like idx_outbox_unpublished: it holds only what waits.

-- +goose Up
CREATE INDEX IF NOT EXISTS idx_outbox_unpublished_key
    ON matching_service.outbox (partition_key, seq)
    WHERE published_at IS NULL;

-- +goose Down
DROP INDEX IF EXISTS matching_service.idx_outbox_unpublished_key;
