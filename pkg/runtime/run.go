package runtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/metrics"
	"github.com/curavani/matching/pkg/outbox"
	"github.com/curavani/matching/pkg/sink"
	"github.com/curavani/matching/pkg/store"
)

// Deps are what Open builds once for a function and Run hands to its New.
type Deps struct {
	Pool      *pgxpool.Pool
	Publisher *outbox.Publisher
	// Metrics is the function's registry, served on GET /metrics; the
	// publisher and the runtime already feed it. A function adds its own
	// collectors to it (the anfrage API its business counters).
	Metrics *metrics.Metrics
	Log     *slog.Logger
}

// publisherFlushTimeout bounds the final flush of the publisher when a
// function stops.
const publisherFlushTimeout = 10 * time.Second

// Open is the bootstrap every function shares, served by Run or run to
// completion (the follow-up job): it opens the database pool (applying the
// migrations when DATABASE_AUTO_MIGRATE is set), builds the sink of emitted
// events, the function's metrics and the outbox publisher sending through
// the sink and feeding the metrics. log is the function's logger
// (NewLogger). The returned release gives the publisher the chance to send
// what it still holds (bounded; whatever it cannot send stays in the outbox
// for the relay), then closes the sink and the pool: call it once nothing
// uses them any more. On error everything opened so far is closed.
func Open(ctx context.Context, cfg config.Common, log *slog.Logger) (_ Deps, release func(), err error) {
	// undo closes what is open so far, last opened first.
	var undo []func()
	closeAll := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	defer func() {
		if err != nil {
			closeAll()
		}
	}()
	pool, err := store.Open(ctx, cfg.Database.URL, cfg.Database.MaxConns)
	if err != nil {
		return Deps{}, nil, err
	}
	undo = append(undo, pool.Close)
	if cfg.Database.AutoMigrate {
		applied, err := store.Migrate(ctx, pool)
		if err != nil {
			return Deps{}, nil, err
		}
		log.Info("migrations applied", slog.Any("versions", applied))
	}
	sender, err := sink.New(cfg, log)
	if err != nil {
		return Deps{}, nil, err
	}
	undo = append(undo, func() { _ = sender.Close() })
	m := metrics.New(metrics.Options{Log: log})
	pub := outbox.NewPublisher(pool, sender, log, outbox.WithObserver(m.Observer))
	m.CollectBacklog(pub.Backlog)
	undo = append(undo, func() {
		ctx, cancel := context.WithTimeout(context.Background(), publisherFlushTimeout)
		defer cancel()
		if err := pub.Close(ctx); err != nil {
			log.Warn("outbox: flush at shutdown incomplete; the relay will deliver", slog.String("error", err.Error()))
		}
	})
	return Deps{Pool: pool, Publisher: pub, Metrics: m, Log: log}, closeAll, nil
}

// Options are how Run serves a function.
type Options struct {
	Config config.Common
	// Listener, if set, is where the function serves instead of PORT; Run
	// closes it when it returns. Tests and the local stack use it.
	Listener net.Listener
	// Log, if set, is the logger instead of NewLogger(Config.Logging);
	// Run adds the function's name to it, and to a line logged with a
	// context the id of the request or job run the context names.
	Log *slog.Logger
}

// typeLister is a Handler that tells which event types it applies
// (*inbox.Processor does); their metric series exist from the start.
type typeLister interface{ Types() []string }

// stopTimeout bounds a function's own Stop (Stopper).
const stopTimeout = 10 * time.Second

// Run is a function's main loop: it opens what the function needs (Open),
// builds the function's work from it, serves HTTP on PORT (CloudEvents, a
// trigger or plain routes; health; GET /metrics) and, for an event function
// in Kafka-direct mode, consumes its topic, until SIGTERM or SIGINT (or ctx
// ends); then it drains in-flight work, stops the work (Stopper), flushes
// the publisher and returns. The error is what made the function stop
// abnormally; it has been logged.
func Run(ctx context.Context, f Function, opts Options) error {
	log := opts.Log
	if log == nil {
		log = NewLogger(opts.Config.Logging)
	}
	log = withCauses(log).With(slog.String("function", f.functionName()))
	if err := run(ctx, f, opts, log); err != nil {
		log.Error("function stopped", slog.String("error", err.Error()))
		return err
	}
	log.Info("function stopped")
	return nil
}

func run(ctx context.Context, f Function, opts Options, log *slog.Logger) error {
	cfg := opts.Config
	if opts.Listener != nil {
		// Closed on every path; a second Close after Serve closed it is
		// harmless.
		defer opts.Listener.Close()
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	setKafkaLogger(cfg.Kafka.LogLevel, log)

	deps, release, err := Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	// Runs after the server and the consumer have drained and the work has
	// stopped: what the publisher still holds is sent now.
	defer release()
	sv := f.serve(deps)
	if s, ok := sv.work.(Stopper); ok {
		defer stopWork(s, log)
	}

	// The database's error is classified: the probe's answer then carries
	// its generic message, not the driver's text with host and user.
	ping := func(ctx context.Context) error { return store.Classify(ctx, store.Ping(ctx, deps.Pool)) }
	ready := ping
	if r, ok := sv.work.(ReadinessReporter); ok {
		ready = func(ctx context.Context) error {
			if err := ping(ctx); err != nil {
				return err
			}
			return r.Ready(ctx)
		}
	}
	topic := cmp.Or(cfg.Kafka.Topic, sv.topic)
	if t, ok := sv.handler.(typeLister); ok && topic != "" {
		deps.Metrics.ExpectConsumed(topic, t.Types()...)
	}
	srv := NewServer(ServerOptions{
		Handler:     sv.handler,
		Trigger:     sv.trigger,
		Mount:       sv.mount,
		Ready:       ready,
		Metrics:     deps.Metrics,
		Source:      topic,
		Timeouts:    cfg.HTTP,
		Log:         log,
		GroupCommit: cfg.GroupCommit.WithPool(cfg.Database.MaxConns),
	})

	ln := opts.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", ":"+strconv.Itoa(cfg.Port)); err != nil {
			return fmt.Errorf("PORT: %w", err)
		}
	}
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	// Any part ending with an error stops the others.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() {
		if err := srv.Serve(ctx, ln); err != nil {
			errc <- fmt.Errorf("http server: %w", err)
			cancel()
		}
	})
	mode := "http"
	if sv.handler != nil && cfg.KafkaDirect() {
		mode = "kafka-direct"
		c, dlq, err := newKafkaConsumer(cfg, topic, cmp.Or(cfg.Kafka.ConsumerGroup, sv.group), sv.handler, deps.Metrics, log)
		if err != nil {
			cancel()
			wg.Wait()
			return err
		}
		defer dlq.Close()
		wg.Go(func() {
			if err := c.Run(ctx); err != nil {
				errc <- err
				cancel()
			}
		})
	}
	if sv.trigger != nil && sv.every > 0 {
		wg.Go(func() { every(ctx, sv.every, sv.trigger, log) })
	}
	log.Info("function started", slog.String("mode", mode), slog.String("addr", ln.Addr().String()))
	wg.Wait()
	close(errc)
	return <-errc
}

// stopWork stops a function's work (bounded by stopTimeout); a failure is
// logged, the function stops anyway.
func stopWork(s Stopper, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		log.Error("stopping the function's work failed", slog.String("error", err.Error()))
	}
}

// newKafkaConsumer builds the Kafka-direct consumer of a function and its
// dead-letter producer (closed by the caller after the consumer stopped).
func newKafkaConsumer(cfg config.Common, topic, group string, h Handler, m *metrics.Metrics, log *slog.Logger) (*Consumer, sink.Sender, error) {
	if topic == "" || group == "" {
		return nil, nil, errors.New("KAFKA_TOPIC: this function has no default topic or group for Kafka-direct mode")
	}
	dlq, err := sink.NewKafka(cfg.Kafka.BootstrapServers, cfg.Kafka.DLQTopic)
	if err != nil {
		return nil, nil, fmt.Errorf("dead-letter topic %s: %w", cfg.Kafka.DLQTopic, err)
	}
	return NewConsumer(ConsumerOptions{
		Brokers:     cfg.Kafka.BootstrapServers,
		Topic:       topic,
		Group:       group,
		DeadLetter:  dlq,
		MaxAttempts: cfg.Kafka.MaxAttempts,
		BatchSize:   cfg.Kafka.BatchSize,
		Metrics:     m,
		Log:         log,
	}, h), dlq, nil
}

// every runs fn at once and then every interval until ctx is done.
func every(ctx context.Context, interval time.Duration, fn func(context.Context) error, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := fn(ctx); err != nil && ctx.Err() == nil {
			log.Error("periodic run failed", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// kafkaLog receives sarama's own log lines. sarama.Logger is a package
// variable that sarama's goroutines read at any time, so it is set once, at
// init, to a forwarder; Run only swaps the destination, atomically (the
// local stack runs several functions, and the tests many, in one process).
var kafkaLog atomic.Pointer[log.Logger]

func init() { sarama.Logger = kafkaForwarder{} }

// kafkaForwarder is sarama's logger: it drops lines until setKafkaLogger
// names a destination.
type kafkaForwarder struct{}

func (kafkaForwarder) Print(v ...any) {
	if l := kafkaLog.Load(); l != nil {
		l.Print(v...)
	}
}

func (kafkaForwarder) Printf(format string, v ...any) {
	if l := kafkaLog.Load(); l != nil {
		l.Printf(format, v...)
	}
}

func (kafkaForwarder) Println(v ...any) {
	if l := kafkaLog.Load(); l != nil {
		l.Println(v...)
	}
}

// setKafkaLogger routes sarama's own log lines (which have no level) to the
// service log when KAFKA_LOG_LEVEL is INFO or DEBUG; at WARNING (the
// default) or ERROR they are dropped, as the consumer reports its errors
// itself.
func setKafkaLogger(level string, slogger *slog.Logger) {
	l, err := config.ParseLevel(level)
	if err != nil || l > slog.LevelInfo {
		kafkaLog.Store(nil)
		return
	}
	kafkaLog.Store(slog.NewLogLogger(slogger.With(slog.String("component", "sarama")).Handler(), l))
}
