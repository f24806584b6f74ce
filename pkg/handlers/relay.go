package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/curavani/matching/pkg/placement"
)

// RelaySettings are the outbox-relay function's own environment besides
// config.Common; its main embeds them in its envconfig spec.
type RelaySettings struct {
	// Interval also runs the relay on this interval besides on POST (0, the
	// default: only on POST; the local stack uses 5s).
	Interval time.Duration `envconfig:"RELAY_INTERVAL" default:"0"`
}

// Validate refuses a negative interval.
func (s RelaySettings) Validate() error {
	if s.Interval < 0 {
		return fmt.Errorf("RELAY_INTERVAL: must not be negative, got %s", s.Interval)
	}
	return nil
}

// Relayer publishes what is waiting in the outbox; *outbox.Publisher
// implements it.
type Relayer interface {
	Relay(ctx context.Context) (int, error)
}

// Relay returns the trigger of the outbox-relay function: one pass of the
// relay, logged when it delivered something. An error is returned for the
// runtime to log and answer.
func Relay(r Relayer, log *slog.Logger) func(ctx context.Context) error {
	log = logger(log)
	return func(ctx context.Context) error {
		n, err := r.Relay(ctx)
		if err != nil {
			return fmt.Errorf("outbox relay (%d published before the failure): %w", n, err)
		}
		if n > 0 {
			log.Info("outbox relay published events", slog.Int("published", n))
		}
		return nil
	}
}

// sweepAfter runs relay, then (with a copy) applies the re-checks that have
// waited longer than placement.RecheckSweepAge. Both run on every pass;
// the first error is returned.
func sweepAfter(relay func(ctx context.Context) error, c Copy, log *slog.Logger) func(ctx context.Context) error {
	if c.Placement == nil {
		return relay
	}
	log = logger(log)
	return func(ctx context.Context) error {
		err := relay(ctx)
		n, serr := c.Placement.SweepRechecks(ctx, placement.RecheckSweepAge)
		if n > 0 {
			log.Info("re-check sweep applied waiting re-checks", slog.Int("applied", n))
		}
		if serr != nil && err == nil {
			err = fmt.Errorf("re-check sweep (%d applied before the failure): %w", n, serr)
		}
		return err
	}
}
