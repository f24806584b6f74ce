package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/outbox"
	"github.com/curavani/matching/pkg/sink"
	"github.com/curavani/matching/pkg/store"
)

// Deps are what Run builds once and hands to a function's handler.
type Deps struct {
	Pool      *pgxpool.Pool
	Publisher *outbox.Publisher
	Log       *slog.Logger
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
	// Routes adds HTTP routes by ServeMux pattern (e.g. "GET /metrics").
	Routes map[string]http.Handler
}

// Run is a function's main loop: it opens the database pool (applying the
// migrations when DATABASE_AUTO_MIGRATE is set), builds the sink and the
// outbox publisher, serves HTTP on PORT (CloudEvents and health) and, in
// Kafka-direct mode, consumes the function's topic, until SIGTERM or SIGINT
// (or ctx ends); then it drains in-flight work and returns. The error is
// what made the function stop abnormally; it has been logged.
func Run(ctx context.Context, opts Options) error {
	cfg := opts.Config
	log := NewLogger(cfg.Logging).With(slog.String("function", opts.Name))
	if err := run(ctx, opts, log); err != nil {
		log.Error("function stopped", slog.String("error", err.Error()))
		return err
	}
	log.Info("function stopped")
	return nil
}

func run(ctx context.Context, opts Options, log *slog.Logger) error {
	cfg := opts.Config
	if (opts.NewHandler == nil) == (opts.NewTrigger == nil) {
		return errors.New("runtime: exactly one of NewHandler and NewTrigger must be set")
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
	deps := Deps{Pool: pool, Publisher: outbox.NewPublisher(pool, sender, log), Log: log}

	srvOpts := ServerOptions{
		Ready:  func(ctx context.Context) error { return store.Ping(ctx, pool) },
		Routes: opts.Routes,
		Log:    log,
	}
	var handler Handler
	var trigger func(context.Context) error
	if opts.NewHandler != nil {
		handler = opts.NewHandler(deps)
		srvOpts.Handler = handler
	} else {
		trigger = opts.NewTrigger(deps)
		srvOpts.Trigger = trigger
	}

	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return fmt.Errorf("PORT: %w", err)
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
		c, dlq, err := newKafkaConsumer(cfg, opts, handler, log)
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
	log.Info("function started", slog.String("mode", mode), slog.Int("port", cfg.Port))
	wg.Wait()
	close(errc)
	return <-errc
}

// newKafkaConsumer builds the Kafka-direct consumer of a function and its
// dead-letter producer (closed by the caller after the consumer stopped).
func newKafkaConsumer(cfg config.Common, opts Options, h Handler, log *slog.Logger) (*Consumer, sink.Sender, error) {
	topic := cfg.Kafka.Topic
	if topic == "" {
		topic = opts.Topic
	}
	group := cfg.Kafka.ConsumerGroup
	if group == "" {
		group = opts.Group
	}
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
		Log:        log,
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

// setKafkaLogger routes sarama's own log lines (which have no level) to the
// service log when KAFKA_LOG_LEVEL is INFO or DEBUG; at WARNING (the
// default) or ERROR they are dropped, as the consumer reports its errors
// itself.
func setKafkaLogger(level string, log *slog.Logger) {
	l, err := config.ParseLevel(level)
	if err != nil || l > slog.LevelInfo {
		return
	}
	sarama.Logger = slog.NewLogLogger(log.With(slog.String("component", "sarama")).Handler(), l)
}
