package devstack

import (
	"context"
	"log/slog"

	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/runtime"
)

// copySettings are the settings of the functions that keep matching's copy
// of patients and therapists: the fake neighbours and the business
// parameters.
func (s *Stack) copySettings() handlers.Settings {
	return handlers.Settings{Neighbours: s.neighbourConfig(), Matching: s.opts.Matching}
}

// syncDirectory runs the directory-sync job once, as its CronJob runs it
// nightly: it fills matching's copy from the fake neighbours (with the demo
// data when seeded), so composition and the selection list read the copy
// from the first request on.
func (s *Stack) syncDirectory(ctx context.Context) error {
	log := s.log.With(slog.String("function", "directory-sync"))
	sum, err := handlers.DirectorySync(s.copySettings(), runtime.Deps{Pool: s.pool, Log: log}).Run(ctx)
	if err != nil {
		return err
	}
	s.Synced = sum.String()
	return nil
}
