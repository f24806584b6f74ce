package api_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/neighbours/fake"
)

// startSend sends anfrage aid in the background; the channel gives its
// answer.
func (e *env) startSend(aid int64) <-chan response {
	done := make(chan response, 1)
	go func() { done <- e.do("POST", sendPath(aid), nil) }()
	return done
}

// waitCount waits until the fake received n requests of ep.
func (e *env) waitCount(ep fake.Endpoint, n int) {
	e.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); e.fake.Count(ep) < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			e.t.Fatalf("%s was never called %d times", ep, n)
		}
	}
}

// While the communication service takes its time over an anfrage's email,
// the send holds neither a pooled connection (with a pool of one, a read
// completes before the send does) nor the anfrage's row lock (another
// transaction takes it without waiting).
func TestSendAnfrage_holdsNoConnectionOrLockWhileTheCommunicationServiceAnswers(t *testing.T) {
	t.Parallel()
	e := newEnvWithPool(t, 1)
	tid := e.therapist(nil)
	sid := e.search(e.patient(nil))
	aid := e.anfrage(tid, "10")
	e.fake.SetServiceLatency(fake.CommunicationService, 3*time.Second)
	sending := e.startSend(aid)
	e.waitCount(fake.CreateEmail, 1)

	e.do("GET", fmt.Sprintf("/api/platzsuchen/%d", sid), nil).must(t, 200)
	select {
	case r := <-sending:
		t.Fatalf("the send (%d) ended before the read: the read waited for its connection", r.status)
	default:
	}
	tx, err := e.pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(context.Background(), `SELECT 1 FROM matching_service.therapeutenanfrage WHERE id = $1 FOR UPDATE NOWAIT`, aid); err != nil {
		t.Errorf("the anfrage's row is locked during the call: %v", err)
	}
	_ = tx.Rollback(context.Background())
	(<-sending).must(t, 200)
}

// A sender that died after the communication service created the email
// left its claim: a later send waits for the claim to expire, then finds
// the email by its subject and records it, instead of creating a second.
func TestSendAnfrage_afterASenderDiedAdoptsItsEmail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tid := e.therapist(nil)
	e.search(e.patient(nil))
	aid := e.anfrage(tid, "10")
	earlier, err := e.clients().Communication.CreateEmail(context.Background(), neighbours.Email{
		TherapistID: tid, Betreff: fmt.Sprintf("Suche Psychotherapieplätze - Ref: A%d", aid),
		InhaltMarkdown: "x", EmpfaengerEmail: "a@b", EmpfaengerName: "A"})
	if err != nil {
		t.Fatal(err)
	}
	e.exec(`UPDATE matching_service.therapeutenanfrage SET claim_token = gen_random_uuid(), claim_until = now() + interval '300 milliseconds' WHERE id = $1`, aid)

	r := e.do("POST", sendPath(aid), nil).must(t, 200)
	if num(t, r.body["email_id"]) != earlier || len(e.fake.Emails()) != 1 {
		t.Errorf("email_id %v, %d emails; want the earlier email %d and no other", r.body["email_id"], len(e.fake.Emails()), earlier)
	}
	if id := scalar[int64](e, `SELECT email_id FROM matching_service.therapeutenanfrage WHERE id = $1`, aid); id != earlier {
		t.Errorf("recorded email %d, want %d", id, earlier)
	}
	if n := scalar[int](e, `SELECT count(*) FROM matching_service.therapeutenanfrage WHERE claim_token IS NOT NULL`); n != 0 {
		t.Errorf("%d claims left", n)
	}
}

// The same for an anfrage sent by phone: the call the dead sender created
// for the anfrage is adopted.
func TestSendAnfrage_afterASenderDiedAdoptsItsPhoneCall(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tid := e.therapist(map[string]any{"email": nil})
	e.search(e.patient(nil))
	aid := e.anfrage(tid, "10")
	earlier := e.fake.AddPhoneCall(map[string]any{"therapist_id": tid, "therapeutenanfrage_id": aid, "geplantes_datum": "2025-08-13", "geplante_zeit": "10:00"})
	e.exec(`UPDATE matching_service.therapeutenanfrage SET claim_token = gen_random_uuid(), claim_until = now() - interval '1 second' WHERE id = $1`, aid)

	r := e.do("POST", sendPath(aid), nil).must(t, 200)
	if num(t, r.body["phone_call_id"]) != earlier || e.fake.Count(fake.CreatePhoneCall) != 0 {
		t.Errorf("phone_call_id %v, %d calls created; want the earlier call %d and no other", r.body["phone_call_id"], e.fake.Count(fake.CreatePhoneCall), earlier)
	}
}

// A send the communication service refused releases its claim: the retry
// goes ahead at once, looks for an email the failed attempt might have
// created (there is none) and creates exactly one. A first send looks for
// nothing.
func TestSendAnfrage_aFailedSendReleasesItsClaimAndTheRetryCreatesOneEmail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tid := e.therapist(nil)
	e.search(e.patient(nil))
	aid := e.anfrage(tid, "10")
	e.fake.FailNext(fake.CreateEmail, 1, http.StatusBadRequest)
	e.do("POST", sendPath(aid), nil).must(t, 500)
	if n := e.fake.Count(fake.ListEmails); n != 0 {
		t.Errorf("a first send listed emails %d times", n)
	}
	e.do("POST", sendPath(aid), nil).must(t, 200)
	if n := e.fake.Count(fake.ListEmails); n != 1 {
		t.Errorf("the retry listed emails %d times, want 1", n)
	}
	if n := len(e.fake.Emails()); n != 1 {
		t.Errorf("%d emails, want 1", n)
	}
}

// An anfrage cancelled (therapist blocked) while its email was being
// created is not marked sent; the answer says it was cancelled.
func TestSendAnfrage_cancelledDuringTheCallIsNotMarkedSent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tid := e.therapist(nil)
	e.search(e.patient(nil))
	aid := e.anfrage(tid, "10")
	e.fake.SetServiceLatency(fake.CommunicationService, time.Second)
	sending := e.startSend(aid)
	e.waitCount(fake.CreateEmail, 1)
	e.exec(`UPDATE matching_service.therapeutenanfrage SET storniert_datum = now(), storniert_grund = 'Therapist blocked' WHERE id = $1`, aid)
	(<-sending).must(t, 409)
	if sent := scalar[bool](e, `SELECT gesendet_datum IS NOT NULL FROM matching_service.therapeutenanfrage WHERE id = $1`, aid); sent {
		t.Error("the cancelled anfrage was marked sent")
	}
	for _, ev := range e.events() {
		if ev.Type == "therapeutenanfrage.sent" {
			t.Error("a sent event for the cancelled anfrage")
		}
	}
}
