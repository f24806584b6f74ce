// Command patient-deleted consumes patient-events: patient.deleted cancels
// the patient's open searches (see pkg/handlers). It receives CloudEvents
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

const name = "patient-deleted"

func main() {
	var cfg config.Common
	if err := config.Load(&cfg); err != nil {
		config.Exit(name, err)
	}
	err := runtime.Run(context.Background(), runtime.Options{
		Name:   name,
		Config: cfg,
		Topic:  handlers.PatientTopic,
		Group:  handlers.PatientGroup,
		NewHandler: func(d runtime.Deps) runtime.Handler {
			return handlers.Patient(d.Pool, d.Publisher, d.Log)
		},
	})
	if err != nil {
		os.Exit(1)
	}
}
