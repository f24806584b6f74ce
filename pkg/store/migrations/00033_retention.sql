-- Retention (enhancements C4): the outbox relay prunes processed_events
-- after INBOX_RETENTION_DAYS, published outbox rows after
-- OUTBOX_RETENTION_DAYS and, when HISTORY_RETENTION_DAYS is set, history and
-- event log rows older than that (pkg/store/retention.go), in small batches.
-- These indexes let each batch find its oldest rows without reading the
-- tables.

-- +goose Up
CREATE INDEX IF NOT EXISTS idx_processed_events_processed_at
    ON matching_service.processed_events (processed_at);

-- Only published rows are ever pruned; unpublished ones wait for the relay
-- however old they are.
CREATE INDEX IF NOT EXISTS idx_outbox_published_at
    ON matching_service.outbox (published_at)
    WHERE published_at IS NOT NULL;

-- What the history retention has done: how far back the history is complete
-- (horizon: the state of every row at any instant from there on can be
-- rebuilt; ?stand= and the replay refuse earlier instants) and where its
-- sweep through the old rows stands (cursor: a history id).
CREATE TABLE IF NOT EXISTS matching_service.history_retention (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    horizon     timestamptz,
    cursor      bigint NOT NULL DEFAULT 0
);
-- The history begins with migration 00030's snapshot.
INSERT INTO matching_service.history_retention (horizon)
SELECT COALESCE((SELECT min(at) FROM matching_service.history), now())
ON CONFLICT DO NOTHING;

-- +goose Down
DROP TABLE IF EXISTS matching_service.history_retention;
DROP INDEX IF EXISTS matching_service.idx_outbox_published_at;
DROP INDEX IF EXISTS matching_service.idx_processed_events_processed_at;
