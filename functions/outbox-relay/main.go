// Command outbox-relay publishes the outbox rows that the inline publish
// after commit could not deliver, oldest first per partition key. Every POST
// (a PingSource CloudEvent every minute under Knative) runs one pass;
// RELAY_INTERVAL (e.g. 5s in the local stack; 0, the default, is off) also
// runs it in a loop. Each pass also applies the re-checks of unsent anfragen
// that a process left when it died after its commit. It runs
// handlers.OutboxRelay on the shared runtime.
package main

import (
	"context"
	"os"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/runtime"
)

// spec is the relay's environment: the common block and the settings of
// the re-check sweep (handlers.Spec), and the relay's own.
type spec struct {
	handlers.Spec
	Relay handlers.RelaySettings
}

// Validate checks the blocks of handlers.Spec, then the relay's settings.
func (s *spec) Validate() error {
	if err := s.Spec.Validate(); err != nil {
		return err
	}
	return s.Relay.Validate()
}

func main() {
	var cfg spec
	if err := config.Load(&cfg); err != nil {
		config.Exit(handlers.OutboxRelayName, err)
	}
	if runtime.Run(context.Background(), handlers.OutboxRelay(cfg.Relay, cfg.Copy), runtime.Options{Config: cfg.Common}) != nil {
		os.Exit(1)
	}
}
