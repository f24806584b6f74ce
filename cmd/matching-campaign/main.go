// Command matching-campaign runs the fault campaign (pkg/campaign) behind
// make chaos: every function as a process of its own on a PostgreSQL and a
// Kafka broker it owns, a steady mix of every consumed event type over
// Kafka and HTTP with API traffic, while the database, the broker, the
// functions, the sink and the neighbour services fail in turn and then
// together; then it prints the invariants as a table and exits 1 if one
// failed. It also runs as each function's process (campaign.ChildEnv).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/curavani/matching/pkg/campaign"
)

func main() {
	campaign.RunChildIfAsked()
	var o campaign.Options
	flag.DurationVar(&o.Duration, "duration", 10*time.Minute, "how long events and API calls are sent while the faults happen")
	flag.IntVar(&o.Events, "events", 100_000, "how many events are sent in that time")
	flag.DurationVar(&o.Hold, "hold", 0, "how long a fault lasts (0: duration/40, at least 2s)")
	flag.DurationVar(&o.SinkHold, "sink-hold", time.Minute, "how long the sink (and, in one fault, PostgreSQL) is down")
	flag.StringVar(&o.Dir, "dir", "", "keep the broker's data and the functions' logs here (default: a temporary directory, kept when an invariant fails)")
	flag.Parse()
	if o.Duration <= 0 || o.Events <= 0 {
		fmt.Fprintln(os.Stderr, "matching-campaign: -duration and -events must be positive")
		os.Exit(2)
	}
	o.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep, err := campaign.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "matching-campaign:", err)
		os.Exit(1)
	}
	rep.Print(os.Stdout)
	fmt.Println()
	fmt.Println(rep.Summary())
	if !rep.OK() {
		fmt.Printf("the functions' logs are in %s\n", rep.Dir)
		os.Exit(1)
	}
}
