-- No transaction spans a call to the communication service any more: a
-- sender (POST …/senden) and the follow-up job claim the anfrage in one short
-- transaction, call the service with no connection or lock held, and record
-- the email or call in a second one. The claim is these two columns: who is
-- communicating about the anfrage (a random token) and until when the claim
-- holds. A claim whose time has passed (its holder died, or released it
-- after a failure) may be taken over; the token is kept until a result is
-- recorded, so the next holder knows an email or call may already exist and
-- looks for it before creating one.

-- +goose Up
ALTER TABLE matching_service.therapeutenanfrage ADD COLUMN IF NOT EXISTS claim_token uuid;
ALTER TABLE matching_service.therapeutenanfrage ADD COLUMN IF NOT EXISTS claim_until timestamptz;

-- +goose Down
ALTER TABLE matching_service.therapeutenanfrage DROP COLUMN IF EXISTS claim_until;
ALTER TABLE matching_service.therapeutenanfrage DROP COLUMN IF EXISTS claim_token;
