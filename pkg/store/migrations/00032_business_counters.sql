-- The business counters (matching_*_total and the response time histogram)
-- were counted from rows on every scrape: anfragen by state, follow-up calls
-- scheduled from the outbox, calls completed from processed_events. Pruning
-- the outbox and processed_events (retention, enhancements C4) would make
-- counters go down, and a deleted anfrage already did. From here on they are
-- counted as things happen, by triggers in the transactions that do them,
-- into business_counter, which only the fold below ever shrinks (and that
-- keeps every sum).
--
-- business_counter is insert-only for the triggers: each counted change adds
-- its increments as rows, so concurrent transactions never wait on a
-- counter row. Reading sums the rows of a name and label;
-- store.FoldCounters (run by the outbox relay with the retention) replaces
-- the rows by their sums in one statement, so no reader sees a total
-- lowered.

-- +goose Up
CREATE TABLE IF NOT EXISTS matching_service.business_counter (
    name    text NOT NULL,
    label   text NOT NULL,
    value   double precision NOT NULL
);

-- +goose StatementBegin
-- anfrage_counts is what one anfrage row adds to the counters when it goes
-- from its old state (o_…; all NULL for a new row) to its new one:
-- created (a new row); sent, by channel, when gesendet_datum is set (email
-- when it has an email, phone_call for a call without an email, else
-- unknown); a response, by antworttyp, when the type is set; and the
-- response time (antwort_datum - gesendet_datum, at least 0) once both are
-- set, in the histogram's count, sum and cumulative buckets (the bounds of
-- pkg/metrics: 1 h, 6 h, 1, 2, 3, 7, 14, 30 days). The rules are those the
-- counters were computed with before, applied at the change.
CREATE OR REPLACE FUNCTION matching_service.anfrage_counts(
    created boolean,
    o_sent timestamp, o_answered timestamp, o_type text,
    sent timestamp, answered timestamp, typ text, email_id integer, phone_call_id integer)
RETURNS TABLE (name text, label text, value double precision)
LANGUAGE sql IMMUTABLE AS $$
    SELECT 'anfragen_created', '', 1::float8 WHERE created
    UNION ALL
    SELECT 'anfragen_sent',
           CASE WHEN email_id IS NOT NULL THEN 'email' WHEN phone_call_id IS NOT NULL THEN 'phone_call' ELSE 'unknown' END,
           1
    WHERE sent IS NOT NULL AND o_sent IS NULL
    UNION ALL
    SELECT 'anfragen_responses', typ, 1 WHERE typ IS NOT NULL AND o_type IS NULL
    UNION ALL
    SELECT 'response_time', v.label, v.value
    FROM (SELECT GREATEST(date_part('epoch', answered - sent), 0)::float8 AS rt) r,
         LATERAL (VALUES ('count', 1::float8), ('sum', r.rt),
                         ('le_3600', CASE WHEN r.rt <= 3600 THEN 1 END), ('le_21600', CASE WHEN r.rt <= 21600 THEN 1 END),
                         ('le_86400', CASE WHEN r.rt <= 86400 THEN 1 END), ('le_172800', CASE WHEN r.rt <= 172800 THEN 1 END),
                         ('le_259200', CASE WHEN r.rt <= 259200 THEN 1 END), ('le_604800', CASE WHEN r.rt <= 604800 THEN 1 END),
                         ('le_1209600', CASE WHEN r.rt <= 1209600 THEN 1 END), ('le_2592000', CASE WHEN r.rt <= 2592000 THEN 1 END)) v(label, value)
    WHERE sent IS NOT NULL AND answered IS NOT NULL AND (o_sent IS NULL OR o_answered IS NULL) AND v.value IS NOT NULL
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION matching_service.business_count_anfrage() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO matching_service.business_counter (name, label, value)
        SELECT c.name, c.label, c.value
        FROM matching_service.anfrage_counts(true, NULL, NULL, NULL,
                 NEW.gesendet_datum, NEW.antwort_datum, NEW.antworttyp::text, NEW.email_id, NEW.phone_call_id) c;
    ELSE
        INSERT INTO matching_service.business_counter (name, label, value)
        SELECT c.name, c.label, c.value
        FROM matching_service.anfrage_counts(false, OLD.gesendet_datum, OLD.antwort_datum, OLD.antworttyp::text,
                 NEW.gesendet_datum, NEW.antwort_datum, NEW.antworttyp::text, NEW.email_id, NEW.phone_call_id) c;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- count_one adds 1 to the counter named by the trigger's argument.
CREATE OR REPLACE FUNCTION matching_service.business_count_one() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO matching_service.business_counter (name, label, value) VALUES (TG_ARGV[0], '', 1);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- Row triggers whose WHEN conditions (evaluated without calling the
-- function) pass only the rows that count: an anfrage's update counts only
-- when it is sent, answered, or both dates become set; follow-up calls
-- scheduled are the outbox rows of that type (the outbox keeps them only
-- OUTBOX_RETENTION_DAYS), calls completed the phone_call.completed events
-- the inbox records (processed_events keeps them only INBOX_RETENTION_DAYS).
DROP TRIGGER IF EXISTS business_count_insert ON matching_service.therapeutenanfrage;
CREATE TRIGGER business_count_insert AFTER INSERT ON matching_service.therapeutenanfrage
    FOR EACH ROW EXECUTE FUNCTION matching_service.business_count_anfrage();
DROP TRIGGER IF EXISTS business_count_update ON matching_service.therapeutenanfrage;
CREATE TRIGGER business_count_update AFTER UPDATE ON matching_service.therapeutenanfrage
    FOR EACH ROW WHEN (
        (OLD.gesendet_datum IS NULL AND NEW.gesendet_datum IS NOT NULL)
     OR (OLD.antworttyp IS NULL AND NEW.antworttyp IS NOT NULL)
     OR ((OLD.gesendet_datum IS NULL OR OLD.antwort_datum IS NULL)
         AND NEW.gesendet_datum IS NOT NULL AND NEW.antwort_datum IS NOT NULL))
    EXECUTE FUNCTION matching_service.business_count_anfrage();
DROP TRIGGER IF EXISTS business_count ON matching_service.outbox;
CREATE TRIGGER business_count AFTER INSERT ON matching_service.outbox
    FOR EACH ROW WHEN (NEW.event_type = 'therapeutenanfrage.follow_up_scheduled')
    EXECUTE FUNCTION matching_service.business_count_one('follow_ups_scheduled');
DROP TRIGGER IF EXISTS business_count ON matching_service.processed_events;
CREATE TRIGGER business_count AFTER INSERT ON matching_service.processed_events
    FOR EACH ROW WHEN (NEW.event_type = 'phone_call.completed')
    EXECUTE FUNCTION matching_service.business_count_one('calls_completed');

-- The counters start where the row counts stood, so no counter jumps when
-- this migration runs; a database that already has counters keeps them.
INSERT INTO matching_service.business_counter (name, label, value)
SELECT c.name, c.label, sum(c.value)
FROM matching_service.therapeutenanfrage a,
     matching_service.anfrage_counts(true, NULL, NULL, NULL,
         a.gesendet_datum, a.antwort_datum, a.antworttyp::text, a.email_id, a.phone_call_id) c
WHERE NOT EXISTS (SELECT 1 FROM matching_service.business_counter)
GROUP BY c.name, c.label;

INSERT INTO matching_service.business_counter (name, label, value)
SELECT 'follow_ups_scheduled', '', count(*) FROM matching_service.outbox
WHERE event_type = 'therapeutenanfrage.follow_up_scheduled'
  AND NOT EXISTS (SELECT 1 FROM matching_service.business_counter WHERE name = 'follow_ups_scheduled')
HAVING count(*) > 0;

INSERT INTO matching_service.business_counter (name, label, value)
SELECT 'calls_completed', '', count(*) FROM matching_service.processed_events
WHERE event_type = 'phone_call.completed'
  AND NOT EXISTS (SELECT 1 FROM matching_service.business_counter WHERE name = 'calls_completed')
HAVING count(*) > 0;

-- +goose Down
DROP TRIGGER IF EXISTS business_count ON matching_service.processed_events;
DROP TRIGGER IF EXISTS business_count ON matching_service.outbox;
DROP TRIGGER IF EXISTS business_count_update ON matching_service.therapeutenanfrage;
DROP TRIGGER IF EXISTS business_count_insert ON matching_service.therapeutenanfrage;
DROP FUNCTION IF EXISTS matching_service.business_count_one();
DROP FUNCTION IF EXISTS matching_service.business_count_anfrage();
DROP FUNCTION IF EXISTS matching_service.anfrage_counts(boolean, timestamp, timestamp, text, timestamp, timestamp, text, integer, integer);
DROP TABLE IF EXISTS matching_service.business_counter;
