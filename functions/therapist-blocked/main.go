// Command therapist-blocked consumes therapist-events: therapist.blocked
// cancels the therapist's unsent anfragen and excludes the therapist for the
// searches of its open anfragen (see pkg/handlers). It receives CloudEvents
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
	var cfg config.Common
	if err := config.Load(&cfg); err != nil {
		config.Exit(handlers.TherapistBlocked.Name, err)
	}
	if runtime.Run(context.Background(), handlers.TherapistBlocked, runtime.Options{Config: cfg}) != nil {
		os.Exit(1)
	}
}
