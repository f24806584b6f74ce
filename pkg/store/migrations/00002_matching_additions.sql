-- What the Go service adds to the reference schema (product spec §9). Every
-- statement is additive and idempotent.

-- +goose Up

-- No cross-service foreign keys (product §8 item 9): patient, therapist,
-- email and phone-call ids are plain integers; deletions arrive as events.
-- The reference created FKs into patient_service, therapist_service and
-- communication_service with CASCADE / SET NULL; drop whichever exist,
-- whatever their names.
-- +goose StatementBegin
DO $$
DECLARE
    fk record;
BEGIN
    FOR fk IN
        SELECT c.conname, c.conrelid::regclass AS tbl
        FROM pg_constraint c
        JOIN pg_class src ON src.oid = c.conrelid
        JOIN pg_namespace srcns ON srcns.oid = src.relnamespace
        JOIN pg_class dst ON dst.oid = c.confrelid
        JOIN pg_namespace dstns ON dstns.oid = dst.relnamespace
        WHERE c.contype = 'f'
          AND srcns.nspname = 'matching_service'
          AND dstns.nspname <> 'matching_service'
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', fk.tbl, fk.conname);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- A real cancelled state for anfragen (therapist blocked): cancelled anfragen
-- are neither sendable nor pending.
ALTER TABLE matching_service.therapeutenanfrage ADD COLUMN IF NOT EXISTS storniert_datum timestamp without time zone;
ALTER TABLE matching_service.therapeutenanfrage ADD COLUMN IF NOT EXISTS storniert_grund text;

-- One active search per patient, enforced by the database (product §8 item 8).
CREATE UNIQUE INDEX IF NOT EXISTS uq_platzsuche_one_active_per_patient
    ON matching_service.platzsuche (patient_id) WHERE status = 'aktiv';

-- The cooling period is owned by matching (product §8 item 12): the date from
-- which a therapist may be contacted again, and why.
CREATE TABLE IF NOT EXISTS matching_service.therapeut_kontaktsperre (
    therapist_id                integer PRIMARY KEY,
    naechster_kontakt_moeglich  date NOT NULL,
    grund                       text NOT NULL,            -- response_received or manual
    notiz                       text,
    updated_at                  timestamp without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

-- The inbox: one row per consumed event, written in the same transaction as
-- the event's effects, so a redelivered event is recognised and acknowledged
-- without a second effect.
CREATE TABLE IF NOT EXISTS matching_service.processed_events (
    consumer        text NOT NULL,
    dedupe_key      text NOT NULL,
    event_type      text NOT NULL,
    processed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, dedupe_key)
);

-- The transactional outbox: events are inserted with the change that caused
-- them and published after commit. seq gives the creation order, which the
-- relay keeps per partition key.
CREATE TABLE IF NOT EXISTS matching_service.outbox (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq             bigserial NOT NULL UNIQUE,
    event_type      text NOT NULL,
    partition_key   text NOT NULL,
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz,
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text
);
-- The relay reads only unpublished rows, oldest first: keep that set small and sorted.
CREATE INDEX IF NOT EXISTS idx_outbox_unpublished ON matching_service.outbox (seq) WHERE published_at IS NULL;

-- +goose Down
DROP TABLE IF EXISTS matching_service.outbox;
DROP TABLE IF EXISTS matching_service.processed_events;
DROP TABLE IF EXISTS matching_service.therapeut_kontaktsperre;
DROP INDEX IF EXISTS matching_service.uq_platzsuche_one_active_per_patient;
ALTER TABLE matching_service.therapeutenanfrage DROP COLUMN IF EXISTS storniert_grund;
ALTER TABLE matching_service.therapeutenanfrage DROP COLUMN IF EXISTS storniert_datum;
