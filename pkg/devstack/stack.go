package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/api"
	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/localkafka"
	"github.com/curavani/matching/pkg/neighbours/fake"
	"github.com/curavani/matching/pkg/runtime"
	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/localpg"
)

// DevDatabase is the database the stack creates (and resets) on a local or
// throwaway PostgreSQL server when no DATABASE_URL is given.
const DevDatabase = "matching_dev"

// DefaultRelayInterval is how often the stack's outbox relay looks for
// events the inline publish could not deliver.
const DefaultRelayInterval = 5 * time.Second

// Options configure Start. The zero value starts everything on free ports,
// on a database of the local (or a throwaway) PostgreSQL, without demo data.
type Options struct {
	// DatabaseURL, when set, is the database to use as it is (it is reset
	// only when Reset says so). Empty: the local server on 127.0.0.1:5432,
	// else a throwaway cluster (removed by Stop), with database DevDatabase.
	DatabaseURL string
	// Reset empties matching's tables (identities restart at 1) before
	// seeding, so every start shows the same demo state.
	Reset bool
	// Seed stores the demo data set: always in the fake neighbours (they are
	// in memory), in the database only when it holds no search and no
	// anfrage yet, so a restart on a kept database adds nothing twice.
	Seed bool

	// Brokers of a running Kafka to use instead of the embedded broker.
	Brokers []string
	// KafkaAddr is where the embedded broker listens ("" = a free port).
	KafkaAddr string
	// APIAddr is where the anfrage API listens ("" = a free port).
	APIAddr string
	// NeighboursAddr is where the fake neighbour services listen ("" = a free port).
	NeighboursAddr string
	// FunctionsPort is the first of the four consecutive ports of the
	// functions' own HTTP servers (CloudEvents, health), in the order of
	// Functions; 0 picks free ports.
	FunctionsPort int

	// Matching are the business parameters; the zero value reads them from
	// the environment with their documented defaults.
	Matching config.Matching
	// Logging of every component (runtime.NewLogger: stdout).
	Logging config.Logging
	// RelayInterval of the outbox relay loop (0 = DefaultRelayInterval).
	RelayInterval time.Duration
	// StateFile, if set, receives the stack's addresses once it is ready
	// (see State) and is removed by Stop.
	StateFile string
}

// Functions are the event functions the stack runs, in the order of their
// ports: the consumers (handlers.Consumers) in Kafka-direct mode and the
// outbox relay.
var Functions = functionNames()

func functionNames() []string {
	var names []string
	for _, c := range handlers.Consumers {
		names = append(names, c.Name)
	}
	return append(names, handlers.OutboxRelayName)
}

// Stack is a running local matching service.
type Stack struct {
	// DatabaseURL is the database matching uses.
	DatabaseURL string
	// DatabaseOrigin says where it came from: "given" (DATABASE_URL),
	// "local" (127.0.0.1:5432) or "throwaway".
	DatabaseOrigin string
	// Seeded reports what the demo seeding did ("" when Seed was off).
	Seeded string
	// Brokers are the Kafka bootstrap servers; EmbeddedKafka says whether
	// the stack runs them itself.
	Brokers       []string
	EmbeddedKafka bool
	// APIURL is the anfrage API's base URL (without /api).
	APIURL string
	// NeighboursURL is the base URL of all four fake neighbour services.
	NeighboursURL string
	// Neighbours is the fake behind NeighboursURL.
	Neighbours *fake.Fake
	// Ready is how long Start took.
	Ready time.Duration

	opts     Options
	log      *slog.Logger
	pg       *localpg.Server
	broker   *localkafka.Broker
	pool     *pgxpool.Pool
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	fnMu     sync.Mutex
	fns      map[string]*function
	apiDone  chan error
	stopOnce sync.Once
}

// function is one event function run by runtime.Run with its definition,
// as its main runs it; it can be stopped and started again (the tests kill
// a consumer mid-stream).
type function struct {
	name string
	// topic and group are what a consumer consumes ("" for the relay).
	topic, group string
	// about is what the banner says the function does.
	about  string
	def    runtime.Function
	port   int
	opts   runtime.Options
	cancel context.CancelFunc
	done   chan error
}

// URL is the base URL of the function's HTTP server.
func (f *function) URL() string { return "http://127.0.0.1:" + strconv.Itoa(f.port) }

// Start brings up the whole service in this process and returns when every
// part answers and every consumer has joined its group: PostgreSQL with the
// migrations applied (reset and seeded as opts say), the Kafka broker, the
// fake neighbours, the three event functions in Kafka-direct mode with the
// seed's consumer groups, the outbox relay loop and the anfrage API. Cancel
// ctx or call Stop to end it; Stop waits for everything to finish.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	begin := time.Now()
	if opts.Matching == (config.Matching{}) {
		if err := config.Load(&opts.Matching); err != nil {
			return nil, err
		}
	}
	if opts.Logging == (config.Logging{}) {
		opts.Logging = config.Logging{Level: "INFO", Format: "text"}
	}
	if opts.RelayInterval <= 0 {
		opts.RelayInterval = DefaultRelayInterval
	}
	s := &Stack{opts: opts, fns: map[string]*function{}}
	s.log = runtime.NewLogger(opts.Logging).With(slog.String("component", "devstack"))
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	// ctx ending stops the stack, as Stop does.
	stopWatch := context.AfterFunc(ctx, s.cancel)
	if err := s.start(ctx); err != nil {
		stopWatch()
		s.Stop()
		return nil, err
	}
	s.Ready = time.Since(begin)
	if opts.StateFile != "" {
		if err := WriteState(opts.StateFile, s.State()); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return s, nil
}

func (s *Stack) start(ctx context.Context) error {
	if err := s.startDatabase(ctx); err != nil {
		return err
	}
	if err := s.startKafka(); err != nil {
		return err
	}
	if err := s.startNeighbours(); err != nil {
		return err
	}
	if s.opts.Seed {
		if err := s.seed(ctx); err != nil {
			return err
		}
	}
	if err := s.startFunctions(); err != nil {
		return err
	}
	if err := s.startAPI(); err != nil {
		return err
	}
	return s.waitReady(ctx)
}

// startDatabase finds the server, makes sure the database exists, applies
// the migrations and resets the tables if asked.
func (s *Stack) startDatabase(ctx context.Context) error {
	s.DatabaseURL, s.DatabaseOrigin = s.opts.DatabaseURL, "given"
	if s.DatabaseURL == "" {
		srv, err := localpg.Find(ctx)
		if err != nil {
			return err
		}
		s.pg = srv
		s.DatabaseOrigin = srv.Origin
		if s.DatabaseURL, err = localpg.EnsureDatabase(ctx, srv.URL, DevDatabase); err != nil {
			return err
		}
	}
	pool, err := store.Open(ctx, s.DatabaseURL, 4)
	if err != nil {
		return err
	}
	s.pool = pool
	if _, err := store.Migrate(ctx, pool); err != nil {
		return err
	}
	if s.opts.Reset {
		return resetTables(ctx, pool)
	}
	return nil
}

// resetTables empties every table of matching's schema and restarts its
// identities, so the demo data gets the same ids on every start. The
// migrations' own bookkeeping (in public) is kept.
func resetTables(ctx context.Context, pool *pgxpool.Pool) error {
	_, err := pool.Exec(ctx, `
		DO $$
		DECLARE tables text;
		BEGIN
		    SELECT string_agg(format('%I.%I', schemaname, tablename), ', ') INTO tables
		    FROM pg_tables WHERE schemaname = 'matching_service';
		    IF tables IS NOT NULL THEN
		        EXECUTE 'TRUNCATE ' || tables || ' RESTART IDENTITY';
		    END IF;
		END
		$$`)
	if err != nil {
		return fmt.Errorf("reset the demo database: %w", err)
	}
	return nil
}

func (s *Stack) startKafka() error {
	if len(s.opts.Brokers) > 0 {
		s.Brokers = s.opts.Brokers
		return nil
	}
	addr := s.opts.KafkaAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	b, err := localkafka.Start(addr)
	if err != nil {
		return fmt.Errorf("%w (is another make run running? KAFKA_BOOTSTRAP_SERVERS uses a running broker instead)", err)
	}
	s.broker, s.Brokers, s.EmbeddedKafka = b, b.Addrs, true
	return nil
}

func (s *Stack) startNeighbours() error {
	ln, err := listen(s.opts.NeighboursAddr)
	if err != nil {
		return fmt.Errorf("fake neighbours: %w", err)
	}
	s.Neighbours = fake.New()
	s.NeighboursURL = "http://" + ln.Addr().String()
	s.wg.Go(func() {
		if err := s.Neighbours.Serve(s.ctx, ln); err != nil {
			s.log.Error("fake neighbours stopped", slog.String("error", err.Error()))
		}
	})
	return nil
}

// neighbourConfig points all four services at the fake.
func (s *Stack) neighbourConfig() config.Neighbours {
	return config.Neighbours{
		PatientURL:       s.NeighboursURL,
		TherapistURL:     s.NeighboursURL,
		CommunicationURL: s.NeighboursURL,
		GeocodingURL:     s.NeighboursURL,
		Timeout:          5 * time.Second,
	}
}

// common is the configuration every function of the stack shares: the
// database (already migrated), the broker as sink for matching-events, and
// no K_SINK, so consumers run in Kafka-direct mode.
func (s *Stack) common(port int) config.Common {
	return config.Common{
		Database: config.Database{URL: s.DatabaseURL, MaxConns: 4},
		Logging:  s.opts.Logging,
		Kafka: config.Kafka{
			BootstrapServers:    s.Brokers,
			LogLevel:            "WARNING",
			MatchingEventsTopic: "matching-events",
			DLQTopic:            "matching-events-dlq",
		},
		Port: port,
	}
}

// startFunctions starts the consumers and the relay with the definitions
// their mains run (functions/*/main.go), each with its own pool, sink and
// HTTP server.
func (s *Stack) startFunctions() error {
	all := make([]*function, 0, len(Functions))
	for _, c := range handlers.Consumers {
		all = append(all, &function{name: c.Name, topic: c.Topic, group: c.Group, about: c.Topic + " → group " + c.Group, def: c})
	}
	all = append(all, &function{
		name:  handlers.OutboxRelayName,
		about: fmt.Sprintf("publishes what the inline publish missed, every %s", s.opts.RelayInterval),
		def:   handlers.OutboxRelay(handlers.RelaySettings{Interval: s.opts.RelayInterval}),
	})
	for i, f := range all {
		if s.opts.FunctionsPort > 0 {
			f.port = s.opts.FunctionsPort + i
		} else {
			var err error
			if f.port, err = freePort(); err != nil {
				return err
			}
		}
		f.opts.Config = s.common(f.port)
		// Kafka-direct mode needs the topic in the configuration
		// (config.Common.KafkaDirect), as KAFKA_TOPIC gives it.
		f.opts.Config.Kafka.Topic = f.topic
		s.fns[f.name] = f
		s.startFunction(f)
	}
	return nil
}

// startFunction runs f until it is stopped or the stack ends.
func (s *Stack) startFunction(f *function) {
	s.fnMu.Lock()
	defer s.fnMu.Unlock()
	ctx, cancel := context.WithCancel(s.ctx)
	f.cancel, f.done = cancel, make(chan error, 1)
	done := f.done
	s.wg.Go(func() {
		done <- runtime.Run(ctx, f.def, f.opts)
		close(done)
	})
}

// stopFunction stops the function name as a SIGTERM would and waits until
// it has drained.
func (s *Stack) stopFunction(name string) {
	s.fnMu.Lock()
	f := s.fns[name]
	cancel, done := f.cancel, f.done
	s.fnMu.Unlock()
	cancel()
	<-done
}

// restartFunction starts a stopped function again and waits until its
// consumer (if any) has joined the group.
func (s *Stack) restartFunction(ctx context.Context, name string) error {
	f := s.fns[name]
	s.startFunction(f)
	return s.waitFunction(ctx, f)
}

// startAPI runs the anfrage API as its main does (api.Function on
// runtime.Run: its own pool, the Kafka sink, /metrics with the business
// counters), wired to the fake neighbours, on APIAddr.
func (s *Stack) startAPI() error {
	ln, err := listen(s.opts.APIAddr)
	if err != nil {
		return fmt.Errorf("anfrage API (MATCHING_SERVICE_INTERNAL_PORT): %w", err)
	}
	s.APIURL = "http://" + ln.Addr().String()
	fn := api.Function(api.Settings{Neighbours: s.neighbourConfig(), Matching: s.opts.Matching})
	opts := runtime.Options{Config: s.common(0), Listener: ln}
	s.apiDone = make(chan error, 1)
	s.wg.Go(func() {
		s.apiDone <- runtime.Run(s.ctx, fn, opts)
		close(s.apiDone)
	})
	return nil
}

// waitReady waits until the API and every function answer and every
// consumer group has a member.
func (s *Stack) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := waitHTTP(ctx, s.APIURL+"/health/readiness", s.apiDone); err != nil {
		return fmt.Errorf("anfrage API not ready: %w", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(Functions))
	for i, name := range Functions {
		wg.Go(func() { errs[i] = s.waitFunction(ctx, s.fns[name]) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// waitFunction waits until f answers its readiness probe and, for a
// consumer, until its group is stable with a member.
func (s *Stack) waitFunction(ctx context.Context, f *function) error {
	if err := waitHTTP(ctx, f.URL()+"/health/readiness", f.done); err != nil {
		return fmt.Errorf("%s not ready: %w", f.name, err)
	}
	if f.group == "" {
		return nil
	}
	if err := waitGroup(ctx, s.Brokers, f.group, f.done); err != nil {
		return fmt.Errorf("%s: consumer group %s: %w", f.name, f.group, err)
	}
	return nil
}

// Stop ends every part of the stack, waits for them, removes a throwaway
// database cluster and the state file. It is safe to call more than once.
func (s *Stack) Stop() {
	s.stopOnce.Do(func() {
		s.cancel()
		s.wg.Wait()
		if s.pool != nil {
			s.pool.Close()
		}
		if s.broker != nil {
			s.broker.Close()
		}
		if s.pg != nil {
			s.pg.Stop()
		}
		if s.opts.StateFile != "" {
			RemoveState(s.opts.StateFile)
		}
	})
}

// functionURL returns the base URL of the HTTP server of function name.
func (s *Stack) functionURL(name string) string {
	if f, ok := s.fns[name]; ok {
		return f.URL()
	}
	return ""
}

// waitHTTP polls url until it answers 200, ctx ends, or died is closed (the
// server's goroutine returned).
func waitHTTP(ctx context.Context, url string, died <-chan error) error {
	c := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-died:
			return errors.New("it stopped; see its log")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitGroup polls the broker until group is stable with at least one member.
func waitGroup(ctx context.Context, brokers []string, group string, died <-chan error) error {
	admin, err := sarama.NewClusterAdmin(brokers, saramaConfig())
	if err != nil {
		return err
	}
	defer admin.Close()
	for {
		gs, err := admin.DescribeConsumerGroups([]string{group})
		if err == nil && len(gs) == 1 && gs[0].State == "Stable" && len(gs[0].Members) > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-died:
			return errors.New("the function stopped; see its log")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// listen opens addr, or a free port on 127.0.0.1 when addr is empty.
func listen(addr string) (net.Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	return net.Listen("tcp", addr)
}

// freePort returns a TCP port that was free a moment ago (runtime.Run opens
// its listener itself, from a port number).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
