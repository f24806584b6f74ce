-- The outbox keeps the order of each entity's events, not of each bare
-- partition key: the seed keys events by the id alone, so "2" was anfrage 2,
-- search 2 and therapist 2 at once, and an event of one of them that the sink
-- refused held back the others. ordering_key is entity:id ("anfrage:2",
-- "search:2", "therapist:2"), written by outbox.Add from
-- events.Outgoing.OrderingKey; partition_key stays the seed's Kafka key.
--
-- Rows written before this migration, and rows an instance of the previous
-- version writes during a rolling deployment (it does not know the column),
-- get their ordering key from their type: outbox_ordering_key maps the
-- event types those versions emit, the same mapping as the constructors in
-- pkg/events (a test compares them). Published rows are left NULL: order
-- matters only among unpublished ones.
--
-- idx_outbox_unpublished_order replaces idx_outbox_unpublished_key for the
-- in-order check (see 00006 for why that check needs an index).

-- +goose Up
ALTER TABLE matching_service.outbox ADD COLUMN IF NOT EXISTS ordering_key text;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION matching_service.outbox_ordering_key(event_type text, partition_key text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN event_type LIKE 'therapeutenanfrage.%' THEN 'anfrage:' || partition_key
        WHEN event_type = 'search.status_changed' THEN 'search:' || partition_key
        WHEN event_type = 'cooling.period_started' THEN 'therapist:' || partition_key
        ELSE partition_key
    END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION matching_service.outbox_fill_ordering_key()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.ordering_key := matching_service.outbox_ordering_key(NEW.event_type, NEW.partition_key);
    RETURN NEW;
END
$$;
-- +goose StatementEnd

CREATE OR REPLACE TRIGGER outbox_fill_ordering_key
    BEFORE INSERT ON matching_service.outbox
    FOR EACH ROW WHEN (NEW.ordering_key IS NULL)
    EXECUTE FUNCTION matching_service.outbox_fill_ordering_key();

UPDATE matching_service.outbox
SET ordering_key = matching_service.outbox_ordering_key(event_type, partition_key)
WHERE published_at IS NULL AND ordering_key IS NULL;

CREATE INDEX IF NOT EXISTS idx_outbox_unpublished_order
    ON matching_service.outbox (ordering_key, seq)
    WHERE published_at IS NULL;

DROP INDEX IF EXISTS matching_service.idx_outbox_unpublished_key;

-- +goose Down
CREATE INDEX IF NOT EXISTS idx_outbox_unpublished_key
    ON matching_service.outbox (partition_key, seq)
    WHERE published_at IS NULL;
DROP INDEX IF EXISTS matching_service.idx_outbox_unpublished_order;
DROP TRIGGER IF EXISTS outbox_fill_ordering_key ON matching_service.outbox;
DROP FUNCTION IF EXISTS matching_service.outbox_fill_ordering_key();
DROP FUNCTION IF EXISTS matching_service.outbox_ordering_key(text, text);
ALTER TABLE matching_service.outbox DROP COLUMN IF EXISTS ordering_key;
