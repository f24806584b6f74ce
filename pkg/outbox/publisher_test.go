package outbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/outbox"
	"github.com/curavani/matching/pkg/sink"
	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// fakeSink is a K_SINK on httptest. It records every CloudEvent it accepts,
// in the order they arrive, and answers what the test says: 202 like a
// KafkaSink that produced the record, or an error status.
type fakeSink struct {
	srv *httptest.Server

	mu       sync.Mutex
	status   int            // reply to every event
	badKeys  map[string]int // reply for events of these partition keys
	hang     bool           // hold every request until the client gives up
	gate     chan struct{}  // if set, hold every request until it is closed
	held     int            // requests being held by the gate
	delay    time.Duration  // think this long before answering
	received []cloudevents.Event
	binary   []bool // whether each request was in binary mode
}

func newFakeSink(t *testing.T) *fakeSink {
	f := &fakeSink{status: http.StatusAccepted, badKeys: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSink) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	hang, delay, gate := f.hang, f.delay, f.gate
	f.mu.Unlock()
	time.Sleep(delay)
	if gate != nil {
		f.set(func(f *fakeSink) { f.held++ })
		<-gate
		f.set(func(f *fakeSink) { f.held-- })
	}
	if hang {
		// Read the body first: only then does the server notice that the
		// client hung up and cancel the request's context.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
		return
	}
	e, err := cehttp.NewEventFromHTTPRequest(r)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	key, _ := e.Extensions()["partitionkey"].(string)
	if code, bad := f.badKeys[key]; bad {
		w.WriteHeader(code)
		return
	}
	if f.status/100 == 2 {
		f.received = append(f.received, *e)
		f.binary = append(f.binary, r.Header.Get("Ce-Id") != "")
	}
	w.WriteHeader(f.status)
}

func (f *fakeSink) set(fn func(f *fakeSink)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// waitHeld waits until the gate holds n requests.
func (f *fakeSink) waitHeld(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		f.mu.Lock()
		held := f.held
		f.mu.Unlock()
		if held == n {
			return
		}
	}
	t.Fatalf("the sink never held %d requests", n)
}

func (f *fakeSink) events() []cloudevents.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]cloudevents.Event(nil), f.received...)
}

// ids returns the ids of the received events, in arrival order.
func (f *fakeSink) ids() []string {
	var out []string
	for _, e := range f.events() {
		out = append(out, e.ID())
	}
	return out
}

// idsByKey returns the ids of the received events per partition key, in
// arrival order.
func (f *fakeSink) idsByKey() map[string][]string {
	out := map[string][]string{}
	for _, e := range f.events() {
		k := fmt.Sprint(e.Extensions()["partitionkey"])
		out[k] = append(out[k], e.ID())
	}
	return out
}

// env is one test's database, sink and publisher.
type env struct {
	pool *pgxpool.Pool
	sink *fakeSink
	pub  *outbox.Publisher
	logs *syncBuffer
}

func newEnv(t *testing.T, opts ...outbox.Option) *env {
	t.Helper()
	pool, _ := storetest.New(t)
	f := newFakeSink(t)
	s := sink.NewHTTP(f.srv.URL, map[string]string{"origin": "matching-test"}, 5*time.Second)
	t.Cleanup(func() { s.Close() })
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return &env{pool: pool, sink: f, pub: outbox.NewPublisher(pool, s, log, opts...), logs: logs}
}

// commit writes evs to the outbox in one committed transaction.
func (e *env) commit(t *testing.T, evs ...events.Outgoing) []string {
	t.Helper()
	var ids []string
	err := store.WithTx(context.Background(), e.pool, func(tx pgx.Tx) error {
		var err error
		ids, err = outbox.Add(context.Background(), tx, evs...)
		return err
	})
	if err != nil {
		t.Fatalf("commit outbox rows: %v", err)
	}
	return ids
}

// publish hands ids to the publisher and waits until they have been tried.
func (e *env) publish(t *testing.T, ids []string) {
	t.Helper()
	publish(t, e.pub, ids)
}

// publish hands ids to pub and waits until they have been tried.
func publish(t *testing.T, pub *outbox.Publisher, ids []string) {
	t.Helper()
	pub.Publish(context.Background(), ids)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pub.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// outboxRow is what a test checks on a row.
type outboxRow struct {
	Published bool
	Attempts  int
	LastError bool
}

func (e *env) rows(t *testing.T, ids ...string) []outboxRow {
	t.Helper()
	out := make([]outboxRow, len(ids))
	for i, id := range ids {
		var lastErr *string
		err := e.pool.QueryRow(context.Background(),
			`SELECT published_at IS NOT NULL, attempts, last_error FROM matching_service.outbox WHERE id = $1`, id).
			Scan(&out[i].Published, &out[i].Attempts, &lastErr)
		if err != nil {
			t.Fatalf("read outbox row %s: %v", id, err)
		}
		out[i].LastError = lastErr != nil && *lastErr != ""
	}
	return out
}

func (e *env) unpublished(t *testing.T) int {
	t.Helper()
	n, _, err := e.pub.Backlog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func statusChanged(search int, to string) events.Outgoing {
	return events.Outgoing{Type: events.SearchStatusChanged, Key: fmt.Sprint(search),
		Data: map[string]any{"search_id": search, "new_status": to}}
}

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

func TestPublish_sinkDownLeavesTheRowsAndTheRelayDeliversThemLaterInKeyOrder(t *testing.T) {
	t.Parallel()
	down := map[string]func(f *fakeSink){
		"sink answers 503": func(f *fakeSink) { f.status = http.StatusServiceUnavailable },
		"sink does not answer within the inline wait": func(f *fakeSink) { f.hang = true },
		"sink is closed": func(f *fakeSink) {
			f.srv.Listener.Close() // connection refused from now on
			f.srv.CloseClientConnections()
		},
	}
	for name, takeDown := range down {
		t.Run(name, func(t *testing.T) {
			const wait = 300 * time.Millisecond
			e := newEnv(t, outbox.WithInlineWait(wait), outbox.WithBatchSize(4))
			target := e.sink.srv.URL
			e.sink.set(takeDown)

			// 3 keys × 5 events, each committed by its own transaction and
			// published right after, interleaved across the keys.
			keys := []int{101, 102, 103}
			want := map[string][]string{}
			var all []string
			for n := range 5 {
				for _, k := range keys {
					ids := e.commit(t, statusChanged(k, fmt.Sprintf("step-%d", n)))
					start := time.Now()
					e.publish(t, ids)
					if took := time.Since(start); took > wait+2*time.Second {
						t.Fatalf("publishing took %v with the sink down, bound %v", took, wait)
					}
					want[fmt.Sprint(k)] = append(want[fmt.Sprint(k)], ids[0])
					all = append(all, ids[0])
				}
			}
			if n := e.unpublished(t); n != 15 {
				t.Fatalf("%d rows unpublished while the sink is down, want 15", n)
			}
			first := e.rows(t, want["101"][0])[0]
			if first.Published || first.Attempts != 1 || !first.LastError {
				t.Errorf("first row of a key after a failed publish = %+v, want one recorded failed attempt", first)
			}

			// The sink comes back (same URL).
			if name == "sink is closed" {
				e.sink.srv = httptest.NewUnstartedServer(http.HandlerFunc(e.sink.serve))
				l, err := listenOn(target)
				if err != nil {
					t.Skipf("cannot listen on the old sink address again: %v", err)
				}
				e.sink.srv.Listener = l
				e.sink.srv.Start()
				t.Cleanup(e.sink.srv.Close)
			}
			e.sink.set(func(f *fakeSink) { f.status, f.hang = http.StatusAccepted, false })

			n, err := e.pub.Relay(context.Background())
			if err != nil || n != 15 {
				t.Fatalf("Relay = %d, %v; want 15, nil", n, err)
			}
			if d := cmp.Diff(want, e.sink.idsByKey()); d != "" {
				t.Errorf("events per key in arrival order (-creation order +got):\n%s", d)
			}
			for i, r := range e.rows(t, all...) {
				if !r.Published {
					t.Errorf("row %s not marked published", all[i])
				}
			}
			if n, err := e.pub.Relay(context.Background()); n != 0 || err != nil {
				t.Errorf("second Relay = %d, %v; want 0, nil", n, err)
			}
			if got := len(e.sink.events()); got != 15 {
				t.Errorf("sink received %d events in total, want 15", got)
			}
		})
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

func TestRelay_givesUpOnAFailingKeyForTheRunAndDeliversTheOtherKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, outbox.WithBatchSize(2))
	e.sink.set(func(f *fakeSink) { f.status = http.StatusServiceUnavailable })
	bad := e.commit(t, statusChanged(1, "a"), statusChanged(1, "b"), statusChanged(1, "c"))
	good := e.commit(t, statusChanged(2, "a"), statusChanged(3, "a"), statusChanged(2, "b"))
	e.sink.set(func(f *fakeSink) { f.status = http.StatusAccepted; f.badKeys["1"] = http.StatusBadRequest })

	n, err := e.pub.Relay(context.Background())
	if n != 3 || err == nil {
		t.Fatalf("Relay = %d, %v; want 3 and an error reporting the undelivered event", n, err)
	}
	want := map[string][]string{"2": {good[0], good[2]}, "3": {good[1]}}
	if d := cmp.Diff(want, e.sink.idsByKey()); d != "" {
		t.Errorf("delivered per key (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]outboxRow{{false, 1, true}, {false, 0, false}, {false, 0, false}}, e.rows(t, bad...)); d != "" {
		t.Errorf("rows of the failing key (-want +got):\n%s", d)
	}

	// Next run, the sink accepts key 1 again.
	e.sink.set(func(f *fakeSink) { delete(f.badKeys, "1") })
	if n, err := e.pub.Relay(context.Background()); n != 3 || err != nil {
		t.Fatalf("second Relay = %d, %v; want 3, nil", n, err)
	}
	want["1"] = bad
	if d := cmp.Diff(want, e.sink.idsByKey()); d != "" {
		t.Errorf("delivered per key (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]outboxRow{{true, 2, true}, {true, 1, false}, {true, 1, false}}, e.rows(t, bad...)); d != "" {
		t.Errorf("rows of the recovered key (-want +got):\n%s", d)
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

func TestBacklog_countsUnpublishedRowsAndTheAgeOfTheOldest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if n, age, err := e.pub.Backlog(context.Background()); n != 0 || age != 0 || err != nil {
		t.Fatalf("empty outbox: Backlog = %d, %v, %v", n, age, err)
	}
	ids := e.commit(t, statusChanged(1, "a"), statusChanged(2, "a"), statusChanged(3, "a"))
	if _, err := e.pool.Exec(context.Background(),
		`UPDATE matching_service.outbox SET created_at = now() - interval '90 seconds' WHERE id = $1`, ids[1]); err != nil {
		t.Fatal(err)
	}
	e.publish(t, ids[:1])
	n, age, err := e.pub.Backlog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || age < 90*time.Second || age > 120*time.Second {
		t.Errorf("Backlog = %d, %v; want 2 rows, oldest about 90s", n, age)
	}
}

func TestPublish_withoutASinkKeepsEverythingInTheOutbox(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
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

// listenOn listens again on the host:port of a sink URL that was closed.
func listenOn(sinkURL string) (net.Listener, error) {
	u, err := url.Parse(sinkURL)
	if err != nil {
		return nil, err
	}
	return net.Listen("tcp", u.Host)
}

func configWithoutSink() config.Common {
	var c config.Common
	c.Kafka.MatchingEventsTopic = "matching-events"
	return c
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

func TestPublish_returnsBeforeTheSinkAnswersAndTheBatchDeliversAfterwards(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	gate := make(chan struct{})
	e.sink.set(func(f *fakeSink) { f.gate = gate })
	ids := e.commit(t, statusChanged(1, "abgebrochen"))

	e.pub.Publish(context.Background(), ids)
	// Publish returned while the sink has not answered: the request that
	// wrote the row is not held by the sink.
	if n := e.unpublished(t); n != 1 {
		t.Fatalf("%d rows unpublished before the sink answered, want 1", n)
	}
	close(gate)
	if err := e.pub.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(ids, e.sink.ids()); d != "" {
		t.Errorf("sink received (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]outboxRow{{true, 1, false}}, e.rows(t, ids...)); d != "" {
		t.Errorf("rows (-want +got):\n%s", d)
	}
}

func TestPublish_callsMadeWhileABatchIsInFlightArePublishedTogetherInOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	gate := make(chan struct{})
	e.sink.set(func(f *fakeSink) { f.gate = gate })
	first := e.commit(t, statusChanged(1, "a"))
	e.pub.Publish(context.Background(), first)
	e.sink.waitHeld(t, 1) // the first batch is sending

	// Four more calls, two of them for the key of the batch in flight and
	// one for a key of their own with two rows.
	var later []string
	for _, ev := range []events.Outgoing{statusChanged(2, "a"), statusChanged(1, "b"), statusChanged(3, "a")} {
		ids := e.commit(t, ev)
		e.pub.Publish(context.Background(), ids)
		later = append(later, ids...)
	}
	two := e.commit(t, statusChanged(4, "a"), statusChanged(4, "b"))
	e.pub.Publish(context.Background(), two)
	later = append(later, two...)
	close(gate)
	if err := e.pub.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	want := map[string][]string{"1": {first[0], later[1]}, "2": {later[0]}, "3": {later[2]}, "4": two}
	if d := cmp.Diff(want, e.sink.idsByKey()); d != "" {
		t.Errorf("delivered per key (-want +got):\n%s", d)
	}
	// One transaction marked all of the later calls' rows: they share its
	// timestamp, which the first batch's does not.
	var stamps []time.Time
	for _, id := range append(first, later...) {
		var at time.Time
		if err := e.pool.QueryRow(context.Background(),
			`SELECT published_at FROM matching_service.outbox WHERE id = $1`, id).Scan(&at); err != nil {
			t.Fatal(err)
		}
		stamps = append(stamps, at)
	}
	for i, at := range stamps[2:] {
		if !at.Equal(stamps[1]) {
			t.Errorf("row %d of the second batch published at %v, row 1 at %v: not one batch", i+2, at, stamps[1])
		}
	}
	if stamps[0].Equal(stamps[1]) {
		t.Errorf("the first batch and the second share the timestamp %v", stamps[0])
	}
}

func TestPublish_whenTheQueueIsFullLeavesTheRowsToTheRelay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, outbox.WithQueueLimit(2))
	gate := make(chan struct{})
	e.sink.set(func(f *fakeSink) { f.gate = gate })
	inFlight := e.commit(t, statusChanged(1, "a"))
	e.pub.Publish(context.Background(), inFlight)
	e.sink.waitHeld(t, 1)
	queued := e.commit(t, statusChanged(2, "a"), statusChanged(3, "a"))
	e.pub.Publish(context.Background(), queued)
	overflow := e.commit(t, statusChanged(4, "a"))
	e.pub.Publish(context.Background(), overflow)
	close(gate)
	if err := e.pub.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	if d := cmp.Diff([]outboxRow{{true, 1, false}, {true, 1, false}, {true, 1, false}, {false, 0, false}},
		e.rows(t, append(append(inFlight, queued...), overflow...)...)); d != "" {
		t.Errorf("rows (-want +got):\n%s", d)
	}
	if !strings.Contains(e.logs.String(), `"msg":"outbox: publish queue full; the relay will deliver","events":1`) {
		t.Errorf("no warning of the full queue:\n%s", e.logs.String())
	}
	if n, err := e.pub.Relay(context.Background()); n != 1 || err != nil {
		t.Fatalf("Relay = %d, %v; want 1, nil", n, err)
	}
}

func TestClose_publishesWhatIsQueuedAndLeavesLaterCallsToTheRelay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	gate := make(chan struct{})
	e.sink.set(func(f *fakeSink) { f.gate = gate })
	first := e.commit(t, statusChanged(1, "a"))
	e.pub.Publish(context.Background(), first)
	e.sink.waitHeld(t, 1)
	queued := e.commit(t, statusChanged(2, "a"))
	e.pub.Publish(context.Background(), queued)

	closed := make(chan error, 1)
	go func() { closed <- e.pub.Close(context.Background()) }()
	close(gate)
	if err := <-closed; err != nil {
		t.Fatalf("Close = %v", err)
	}
	if d := cmp.Diff(append(first, queued...), e.sink.ids()); d != "" {
		t.Errorf("delivered by the time Close returned (-want +got):\n%s", d)
	}

	after := e.commit(t, statusChanged(3, "a"))
	e.pub.Publish(context.Background(), after)
	if err := e.pub.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]outboxRow{{false, 0, false}}, e.rows(t, after...)); d != "" {
		t.Errorf("row published after Close (-want +got):\n%s", d)
	}
	if n, err := e.pub.Relay(context.Background()); n != 1 || err != nil {
		t.Fatalf("Relay = %d, %v; want 1, nil", n, err)
	}
}

func TestClose_withASinkThatDoesNotAnswerReturnsWhenItsContextEndsAndLosesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, outbox.WithInlineWait(500*time.Millisecond))
	e.sink.set(func(f *fakeSink) { f.hang = true })
	ids := e.commit(t, statusChanged(1, "a"))
	e.pub.Publish(context.Background(), ids)
	more := e.commit(t, statusChanged(1, "b"), statusChanged(2, "a"))
	e.pub.Publish(context.Background(), more)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.pub.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want the context's deadline", err)
	}
	// The batch in flight ends by the inline wait; the rest was either
	// tried and failed or not tried: all of it waits in the outbox.
	if err := e.pub.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := e.unpublished(t); n != 3 {
		t.Fatalf("%d rows unpublished, want 3", n)
	}
	e.sink.set(func(f *fakeSink) { f.hang = false })
	if n, err := e.pub.Relay(context.Background()); n != 3 || err != nil {
		t.Fatalf("Relay = %d, %v; want 3, nil", n, err)
	}
	want := map[string][]string{"1": {ids[0], more[0]}, "2": {more[1]}}
	if d := cmp.Diff(want, e.sink.idsByKey()); d != "" {
		t.Errorf("delivered per key (-want +got):\n%s", d)
	}
}

func TestPublish_ofACallLargerThanABatchDeliversEveryRowInOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	evs := make([]events.Outgoing, 2500)
	for i := range evs {
		evs[i] = statusChanged(i%7, fmt.Sprint(i))
	}
	ids := e.commit(t, evs...)
	e.publish(t, ids)
	want := map[string][]string{}
	for i, id := range ids {
		k := fmt.Sprint(i % 7)
		want[k] = append(want[k], id)
	}
	if d := cmp.Diff(want, e.sink.idsByKey()); d != "" {
		t.Errorf("delivered per key (-want +got):\n%s", d)
	}
	if n := e.unpublished(t); n != 0 {
		t.Errorf("%d rows left unpublished", n)
	}
}
