package outbox_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

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
	badTypes map[string]int // reply for events of these types
	hang     bool           // hold every request until the client gives up
	gate     chan struct{}  // if set, hold every request until it is closed
	held     int            // requests being held by the gate
	delay    time.Duration  // think this long before answering
	received []cloudevents.Event
	binary   []bool // whether each request was in binary mode
}

func newFakeSink(t *testing.T) *fakeSink {
	f := &fakeSink{status: http.StatusAccepted, badKeys: map[string]int{}, badTypes: map[string]int{}}
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
	if code, bad := f.badTypes[e.Type()]; bad {
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
	storetest.SyntheticEvents(t) // payloads that mark an order (statusChanged)
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
