// Command directory-sync repairs matching's copy of the patients and
// therapists (enhancements A1), run to completion by a Kubernetes CronJob at
// 03:00 Europe/Berlin with concurrencyPolicy Forbid (and once by make run
// at start). It reads every page of the therapist list, fetches every
// patient with an aktiv or pausiert search, stores what changed, removes
// what disappeared, applies the re-checks of unsent anfragen the changes
// ask for, logs one summary line (checked=N changed=N removed=N failed=N)
// and exits 0 only when every fetch succeeded; 1 otherwise, 2 for a
// configuration error. Two runs at once do no harm.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/runtime"
)

const name = "directory-sync"

func main() {
	var cfg handlers.Spec
	if err := config.Load(&cfg); err != nil {
		config.Exit(name, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, cfg)
	stop()
	os.Exit(code)
}

// run performs one sync and returns the exit status.
func run(ctx context.Context, cfg handlers.Spec) int {
	log := runtime.NewLogger(cfg.Logging).With("function", name)
	deps, release, err := runtime.Open(ctx, cfg.Common, log)
	if err != nil {
		log.Error("directory-sync: cannot start", "error", err.Error())
		return 1
	}
	defer release()
	sum, err := handlers.DirectorySync(cfg.Copy, deps).Run(ctx)
	if err != nil {
		log.Error("directory-sync: run incomplete", "error", err.Error())
		return 1
	}
	if !sum.OK() {
		return 1
	}
	return 0
}
