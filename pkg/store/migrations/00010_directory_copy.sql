-- Real-time matching (enhancements A): matching's own copy of the patients
-- and therapists it needs, the distances between their addresses, the
-- re-checks a changed copy asks for, and the priority of a search. Every
-- statement is additive and idempotent.

-- +goose Up

-- The copy of a patient who has a search: the fields of reference-behaviour
-- §3.4 (constraints, the letter, the list display) as the patient service
-- sent them, nothing else. fetched_at is the database's clock read before
-- the fetch was sent: a copy is only replaced by a fetch that started later,
-- so events handled out of order or twice leave the newest state. removed
-- marks a patient the service no longer has (404 or patient.deleted); the
-- row stays as a tombstone so that an older fetch still in flight cannot
-- bring the patient back. content_hash (of the copied fields) tells a
-- change from a mere refresh; changed_at is the fetched_at of the last
-- change.
CREATE TABLE IF NOT EXISTS matching_service.patient_copy (
    patient_id                              integer PRIMARY KEY,
    vorname                                 text,
    nachname                                text,
    strasse                                 text,
    plz                                     text,
    ort                                     text,
    geschlecht                              text,
    geburtsdatum                            text,
    symptome                                jsonb,
    krankenkasse                            text,
    erfahrung_mit_psychotherapie            boolean,
    letzte_sitzung_vorherige_psychotherapie text,
    offen_fuer_gruppentherapie              boolean,
    zeitliche_verfuegbarkeit                jsonb,
    raeumliche_verfuegbarkeit               jsonb,
    verkehrsmittel                          text,
    bevorzugtes_therapeutengeschlecht       text,
    bevorzugtes_therapieverfahren           text,
    ausgeschlossene_therapeuten             jsonb,
    -- strasse, plz, ort as matching sends them to the geocoding service
    -- (matching.Address); "" without an ort. Derived, for the distance table.
    address                                 text NOT NULL DEFAULT '',
    removed                                 boolean NOT NULL DEFAULT false,
    content_hash                            bytea,
    fetched_at                              timestamptz NOT NULL,
    changed_at                              timestamptz NOT NULL
);

-- The copy of a therapist, with the same bookkeeping: the fields of the
-- selection list, the constraints and the letter.
CREATE TABLE IF NOT EXISTS matching_service.therapist_copy (
    therapist_id                integer PRIMARY KEY,
    anrede                      text,
    titel                       text,
    vorname                     text,
    nachname                    text,
    strasse                     text,
    plz                         text,
    ort                         text,
    telefon                     text,
    email                       text,
    status                      text,
    geschlecht                  text,
    psychotherapieverfahren     text,
    alter_min                   integer,
    alter_max                   integer,
    geschlechtspraeferenz       text,
    bevorzugt_gruppentherapie   boolean,
    potenziell_verfuegbar       boolean,
    ueber_curavani_informiert   boolean,
    naechster_kontakt_moeglich  text,
    bevorzugte_diagnosen        jsonb,
    telefonische_erreichbarkeit jsonb,
    address                     text NOT NULL DEFAULT '',
    removed                     boolean NOT NULL DEFAULT false,
    content_hash                bytea,
    fetched_at                  timestamptz NOT NULL,
    changed_at                  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_patient_copy_address ON matching_service.patient_copy (address);
CREATE INDEX IF NOT EXISTS idx_therapist_copy_address ON matching_service.therapist_copy (address);
-- The selection list reads the aktiv therapists of a PLZ prefix in id order.
CREATE INDEX IF NOT EXISTS idx_therapist_copy_aktiv_plz
    ON matching_service.therapist_copy (plz text_pattern_ops, therapist_id)
    WHERE status = 'aktiv' AND NOT removed;

-- The geocoding service's answers, keyed by the trip: the two addresses as
-- matching sends them and the travel mode. distance_km is null when the
-- service could not compute a distance (the rule then passes). An address
-- that changes is a new key; the rows of an address no copy holds any more
-- are deleted when the copy changes and by directory-sync.
CREATE TABLE IF NOT EXISTS matching_service.travel_distance (
    origin       text NOT NULL,
    destination  text NOT NULL,
    travel_mode  text NOT NULL,
    distance_km  double precision,
    fetched_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (origin, destination, travel_mode)
);
CREATE INDEX IF NOT EXISTS idx_travel_distance_destination
    ON matching_service.travel_distance (destination);

-- A changed copy asks for its unsent anfragen to be re-checked: the request
-- is written in the transaction of the change and deleted in the one that
-- applies the re-check, so a re-check is never lost when a process dies in
-- between (the outbox relay's sweep and directory-sync pick up what is left).
CREATE TABLE IF NOT EXISTS matching_service.recheck_request (
    id            bigserial PRIMARY KEY,
    patient_id    integer,
    therapist_id  integer,
    cause         text NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text,
    CONSTRAINT recheck_request_one_subject CHECK ((patient_id IS NULL) <> (therapist_id IS NULL))
);

-- The runs of directory-sync that read the whole therapist list: until one
-- has, the copy may miss therapists and the selection list asks the
-- therapist service instead.
CREATE TABLE IF NOT EXISTS matching_service.directory_sync (
    id           bigserial PRIMARY KEY,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL DEFAULT now(),
    checked      integer NOT NULL,
    changed      integer NOT NULL,
    removed      integer NOT NULL,
    failed       integer NOT NULL
);

-- The priority of a search (A4): higher first, then the longest waiting,
-- then the id. The queue is read in that order a page at a time
-- (store.CandidateQueue): the index is on -prioritaet, so that one row
-- comparison (-prioritaet, created_at, id) > (…) starts each page where the
-- last one ended.
ALTER TABLE matching_service.platzsuche ADD COLUMN IF NOT EXISTS prioritaet integer NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS idx_platzsuche_aktiv_queue
    ON matching_service.platzsuche ((-prioritaet), created_at, id)
    WHERE status = 'aktiv';

-- The PLZ prefix an anfrage was composed for, so that a refill takes
-- patients of the same area. Null for anfragen composed before.
ALTER TABLE matching_service.therapeutenanfrage ADD COLUMN IF NOT EXISTS plz_prefix text;

-- +goose Down
ALTER TABLE matching_service.therapeutenanfrage DROP COLUMN IF EXISTS plz_prefix;
DROP INDEX IF EXISTS matching_service.idx_platzsuche_aktiv_queue;
ALTER TABLE matching_service.platzsuche DROP COLUMN IF EXISTS prioritaet;
DROP TABLE IF EXISTS matching_service.directory_sync;
DROP TABLE IF EXISTS matching_service.recheck_request;
DROP TABLE IF EXISTS matching_service.travel_distance;
DROP TABLE IF EXISTS matching_service.therapist_copy;
DROP TABLE IF EXISTS matching_service.patient_copy;
