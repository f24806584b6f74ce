package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/outbox"
	"github.com/curavani/matching/pkg/runtime"
	"github.com/curavani/matching/pkg/sink"
	"github.com/curavani/matching/pkg/store/storetest"
)

// kSink is a K_SINK that answers 503 while down and records what it accepts.
type kSink struct {
	down atomic.Bool
	mu   sync.Mutex
	got  []string // "type key"
}

func (s *kSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.down.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	e, err := cehttp.NewEventFromHTTPRequest(r)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.got = append(s.got, e.Type()+" "+e.Extensions()["partitionkey"].(string))
	s.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func TestOutboxRelay_deliversWhatTheInlinePublishCouldNotWhenTheSinkIsBack(t *testing.T) {
	pool, _ := storetest.New(t)
	s1 := insertSearch(t, pool, 7, "aktiv")
	s2 := insertSearch(t, pool, 7, "pausiert")
	ks := &kSink{}
	ks.down.Store(true)
	srv := httptest.NewServer(ks)
	defer srv.Close()
	pub := outbox.NewPublisher(pool, sink.NewHTTP(srv.URL, nil, time.Second), discardLog())

	code, _ := send(t, server(handlers.Patient(pool, pub, nil)), typed("patient.deleted", "e1", `{"patient_id":7}`))
	if code != 200 {
		t.Fatalf("status %d with the sink down, want 200 (the change is committed)", code)
	}
	if err := pub.Flush(t.Context()); err != nil { // the inline publish runs after the response
		t.Fatal(err)
	}
	if n := count(t, pool, `SELECT count(*) FROM matching_service.outbox WHERE published_at IS NULL`); n != 2 {
		t.Fatalf("%d events waiting in the outbox, want 2", n)
	}

	ks.down.Store(false)
	relay := runtime.NewServer(runtime.ServerOptions{Trigger: handlers.Relay(pub, nil)})
	if code, _ := send(t, relay, delivery{map[string]string{"Content-Type": "application/json"}, `{"ping":true}`}); code != 200 {
		t.Fatalf("relay answered %d, want 200", code)
	}
	want := []string{"search.status_changed " + itoa(s1), "search.status_changed " + itoa(s2)}
	// The two searches are two partition keys: no order between them.
	if diff := cmp.Diff(want, ks.got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Fatalf("delivered (-want +got):\n%s", diff)
	}
	if n := count(t, pool, `SELECT count(*) FROM matching_service.outbox WHERE published_at IS NULL`); n != 0 {
		t.Fatalf("%d events still waiting", n)
	}
}
