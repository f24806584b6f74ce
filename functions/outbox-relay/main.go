// Command outbox-relay publishes the outbox rows that the inline publish
// after commit could not deliver, oldest first per partition key. Every POST
// (a PingSource CloudEvent every minute under Knative) runs one pass;
// RELAY_INTERVAL (e.g. 5s in the local stack; 0, the default, is off) also
// runs it in a loop.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/runtime"
)

const name = "outbox-relay"

type spec struct {
	config.Common
	// RelayInterval runs the relay on this interval besides on POST.
	RelayInterval time.Duration `envconfig:"RELAY_INTERVAL" default:"0"`
}

func main() {
	var cfg spec
	if err := config.Load(&cfg); err != nil {
		config.Exit(name, err)
	}
	if cfg.RelayInterval < 0 {
		config.Exit(name, fmt.Errorf("RELAY_INTERVAL: must not be negative, got %s", cfg.RelayInterval))
	}
	err := runtime.Run(context.Background(), runtime.Options{
		Name:   name,
		Config: cfg.Common,
		NewTrigger: func(d runtime.Deps) func(context.Context) error {
			return handlers.Relay(d.Publisher, d.Log)
		},
		Every: cfg.RelayInterval,
	})
	if err != nil {
		os.Exit(1)
	}
}
