-- Indexes for the anfrage API's queries (pkg/store/platzsuche.go, anfrage.go).
-- Additive and idempotent; a plain CREATE INDEX blocks writes while it builds
-- (well under a second for the tables' expected sizes), acceptable for the
-- migration Job, and cannot leave an INVALID index behind.

-- +goose Up

-- Composition reads the aktiv searches oldest first, ties by id
-- (CandidateSearches): a partial index in exactly that order, holding only
-- the searches still looking for a place.
CREATE INDEX IF NOT EXISTS idx_platzsuche_aktiv_created
    ON matching_service.platzsuche (created_at, id)
    WHERE status = 'aktiv';

-- GET /api/therapeutenanfragen pages newest first, ties by id.
CREATE INDEX IF NOT EXISTS idx_therapeutenanfrage_erstellt
    ON matching_service.therapeutenanfrage (erstellt_datum, id);

-- "Has the therapist an open anfrage?" (creation under the therapist lock,
-- the selection list's pending set): only open anfragen, by therapist.
CREATE INDEX IF NOT EXISTS idx_therapeutenanfrage_open_by_therapist
    ON matching_service.therapeutenanfrage (therapist_id)
    WHERE antwort_datum IS NULL AND storniert_datum IS NULL;

-- +goose Down
DROP INDEX IF EXISTS matching_service.idx_therapeutenanfrage_open_by_therapist;
DROP INDEX IF EXISTS matching_service.idx_therapeutenanfrage_erstellt;
DROP INDEX IF EXISTS matching_service.idx_platzsuche_aktiv_created;
