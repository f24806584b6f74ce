// Command migrate applies the embedded database migrations once and exits.
// Kubernetes runs it as the migration Job before the functions serve
// (functions there keep DATABASE_AUTO_MIGRATE=false); it is safe to run again
// and concurrently, because store.Migrate holds a session lock and skips
// applied versions.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/store"
)

// spec is the only configuration migrate reads: the database block.
type spec struct {
	Database config.Database
}

// Validate refuses an empty DATABASE_URL: pgx would otherwise read it as
// "the local server with libpq defaults" and migrate whatever database that is.
func (s spec) Validate() error {
	if strings.TrimSpace(s.Database.URL) == "" {
		return errors.New("DATABASE_URL: required but empty")
	}
	return nil
}

func main() {
	var cfg spec
	if err := config.Load(&cfg); err != nil {
		config.Exit("migrate", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "migrate: %v\n", err)
		os.Exit(1)
	}
}

// run migrates the database and reports what it applied on out.
func run(ctx context.Context, cfg spec, out io.Writer) error {
	pool, err := store.Open(ctx, cfg.Database.URL, 1)
	if err != nil {
		return err
	}
	defer pool.Close()
	applied, err := store.Migrate(ctx, pool)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(out, "migrate: schema up to date, nothing applied")
		return nil
	}
	fmt.Fprintf(out, "migrate: applied versions %v\n", applied)
	return nil
}
