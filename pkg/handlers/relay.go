package handlers

import (
	"context"
	"fmt"
	"log/slog"
)

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
