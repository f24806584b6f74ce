// Command communication-events consumes communication-events: it logs and
// records email and phone-call events and notes a sent email on its anfrage
// (see pkg/handlers). It receives CloudEvents over HTTP (Knative) or, with
// KAFKA_BOOTSTRAP_SERVERS and KAFKA_TOPIC set and no K_SINK, consumes the
// topic itself.
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
		config.Exit(handlers.CommunicationEvents.Name, err)
	}
	if runtime.Run(context.Background(), handlers.CommunicationEvents, runtime.Options{Config: cfg}) != nil {
		os.Exit(1)
	}
}
