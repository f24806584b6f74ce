// Command anfrage-api serves the anfrage API (pkg/api): the reference
// matching service's REST endpoints under /api, GET /health and the
// readiness and liveness probes, and GET /metrics with the business
// counters. It runs api.Function on the shared runtime (runtime.Run),
// listens on PORT (set by Knative), else
// MATCHING_SERVICE_INTERNAL_PORT (the local stack), else 8080, and on
// SIGTERM stops accepting connections and drains the requests in flight.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/api"
	"github.com/curavani/matching/pkg/runtime"
)

// spec is the API's environment.
type spec struct {
	config.Common
	api.Settings
	// InternalPort is the listen port when PORT is not set (local stack).
	InternalPort int `envconfig:"MATCHING_SERVICE_INTERNAL_PORT"`
}

// Validate checks the common block, the API's settings and the port.
func (s *spec) Validate() error {
	if err := s.Common.Validate(); err != nil {
		return err
	}
	if err := s.Settings.Validate(); err != nil {
		return err
	}
	if s.InternalPort < 0 || s.InternalPort > 65535 {
		return fmt.Errorf("MATCHING_SERVICE_INTERNAL_PORT: must be a TCP port, got %d", s.InternalPort)
	}
	return nil
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

// options are the runtime options of the function for cfg, listening on
// the port listenPort chooses.
func options(cfg spec, lookup func(string) (string, bool)) runtime.Options {
	common := cfg.Common
	common.Port = listenPort(cfg, lookup)
	return runtime.Options{Config: common}
}

func main() {
	var cfg spec
	if err := config.Load(&cfg); err != nil {
		config.Exit(api.FunctionName, err)
	}
	if runtime.Run(context.Background(), api.Function(cfg.Settings), options(cfg, os.LookupEnv)) != nil {
		os.Exit(1)
	}
}
