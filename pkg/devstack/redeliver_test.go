package devstack

import (
	"context"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/handlers"
)

// everything is what a re-delivery must not change: every row of
// matching's tables that records effects, as text, and the counters.
func everything(s *testStack) map[string]string {
	s.t.Helper()
	out := map[string]string{}
	for name, q := range map[string]string{
		"searches":         `SELECT coalesce(string_agg(to_jsonb(t)::text, E'\n' ORDER BY id), '') FROM matching_service.platzsuche t`,
		"anfragen":         `SELECT coalesce(string_agg(to_jsonb(t)::text, E'\n' ORDER BY id), '') FROM matching_service.therapeutenanfrage t`,
		"anfrage patients": `SELECT coalesce(string_agg(to_jsonb(t)::text, E'\n' ORDER BY id), '') FROM matching_service.therapeut_anfrage_patient t`,
		"history":          `SELECT count(*)::text || ' rows, last ' || coalesce(max(id), 0) FROM matching_service.history`,
		"consumed events":  `SELECT count(*)::text || ' rows, last ' || coalesce(max(id), 0) FROM matching_service.consumed_events`,
		"emitted events":   `SELECT count(*)::text || ' rows, last ' || coalesce(max(id), 0) FROM matching_service.emitted_events`,
		"outbox":           `SELECT count(*)::text FROM matching_service.outbox`,
		"processed":        `SELECT count(*)::text FROM matching_service.processed_events`,
		"counters":         `SELECT coalesce(string_agg(name || '/' || label || '=' || v, ' ' ORDER BY name, label), '') FROM (SELECT name, label, sum(value) v FROM matching_service.business_counter GROUP BY 1, 2) c`,
	} {
		out[name] = scalar[string](s, q)
	}
	return out
}

// resetOffsetsToTime moves group's committed offsets on topic back to the
// first record at or after t, as `kafka-consumer-groups.sh --reset-offsets
// --to-datetime` does (README, "Re-delivering Kafka records"); the group
// must have no member.
func resetOffsetsToTime(t *testing.T, brokers []string, group, topic string, at time.Time) {
	t.Helper()
	client, err := sarama.NewClient(brokers, saramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	partitions, err := client.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	om, err := sarama.NewOffsetManagerFromClient(group, client)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range partitions {
		off, err := client.GetOffset(topic, p, at.UnixMilli())
		if err != nil {
			t.Fatal(err)
		}
		if off == sarama.OffsetNewest || off < 0 { // no record since at
			continue
		}
		pom, err := om.ManagePartition(topic, p)
		if err != nil {
			t.Fatal(err)
		}
		pom.ResetOffset(off, "")
		if err := pom.Close(); err != nil {
			t.Fatal(err)
		}
	}
	om.Commit()
	if err := om.Close(); err != nil {
		t.Fatal(err)
	}
}

// consumedToEnd reports whether group has committed every record of topic.
func consumedToEnd(t *testing.T, brokers []string, group, topic string) bool {
	t.Helper()
	client, err := sarama.NewClient(brokers, saramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	partitions, err := client.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: partitions})
	if err != nil {
		return false
	}
	for _, p := range partitions {
		end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		first, err := client.GetOffset(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		if end == first { // an empty partition has nothing to commit
			continue
		}
		if b := committed.GetBlock(topic, p); b == nil || b.Offset < end {
			return false
		}
	}
	return true
}

// Every record of the three consumer topics is delivered again, from a
// time before the first one (a consumer group reset, as the README tells
// operators to do it): nothing changes — no row, no history, no logged or
// emitted event, no counter — because the inbox recognises each event.
func TestRedeliveryOfEveryRecord_changesNothing(t *testing.T) {
	t.Parallel()
	const n = 40
	s := startStack(t, Options{})
	s.exec(`INSERT INTO matching_service.platzsuche (patient_id, status) SELECT 2000 + g, 'aktiv' FROM generate_series(1, $1) g`, n)
	s.exec(`INSERT INTO matching_service.therapeutenanfrage (therapist_id, anfragegroesse, gesendet_datum, email_id)
	        SELECT g, 1, now() AT TIME ZONE 'utc', 7000 + g FROM generate_series(1, $1) g`, n)
	s.exec(`INSERT INTO matching_service.therapeutenanfrage (therapist_id, anfragegroesse) VALUES (900, 1)`)
	before := time.Now().Add(-time.Second)
	msgs := append(burst(t, "patient.deleted", "patient_id", 2001, n), burst(t, "email.sent", "email_id", 7001, n)...)
	msgs = append(msgs, burst(t, "therapist.blocked", "therapist_id", 900, 1)...)
	produce(t, s.Brokers, msgs)
	processed := func() int { return scalar[int](s, `SELECT count(*) FROM matching_service.processed_events`) }
	eventually(t, 30*time.Second, "every event processed", func() bool { return processed() == 2*n+1 })
	for _, c := range handlers.Consumers(handlers.Settings{}) {
		eventually(t, 10*time.Second, c.Group+" committed", func() bool { return consumedToEnd(t, s.Brokers, c.Group, c.Topic) })
	}
	want := everything(s)

	for _, c := range handlers.Consumers(handlers.Settings{}) {
		s.stopFunction(c.Name)
		resetOffsetsToTime(t, s.Brokers, c.Group, c.Topic, before)
		if consumedToEnd(t, s.Brokers, c.Group, c.Topic) {
			t.Fatalf("%s: the reset did not move the offsets back", c.Group)
		}
		if err := s.restartFunction(context.Background(), c.Name); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range handlers.Consumers(handlers.Settings{}) {
		eventually(t, 30*time.Second, c.Group+" consumed everything again", func() bool { return consumedToEnd(t, s.Brokers, c.Group, c.Topic) })
	}
	if d := cmp.Diff(want, everything(s)); d != "" {
		t.Errorf("the re-delivery changed (-before +after):\n%s", d)
	}
}
