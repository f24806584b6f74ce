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

func main() {
	var cfg handlers.Spec
	if err := config.Load(&cfg); err != nil {
		config.Exit(handlers.TherapistBlockedName, err)
	}
	if runtime.Run(context.Background(), handlers.TherapistBlocked(cfg.Copy), runtime.Options{Config: cfg.Common}) != nil {
		os.Exit(1)
	}
}
