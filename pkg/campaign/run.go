package campaign

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Report is what a campaign found.
type Report struct {
	Rows    []Row
	Windows []window
	// Events is how many events were sent (each at least once), Units in
	// how many units, APICalls how many API requests.
	Events, Units, APICalls int
	// Traffic is how long the sending took, Drain how long until every
	// event was processed and every outbox row published after that.
	Traffic, Drain time.Duration
	// Dir holds the functions' logs (kept when a row failed).
	Dir string
}

// OK reports whether every invariant held.
func (r Report) OK() bool {
	for _, row := range r.Rows {
		if !row.OK {
			return false
		}
	}
	return len(r.Rows) > 0
}

// Print writes the faults and the invariants as tables.
func (r Report) Print(w io.Writer) {
	fmt.Fprintf(w, "fault campaign: %d events in %d units and %d API calls in %s; drained %s later\n\n",
		r.Events, r.Units, r.APICalls, r.Traffic.Round(time.Second), r.Drain.Round(100*time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	counts := map[string]int{}
	var order []string
	for _, win := range r.Windows {
		if counts[win.Name] == 0 {
			order = append(order, win.Name)
		}
		counts[win.Name]++
	}
	fmt.Fprintln(tw, "fault\ttimes\t")
	for _, n := range order {
		fmt.Fprintf(tw, "%s\t%d\t\n", n, counts[n])
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "invariant\texpected\tobserved\tok\t")
	for _, row := range r.Rows {
		ok := "ok"
		if !row.OK {
			ok = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", row.Invariant, row.Expected, truncate(row.Observed, 160), ok)
	}
	tw.Flush()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Run runs a campaign with opts and returns its report; an error means it
// could not run (the report then is empty).
func Run(ctx context.Context, opts Options) (Report, error) {
	if opts.Log == nil {
		opts.Log = discard
	}
	if opts.Hold <= 0 {
		opts.Hold = max(2*time.Second, opts.Duration/40)
	}
	if opts.SinkHold <= 0 {
		opts.SinkHold = opts.Hold
	}
	log := opts.Log
	e, err := start(ctx, opts)
	if err != nil {
		if e != nil {
			e.opts.KeepDir = true
			e.stop()
			return Report{}, fmt.Errorf("%w (logs in %s)", err, e.dir)
		}
		return Report{}, err
	}
	defer func() { e.stop() }()
	units := plan(opts.Events)
	apiPatients := make([]int64, int(opts.Duration.Seconds())*4+20)
	for i := range apiPatients {
		apiPatients[i] = int64(3*idBase + i)
	}
	if err := e.seed(ctx, units, apiPatients); err != nil {
		return Report{}, err
	}
	log.Info("campaign started", slog.Int("units", len(units)), slog.String("dir", e.dir))

	t := newTraffic(e)
	var base map[string]usage
	var windows []window
	var wg sync.WaitGroup
	begin := time.Now()
	wg.Go(func() { t.run(ctx, units, apiPatients, opts.Duration) })
	wg.Go(func() {
		// The baseline: the processes under traffic before any fault.
		time.Sleep(opts.Hold * 9 / 10)
		base = e.scrapeAll(t)
	})
	wg.Go(func() { windows = e.schedule(ctx, opts.Duration, log) })
	wg.Wait()
	rep := Report{Units: len(units), Traffic: time.Since(begin), Windows: windows, Dir: e.dir}
	log.Info("traffic done; draining", slog.Int64("events", t.sent.Load()))

	c := &checker{e: e, units: units, t: t}
	drainStart := time.Now()
	deadline := drainStart.Add(max(2*time.Minute, opts.Duration/2))
	for !c.drained(ctx) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(500 * time.Millisecond)
	}
	rep.Drain = time.Since(drainStart)
	// Let the processes settle before reading their usage.
	time.Sleep(3 * time.Second)
	end := e.scrapeAll(t)
	c.state(ctx)
	c.topics(ctx)
	c.answers(windows, 5*time.Second)
	c.usage(base, end)
	rep.Rows, rep.Events, rep.APICalls = c.rows, int(t.sent.Load()), int(t.apiCalls.Load())
	if !rep.OK() {
		e.opts.KeepDir = true
	}
	return rep, nil
}

// Summary is the report's first line, for a log.
func (r Report) Summary() string {
	failed := []string{}
	for _, row := range r.Rows {
		if !row.OK {
			failed = append(failed, row.Invariant)
		}
	}
	if len(failed) == 0 {
		return fmt.Sprintf("all %d invariants held", len(r.Rows))
	}
	return fmt.Sprintf("%d of %d invariants failed: %s", len(failed), len(r.Rows), strings.Join(failed, "; "))
}
