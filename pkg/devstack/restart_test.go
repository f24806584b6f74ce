package devstack

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/curavani/matching/pkg/handlers"
)

// burst builds n events of eventType whose payload names id first+i in
// field, in the given form, alternating envelope and CloudEvent.
func burst(t testing.TB, eventType, field string, first, n int) []*sarama.ProducerMessage {
	t.Helper()
	msgs := make([]*sarama.ProducerMessage, n)
	for i := range n {
		form := FormEnvelope
		if i%2 == 1 {
			form = FormCloudEvent
		}
		m, _, err := record(context.Background(), eventType, fmt.Sprintf(`{%q:%d}`, field, first+i), form, "")
		if err != nil {
			t.Fatal(err)
		}
		msgs[i] = m
	}
	return msgs
}

// produce sends msgs in batches of 50 with one producer.
func produce(t testing.TB, brokers []string, msgs []*sarama.ProducerMessage) {
	t.Helper()
	p, err := sarama.NewSyncProducer(brokers, producerConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for len(msgs) > 0 {
		n := min(50, len(msgs))
		if err := p.SendMessages(msgs[:n]); err != nil {
			t.Fatal(err)
		}
		msgs = msgs[n:]
	}
}

// Two consumers are killed (their Run cancelled, as SIGTERM does) while a
// burst is being consumed; more events arrive while they are down; their
// committed offsets are lost as well (the group is deleted), so on restart
// everything is delivered again. Nothing is lost and nothing is applied
// twice: every search is cancelled with one note and one event, every
// email.sent notes its anfrage exactly once (a second application would add
// a second note), and matching-events carries one event per search.
func TestKillConsumersMidStream_nothingLostNothingAppliedTwice(t *testing.T) {
	t.Parallel()
	const n = 300 // per consumer; half before the kill, half while down
	s := startStack(t, Options{})
	events := collect(t, s.Brokers, "matching-events")

	// Patients 1001… each have an aktiv search; anfragen sent by emails
	// 5001… each have no notes yet.
	s.exec(`INSERT INTO matching_service.platzsuche (patient_id, status) SELECT 1000 + g, 'aktiv' FROM generate_series(1, $1) g`, n)
	s.exec(`INSERT INTO matching_service.therapeutenanfrage (therapist_id, anfragegroesse, gesendet_datum, email_id)
	        SELECT g, 1, now() AT TIME ZONE 'utc', 5000 + g FROM generate_series(1, $1) g`, n)
	processed := func(group string) int {
		return scalar[int](s, `SELECT count(*) FROM matching_service.processed_events WHERE consumer = $1`, group)
	}

	produce(t, s.Brokers, append(burst(t, "patient.deleted", "patient_id", 1001, n/2), burst(t, "email.sent", "email_id", 5001, n/2)...))
	eventually(t, 20*time.Second, "the consumers to be under way", func() bool {
		return processed(handlers.PatientGroup) >= n/10 && processed(handlers.CommunicationGroup) >= n/10
	})
	var wg sync.WaitGroup
	for _, name := range []string{"patient-deleted", "communication-events"} {
		wg.Go(func() { s.stopFunction(name) })
	}
	wg.Wait()
	atKill := [2]int{processed(handlers.PatientGroup), processed(handlers.CommunicationGroup)}
	t.Logf("processed when killed: %d of %d patient events, %d of %d email events", atKill[0], n/2, atKill[1], n/2)

	// Events keep coming while the consumers are down.
	produce(t, s.Brokers, append(burst(t, "patient.deleted", "patient_id", 1001+n/2, n/2), burst(t, "email.sent", "email_id", 5001+n/2, n/2)...))
	// The offsets they committed are lost too: every record comes again.
	admin, err := sarama.NewClusterAdmin(s.Brokers, saramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{handlers.PatientGroup, handlers.CommunicationGroup} {
		if err := admin.DeleteConsumerGroup(g); err != nil {
			t.Fatalf("delete group %s: %v", g, err)
		}
	}
	admin.Close()
	for _, name := range []string{"patient-deleted", "communication-events"} {
		if err := s.restartFunction(context.Background(), name); err != nil {
			t.Fatal(err)
		}
	}

	eventually(t, 30*time.Second, "every event processed", func() bool {
		return processed(handlers.PatientGroup) == n && processed(handlers.CommunicationGroup) == n
	})
	emitted := events.waitEvents(t, n, 20*time.Second)

	// Nothing lost: every search cancelled, every anfrage noted.
	if c := scalar[int](s, `SELECT count(*) FROM matching_service.platzsuche WHERE status = 'abgebrochen'`); c != n {
		t.Errorf("%d of %d searches cancelled", c, n)
	}
	// Nothing twice: one note per search and per anfrage, one event per search.
	bad := scalar[[]string](s, `
		SELECT coalesce(array_agg('search ' || id ORDER BY id), '{}') FROM matching_service.platzsuche
		WHERE cardinality(string_to_array(notizen, E'\n')) <> 1
		   OR notizen NOT LIKE '%Cancelled: Patient deleted from system'`)
	bad = append(bad, scalar[[]string](s, `
		SELECT coalesce(array_agg('anfrage ' || id ORDER BY id), '{}') FROM matching_service.therapeutenanfrage
		WHERE cardinality(string_to_array(notizen, E'\n')) IS DISTINCT FROM 1
		   OR notizen NOT LIKE '%Email ' || email_id || ' sent'`)...)
	if len(bad) > 0 {
		t.Errorf("applied other than once: %s", strings.Join(bad, ", "))
	}
	if c := scalar[int](s, `SELECT count(DISTINCT partition_key) FROM matching_service.outbox WHERE event_type = 'search.status_changed'`); c != n {
		t.Errorf("%d searches have a status event, want %d", c, n)
	}
	if c := scalar[int](s, `SELECT count(*) FROM matching_service.outbox`); c != n {
		t.Errorf("%d events in the outbox, want %d (one per search)", c, n)
	}
	perKey := byKey(emitted)
	for key, evs := range perKey {
		if len(evs) != 1 {
			t.Errorf("key %s: %d distinct events on matching-events", key, len(evs))
		}
	}
	if len(emitted) != n || len(perKey) != n {
		t.Errorf("%d events for %d keys on matching-events, want %d each", len(emitted), len(perKey), n)
	}
}
