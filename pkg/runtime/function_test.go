package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/runtime"
	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

// lifecycle is the work of an event function that reports its own
// readiness and has something to finish when it stops.
type lifecycle struct {
	pool     func() error // pings the function's pool
	ready    atomic.Bool
	stops    atomic.Int32
	stopPing error // the pool's answer during Stop
}

func (l *lifecycle) Handle(_ context.Context, e cloudevents.Event) (events.Inbound, events.Outcome, error) {
	in, err := events.Decode(e)
	if err != nil {
		return in, events.Rejected, err
	}
	return in, events.Processed, nil
}

func (l *lifecycle) Ready(context.Context) error {
	if !l.ready.Load() {
		return errors.New("still warming up")
	}
	return nil
}

func (l *lifecycle) Stop(context.Context) error {
	l.stops.Add(1)
	l.stopPing = l.pool()
	return nil
}

// serve runs f on a free port with a fresh database until the returned
// stop is called; stop returns Run's error.
func serve(t *testing.T, f runtime.Function) (base string, stop func() error) {
	t.Helper()
	_, url := storetest.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runtime.Run(ctx, f, runtime.Options{
			Config:   config.Common{Database: config.Database{URL: url, MaxConns: 2}, Kafka: config.Kafka{MatchingEventsTopic: "matching-events"}},
			Listener: ln,
			Log:      slog.New(slog.DiscardHandler),
		})
	}()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not return")
			return nil
		}
	}
	t.Cleanup(func() { _ = stop() })
	base = "http://" + ln.Addr().String()
	// Up: liveness answers as soon as the server serves.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if code, _ := get(base + "/health/liveness"); code == http.StatusOK {
			return base, stop
		}
		if time.Now().After(deadline) {
			t.Fatal("the function did not come up")
		}
	}
}

// get answers the status of a GET of url and the fields of its JSON body.
func get(url string) (int, map[string]string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, map[string]string{"error": err.Error()}
	}
	defer resp.Body.Close()
	var body map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

// A function's work that implements ReadinessReporter keeps the function
// not ready while it says so; one that implements Stopper is stopped once,
// when the function stops, while the database is still open.
func TestRun_asksTheWorkWhetherItIsReadyAndStopsItBeforeClosingTheDatabase(t *testing.T) {
	t.Parallel()
	work := &lifecycle{}
	base, stop := serve(t, runtime.EventFunction{
		Name: "lifecycle",
		New: func(d runtime.Deps) runtime.Handler {
			work.pool = func() error { return store.Ping(context.Background(), d.Pool) }
			return work
		},
	})
	if code, body := get(base + "/health/readiness"); code != http.StatusServiceUnavailable || body["error"] != "still warming up" {
		t.Fatalf("readiness %d %s, want 503 with the work's reason", code, body)
	}
	work.ready.Store(true)
	if code, body := get(base + "/health/readiness"); code != http.StatusOK {
		t.Fatalf("readiness %d %s, want 200 once the work is ready", code, body)
	}
	if n := work.stops.Load(); n != 0 {
		t.Fatalf("stopped %d times while serving", n)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := work.stops.Load(); n != 1 {
		t.Fatalf("stopped %d times, want once", n)
	}
	if work.stopPing != nil {
		t.Fatalf("the database was closed before the work stopped: %v", work.stopPing)
	}
}

// A trigger function runs its work on every POST, whatever the body, and
// on its interval; a failure is answered with the status of its kind.
func TestRun_triggerFunctionRunsOnPOSTAndOnItsInterval(t *testing.T) {
	t.Parallel()
	var runs atomic.Int32
	var fail atomic.Pointer[error]
	base, _ := serve(t, runtime.TriggerFunction{
		Name: "trigger",
		New: func(runtime.Deps) func(context.Context) error {
			return func(context.Context) error {
				runs.Add(1)
				if err := fail.Load(); err != nil {
					return *err
				}
				return nil
			}
		},
		Every: 10 * time.Millisecond,
	})
	for deadline := time.Now().Add(10 * time.Second); runs.Load() < 3; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the interval ran the work %d times, want at least 3", runs.Load())
		}
	}
	post := func() int {
		resp, err := http.Post(base+"/", "application/json", strings.NewReader(`{"ping":true}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(); code != http.StatusOK {
		t.Fatalf("POST answered %d, want 200", code)
	}
	for err, want := range map[error]int{
		errors.New("connection refused"):           http.StatusInternalServerError,
		fault.Unavailablef("sink unavailable"):     http.StatusServiceUnavailable,
		fault.Invalidf("nothing to relay to here"): http.StatusUnprocessableEntity,
	} {
		fail.Store(&err)
		if code := post(); code != want {
			t.Errorf("POST with the work failing with %v answered %d, want %d", err, code, want)
		}
	}
}

// typedWork tells which event types it applies, as *inbox.Processor does.
type typedWork struct{}

func (typedWork) Handle(_ context.Context, e cloudevents.Event) (events.Inbound, events.Outcome, error) {
	in, err := events.Decode(e)
	return in, events.Processed, err
}

func (typedWork) Types() []string { return []string{"patient.deleted"} }

// The consumption series of the types a function applies exist, at 0,
// before its first event, so that the first event is an increase too.
func TestRun_createsTheSeriesOfTheTypesItAppliesBeforeTheFirstEvent(t *testing.T) {
	t.Parallel()
	base, _ := serve(t, runtime.EventFunction{
		Name:  "typed",
		Topic: "patient-events",
		New:   func(runtime.Deps) runtime.Handler { return typedWork{} },
	})
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, outcome := range []string{"processed", "duplicate", "rejected", "failed", "exhausted"} {
		series := `matching_events_consumed_total{outcome="` + outcome + `",source="patient-events",type="patient.deleted"} 0`
		if !strings.Contains(string(body), series) {
			t.Errorf("/metrics lacks %s before any event", series)
		}
	}
}
