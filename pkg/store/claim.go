package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// A claim marks an anfrage as being communicated about: a sender or the
// follow-up job is asking the communication service for an email or a
// phone call (migration 00008). It replaces the row lock that used to be
// held across that call: the claim is taken and the result recorded in two
// short transactions, and no connection or lock is held while the service
// answers. Concurrent senders see the claim and wait or skip; a claim whose
// holder died expires and can be taken over.

// ClaimTTL is how long a claim holds for a neighbour timeout: long enough
// for the calls one send or follow-up makes (a lookup and a create, each
// bounded by NEIGHBOUR_TIMEOUT) with room to spare, at least a minute. Only
// a claim whose holder died is outlived and taken over.
func ClaimTTL(neighbourTimeout time.Duration) time.Duration {
	return max(time.Minute, 4*neighbourTimeout)
}

// Claim is a claim an anfrage's communication holds.
type Claim struct {
	// Token identifies the holder; FinishClaim and ReleaseClaim check it.
	Token string
	// Earlier reports that an earlier claim ended without a recorded
	// result (its holder failed or died): the email or call it asked for
	// may exist, and should be looked for before creating another.
	Earlier bool
}

// ClaimAnfrage claims anfrage id for ttl, unless another holder's claim is
// still valid; ok is false then. The caller holds the row lock in tx
// (LockAnfrage, or a FOR UPDATE of its own) and checks in the same
// transaction that the anfrage needs the communication. The times are the
// database's (now()), so that instances with skewed clocks agree on when a
// claim expires.
func ClaimAnfrage(ctx context.Context, tx pgx.Tx, id int64, ttl time.Duration) (c Claim, ok bool, err error) {
	err = tx.QueryRow(ctx, `
		WITH before AS (
		    SELECT claim_token FROM matching_service.therapeutenanfrage WHERE id = $1
		)
		UPDATE matching_service.therapeutenanfrage
		SET claim_token = gen_random_uuid(), claim_until = now() + $2 * interval '1 millisecond'
		WHERE id = $1 AND (claim_token IS NULL OR claim_until <= now())
		RETURNING claim_token::text, (SELECT claim_token IS NOT NULL FROM before)`,
		id, ttl.Milliseconds()).Scan(&c.Token, &c.Earlier)
	if errors.Is(err, pgx.ErrNoRows) {
		return Claim{}, false, nil
	}
	if err != nil {
		return Claim{}, false, fmt.Errorf("claim anfrage %d: %w", id, err)
	}
	return c, true, nil
}

// FinishClaim ends the claim token holds on anfrage id, in the transaction
// that records the result (the row is locked until it commits). held is
// false when the claim is not token's any more: it expired and another
// holder took it over.
func FinishClaim(ctx context.Context, tx pgx.Tx, id int64, token string) (held bool, err error) {
	tag, err := tx.Exec(ctx, `
		UPDATE matching_service.therapeutenanfrage
		SET claim_token = NULL, claim_until = NULL
		WHERE id = $1 AND claim_token = $2::uuid`, id, token)
	if err != nil {
		return false, fmt.Errorf("finish the claim on anfrage %d: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ReleaseClaim gives up the claim token holds on anfrage id without a
// result (the call failed): it expires at once, so the next sender need not
// wait, and its token stays, so the next claim is told Earlier.
func ReleaseClaim(ctx context.Context, db DB, id int64, token string) error {
	_, err := db.Exec(ctx, `
		UPDATE matching_service.therapeutenanfrage
		SET claim_until = now()
		WHERE id = $1 AND claim_token = $2::uuid`, id, token)
	if err != nil {
		return fmt.Errorf("release the claim on anfrage %d: %w", id, err)
	}
	return nil
}
