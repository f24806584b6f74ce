-- The reference service's schema (Alembic 001–003), created only where it is
-- missing, so that a database that already has these tables is used as is.
-- The enum types live in public, as the reference created them without a schema.

-- +goose Up
CREATE SCHEMA IF NOT EXISTS matching_service;

-- +goose StatementBegin
DO $$
BEGIN
    IF to_regtype('public.suchstatus') IS NULL THEN
        CREATE TYPE public.suchstatus AS ENUM ('aktiv', 'erfolgreich', 'pausiert', 'abgebrochen');
    END IF;
    IF to_regtype('public.antworttyp') IS NULL THEN
        CREATE TYPE public.antworttyp AS ENUM ('vollstaendige_Annahme', 'teilweise_Annahme', 'vollstaendige_Ablehnung', 'keine_Antwort');
    END IF;
    IF to_regtype('public.patientenergebnis') IS NULL THEN
        CREATE TYPE public.patientenergebnis AS ENUM ('angenommen', 'abgelehnt_Kapazitaet', 'abgelehnt_nicht_geeignet', 'abgelehnt_sonstiges', 'nicht_erschienen', 'in_Sitzungen');
    END IF;
    IF to_regtype('public.anfrage_patient_status') IS NULL THEN
        CREATE TYPE public.anfrage_patient_status AS ENUM ('anstehend', 'angenommen', 'abgelehnt', 'keine_antwort');
    END IF;
END
$$;
-- +goose StatementEnd

CREATE TABLE IF NOT EXISTS matching_service.platzsuche (
    id                              serial PRIMARY KEY,
    patient_id                      integer NOT NULL,
    status                          public.suchstatus NOT NULL DEFAULT 'aktiv',
    created_at                      timestamp without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at                      timestamp without time zone,
    ausgeschlossene_therapeuten     jsonb NOT NULL DEFAULT '[]'::jsonb,
    gesamt_angeforderte_kontakte    integer NOT NULL DEFAULT 0,
    erfolgreiche_vermittlung_datum  timestamp without time zone,
    notizen                         text
);
CREATE INDEX IF NOT EXISTS idx_platzsuche_patient_id ON matching_service.platzsuche (patient_id);
CREATE INDEX IF NOT EXISTS idx_platzsuche_status ON matching_service.platzsuche (status);

CREATE TABLE IF NOT EXISTS matching_service.therapeutenanfrage (
    id                      serial PRIMARY KEY,
    therapist_id            integer NOT NULL,
    erstellt_datum          timestamp without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP,
    gesendet_datum          timestamp without time zone,
    antwort_datum           timestamp without time zone,
    antworttyp              public.antworttyp,
    anfragegroesse          integer NOT NULL,
    angenommen_anzahl       integer NOT NULL DEFAULT 0 CONSTRAINT accepted_count_check CHECK (angenommen_anzahl >= 0),
    abgelehnt_anzahl        integer NOT NULL DEFAULT 0 CONSTRAINT rejected_count_check CHECK (abgelehnt_anzahl >= 0),
    keine_antwort_anzahl    integer NOT NULL DEFAULT 0 CONSTRAINT no_response_count_check CHECK (keine_antwort_anzahl >= 0),
    notizen                 text,
    email_id                integer,
    phone_call_id           integer
);
CREATE INDEX IF NOT EXISTS idx_therapeutenanfrage_therapist_id ON matching_service.therapeutenanfrage (therapist_id);
CREATE INDEX IF NOT EXISTS idx_therapeutenanfrage_sent_date ON matching_service.therapeutenanfrage (gesendet_datum);
CREATE INDEX IF NOT EXISTS idx_therapeutenanfrage_response_type ON matching_service.therapeutenanfrage (antworttyp);
CREATE INDEX IF NOT EXISTS idx_therapeutenanfrage_email_id ON matching_service.therapeutenanfrage (email_id);
CREATE INDEX IF NOT EXISTS idx_therapeutenanfrage_phone_call_id ON matching_service.therapeutenanfrage (phone_call_id);

CREATE TABLE IF NOT EXISTS matching_service.therapeut_anfrage_patient (
    id                      serial PRIMARY KEY,
    therapeutenanfrage_id   integer NOT NULL REFERENCES matching_service.therapeutenanfrage (id) ON DELETE CASCADE,
    platzsuche_id           integer NOT NULL REFERENCES matching_service.platzsuche (id) ON DELETE CASCADE,
    patient_id              integer NOT NULL,
    position_in_anfrage     integer NOT NULL,
    status                  public.anfrage_patient_status NOT NULL DEFAULT 'anstehend',
    antwortergebnis         public.patientenergebnis,
    antwortnotizen          text,
    created_at              timestamp without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT uq_therapeut_anfrage_patient_anfrage_search UNIQUE (therapeutenanfrage_id, platzsuche_id)
);
CREATE INDEX IF NOT EXISTS idx_therapeut_anfrage_patient_therapeutenanfrage_id ON matching_service.therapeut_anfrage_patient (therapeutenanfrage_id);
CREATE INDEX IF NOT EXISTS idx_therapeut_anfrage_patient_platzsuche_id ON matching_service.therapeut_anfrage_patient (platzsuche_id);
CREATE INDEX IF NOT EXISTS idx_therapeut_anfrage_patient_patient_id ON matching_service.therapeut_anfrage_patient (patient_id);
CREATE INDEX IF NOT EXISTS idx_therapeut_anfrage_patient_status ON matching_service.therapeut_anfrage_patient (status);

-- +goose Down
-- The reference's tables are never dropped by a down migration: they may
-- predate this service and hold the platform's history.
SELECT 1;
