// Package campaign is the fault campaign (make chaos, and a short run in
// make test): it runs matching as production does — every function a process
// of its own, a PostgreSQL cluster and a Kafka broker it owns — drives a
// steady mix of every consumed event type through Kafka (Kafka-direct
// consumers) and over HTTP (the same functions in HTTP mode, as Knative
// delivers), with API traffic, while it restarts PostgreSQL (fast and
// immediate shutdown), restarts the broker, kills functions with SIGKILL,
// takes the sink down and lets the neighbour services time out, in turn and
// then together. Afterwards it compares the database and matching-events
// with a model of what the events it sent must have done, and prints the
// invariants as a table (Report).
package campaign

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/api"
	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/localkafka"
	"github.com/curavani/matching/pkg/neighbours/fake"
	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/localpg"
)

// Options configure Run.
type Options struct {
	// Duration is how long events and API calls are sent while the faults
	// happen (the drain and the checks come after).
	Duration time.Duration
	// Events is how many events are sent in that time, at an even pace.
	Events int
	// Hold is how long a fault lasts (the database down, the sink down, the
	// neighbours slow); 0 = Duration/40, at least 2 s.
	Hold time.Duration
	// SinkHold is how long the sink is down (0 = Hold).
	SinkHold time.Duration
	// Dir keeps the database, the broker's data and the functions' logs
	// ("" = a temporary directory, removed unless KeepDir).
	Dir     string
	KeepDir bool
	// Log receives the campaign's progress (nil = discarded).
	Log *slog.Logger
}

// env is everything the campaign runs: the owned database cluster and
// broker, the fake neighbours, the sink and the functions' processes.
type env struct {
	opts     Options
	log      *slog.Logger
	dir      string
	pg       *localpg.Server
	dbURL    string
	pool     *pgxpool.Pool
	broker   *localkafka.Broker
	fake     *fake.Fake
	fakeURL  string
	sink     *sink
	procs    []*proc
	stopFake context.CancelFunc
}

// The processes: the three consumers twice (Kafka-direct and HTTP mode),
// the outbox relay and the anfrage API.
const (
	modeKafka = "kafka"
	modeHTTP  = "http"
)

func (e *env) proc(label string) *proc {
	for _, p := range e.procs {
		if p.label == label {
			return p
		}
	}
	panic("no process " + label)
}

func label(function, mode string) string { return function + "-" + mode }

// start brings everything up; stop (also after a failed start) ends it.
func start(ctx context.Context, opts Options) (*env, error) {
	e := &env{opts: opts, log: opts.Log}
	dir := opts.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "matching-campaign-")
		if err != nil {
			return nil, err
		}
		dir = d
	}
	e.dir = dir
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return e, err
	}
	var err error
	if e.pg, err = localpg.StartCrashSafe(ctx); err != nil {
		return e, fmt.Errorf("start the campaign's own PostgreSQL: %w", err)
	}
	if e.dbURL, err = localpg.EnsureDatabase(ctx, e.pg.URL, "matching"); err != nil {
		return e, err
	}
	if e.pool, err = store.Open(ctx, e.dbURL, 8); err != nil {
		return e, err
	}
	if _, err := store.Migrate(ctx, e.pool); err != nil {
		return e, err
	}
	if e.broker, err = localkafka.StartIn("127.0.0.1:0", filepath.Join(dir, "kafka")); err != nil {
		return e, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return e, err
	}
	e.fake, e.fakeURL = fake.New(), "http://"+ln.Addr().String()
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.stopFake = cancel
	go func() { _ = e.fake.Serve(fctx, ln) }()
	if e.sink, err = startSink(e.broker.Addrs, "matching-events"); err != nil {
		return e, err
	}
	exe, err := os.Executable()
	if err != nil {
		return e, err
	}
	common := []string{
		"DATABASE_URL=" + e.dbURL, "DATABASE_MAX_CONNS=4",
		"KAFKA_BOOTSTRAP_SERVERS=" + strings.Join(e.broker.Addrs, ","),
		"LOG_LEVEL=WARN", "LOG_FORMAT=text",
		"PATIENT_SERVICE_URL=" + e.fakeURL, "THERAPIST_SERVICE_URL=" + e.fakeURL,
		"COMMUNICATION_SERVICE_URL=" + e.fakeURL, "GEOCODING_SERVICE_URL=" + e.fakeURL,
		"NEIGHBOUR_TIMEOUT=2s",
	}
	add := func(lbl, function string, env ...string) error {
		port, err := freePort()
		if err != nil {
			return err
		}
		e.procs = append(e.procs, &proc{label: lbl, function: function, port: port, exe: exe,
			env: append(append([]string{}, common...), env...), logPath: logPathOf(filepath.Join(dir, "logs"), lbl)})
		return nil
	}
	topics := map[string]string{
		handlers.PatientDeletedName:      handlers.PatientTopic,
		handlers.TherapistBlockedName:    handlers.TherapistTopic,
		handlers.CommunicationEventsName: handlers.CommunicationTopic,
	}
	for _, fn := range []string{handlers.PatientDeletedName, handlers.TherapistBlockedName, handlers.CommunicationEventsName} {
		if err := add(label(fn, modeKafka), fn, "KAFKA_TOPIC="+topics[fn]); err != nil {
			return e, err
		}
		if err := add(label(fn, modeHTTP), fn, "K_SINK="+e.sink.URL); err != nil {
			return e, err
		}
	}
	if err := add(handlers.OutboxRelayName, handlers.OutboxRelayName, "RELAY_INTERVAL=1s"); err != nil {
		return e, err
	}
	if err := add(api.FunctionName, api.FunctionName, "K_SINK="+e.sink.URL); err != nil {
		return e, err
	}
	for _, p := range e.procs {
		if err := p.start(ctx); err != nil {
			return e, err
		}
	}
	return e, nil
}

func (e *env) stop() {
	for _, p := range e.procs {
		p.stop()
	}
	if e.sink != nil {
		e.sink.close()
	}
	if e.stopFake != nil {
		e.stopFake()
	}
	if e.pool != nil {
		e.pool.Close()
	}
	if e.broker != nil {
		e.broker.Close()
	}
	if e.pg != nil {
		e.pg.Stop()
	}
	if e.opts.Dir == "" && !e.opts.KeepDir {
		_ = os.RemoveAll(e.dir)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// discard is a logger that drops everything.
var discard = slog.New(slog.NewTextHandler(io.Discard, nil))
