// Command anfrage-api serves the anfrage API (pkg/api): the reference
// matching service's REST endpoints under /api, GET /health and the
// readiness and liveness probes, and GET /metrics. It listens on PORT (set by
// Knative), else MATCHING_SERVICE_INTERNAL_PORT (the local stack), else 8080,
// and on SIGTERM stops accepting connections and drains the requests in
// flight.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/api"
	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/metrics"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/outbox"
	"github.com/curavani/matching/pkg/runtime"
	"github.com/curavani/matching/pkg/sink"
	"github.com/curavani/matching/pkg/store"
)

const name = "anfrage-api"

// spec is the API's environment.
type spec struct {
	config.Common
	Neighbours config.Neighbours
	Matching   config.Matching
	// APITokens (comma list), when set, are the bearer tokens every /api
	// request must carry; health and metrics stay open.
	APITokens []string `envconfig:"API_TOKENS"`
	// CORSAllowedOrigins (comma list) may call the API from a browser;
	// unset allows no cross-origin calls ("*" must be said explicitly).
	CORSAllowedOrigins []string `envconfig:"CORS_ALLOWED_ORIGINS"`
	// InternalPort is the listen port when PORT is not set (local stack).
	InternalPort int `envconfig:"MATCHING_SERVICE_INTERNAL_PORT"`
}

// Validate checks every block; the API calls all four neighbour services.
func (s *spec) Validate() error {
	if err := s.Common.Validate(); err != nil {
		return err
	}
	if err := s.Neighbours.Validate(); err != nil {
		return err
	}
	if err := s.Neighbours.Require("PATIENT_SERVICE_URL", "THERAPIST_SERVICE_URL",
		"COMMUNICATION_SERVICE_URL", "GEOCODING_SERVICE_URL"); err != nil {
		return err
	}
	if err := s.Matching.Validate(); err != nil {
		return err
	}
	if s.InternalPort < 0 || s.InternalPort > 65535 {
		return fmt.Errorf("MATCHING_SERVICE_INTERNAL_PORT: must be a TCP port, got %d", s.InternalPort)
	}
	s.APITokens = trimList(s.APITokens)
	s.CORSAllowedOrigins = trimList(s.CORSAllowedOrigins)
	return nil
}

func trimList(in []string) []string {
	var out []string
	for _, v := range in {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// listenPort is PORT when it is set, else MATCHING_SERVICE_INTERNAL_PORT when
// that is set, else 8080. Common.Port cannot tell an unset PORT from its
// default, so the environment is asked directly.
func listenPort(cfg spec, lookup func(string) (string, bool)) int {
	if v, ok := lookup("PORT"); ok && strings.TrimSpace(v) != "" {
		return cfg.Port
	}
	if cfg.InternalPort > 0 {
		return cfg.InternalPort
	}
	return 8080
}

func main() {
	var cfg spec
	if err := config.Load(&cfg); err != nil {
		config.Exit(name, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := runtime.NewLogger(cfg.Logging).With(slog.String("function", name))
	if err := run(ctx, cfg, log); err != nil {
		log.Error("function stopped", slog.String("error", err.Error()))
		stop()
		os.Exit(1)
	}
	log.Info("function stopped")
}

func run(ctx context.Context, cfg spec, log *slog.Logger) error {
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
	sender, err := sink.New(cfg.Common, log)
	if err != nil {
		return err
	}
	defer sender.Close()
	m := metrics.New(metrics.Options{Log: log})
	publisher := outbox.NewPublisher(pool, sender, log, outbox.WithObserver(m.Observer))
	m.CollectBacklog(publisher.Backlog)
	m.CollectBusiness(pool)

	clients := neighbours.NewClients(cfg.Neighbours)
	handler := api.New(api.Config{
		Pool:          pool,
		Patients:      clients.Patients,
		Therapists:    clients.Therapists,
		Distances:     clients.Distances,
		Communication: clients.Communication,
		Publisher:     publisher,
		Matching:      cfg.Matching,
		Tokens:        cfg.APITokens,
		CORSOrigins:   cfg.CORSAllowedOrigins,
		Log:           log,
	})
	routes := map[string]http.Handler{"GET /metrics": m.Handler()}
	for _, pattern := range api.Routes {
		routes[pattern] = handler
	}
	srv := runtime.NewServer(runtime.ServerOptions{
		// The API consumes no events: a CloudEvent POSTed to / is refused.
		Handler: runtime.HandlerFunc(func(context.Context, cloudevents.Event) (events.Inbound, events.Outcome, error) {
			return events.Inbound{}, events.Rejected, fault.Invalidf("%s consumes no events", name)
		}),
		Ready:  func(ctx context.Context) error { return store.Ping(ctx, pool) },
		Routes: routes,
		Log:    log,
	})
	port := listenPort(cfg, os.LookupEnv)
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", port, err)
	}
	log.Info("function started", slog.Int("port", port), slog.Bool("auth", len(cfg.APITokens) > 0))
	if err := srv.Serve(ctx, ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
