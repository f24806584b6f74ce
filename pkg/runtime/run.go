package runtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
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

// Deps are what Run builds once and hands to a function's handler.
type Deps struct {
	Pool      *pgxpool.Pool
	Publisher *outbox.Publisher
	// Metrics is the function's registry, served on GET /metrics; the
	// publisher and the runtime already feed it. A function adds its own
	// collectors to it (the anfrage API its business counters).
	Metrics *metrics.Metrics
	Log     *slog.Logger
}

// Options describe one function to Run.
type Options struct {
	// Name of the function (patient-deleted, …), on every log line.
	Name   string
	Config config.Common
	// Topic and Group are the Kafka-direct defaults of a consumer function
	// (KAFKA_TOPIC and KAFKA_CONSUMER_GROUP override them).
	Topic, Group string
	// NewHandler builds the CloudEvents handler of a consumer function.
	NewHandler func(Deps) Handler
	// NewTrigger, instead of NewHandler, builds the work a POST triggers
	// whatever its body (outbox-relay).
	NewTrigger func(Deps) func(context.Context) error
	// Every, with NewTrigger, also runs the trigger on this interval
	// (0: only when POSTed to).
	Every time.Duration
	// NewRoutes, instead of NewHandler or NewTrigger, builds the handler of
	// a function that serves plain HTTP routes (the anfrage API). It gets
	// every request but the health endpoints and GET /metrics, and consumes
	// no events.
	NewRoutes func(Deps) http.Handler
	// Routes adds HTTP routes by ServeMux pattern (e.g. "GET /debug"); one
	// given here replaces the runtime's own route of the same pattern.
	Routes map[string]http.Handler
	// Listener, if set, is where the function serves instead of PORT; Run
	// closes it when it returns. Tests and the local stack use it.
	Listener net.Listener
	// Log, if set, is the logger instead of NewLogger(Config.Logging);
	// Run adds the function's name to it.
	Log *slog.Logger
}

// Run is a function's main loop: it opens the database pool (applying the
// migrations when DATABASE_AUTO_MIGRATE is set), builds the sink, the
// function's metrics and the outbox publisher feeding them, serves HTTP on
// PORT (CloudEvents, a trigger or plain routes; health; GET /metrics) and,
// in Kafka-direct mode, consumes the function's topic, until SIGTERM or
// SIGINT (or ctx ends); then it drains in-flight work and returns. The error
// is what made the function stop abnormally; it has been logged.
func Run(ctx context.Context, opts Options) error {
	log := opts.Log
	if log == nil {
		log = NewLogger(opts.Config.Logging)
	}
	log = log.With(slog.String("function", opts.Name))
	if err := run(ctx, opts, log); err != nil {
		log.Error("function stopped", slog.String("error", err.Error()))
		return err
	}
	log.Info("function stopped")
	return nil
}

func run(ctx context.Context, opts Options, log *slog.Logger) error {
	cfg := opts.Config
	if opts.Listener != nil {
		// Closed on every path; a second Close after Serve closed it is
		// harmless.
		defer opts.Listener.Close()
	}
	set := 0
	for _, ok := range []bool{opts.NewHandler != nil, opts.NewTrigger != nil, opts.NewRoutes != nil} {
		if ok {
			set++
		}
	}
	if set != 1 {
		return errors.New("runtime: exactly one of NewHandler, NewTrigger and NewRoutes must be set")
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	setKafkaLogger(cfg.Kafka.LogLevel, log)

	pool, err := store.Open(ctx, cfg.Database.URL, cfg.Database.MaxConns)
	if err != nil {
		return err
	}
	defer pool.Close()
	if cfg.Database.AutoMigrate {
		applied, err := store.Migrate(ctx, pool)
		if err != nil {
			return err
		}
		log.Info("migrations applied", slog.Any("versions", applied))
	}
	sender, err := sink.New(cfg, log)
	if err != nil {
		return err
	}
	defer sender.Close()
	m := metrics.New(metrics.Options{Log: log})
	pub := outbox.NewPublisher(pool, sender, log, outbox.WithObserver(m.Observer))
	m.CollectBacklog(pub.Backlog)
	// Runs after the server and the consumer have drained (and before the
	// sender closes): what the publisher still holds is sent now.
	defer flushPublisher(pub, log)
	deps := Deps{Pool: pool, Publisher: pub, Metrics: m, Log: log}

	srvOpts := ServerOptions{
		Ready:   func(ctx context.Context) error { return store.Ping(ctx, pool) },
		Routes:  opts.Routes,
		Metrics: m,
		Source:  cmp.Or(cfg.Kafka.Topic, opts.Topic),
		Log:     log,
	}
	var handler Handler
	var trigger func(context.Context) error
	switch {
	case opts.NewHandler != nil:
		handler = opts.NewHandler(deps)
		srvOpts.Handler = handler
	case opts.NewTrigger != nil:
		trigger = opts.NewTrigger(deps)
		srvOpts.Trigger = trigger
	default:
		srvOpts.Mount = opts.NewRoutes(deps)
	}

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
		if err := NewServer(srvOpts).Serve(ctx, ln); err != nil {
			errc <- fmt.Errorf("http server: %w", err)
			cancel()
		}
	})
	mode := "http"
	if handler != nil && cfg.KafkaDirect() {
		mode = "kafka-direct"
		c, dlq, err := newKafkaConsumer(cfg, opts, handler, m, log)
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
	if trigger != nil && opts.Every > 0 {
		wg.Go(func() { every(ctx, opts.Every, trigger, log) })
	}
	log.Info("function started", slog.String("mode", mode), slog.String("addr", ln.Addr().String()))
	wg.Wait()
	close(errc)
	return <-errc
}

// newKafkaConsumer builds the Kafka-direct consumer of a function and its
// dead-letter producer (closed by the caller after the consumer stopped).
func newKafkaConsumer(cfg config.Common, opts Options, h Handler, m *metrics.Metrics, log *slog.Logger) (*Consumer, sink.Sender, error) {
	topic := cmp.Or(cfg.Kafka.Topic, opts.Topic)
	group := cmp.Or(cfg.Kafka.ConsumerGroup, opts.Group)
	if topic == "" || group == "" {
		return nil, nil, errors.New("KAFKA_TOPIC: this function has no default topic or group for Kafka-direct mode")
	}
	dlq, err := sink.NewKafka(cfg.Kafka.BootstrapServers, cfg.Kafka.DLQTopic)
	if err != nil {
		return nil, nil, fmt.Errorf("dead-letter topic %s: %w", cfg.Kafka.DLQTopic, err)
	}
	return NewConsumer(ConsumerOptions{
		Brokers:    cfg.Kafka.BootstrapServers,
		Topic:      topic,
		Group:      group,
		DeadLetter: dlq,
		Metrics:    m,
		Log:        log,
	}, h), dlq, nil
}

// publisherFlushTimeout bounds the final flush of the publisher at shutdown.
const publisherFlushTimeout = 10 * time.Second

// flushPublisher gives a publisher that buffers (one with a Close method)
// the chance to send what it holds before the function exits; whatever it
// cannot send stays in the outbox for the relay.
func flushPublisher(pub any, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), publisherFlushTimeout)
	defer cancel()
	var err error
	switch c := pub.(type) {
	case interface{ Close(context.Context) error }:
		err = c.Close(ctx)
	case interface{ Close(context.Context) }:
		c.Close(ctx)
	}
	if err != nil {
		log.Warn("outbox: flush at shutdown incomplete; the relay will deliver", slog.String("error", err.Error()))
	}
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
