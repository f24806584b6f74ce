-- The audit history (enhancements C1): every insert, update and delete of a
-- search (platzsuche), an anfrage (therapeutenanfrage) and an anfrage's
-- patient row (therapeut_anfrage_patient), append-only, with the whole row
-- before and after, the transaction and its time, and the cause.
--
-- Triggers write it, so no code path can forget to: a change made by hand in
-- psql is recorded too. The cause is the transaction's setting
-- matching.cause (SET LOCAL, so it ends with the transaction),
-- which pkg/store.SetCause sets from Go: the consumed event, the API request
-- or the job run. Without it the cause is {"kind": "unknown"} with the
-- database user and application name of the session.
--
-- The triggers are per row. Measured on PostgreSQL 15 (pg_stat_user_functions,
-- 3,000 single-row UPDATEs): a row trigger costs 17-23 µs a call, a statement
-- trigger reading transition tables 46-77 µs (its INSERT … SELECT over the
-- transition tables is planned and run for a single row too); on one UPDATE
-- of 10,000 rows both took about 210 ms. Most statements here change one row.
-- An UPDATE that changes nothing (every column equal) is not recorded: the
-- trigger's WHEN condition skips it without calling the function.
--
-- Additive and idempotent like every migration here.

-- +goose Up

-- One sequence orders the history and the event log (00031) together: the
-- order in which the changes and the events were written, which /api/verlauf
-- shows and the replay follows.
CREATE SEQUENCE IF NOT EXISTS matching_service.history_seq;

CREATE TABLE IF NOT EXISTS matching_service.history (
    id              bigint PRIMARY KEY DEFAULT nextval('matching_service.history_seq'),
    -- The transaction's time (now(): when it began) and id.
    at              timestamptz NOT NULL DEFAULT now(),
    txid            xid8 NOT NULL DEFAULT pg_current_xact_id(),
    tbl             text NOT NULL,       -- platzsuche, therapeutenanfrage, therapeut_anfrage_patient
    op              text NOT NULL,       -- INSERT, UPDATE, DELETE; SNAPSHOT for the rows present when history began
    row_id          integer NOT NULL,
    -- The entities the row belongs to, for /api/verlauf and ?stand=: a
    -- search row has platzsuche_id and patient_id, an anfrage anfrage_id and
    -- therapist_id, an anfrage's patient row platzsuche_id, anfrage_id and
    -- patient_id.
    platzsuche_id   integer,
    anfrage_id      integer,
    patient_id      integer,
    therapist_id    integer,
    before          jsonb,               -- NULL for INSERT and SNAPSHOT
    after           jsonb,               -- NULL for DELETE
    cause           jsonb NOT NULL
);

-- The lookups by entity, each in write order. Partial: a row is in the
-- indexes of the entities it has.
CREATE INDEX IF NOT EXISTS idx_history_platzsuche ON matching_service.history (platzsuche_id, id) WHERE platzsuche_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_history_anfrage ON matching_service.history (anfrage_id, id) WHERE anfrage_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_history_patient ON matching_service.history (patient_id, id) WHERE patient_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_history_therapist ON matching_service.history (therapist_id, id) WHERE therapist_id IS NOT NULL;
-- Time ranges (the replay's window, retention): the table is append-only and
-- at grows with the insertion order, so a BRIN index of a few pages serves
-- them at almost no cost per insert.
CREATE INDEX IF NOT EXISTS idx_history_at ON matching_service.history USING brin (at);

-- +goose StatementBegin
-- history_cause is the cause of what the current transaction writes: the
-- setting matching.cause, else "unknown" with who the session is.
CREATE OR REPLACE FUNCTION matching_service.history_cause() RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(
        NULLIF(current_setting('matching.cause', true), '')::jsonb,
        jsonb_strip_nulls(jsonb_build_object(
            'kind', 'unknown',
            'user', session_user::text,
            'application', NULLIF(current_setting('application_name', true), ''))))
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- history_platzsuche, history_therapeutenanfrage and
-- history_therapeut_anfrage_patient write the history of one row of their
-- table. One function per table names the row's columns directly: a
-- generic function reading the entity columns from the row's JSON cost
-- about 70 µs more server time per change in the patient.deleted handler's
-- benchmark (its expressions, evaluated one by one, outweighed the INSERT).
-- OLD is NULL in an INSERT trigger and NEW in a DELETE trigger.
CREATE OR REPLACE FUNCTION matching_service.history_platzsuche() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO matching_service.history (tbl, op, row_id, platzsuche_id, patient_id, before, after, cause)
    VALUES ('platzsuche', TG_OP, COALESCE(NEW.id, OLD.id), COALESCE(NEW.id, OLD.id),
            COALESCE(NEW.patient_id, OLD.patient_id), to_jsonb(OLD), to_jsonb(NEW), matching_service.history_cause());
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION matching_service.history_therapeutenanfrage() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO matching_service.history (tbl, op, row_id, anfrage_id, therapist_id, before, after, cause)
    VALUES ('therapeutenanfrage', TG_OP, COALESCE(NEW.id, OLD.id), COALESCE(NEW.id, OLD.id),
            COALESCE(NEW.therapist_id, OLD.therapist_id), to_jsonb(OLD), to_jsonb(NEW), matching_service.history_cause());
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION matching_service.history_therapeut_anfrage_patient() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO matching_service.history (tbl, op, row_id, platzsuche_id, anfrage_id, patient_id, before, after, cause)
    VALUES ('therapeut_anfrage_patient', TG_OP, COALESCE(NEW.id, OLD.id),
            COALESCE(NEW.platzsuche_id, OLD.platzsuche_id), COALESCE(NEW.therapeutenanfrage_id, OLD.therapeutenanfrage_id),
            COALESCE(NEW.patient_id, OLD.patient_id), to_jsonb(OLD), to_jsonb(NEW), matching_service.history_cause());
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- Two triggers per table: WHEN may read OLD only in an UPDATE trigger.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['platzsuche', 'therapeutenanfrage', 'therapeut_anfrage_patient'] LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS history_insert_delete ON matching_service.%I', t);
        EXECUTE format('CREATE TRIGGER history_insert_delete AFTER INSERT OR DELETE ON matching_service.%I
            FOR EACH ROW EXECUTE FUNCTION matching_service.%I()', t, 'history_' || t);
        EXECUTE format('DROP TRIGGER IF EXISTS history_update ON matching_service.%I', t);
        EXECUTE format('CREATE TRIGGER history_update AFTER UPDATE ON matching_service.%I
            FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION matching_service.%I()', t, 'history_' || t);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- The rows that exist when history begins get one SNAPSHOT row each (cause
-- "migration"), so every row has a history from here on: ?stand= and the
-- replay rebuild state from the history alone. A row that already has
-- history is left out, so running this again adds nothing.
INSERT INTO matching_service.history (tbl, op, row_id, platzsuche_id, anfrage_id, patient_id, therapist_id, after, cause)
SELECT 'platzsuche', 'SNAPSHOT', s.id, s.id, NULL, s.patient_id, NULL, to_jsonb(s), '{"kind": "migration", "version": 30}'
FROM matching_service.platzsuche s
WHERE NOT EXISTS (SELECT 1 FROM matching_service.history h WHERE h.platzsuche_id = s.id AND h.tbl = 'platzsuche')
ORDER BY s.id;

INSERT INTO matching_service.history (tbl, op, row_id, platzsuche_id, anfrage_id, patient_id, therapist_id, after, cause)
SELECT 'therapeutenanfrage', 'SNAPSHOT', a.id, NULL, a.id, NULL, a.therapist_id, to_jsonb(a), '{"kind": "migration", "version": 30}'
FROM matching_service.therapeutenanfrage a
WHERE NOT EXISTS (SELECT 1 FROM matching_service.history h WHERE h.anfrage_id = a.id AND h.tbl = 'therapeutenanfrage')
ORDER BY a.id;

INSERT INTO matching_service.history (tbl, op, row_id, platzsuche_id, anfrage_id, patient_id, therapist_id, after, cause)
SELECT 'therapeut_anfrage_patient', 'SNAPSHOT', e.id, e.platzsuche_id, e.therapeutenanfrage_id, e.patient_id, NULL, to_jsonb(e), '{"kind": "migration", "version": 30}'
FROM matching_service.therapeut_anfrage_patient e
WHERE NOT EXISTS (SELECT 1 FROM matching_service.history h WHERE h.anfrage_id = e.therapeutenanfrage_id AND h.tbl = 'therapeut_anfrage_patient' AND h.row_id = e.id)
ORDER BY e.id;

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['platzsuche', 'therapeutenanfrage', 'therapeut_anfrage_patient'] LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS history_insert_delete ON matching_service.%I', t);
        EXECUTE format('DROP TRIGGER IF EXISTS history_update ON matching_service.%I', t);
    END LOOP;
END
$$;
-- +goose StatementEnd
DROP FUNCTION IF EXISTS matching_service.history_therapeut_anfrage_patient();
DROP FUNCTION IF EXISTS matching_service.history_therapeutenanfrage();
DROP FUNCTION IF EXISTS matching_service.history_platzsuche();
DROP FUNCTION IF EXISTS matching_service.history_cause();
DROP TABLE IF EXISTS matching_service.history;
DROP SEQUENCE IF EXISTS matching_service.history_seq;
