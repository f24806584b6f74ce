// Command patient-deleted consumes patient-events: patient.deleted cancels
// the patient's open searches, and every patient.* refreshes matching's copy
// of a patient with an open search, re-checking her unsent anfragen when it
// changed (see pkg/handlers). It receives CloudEvents
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
		config.Exit(handlers.PatientDeletedName, err)
	}
	if runtime.Run(context.Background(), handlers.PatientDeleted(cfg.Copy), runtime.Options{Config: cfg.Common}) != nil {
		os.Exit(1)
	}
}
