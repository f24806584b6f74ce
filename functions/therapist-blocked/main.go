// Command therapist-blocked consumes therapist-events: therapist.blocked
// cancels the therapist's unsent anfragen and excludes the therapist for the
// searches of its open anfragen, and every therapist.* refreshes matching's
// copy of the therapist, re-checking his unsent anfragen when it changed
// (see pkg/handlers). It receives CloudEvents
// over HTTP (Knative) or, with KAFKA_BOOTSTRAP_SERVERS and KAFKA_TOPIC set
// and no K_SINK, consumes the topic itself.
package main

import (
	"context"
	"os"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/runtime"
)

// spec is the function's environment: the common block and the services
// and business parameters of matching's copy (handlers.Settings).
type spec struct {
	config.Common
	Copy handlers.Settings
}

// Validate checks the common block, then the copy's settings.
func (s *spec) Validate() error {
	if err := s.Common.Validate(); err != nil {
		return err
	}
	return s.Copy.Validate()
}

func main() {
	var cfg spec
	if err := config.Load(&cfg); err != nil {
		config.Exit(handlers.TherapistBlockedName, err)
	}
	if runtime.Run(context.Background(), handlers.TherapistBlocked(cfg.Copy), runtime.Options{Config: cfg.Common}) != nil {
		os.Exit(1)
	}
}
