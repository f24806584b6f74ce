package followup_test

import (
	"context"
	"testing"
	"time"

	"github.com/curavani/matching/pkg/followup"
	"github.com/curavani/matching/pkg/neighbours/fake"
)

// While the communication service takes its time over a call, the job
// holds no row lock on the anfrage (another transaction takes it without
// waiting) and no open transaction.
func TestRun_holdsNoLockWhileTheCommunicationServiceAnswers(t *testing.T) {
	w := newWorld(t)
	now := inBerlin(2025, 4, 4, 9, 0)
	id := w.add(anfrage{therapist: w.therapist(nil), sent: now.AddDate(0, 0, -8)})
	w.fake.SetServiceLatency(fake.CommunicationService, time.Second)
	done := make(chan followup.Summary, 1)
	go func() { done <- w.run(w.job(), followup.Options{Now: now}) }()
	for deadline := time.Now().Add(10 * time.Second); w.fake.Count(fake.CreatePhoneCall) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the job never asked for the call")
		}
	}
	ctx := context.Background()
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM matching_service.therapeutenanfrage WHERE id = $1 FOR UPDATE NOWAIT`, id); err != nil {
		t.Errorf("the anfrage is locked during the call: %v", err)
	}
	_ = tx.Rollback(ctx)
	var open int
	if err := w.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`).Scan(&open); err != nil || open != 0 {
		t.Errorf("%d transactions held open during the call (%v)", open, err)
	}
	if sum := <-done; sum != (followup.Summary{Scheduled: 1}) {
		t.Errorf("summary %s", sum)
	}
}

// An anfrage another run holds a claim on is skipped; once that claim has
// expired (the other run died), the next run takes it over.
func TestRun_skipsAnAnfrageAnotherRunHoldsAndTakesOverAnExpiredClaim(t *testing.T) {
	w := newWorld(t)
	now := inBerlin(2025, 4, 4, 9, 0)
	id := w.add(anfrage{therapist: w.therapist(nil), sent: now.AddDate(0, 0, -8)})
	claim := func(until string) {
		if _, err := w.pool.Exec(context.Background(), `UPDATE matching_service.therapeutenanfrage
			SET claim_token = gen_random_uuid(), claim_until = now() + $2::interval WHERE id = $1`, id, until); err != nil {
			t.Fatal(err)
		}
	}
	claim("1 hour")
	if sum := w.run(w.job(), followup.Options{Now: now}); sum != (followup.Summary{Skipped: 1}) {
		t.Errorf("with a live claim: %s, want skipped=1", sum)
	}
	claim("-1 second")
	if sum := w.run(w.job(), followup.Options{Now: now}); sum != (followup.Summary{Scheduled: 1}) {
		t.Errorf("with an expired claim: %s, want scheduled=1", sum)
	}
	if w.phoneCallID(id) == 0 {
		t.Error("no call recorded")
	}
}
