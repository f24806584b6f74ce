-- Therapists' email replies read automatically (enhancements B). Additive and
-- idempotent.

-- +goose Up

-- The people as the anfrage's letter showed them when it was sent (Person
-- number, Patienten-ID, gender, age on the day it was sent, symptoms,
-- insurance; no names): a reply refers to them, not to what the patient
-- service holds today, and positions change when a search leaves the
-- anfrage. NULL for anfragen sent before this column existed.
ALTER TABLE matching_service.therapeutenanfrage ADD COLUMN IF NOT EXISTS brief_personen jsonb;

-- One row per reply received (or one per reply a clerk should look at): the
-- reading of the reply (the suggestion of the API's antwort-vorschlag), the
-- reply itself, and whether it still waits for a clerk (offen) or its
-- anfrage's response has been recorded (uebernommen). The same reply to the
-- same email is stored once: (email_id, antwort_hash), the hash of subject
-- and body, so a re-delivery under a new event id changes nothing.
CREATE TABLE IF NOT EXISTS matching_service.antwort_vorschlag (
    id                      bigserial PRIMARY KEY,
    email_id                integer NOT NULL,
    antwort_hash            text NOT NULL,
    -- NULL: the reply could not be assigned to an anfrage (or its anfrage
    -- was deleted since).
    therapeutenanfrage_id   integer REFERENCES matching_service.therapeutenanfrage (id) ON DELETE SET NULL,
    therapist_id            integer,
    status                  text NOT NULL DEFAULT 'offen' CHECK (status IN ('offen', 'uebernommen')),
    -- Why a clerk must look at it (unklar, automatische_antwort,
    -- bereits_beantwortet, …); NULL when it was applied automatically.
    grund                   text,
    automatisch             boolean NOT NULL,
    automatische_antwort    boolean NOT NULL,
    patient_responses       jsonb NOT NULL DEFAULT '{}'::jsonb,
    unklar                  jsonb NOT NULL DEFAULT '[]'::jsonb,
    belege                  jsonb NOT NULL DEFAULT '{}'::jsonb,
    betreff                 text NOT NULL DEFAULT '',
    inhalt                  text NOT NULL,
    absender                text NOT NULL DEFAULT '',
    empfangen_am            text NOT NULL DEFAULT '',
    erstellt_am             timestamp without time zone NOT NULL,
    uebernommen_am          timestamp without time zone,
    CONSTRAINT uq_antwort_vorschlag_reply UNIQUE (email_id, antwort_hash)
);
CREATE INDEX IF NOT EXISTS idx_antwort_vorschlag_anfrage
    ON matching_service.antwort_vorschlag (therapeutenanfrage_id, id);
CREATE INDEX IF NOT EXISTS idx_antwort_vorschlag_status
    ON matching_service.antwort_vorschlag (status, id);

-- +goose Down
DROP TABLE IF EXISTS matching_service.antwort_vorschlag;
ALTER TABLE matching_service.therapeutenanfrage DROP COLUMN IF EXISTS brief_personen;
