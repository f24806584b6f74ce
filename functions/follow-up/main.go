// Command follow-up is the daily follow-up job (product spec §7), run to
// completion by a Kubernetes CronJob at 09:00 Europe/Berlin with
// concurrencyPolicy Forbid. It schedules a phone call for every anfrage sent
// FOLLOW_UP_THRESHOLD_DAYS or more calendar days ago without an answer,
// publishes the events, logs one summary line
// (scheduled=N adopted=N failed=N skipped=N) and exits 0 only when no
// anfrage failed; 1 otherwise, 2 for a configuration error.
//
// Operators can preview or replay a run:
//
//	follow-up --dry-run              # list what it would do, change nothing
//	follow-up --as-of 2025-03-28     # run as if today were that date
//
// or set FOLLOW_UP_DRY_RUN=true and FOLLOW_UP_AS_OF=YYYY-MM-DD; flags win.
package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/followup"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/runtime"
)

const name = "follow-up"

// spec is the job's environment: the shared blocks, the therapist and
// communication services, the business parameters and the operator's
// switches (which the flags override).
type spec struct {
	config.Common
	Neighbours config.Neighbours
	Matching   config.Matching
	FollowUp   config.FollowUp
}

// Validate checks the blocks the environment alone decides; the job needs the
// therapist and the communication service. The operator's switches are
// checked by load, once the flags have had their say.
func (s *spec) Validate() error {
	if err := s.Common.Validate(); err != nil {
		return err
	}
	if err := s.Neighbours.Validate(); err != nil {
		return err
	}
	if err := s.Neighbours.Require("THERAPIST_SERVICE_URL", "COMMUNICATION_SERVICE_URL"); err != nil {
		return err
	}
	return s.Matching.Validate()
}

// load reads the environment, lets the flags in args override the operator's
// switches (so --as-of also replaces a malformed FOLLOW_UP_AS_OF) and checks
// them once they are final. Errors are one line naming the variable.
func load(args []string) (spec, error) {
	var cfg spec
	if err := config.Load(&cfg); err != nil {
		return spec{}, err
	}
	flags := flag.NewFlagSet(name, flag.ContinueOnError)
	flags.BoolVar(&cfg.FollowUp.DryRun, "dry-run", cfg.FollowUp.DryRun, "list what the run would do; change nothing, create no call (FOLLOW_UP_DRY_RUN)")
	flags.StringVar(&cfg.FollowUp.AsOf, "as-of", cfg.FollowUp.AsOf, "run as if today were this date, YYYY-MM-DD in TIMEZONE (FOLLOW_UP_AS_OF)")
	if err := flags.Parse(args); err != nil {
		return spec{}, err
	}
	if err := cfg.FollowUp.Validate(); err != nil {
		return spec{}, err
	}
	return cfg, nil
}

func main() {
	cfg, err := load(os.Args[1:])
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		config.Exit(name, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, cfg)
	stop()
	os.Exit(code)
}

// run performs one job run and returns the exit status.
func run(ctx context.Context, cfg spec) int {
	log := runtime.NewLogger(cfg.Logging).With("function", name)
	loc := cfg.Matching.Location()
	opt := followup.Options{Now: time.Now(), DryRun: cfg.FollowUp.DryRun}
	if cfg.FollowUp.AsOf != "" {
		opt.Now, _ = followup.ParseAsOf(cfg.FollowUp.AsOf, opt.Now, loc) // validated
	}

	// One connection pages through the selection; each worker uses one to
	// claim an anfrage and to record its call (not while it waits for the
	// neighbours).
	workers := max(int(cfg.Database.MaxConns)-1, 1)
	common := cfg.Common
	common.Database.MaxConns = int32(workers + 1)
	deps, release, err := runtime.Open(ctx, common, log)
	if err != nil {
		log.Error("follow-up: cannot start", "error", err.Error())
		return 1
	}
	defer release()

	clients := neighbours.NewClients(cfg.Neighbours)
	job := &followup.Job{
		Pool:             deps.Pool,
		Therapists:       clients.Therapists,
		Communication:    clients.Communication,
		Log:              log,
		ThresholdDays:    cfg.Matching.FollowUpThresholdDays,
		DefaultTime:      cfg.Matching.DefaultPhoneCallTime,
		Location:         loc,
		Workers:          workers,
		NeighbourTimeout: cfg.Neighbours.Timeout,
	}
	// Without a sink the events wait in the outbox for outbox-relay; trying
	// to publish them here would only record a failed attempt on each.
	if cfg.Sink.URL != "" || len(cfg.Kafka.BootstrapServers) > 0 {
		job.Outbox = deps.Publisher
	}

	sum, err := job.Run(ctx, opt)
	log.Info(sum.String(), "scheduled", sum.Scheduled, "adopted", sum.Adopted,
		"failed", sum.Failed, "skipped", sum.Skipped, "dry_run", sum.DryRun)
	if err != nil {
		log.Error("follow-up: run incomplete", "error", err.Error())
		return 1
	}
	if !sum.OK() {
		return 1
	}
	return 0
}
