package devstack

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/localkafka"
	"github.com/curavani/matching/pkg/neighbours/fake"
	"github.com/curavani/matching/pkg/runtime"
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

	// Host is the interface every part listens on when its address is not
	// given in full: 127.0.0.1 by default, as the stack's event receivers
	// and relay trigger take requests without authentication. "0.0.0.0"
	// exposes the stack to the network.
	Host string
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
	// Functions, on Host; 0 picks free ports.
	FunctionsPort int

	// APITokens turn the API's authentication on, as API_TOKENS does
	// ("name:token" or bare tokens); empty leaves the API open, as make run
	// serves it.
	APITokens []string

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
	for _, c := range handlers.Consumers(handlers.Settings{}) {
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
	// Synced is the summary line of the directory-sync run at start.
	Synced string
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

	// announcer publishes what the fake neighbours change over HTTP.
	announcer *Announcer
}

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
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
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
	if err := s.syncDirectory(ctx); err != nil {
		return err
	}
	if err := s.startFunctions(); err != nil {
		return err
	}
	if err := s.startAPI(); err != nil {
		return err
	}
	return s.waitReady(ctx)
}

// Stop ends every part of the stack, waits for them, removes a throwaway
// database cluster and the state file. It is safe to call more than once.
func (s *Stack) Stop() {
	s.stopOnce.Do(func() {
		s.cancel()
		s.wg.Wait()
		if s.announcer != nil {
			_ = s.announcer.Close()
		}
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
