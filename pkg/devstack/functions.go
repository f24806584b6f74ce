package devstack

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/api"
	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/runtime"
)

// function is one event function run by runtime.Run with its definition,
// as its main runs it; it can be stopped and started again (the tests kill
// a consumer mid-stream).
type function struct {
	name string
	// topic and group are what a consumer consumes ("" for the relay).
	topic, group string
	// about is what the banner says the function does.
	about string
	def   runtime.Function
	// host and port are where its HTTP server listens; port 0 until it
	// started for the first time on a free port, which it keeps.
	host   string
	port   int
	opts   runtime.Options
	cancel context.CancelFunc
	done   chan error
}

// URL is the base URL of the function's HTTP server.
func (f *function) URL() string { return "http://" + net.JoinHostPort(f.host, strconv.Itoa(f.port)) }

// common is the configuration every function of the stack shares: the
// database (already migrated), the broker as sink for matching-events, and
// no K_SINK, so consumers run in Kafka-direct mode. The functions listen
// where the stack opens their listeners (Options.Host).
func (s *Stack) common() config.Common {
	return config.Common{
		Database: config.Database{URL: s.DatabaseURL, MaxConns: 4},
		Logging:  s.opts.Logging,
		Kafka: config.Kafka{
			BootstrapServers:    s.Brokers,
			LogLevel:            "WARNING",
			MatchingEventsTopic: "matching-events",
			DLQTopic:            "matching-events-dlq",
		},
	}
}

// startFunctions starts the consumers and the relay with the definitions
// their mains run (functions/*/main.go), each with its own pool, sink and
// HTTP server.
func (s *Stack) startFunctions() error {
	all := make([]*function, 0, len(Functions))
	for _, c := range handlers.Consumers(s.copySettings()) {
		all = append(all, &function{name: c.Name, topic: c.Topic, group: c.Group, about: c.Topic + " → group " + c.Group, def: c})
	}
	// The relay's retention settings come from the environment with their
	// defaults, as its main reads them; the interval is the stack's.
	var relay handlers.RelaySettings
	if err := config.Load(&relay); err != nil {
		return err
	}
	relay.Interval = s.opts.RelayInterval
	all = append(all, &function{
		name:  handlers.OutboxRelayName,
		about: fmt.Sprintf("publishes what the inline publish missed and prunes old rows, every %s", s.opts.RelayInterval),
		def:   handlers.OutboxRelay(relay, s.copySettings()),
	})
	for i, f := range all {
		f.host = s.opts.Host
		if s.opts.FunctionsPort > 0 {
			f.port = s.opts.FunctionsPort + i
		}
		f.opts.Config = s.common()
		// Kafka-direct mode needs the topic in the configuration
		// (config.Common.KafkaDirect), as KAFKA_TOPIC gives it.
		f.opts.Config.Kafka.Topic = f.topic
		s.fns[f.name] = f
		if err := s.startFunction(f); err != nil {
			return err
		}
	}
	return nil
}

// startFunction runs f until it is stopped or the stack ends, listening on
// its host and port (a free port the first time, when it has none).
func (s *Stack) startFunction(f *function) error {
	s.fnMu.Lock()
	defer s.fnMu.Unlock()
	ln, err := net.Listen("tcp", net.JoinHostPort(f.host, strconv.Itoa(f.port)))
	if err != nil {
		return fmt.Errorf("%s: %w", f.name, err)
	}
	f.port = ln.Addr().(*net.TCPAddr).Port
	f.opts.Listener = ln
	ctx, cancel := context.WithCancel(s.ctx)
	f.cancel, f.done = cancel, make(chan error, 1)
	done := f.done
	s.wg.Go(func() {
		done <- runtime.Run(ctx, f.def, f.opts)
		close(done)
	})
	return nil
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
	if err := s.startFunction(f); err != nil {
		return err
	}
	return s.waitFunction(ctx, f)
}

// startAPI runs the anfrage API as its main does (api.Function on
// runtime.Run: its own pool, the Kafka sink, /metrics with the business
// counters), wired to the fake neighbours, on APIAddr.
func (s *Stack) startAPI() error {
	ln, err := s.listen(s.opts.APIAddr)
	if err != nil {
		return fmt.Errorf("anfrage API (MATCHING_SERVICE_INTERNAL_PORT): %w", err)
	}
	s.APIURL = "http://" + ln.Addr().String()
	fn := api.Function(api.Settings{Neighbours: s.neighbourConfig(), Matching: s.opts.Matching, APITokens: s.opts.APITokens})
	opts := runtime.Options{Config: s.common(), Listener: ln}
	s.apiDone = make(chan error, 1)
	s.wg.Go(func() {
		s.apiDone <- runtime.Run(s.ctx, fn, opts)
		close(s.apiDone)
	})
	return nil
}

// functionURL returns the base URL of the HTTP server of function name.
func (s *Stack) functionURL(name string) string {
	if f, ok := s.fns[name]; ok {
		return f.URL()
	}
	return ""
}
