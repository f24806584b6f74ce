// Command communication-events consumes communication-events: it logs and
// records email and phone-call events, notes a sent email on its anfrage,
// and reads a therapist's email reply, recording it as the anfrage's
// response when every patient is decided or filing it for review (see
// pkg/handlers). It receives CloudEvents over HTTP (Knative) or, with
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
	var cfg handlers.Spec
	if err := config.Load(&cfg); err != nil {
		config.Exit(handlers.CommunicationEventsName, err)
	}
	if runtime.Run(context.Background(), handlers.CommunicationEvents(cfg.Copy), runtime.Options{Config: cfg.Common}) != nil {
		os.Exit(1)
	}
}
