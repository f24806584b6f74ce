package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/outbox"
	"github.com/curavani/matching/pkg/sink"
	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

func TestPublish_deliversTheCommittedRowsAsCloudEventsAndMarksThemPublished(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ids := e.commit(t,
		statusChanged(42, "abgebrochen"),
		events.NewAnfrageCancelled(events.AnfrageCancelledData{AnfrageID: 7, TherapistID: 3, Reason: "Therapist blocked"}))
	var created time.Time
	if err := e.pool.QueryRow(context.Background(),
		`SELECT created_at FROM matching_service.outbox WHERE id = $1`, ids[0]).Scan(&created); err != nil {
		t.Fatal(err)
	}

	e.publish(t, ids)

	type attrs struct {
		Source, Type, Subject, PartitionKey, Origin, ContentType string
		Data                                                     map[string]any
		Binary                                                   bool
	}
	got := map[string]attrs{} // by CloudEvent id
	times := map[string]time.Time{}
	for i, ev := range e.sink.events() {
		var data map[string]any
		if err := ev.DataAs(&data); err != nil {
			t.Fatalf("data of %s: %v", ev.ID(), err)
		}
		got[ev.ID()] = attrs{ev.Source(), ev.Type(), ev.Subject(),
			fmt.Sprint(ev.Extensions()["partitionkey"]), fmt.Sprint(ev.Extensions()["origin"]),
			ev.DataContentType(), data, e.sink.binary[i]}
		times[ev.ID()] = ev.Time()
	}
	want := map[string]attrs{
		ids[0]: {"matching-service", "search.status_changed", "42", "42", "matching-test", "application/json",
			map[string]any{"search_id": 42.0, "new_status": "abgebrochen"}, true},
		ids[1]: {"matching-service", "therapeutenanfrage.cancelled", "7", "7", "matching-test", "application/json",
			map[string]any{"anfrage_id": 7.0, "therapist_id": 3.0, "reason": "Therapist blocked"}, true},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("CloudEvents by id (-want +got):\n%s", d)
	}
	if !times[ids[0]].Equal(created) || times[ids[0]].Location() != time.UTC {
		t.Errorf("time = %v, want the row's created_at %v in UTC", times[ids[0]], created)
	}
	if d := cmp.Diff([]outboxRow{{true, 1, false}, {true, 1, false}}, e.rows(t, ids...)); d != "" {
		t.Errorf("outbox rows (-want +got):\n%s", d)
	}
	for _, id := range ids {
		if !strings.Contains(e.logs.String(), `"level":"INFO","msg":"event published"`) || !strings.Contains(e.logs.String(), id) {
			t.Errorf("no INFO log of the publication of %s:\n%s", id, e.logs.String())
		}
	}
	if n := e.unpublished(t); n != 0 {
		t.Errorf("%d rows left unpublished", n)
	}
}

func TestPublish_doesNotSendANewerRowWhileAnOlderRowOfItsKeyIsUnpublished(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.sink.set(func(f *fakeSink) { f.status = http.StatusServiceUnavailable })
	older := e.commit(t, statusChanged(5, "pausiert"))
	e.publish(t, older)

	e.sink.set(func(f *fakeSink) { f.status = http.StatusAccepted })
	newer := e.commit(t, statusChanged(5, "aktiv"))
	otherKey := e.commit(t, statusChanged(6, "aktiv"))
	e.publish(t, append(newer, otherKey...))

	if d := cmp.Diff(otherKey, e.sink.ids()); d != "" {
		t.Errorf("sink received (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]outboxRow{{false, 1, true}, {false, 0, false}}, e.rows(t, older[0], newer[0])); d != "" {
		t.Errorf("rows of key 5 (-want +got):\n%s", d)
	}

	if n, err := e.pub.Relay(context.Background()); n != 2 || err != nil {
		t.Fatalf("Relay = %d, %v; want 2, nil", n, err)
	}
	if d := cmp.Diff([]string{otherKey[0], older[0], newer[0]}, e.sink.ids()); d != "" {
		t.Errorf("arrival order (-want +got):\n%s", d)
	}
}

func TestPublish_ofSeveralRowsOfOneKeyStopsTheKeyAtItsFirstFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.sink.set(func(f *fakeSink) { f.badKeys["9"] = http.StatusServiceUnavailable })
	ids := e.commit(t, statusChanged(9, "a"), statusChanged(9, "b"), statusChanged(10, "a"))
	e.publish(t, ids)
	if d := cmp.Diff([]string{ids[2]}, e.sink.ids()); d != "" {
		t.Errorf("sink received (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]outboxRow{{false, 1, true}, {false, 0, false}, {true, 1, false}}, e.rows(t, ids...)); d != "" {
		t.Errorf("rows (-want +got):\n%s", d)
	}
	if !strings.Contains(e.logs.String(), `"level":"WARN"`) || !strings.Contains(e.logs.String(), ids[0]) {
		t.Errorf("no WARN naming the failed event:\n%s", e.logs.String())
	}
}

func TestPublish_rolledBackTransactionLeavesNothingToPublish(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var ids []string
	boom := errors.New("handler failed")
	err := store.WithTx(context.Background(), e.pool, func(tx pgx.Tx) error {
		var err error
		ids, err = outbox.Add(context.Background(), tx, statusChanged(1, "abgebrochen"))
		if err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("WithTx = %v", err)
	}
	e.publish(t, ids)
	if n, err := e.pub.Relay(context.Background()); n != 0 || err != nil {
		t.Errorf("Relay = %d, %v; want 0, nil", n, err)
	}
	if got := e.sink.events(); len(got) != 0 {
		t.Errorf("sink received %d events for a rolled-back change", len(got))
	}
	var rows int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM matching_service.outbox`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Errorf("%d outbox rows after the rollback", rows)
	}
}

func TestPublish_concurrentPublishersNeverReorderAKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, outbox.WithBatchSize(7))
	e.sink.set(func(f *fakeSink) { f.status = http.StatusServiceUnavailable })
	keys := []int{1, 2, 3}
	seqOf := map[string]int{} // id → position in its key's creation order
	keyOf := map[string]string{}
	var ids []string
	for n := range 20 {
		for _, k := range keys {
			id := e.commit(t, statusChanged(k, fmt.Sprint(n)))[0]
			seqOf[id], keyOf[id] = n, fmt.Sprint(k)
			ids = append(ids, id)
		}
	}
	// A sink that takes a moment per event keeps the publishers' claims
	// overlapping.
	e.sink.set(func(f *fakeSink) { f.status, f.delay = http.StatusAccepted, time.Millisecond })

	// Three instances publishing every row inline, each row by one of
	// them, and three relays, all at once (as several instances and the
	// relay function would).
	s := sink.NewHTTP(e.sink.srv.URL, nil, 5*time.Second)
	t.Cleanup(func() { s.Close() })
	instances := []*outbox.Publisher{e.pub,
		outbox.NewPublisher(e.pool, s, nil, outbox.WithBatchSize(7)),
		outbox.NewPublisher(e.pool, s, nil, outbox.WithBatchSize(7))}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if _, err := e.pub.Relay(context.Background()); err != nil {
				t.Errorf("Relay: %v", err)
			}
		})
	}
	for i := range ids {
		wg.Go(func() { instances[i%3].Publish(context.Background(), ids[i:i+1]) })
	}
	wg.Wait()
	for _, p := range instances {
		if err := p.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// Whatever the concurrent runs left (keys they found held) goes now.
	if _, err := e.pub.Relay(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Every event arrived, and none before an older event of its key.
	delivered := map[string]int{} // key → events of it delivered so far (in order)
	for i, id := range e.sink.ids() {
		k := keyOf[id]
		switch {
		case seqOf[id] < delivered[k]:
			// A duplicate of an event already delivered: allowed (at least once).
		case seqOf[id] == delivered[k]:
			delivered[k]++
		default:
			t.Fatalf("arrival %d: event %d of key %s before event %d", i, seqOf[id], k, delivered[k])
		}
	}
	for _, k := range keys {
		if delivered[fmt.Sprint(k)] != 20 {
			t.Errorf("key %d: %d of 20 events delivered", k, delivered[fmt.Sprint(k)])
		}
	}
	if n := e.unpublished(t); n != 0 {
		t.Errorf("%d rows left unpublished", n)
	}
}

func TestPublisher_observerSeesEveryAttempt(t *testing.T) {
	t.Parallel()
	type attempt struct {
		Type string
		OK   bool
	}
	var mu sync.Mutex
	var seen []attempt
	e := newEnv(t, outbox.WithObserver(func(eventType string, err error, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, attempt{eventType, err == nil})
		if d <= 0 {
			t.Errorf("attempt duration %v", d)
		}
	}))
	e.sink.set(func(f *fakeSink) { f.status = http.StatusServiceUnavailable })
	e.publish(t, e.commit(t, statusChanged(1, "a")))
	e.sink.set(func(f *fakeSink) { f.status = http.StatusAccepted })
	if _, err := e.pub.Relay(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []attempt{{events.SearchStatusChanged, false}, {events.SearchStatusChanged, true}}
	if d := cmp.Diff(want, seen); d != "" {
		t.Errorf("observed attempts (-want +got):\n%s", d)
	}
}

func TestPublish_withoutASinkKeepsEverythingInTheOutbox(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	storetest.SyntheticEvents(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := sink.New(configWithoutSink(), log)
	if err != nil {
		t.Fatal(err)
	}
	pub := outbox.NewPublisher(pool, s, log)
	var ids []string
	err = store.WithTx(context.Background(), pool, func(tx pgx.Tx) error {
		ids, err = outbox.Add(context.Background(), tx, statusChanged(1, "a"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	publish(t, pub, ids)
	n, err := pub.Relay(context.Background())
	if n != 0 || !errors.Is(err, sink.ErrNotConfigured) {
		t.Errorf("Relay = %d, %v; want 0 and ErrNotConfigured", n, err)
	}
	if backlog, _, _ := pub.Backlog(context.Background()); backlog != 1 {
		t.Errorf("backlog = %d, want 1", backlog)
	}
}

func TestPublish_throughKafkaKeysTheRecordByThePartitionKey(t *testing.T) {
	t.Parallel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "matching-events"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := sink.NewKafka(c.ListenAddrs(), "matching-events")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pool, _ := storetest.New(t)
	storetest.SyntheticEvents(t)
	pub := outbox.NewPublisher(pool, s, nil)
	var ids []string
	err = store.WithTx(context.Background(), pool, func(tx pgx.Tx) error {
		ids, err = outbox.Add(context.Background(), tx, statusChanged(42, "abgebrochen"), statusChanged(42, "aktiv"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	publish(t, pub, ids)

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("matching-events"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type record struct{ Key, ID, Type string }
	var got []record
	for len(got) < 2 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			rec := record{Key: string(r.Key)}
			for _, h := range r.Headers {
				switch h.Key {
				case "ce_id":
					rec.ID = string(h.Value)
				case "ce_type":
					rec.Type = string(h.Value)
				}
			}
			got = append(got, rec)
		})
	}
	want := []record{{"42", ids[0], events.SearchStatusChanged}, {"42", ids[1], events.SearchStatusChanged}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("records on matching-events (-want +got):\n%s", d)
	}
	if n, _, _ := pub.Backlog(context.Background()); n != 0 {
		t.Errorf("%d rows unpublished", n)
	}
}
