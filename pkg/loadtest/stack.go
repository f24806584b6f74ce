package loadtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/devstack"
	"github.com/curavani/matching/pkg/neighbours/fake"
)

// Scenario is one load run against the whole local stack (pkg/devstack, as
// make run wires it: PostgreSQL, the embedded broker, the fake neighbours,
// the event functions and the anfrage API with authentication on).
type Scenario struct {
	// DatabaseURL is the database to run on; it is emptied first.
	DatabaseURL string
	// Clients and Duration of the run.
	Clients  int
	Duration time.Duration
	// CommunicationLatency delays every answer of the fake communication
	// service (0: none).
	CommunicationLatency time.Duration
	// Patients and Therapists the fake services hold (Populate).
	Patients, Therapists int
	// HTTP, when set, is the clients' HTTP client (see Config).
	HTTP *http.Client
	// Logging of the stack (default WARN, text).
	Logging config.Logging
}

// Outcome is a scenario's result: the answers and the resources used.
type Outcome struct {
	*Result
	Usage Usage
}

// RunScenario starts the stack on sc.DatabaseURL with a random API token,
// fills the fake neighbours, runs the clients while a Monitor samples, and
// stops the stack.
func RunScenario(ctx context.Context, sc Scenario) (Outcome, error) {
	if sc.Logging == (config.Logging{}) {
		sc.Logging = config.Logging{Level: "WARN", Format: "text"}
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	st, err := devstack.Start(ctx, devstack.Options{
		DatabaseURL: sc.DatabaseURL, Reset: true, Logging: sc.Logging, APITokens: []string{"load:" + token},
	})
	if err != nil {
		return Outcome{}, fmt.Errorf("start the stack: %w", err)
	}
	defer st.Stop()
	data := Populate(st.Neighbours, sc.Patients, sc.Therapists)
	if sc.CommunicationLatency > 0 {
		st.Neighbours.SetServiceLatency(fake.CommunicationService, sc.CommunicationLatency)
	}
	mon, err := StartMonitor(ctx, st.DatabaseURL, 100*time.Millisecond)
	if err != nil {
		return Outcome{}, err
	}
	res, err := Run(ctx, Config{
		BaseURL: st.APIURL, Token: token, Clients: sc.Clients, Duration: sc.Duration, Data: data, HTTP: sc.HTTP,
	})
	// The stack's idle connections and the relay's rounds settle within a
	// second or two; what is left then is what the process keeps.
	usage := mon.Stop(ctx, 2*time.Second)
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{Result: res, Usage: usage}, nil
}
