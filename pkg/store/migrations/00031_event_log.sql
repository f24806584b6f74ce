-- The event log (enhancements C1): the events matching consumed, with their
-- payload, and the events it emitted, kept as long as the history
-- (HISTORY_RETENTION_DAYS): what /api/verlauf shows and the replay
-- re-applies.
--
-- The log is written without a row of its own in the event's transaction:
-- a consumed event's row in processed_events (written by pkg/inbox when it
-- claims the event) carries its payload, source, handling time and place in
-- the history's order (log_id, from the history's sequence), and an outbox
-- row its cause and place. When the retention prunes processed_events
-- (INBOX_RETENTION_DAYS) and published outbox rows (OUTBOX_RETENTION_DAYS),
-- it moves them into event_log, in batches. Writing a log row in every
-- event's transaction instead cost the patient.deleted handler about 250 µs
-- more CPU per event (its benchmark, with a trigger for the emitted events
-- and a second insert for the consumed one); the columns cost a sequence
-- value and a default each. consumed_events and emitted_events show both
-- places as one.

-- +goose Up
CREATE TABLE IF NOT EXISTS matching_service.event_log (
    id              bigint PRIMARY KEY DEFAULT nextval('matching_service.history_seq'),
    at              timestamptz NOT NULL DEFAULT now(),
    direction       text NOT NULL CHECK (direction IN ('consumed', 'emitted')),
    event_type      text NOT NULL,
    -- consumed: the event's id (envelope eventId or CloudEvent id);
    -- emitted: the outbox row's id, which is the published CloudEvent's id.
    event_id        text,
    partition_key   text,
    -- Consumed only: who consumed it, its deduplication key and source, and
    -- the handlers' clock when they applied it (events.Inbound.At), which
    -- the replay gives them again.
    consumer        text,
    dedupe_key      text,
    source          text,
    handled_at      timestamptz,
    -- The payload as it came in (consumed: the bytes as received, so a
    -- payload PostgreSQL's jsonb would refuse is still kept) or went out.
    payload         text NOT NULL,
    -- Emitted only: the cause of the transaction that emitted it.
    cause           jsonb,
    -- The entities the payload names (search_id/platzsuche_id, anfrage_id,
    -- patient_id, therapist_id), for /api/verlauf.
    platzsuche_id   integer,
    anfrage_id      integer,
    patient_id      integer,
    therapist_id    integer
);
CREATE INDEX IF NOT EXISTS idx_event_log_platzsuche ON matching_service.event_log (platzsuche_id, id) WHERE platzsuche_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_event_log_anfrage ON matching_service.event_log (anfrage_id, id) WHERE anfrage_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_event_log_patient ON matching_service.event_log (patient_id, id) WHERE patient_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_event_log_therapist ON matching_service.event_log (therapist_id, id) WHERE therapist_id IS NOT NULL;
-- A change's cause names its event by consumer and dedupe key.
CREATE INDEX IF NOT EXISTS idx_event_log_consumed ON matching_service.event_log (dedupe_key, consumer) WHERE direction = 'consumed';
CREATE INDEX IF NOT EXISTS idx_event_log_at ON matching_service.event_log USING brin (at);

-- +goose StatementBegin
-- json_id reads an id from a payload: a JSON number or a string of digits
-- that fits an integer column; anything else is NULL, never an error (a
-- payload must not fail the transaction that logs it).
CREATE OR REPLACE FUNCTION matching_service.json_id(p jsonb, k text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN (p->>k) ~ '^[0-9]{1,9}$' THEN (p->>k)::integer END
$$;
-- +goose StatementEnd

-- processed_events carries a consumed event's log columns while it holds
-- the row; rows written before this migration have none (no payload) and
-- are not part of the log. The entity ids are read from the payload by the
-- inbox; an event naming a patient or therapist is found by them.
ALTER TABLE matching_service.processed_events ADD COLUMN IF NOT EXISTS log_id bigint;
ALTER TABLE matching_service.processed_events ALTER COLUMN log_id SET DEFAULT nextval('matching_service.history_seq');
ALTER TABLE matching_service.processed_events
    ADD COLUMN IF NOT EXISTS event_id text,
    ADD COLUMN IF NOT EXISTS source text,
    ADD COLUMN IF NOT EXISTS partition_key text,
    ADD COLUMN IF NOT EXISTS handled_at timestamptz,
    ADD COLUMN IF NOT EXISTS payload text,
    ADD COLUMN IF NOT EXISTS platzsuche_id integer,
    ADD COLUMN IF NOT EXISTS anfrage_id integer,
    ADD COLUMN IF NOT EXISTS patient_id integer,
    ADD COLUMN IF NOT EXISTS therapist_id integer;
CREATE INDEX IF NOT EXISTS idx_processed_events_patient ON matching_service.processed_events (patient_id) WHERE patient_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_processed_events_therapist ON matching_service.processed_events (therapist_id) WHERE therapist_id IS NOT NULL;

-- The outbox keeps its emitted events' cause and order; rows written
-- before this migration have neither.
ALTER TABLE matching_service.outbox ADD COLUMN IF NOT EXISTS log_id bigint;
ALTER TABLE matching_service.outbox ALTER COLUMN log_id SET DEFAULT nextval('matching_service.history_seq');
ALTER TABLE matching_service.outbox ADD COLUMN IF NOT EXISTS cause jsonb;
ALTER TABLE matching_service.outbox ALTER COLUMN cause SET DEFAULT matching_service.history_cause();
-- /api/verlauf finds an entity's emitted events still in the outbox by
-- their partition key (the search, the anfrage, the therapist).
CREATE INDEX IF NOT EXISTS idx_outbox_partition_key ON matching_service.outbox (partition_key);

-- consumed_events and emitted_events are every logged event in one shape,
-- wherever it is kept now (ordered by id).
CREATE OR REPLACE VIEW matching_service.consumed_events AS
SELECT p.log_id AS id, p.processed_at AS at, p.event_type, p.event_id, p.partition_key, p.consumer, p.dedupe_key,
       p.source, p.handled_at, p.payload
FROM matching_service.processed_events p
WHERE p.payload IS NOT NULL
UNION ALL
SELECT e.id, e.at, e.event_type, e.event_id, e.partition_key, e.consumer, e.dedupe_key, e.source, e.handled_at, e.payload
FROM matching_service.event_log e
WHERE e.direction = 'consumed';

CREATE OR REPLACE VIEW matching_service.emitted_events AS
SELECT COALESCE(o.log_id, -o.seq) AS id, o.created_at AS at, o.event_type, o.id::text AS event_id, o.partition_key,
       o.payload::text AS payload, o.cause
FROM matching_service.outbox o
UNION ALL
SELECT e.id, e.at, e.event_type, e.event_id, e.partition_key, e.payload, e.cause
FROM matching_service.event_log e
WHERE e.direction = 'emitted';

-- +goose Down
DROP VIEW IF EXISTS matching_service.emitted_events;
DROP VIEW IF EXISTS matching_service.consumed_events;
DROP INDEX IF EXISTS matching_service.idx_outbox_partition_key;
ALTER TABLE matching_service.outbox DROP COLUMN IF EXISTS cause;
ALTER TABLE matching_service.outbox DROP COLUMN IF EXISTS log_id;
DROP INDEX IF EXISTS matching_service.idx_processed_events_therapist;
DROP INDEX IF EXISTS matching_service.idx_processed_events_patient;
ALTER TABLE matching_service.processed_events
    DROP COLUMN IF EXISTS therapist_id, DROP COLUMN IF EXISTS patient_id, DROP COLUMN IF EXISTS anfrage_id,
    DROP COLUMN IF EXISTS platzsuche_id, DROP COLUMN IF EXISTS payload, DROP COLUMN IF EXISTS handled_at,
    DROP COLUMN IF EXISTS partition_key, DROP COLUMN IF EXISTS source, DROP COLUMN IF EXISTS event_id,
    DROP COLUMN IF EXISTS log_id;
DROP FUNCTION IF EXISTS matching_service.json_id(jsonb, text);
DROP TABLE IF EXISTS matching_service.event_log;
