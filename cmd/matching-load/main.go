// Command matching-load drives the anfrage API of the whole local stack (make
// load): CLIENTS concurrent clients for DURATION with a mix of reads and
// writes, authentication on, first with the fake communication service
// answering at once, then answering in SLOW (2 s). It prints per run the
// answers and latencies per endpoint, the database connections and the
// process's memory, and exits 1 when any request failed (a 5xx, a transport
// error, a timeout or a status the scenario does not expect), 2 when it
// could not run.
//
//	matching-load -clients 200 -duration 60s -slow 2s
//
// It runs on the database matching_load of the server DATABASE_URL names,
// else of the local server (127.0.0.1:5432), else of a throwaway cluster; the
// database is created when missing and emptied before each run.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/curavani/matching/pkg/loadtest"
	"github.com/curavani/matching/pkg/store/localpg"
)

// Database is the database the runs use on the server found.
const Database = "matching_load"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("matching-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	clients := fs.Int("clients", 200, "concurrent clients")
	duration := fs.Duration("duration", 60*time.Second, "how long each run sends requests")
	slow := fs.Duration("slow", 2*time.Second, "the communication service's answer time in the second run (0 skips it)")
	patients := fs.Int("patients", 3000, "patients at the fake patient service")
	therapists := fs.Int("therapists", 600, "therapists at the fake therapist service")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	srv, err := localpg.Find(ctx, "DATABASE_URL")
	if err != nil {
		fmt.Fprintln(stderr, "matching-load:", err)
		return 2
	}
	defer srv.Stop()
	dbURL, err := localpg.EnsureDatabase(ctx, srv.URL, Database)
	if err != nil {
		fmt.Fprintln(stderr, "matching-load:", err)
		return 2
	}
	runs := []time.Duration{0}
	if *slow > 0 {
		runs = append(runs, *slow)
	}
	failed := false
	for _, latency := range runs {
		fmt.Fprintf(stdout, "\n== %d clients, %s, communication service answering in %s, auth on ==\n", *clients, *duration, latency)
		out, err := loadtest.RunScenario(ctx, loadtest.Scenario{
			DatabaseURL: dbURL, Clients: *clients, Duration: *duration, CommunicationLatency: latency,
			Patients: *patients, Therapists: *therapists,
		})
		if err != nil {
			fmt.Fprintln(stderr, "matching-load:", err)
			return 2
		}
		out.Write(stdout)
		out.Usage.Write(stdout)
		if _, _, _, errs := out.Totals(); errs > 0 {
			failed = true
		}
	}
	if failed {
		fmt.Fprintln(stderr, "matching-load: some requests failed (see the errors above)")
		return 1
	}
	return 0
}
