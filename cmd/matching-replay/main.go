// Command matching-replay replays a window of the recorded history with
// today's code (make replay FROM=… TO=…) and prints where the result
// differs from what was recorded, one difference a line, tab-separated:
//
//	entity	field	recorded	replayed
//
// It prints nothing when there is no difference and exits 0; 1 when there
// are differences; 2 when it could not replay (bad arguments, database
// unreachable). A summary goes to stderr.
//
//	matching-replay -from 2025-08-11 -to 2025-08-12       dates are midnight UTC
//	matching-replay -from 2025-08-11T09:00:00+02:00       to defaults to now
//	matching-replay ... -manual                           also apply changes made by hand
//
// The database is -database, else DATABASE_URL, else the one of the stack
// `make run` started (.matching-dev.json). The replay runs in a scratch
// database it creates on the same server and drops afterwards (-scratch
// names an empty one instead). The handlers apply the business parameters
// of the environment, as the functions do. See pkg/replay for what a
// replay re-runs and its limits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/devstack"
	"github.com/curavani/matching/pkg/replay"
	"github.com/curavani/matching/pkg/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the command with its arguments and outputs; it returns the exit
// status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("matching-replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "start of the window: RFC 3339, or a date YYYY-MM-DD (midnight UTC); required")
	to := fs.String("to", "", "end of the window (excluded), like -from; default now")
	database := fs.String("database", os.Getenv("DATABASE_URL"), "the recorded database (default DATABASE_URL, else the make run stack's)")
	scratch := fs.String("scratch", "", "an empty database to replay into (default: one created and dropped on the same server)")
	state := fs.String("state", devstack.DefaultStateFile, "the make run stack's state file")
	manual := fs.Bool("manual", false, "also apply the changes made outside matching's code (psql) as recorded")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "matching-replay: "+format+"\n", a...)
		return 2
	}
	start, err := instant(*from)
	if err != nil || *from == "" {
		return fail("-from: want RFC 3339 or YYYY-MM-DD, got %q", *from)
	}
	end := time.Now()
	if *to != "" {
		if end, err = instant(*to); err != nil {
			return fail("-to: want RFC 3339 or YYYY-MM-DD, got %q", *to)
		}
	}
	url := *database
	if url == "" {
		st, err := devstack.ReadState(*state)
		if err != nil {
			return fail("no database: set DATABASE_URL or -database, or start the stack (%v)", err)
		}
		url = st.DatabaseURL
	}
	pool, err := store.Open(ctx, url, 2)
	if err != nil {
		return fail("%v", err)
	}
	defer pool.Close()

	// The business parameters the handlers apply, as the functions read
	// them (MIN_ANFRAGE_SIZE, COOLING_PERIOD_WEEKS, TIMEZONE, …).
	var m config.Matching
	if err := config.Load(&m); err != nil {
		return fail("configuration: %v", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	began := time.Now()
	report, err := replay.Run(ctx, replay.Options{Source: pool, ScratchURL: *scratch, From: start, To: end, Manual: *manual,
		Matching: m, Log: log})
	if err != nil {
		return fail("%v", err)
	}
	for _, d := range report.Differences {
		fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\n", d.Entity, d.Field, oneLine(d.Recorded), oneLine(d.Replayed))
	}
	fmt.Fprintf(stderr, "matching-replay: %s – %s: %d events replayed, %d recorded changes applied, %d manual left out; %d differences (%s)\n",
		start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339), report.Events, report.Recorded, report.Manual,
		len(report.Differences), time.Since(began).Round(time.Millisecond))
	if len(report.Differences) > 0 {
		return 1
	}
	return 0
}

// instant reads RFC 3339 or a date (midnight UTC).
func instant(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, s)
}

// oneLine keeps a value on its line: the output is one difference a line.
func oneLine(s string) string {
	return strings.NewReplacer("\n", `\n`, "\t", `\t`).Replace(s)
}
