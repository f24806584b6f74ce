-- The follow-up job's selection (pkg/store/followup.go) reads anfragen that
-- were sent, are unanswered, not cancelled and have no phone call yet, oldest
-- first. On a table of a million anfragen nearly all rows are answered or
-- already called; the existing index on gesendet_datum would still walk every
-- old row and filter it away. This partial index holds only the open ones
-- (about one in a hundred), so the daily selection reads just those, in the
-- (gesendet_datum, id) order the job pages by. An anfrage leaves the index
-- as soon as it gets its phone_call_id, its answer or its cancellation.
--
-- A plain CREATE INDEX (not CONCURRENTLY) blocks writes to the table while it
-- builds: about a second for a million rows, acceptable for the migration Job,
-- and it cannot leave an INVALID index behind that IF NOT EXISTS would keep.

-- +goose Up
CREATE INDEX IF NOT EXISTS idx_therapeutenanfrage_follow_up_due
    ON matching_service.therapeutenanfrage (gesendet_datum, id)
    WHERE gesendet_datum IS NOT NULL
      AND antwort_datum IS NULL
      AND storniert_datum IS NULL
      AND phone_call_id IS NULL;

-- +goose Down
DROP INDEX IF EXISTS matching_service.idx_therapeutenanfrage_follow_up_due;
